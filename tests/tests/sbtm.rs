//! SBTM and ULA on the SBTM paper's Gaussian heat flow (prior N(0, K(t0) I), target N(0, I),
//! K(t) = 1 - exp(-2t), t0 = 0.1; exact law N(0, K(t + t0) I)), shortened for the test suite, and
//! a snapshot of a short deterministic SBTM run.

use nsamp as _;
use nsamp_core::{Drawn, Experiment, Recipe};

fn recipe(method: &str, sets: &[&str]) -> Recipe {
    let path = format!(
        "{}/../recipes/sbtm/heat_flow_d5_{method}.ron",
        env!("CARGO_MANIFEST_DIR")
    );
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    Recipe::from_file(std::path::Path::new(&path))
        .unwrap()
        .with_overrides(&sets)
        .unwrap()
}

fn draw(r: Recipe) -> Drawn {
    // One worker thread: candle's and rayon's spinning pool only slows these small runs down on a
    // shared machine (the first call in the process sets the pool; every test here asks for 1).
    nsamp_core::threads::configure(1).unwrap();
    let n = r.eval.samples;
    let mut exp = Experiment::from_recipe(r).unwrap();
    let streams = exp.parts.streams.derive("final-sample");
    exp.parts.draw(n, &streams, &mut |_, _| {}).unwrap()
}

fn column(d: &Drawn, name: &str) -> Vec<f64> {
    let t = d.trace.as_ref().unwrap();
    let c = t.columns.iter().position(|c| c == name).unwrap();
    t.rows.iter().map(|r| r[c]).collect()
}

/// d = 5, 400 particles, dt 0.01 x 250 steps (t from 0 to 2.5), score net 2 x 64:
/// - the KL of the Gaussian fitted to SBTM's particles follows the exact KL(t) = (d/2)(K - 1 - ln K)
///   within 0.03 + 25% at every recorded step, and its dissipation -dKL/dt follows the exact flow's
///   within 0.15 + 30%;
/// - the learned score's relative Fisher information (1/n) sum |s(x_i) - grad log pi(x_i)|^2
///   follows the exact d (K - 1)^2 / K within 0.25 + 25% at every recorded step (0.25: the
///   estimation floor of a score fitted to 400 points in d = 5, measured 0.15 here);
/// - from t = 1 on, the implicit-SM loss stays within 0.5 of its population optimum -d / K (no
///   over-fitting: the fixed 10 steps per time step drive it to -7.8 and the Fisher information to
///   0.8 on this configuration).
#[test]
fn sbtm_follows_the_gaussian_heat_flow() {
    let d = draw(recipe(
        "sbtm",
        &[
            "eval.samples=400",
            "sampler.steps=250",
            "sampler.dt=Some(0.01)",
            "sampler.pretrain_max_steps=2000",
            "sampler.width=64",
        ],
    ));
    let (t, klg, klx) = (
        column(&d, "t"),
        column(&d, "kl_gauss"),
        column(&d, "kl_exact"),
    );
    let (dkl, fi, fx) = (
        column(&d, "fisher_dkl"),
        column(&d, "fisher"),
        column(&d, "fisher_exact"),
    );
    let loss = column(&d, "ism_loss");
    assert!(t.len() >= 10 && (t[t.len() - 1] - 2.49).abs() < 1e-9);
    for i in 0..t.len() {
        assert!(
            (klg[i] - klx[i]).abs() <= 0.03 + 0.25 * klx[i],
            "t {}: Gaussian-fit KL {} vs exact {}",
            t[i],
            klg[i],
            klx[i]
        );
        if i > 0 {
            // The trace's -dKL/dt is a backward difference over the recording interval: compare
            // it with the same difference of the exact KL.
            let exact = -(klx[i] - klx[i - 1]) / (t[i] - t[i - 1]);
            assert!(
                (dkl[i] - exact).abs() <= 0.15 + 0.3 * exact,
                "t {}: -dKL/dt {} vs the exact flow's {exact}",
                t[i],
                dkl[i],
            );
        }
        assert!(
            (fi[i] - fx[i]).abs() <= 0.25 + 0.25 * fx[i],
            "t {}: Fisher information {} vs exact {}",
            t[i],
            fi[i],
            fx[i]
        );
        if t[i] >= 1.0 {
            let k = 1.0 - (-2.0 * (t[i] + 0.1)).exp();
            let optimum = -5.0 / k;
            assert!(
                loss[i] >= optimum - 0.5,
                "t {}: implicit-SM loss {} under its population optimum {optimum}: over-fitted",
                t[i],
                loss[i]
            );
        }
    }
}

/// ULA, 1000 particles, dt 0.002 x 1250 steps: the particles' covariance at t = 2.5 is the exact
/// law's, K(2.6) I = 0.9945 I, within sampling error (per-coordinate variance of N(0, 1) over
/// 1000 particles: sd 0.045; mean over 5 coordinates: 0.02; bound 0.08), and the mean is 0.
#[test]
fn ula_reaches_the_heat_flow_covariance() {
    let d = draw(recipe("ula", &[]));
    let x = &d.samples.x;
    let (n, dim) = (d.samples.n(), d.samples.dim);
    assert_eq!((n, dim), (1000, 5));
    let k = 1.0 - (-2.0f64 * 2.6).exp();
    let mut var = 0.0;
    for j in 0..dim {
        let m: f64 = (0..n).map(|i| x[i * dim + j] as f64).sum::<f64>() / n as f64;
        assert!(m.abs() < 0.15, "coordinate {j}: mean {m}");
        var += (0..n)
            .map(|i| (x[i * dim + j] as f64 - m).powi(2))
            .sum::<f64>()
            / (n - 1) as f64
            / dim as f64;
    }
    assert!((var - k).abs() < 0.08, "variance {var} vs exact {k}");
}

fn round(v: f64) -> f64 {
    (v * 1e3).round() / 1e3
}

/// A short SBTM run on a 2-D two-component mixture, pinned: its report and the first
/// particles, rounded to 3 decimals (same machine, same seed: same numbers).
#[test]
fn short_sbtm_run_snapshot() {
    let r = Recipe::parse(
        r#"Recipe(
            name: "snapshot-sbtm",
            seed: 7,
            threads: 2,
            target: Mixture(means: [[-2.0, 0.0], [2.0, 0.0]], stds: [[0.7]]),
            sampler: Sbtm(prior: (std: 1.5), steps: 20, dt: Some(0.02), trace_every: 5,
                          layers: 2, width: 32, batch: 64, pretrain_max_steps: 200),
            eval: (samples: 100, metrics: [W2()]),
        )"#,
        "snapshot-sbtm",
    )
    .unwrap();
    let d = draw(r);
    let report: std::collections::BTreeMap<String, f64> = d
        .report
        .iter()
        .map(|(k, v)| (k.clone(), round(*v)))
        .collect();
    let first: Vec<f64> = d.samples.x[..10].iter().map(|v| round(*v as f64)).collect();
    insta::assert_json_snapshot!(
        "short_sbtm_run",
        serde_json::json!({"report": report, "first_particles": first})
    );
}

/// SBTM's particles interact (the score is fitted to all of them), so its TVDs score its own
/// `eval.samples` particles, not a second, larger system; ULA's particles are independent and
/// get the protocol's 10,000-row TVD set.
#[test]
fn tvd_set_is_the_particles_for_sbtm_and_wide_for_ula() {
    let recipe = |sampler: &str| {
        Recipe::parse(
            &format!(
                r#"Recipe(
                    name: "tvd-set",
                    seed: 7,
                    threads: 1,
                    target: Mixture(means: [[-2.0, 0.0], [2.0, 0.0]], stds: [[0.7]]),
                    sampler: {sampler},
                    eval: (samples: 100, metrics: [ETvd()]),
                )"#
            ),
            "tvd-set",
        )
        .unwrap()
    };
    let protocol = |r: Recipe| {
        let mut exp = nsamp_core::Experiment::from_recipe(r).unwrap();
        exp.run(&mut nsamp_core::experiment::Silent)
            .unwrap()
            .eval_protocol
    };
    let sbtm = protocol(recipe(
        "Sbtm(prior: (std: 1.5), steps: 3, dt: Some(0.02), layers: 2, width: 16, batch: 50, pretrain_max_steps: 20)",
    ));
    assert_eq!((sbtm.samples, sbtm.tvd_samples), (100, 100));
    let ula = protocol(recipe("Ula(prior: (std: 1.5), steps: 3, dt: Some(0.02))"));
    assert_eq!(
        (ula.samples, ula.tvd_samples, ula.tvd_reference),
        (100, 10_000, 10_000)
    );
}
