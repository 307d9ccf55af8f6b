//! Short deterministic flow runs pinned by insta snapshots (metrics rounded to 3 decimals):
//! RKL and ScoreNF on MOG-4 followed by IMH, and ScoreNF on a 4 x 4 phi^4 lattice with the
//! convolutional conditioner. Same machine, same seed: same numbers.

use nsamp as _;

mod common;
use common::round;

fn run(name: &str, recipe: &str) -> serde_json::Value {
    let dir = std::env::temp_dir().join(format!("nsamp-flow-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.with_extension("ron");
    std::fs::write(&path, recipe).unwrap();
    let out = nsamp::cmd::run::run(&path, Some(&dir), &[], None).unwrap();
    let report = serde_json::to_value(&out.report).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    std::fs::remove_file(&path).ok();
    serde_json::json!({
        "metrics": round(&report["metrics"], 3),
        "metrics_before_corrector": round(&report["metrics_before_corrector"], 3),
        "corrector": round(&report["corrector"], 3),
        "train_diagnostics": round(&report["train_diagnostics"], 3),
        "energy_evals": report["energy_evals"],
    })
}

const MOG4: &str = r#"Recipe(
    name: "snapshot-mog4-OBJ",
    seed: 7,
    threads: 2,
    target: Mog4(),
    model: RealNvp(layers: 4, hidden: 32, scale_bound: 2.0, scale: 3.0),
    objective: OBJECTIVE,
    corrector: Imh(),
    train: (steps: 60, batch: 128, lr: 1e-3, grad_clip: 10.0, log_every: 20, checkpoint_every: 60),
    eval: (samples: 400, metrics: [W2(), ModeCoverage(), Nll(), Rnll(), Ess()]),
)"#;

#[test]
fn short_rkl_run_snapshot() {
    let r = MOG4.replace("OBJECTIVE", "Rkl()").replace("OBJ", "rkl");
    insta::assert_json_snapshot!("short_mog4_rkl_imh", run("rkl", &r));
}

#[test]
fn short_scorenf_run_snapshot() {
    let r = MOG4
        .replace(
            "OBJECTIVE",
            "ScoreNf(rkl: 1.0, sm: 10.0, ensemble: Exact(200))",
        )
        .replace("OBJ", "scorenf");
    insta::assert_json_snapshot!("short_mog4_scorenf_imh", run("scorenf", &r));
}

#[test]
fn short_phi4_conv_run_snapshot() {
    let r = r#"Recipe(
    name: "snapshot-phi4",
    seed: 7,
    threads: 2,
    target: Phi4(l: 4, m2: -4.0, lambda: 8.0),
    model: RealNvp(layers: 4, hidden: 4, conditioner: Conv),
    objective: ScoreNf(rkl: 1.0, sm: 1.0, ensemble: Mcmc(size: 200, sampler: Hmc(leapfrog: 5, chains: 20, burn_in: 200, pilot: 100))),
    corrector: Snis(),
    train: (steps: 30, batch: 64, lr: 1e-3, grad_clip: 10.0, log_every: 10, checkpoint_every: 30),
    eval: (samples: 300, reference: File("REF"), metrics: [Phi4Observables(), Nll(), Ess()]),
)"#;
    // The reference: a small MCMC set written by the reference sampler itself.
    let dir = std::env::temp_dir().join(format!("nsamp-flow-phi4ref-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ref_path = dir.join("phi4-l4.npy");
    let spec: nsamp_core::registry::Spec<nsamp_core::registry::families::Target> =
        nsamp_core::registry::Spec::from_ron("Phi4(l: 4, m2: -4.0, lambda: 8.0)").unwrap();
    let target = nsamp_core::CountedTarget::new(spec.config.build().unwrap());
    let settings = nsamp_core::mcmc::McmcSettings {
        method: nsamp_core::mcmc::Method::Hmc(5),
        chains: 30,
        burn_in: 200,
        pilot: 100,
        ..Default::default()
    };
    let (x, _) = nsamp_core::mcmc::run_mcmc(
        &target,
        &settings,
        300,
        &nsamp_core::numerics::rng::RngStreams::new(3),
        &mut |_, _, _| {},
    )
    .unwrap();
    nsamp_core::io::write_npy(&ref_path, &x, 16).unwrap();
    let r = r.replace("REF", &ref_path.display().to_string());
    insta::assert_json_snapshot!("short_phi4_conv_scorenf_snis", run("phi4", &r));
    std::fs::remove_dir_all(&dir).ok();
}

/// `Imh(thin: 3)`: the runner draws 3 proposals per evaluated sample (3 x 400 energy
/// evaluations of correction), the chain keeps 400 states, and the metrics before the corrector
/// are computed on 400 of the proposals; the plot shows both sides of the corrector.
#[test]
fn thinned_imh_draws_k_proposals_per_sample() {
    let r = MOG4
        .replace("OBJECTIVE", "Rkl()")
        .replace("OBJ", "thin")
        .replace("Imh()", "Imh(thin: 3)");
    let dir = std::env::temp_dir().join(format!("nsamp-flow-thin-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.with_extension("ron");
    std::fs::write(&path, &r).unwrap();
    let out = nsamp::cmd::run::run(&path, Some(&dir), &[], None).unwrap();
    let report = serde_json::to_value(&out.report).unwrap();
    let samples = nsamp_core::io::read_npy(&dir.join("samples.npy")).unwrap();
    // samples.png: the flow's raw proposals and the corrected samples side by side (two
    // 900-pixel panels; the PNG header's width at bytes 16..20).
    let png = std::fs::read(dir.join("samples.png")).unwrap();
    assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 1800);
    std::fs::remove_dir_all(&dir).ok();
    std::fs::remove_file(&path).ok();
    assert_eq!(report["energy_evals"]["correction"], 1200);
    assert_eq!(report["eval_protocol"]["samples"], 400);
    assert_eq!((samples.rows, samples.cols), (400, 2));
    let before = &report["mode_occupancy"]["before_corrector"];
    let shares: Vec<f64> = serde_json::from_value(before.clone()).unwrap();
    // Shares of 400 proposals: multiples of 1/400.
    for s in shares {
        assert!((s * 400.0 - (s * 400.0).round()).abs() < 1e-9, "{s}");
    }
}
