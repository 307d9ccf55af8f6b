//! Estimator and network checks with known answers.

use nsamp as _;
use nsamp_core::candle::{DType, Device, Tensor};
use nsamp_core::candle_nn::VarMap;
use nsamp_core::numerics::mc_score::{McScore, ScoreClip};
use nsamp_core::numerics::rng::RngStreams;
use nsamp_core::params::{count_parameters, seeded_var_builder};
use nsamp_core::registry::{families, Spec};
use nsamp_core::{CountedTarget, ModelShape};

mod gauss;
use gauss::Gauss;

/// For p = N(mu, v I), S_K(x, t) converges to grad log (p * N(0, h)) (x) = -(x - mu) / (v + h),
/// and log p_hat to log N(x; mu, (v + h) I) + log Z with Z = 2 pi v (the energy is unnormalised).
#[test]
fn mc_score_of_a_gaussian_matches_the_closed_form() {
    let g = Gauss {
        mu: [1.0, -2.0],
        v: 0.5,
    };
    let target = CountedTarget::new(Box::new(Gauss { ..g }));
    let k = 200_000;
    let mc = McScore {
        k,
        scale: 1.0,
        clip: ScoreClip::None,
        com_free: None,
        tweedie_above: None,
    };
    let xs = [0.3f32, 0.4, 2.5, -1.0, -1.0, -3.5, 1.0, -2.0];
    for &h in &[1e-4f32, 0.05, 0.5, 2.0] {
        let hv = [h; 4];
        let mut s = [0f32; 8];
        let mut lp = [0f32; 4];
        mc.estimate(&target, &xs, &hv, &RngStreams::new(11), 0, &mut s, &mut lp)
            .unwrap();
        for i in 0..4 {
            for d in 0..2 {
                let want = -(xs[2 * i + d] - g.mu[d]) / (g.v + h);
                // Self-normalised estimator, K = 200k: at h = 0.5 the ESS is about 5% of K, so the MC error (~0.8%) is well below 2%.
                let tol = 0.02 * (1.0 + want.abs());
                assert!(
                    (s[2 * i + d] - want).abs() < tol,
                    "h={h} row {i} dim {d}: {} vs {want}",
                    s[2 * i + d]
                );
            }
            let r2 = (xs[2 * i] - g.mu[0]).powi(2) + (xs[2 * i + 1] - g.mu[1]).powi(2);
            let log_conv = -r2 / (2.0 * (g.v + h)) - (2.0 * std::f32::consts::PI * (g.v + h)).ln();
            let log_z = (2.0 * std::f32::consts::PI * g.v).ln();
            // Standard error of log p_hat: sqrt((E[w^2]/E[w]^2 - 1) / K), with the Gaussian ratio
            // [ (v/2)(v+h)^2 / ((v/2+h) v^2) ] exp(r^2/(v+h) - r^2/(2(v/2+h))) (d = 2); allow 5 of them.
            let (v, hh) = (g.v as f64, h as f64);
            let ratio = (v / 2.0) * (v + hh).powi(2) / ((v / 2.0 + hh) * v * v)
                * (r2 as f64 / (v + hh) - r2 as f64 / (2.0 * (v / 2.0 + hh))).exp();
            let se = ((ratio - 1.0) / k as f64).sqrt();
            let err = (lp[i] - (log_conv + log_z)).abs() as f64;
            assert!(
                err < 5.0 * se + 1e-4,
                "h={h} row {i}: log p_hat {} vs {} ({err:.4} > 5 x {se:.4})",
                lp[i],
                log_conv + log_z
            );
        }
    }
    assert_eq!(target.evals(), 4 * 4 * k as u64);
}

#[test]
fn score_clip_bounds_the_norm() {
    let target = CountedTarget::new(Box::new(Gauss {
        mu: [100.0, 0.0],
        v: 0.01,
    }));
    let mc = McScore {
        k: 64,
        scale: 1.0,
        clip: ScoreClip::Norm(70.0),
        com_free: None,
        tweedie_above: None,
    };
    let mut s = [0f32; 2];
    let mut lp = [0f32; 1];
    mc.estimate(
        &target,
        &[0.0, 0.0],
        &[0.01],
        &RngStreams::new(1),
        0,
        &mut s,
        &mut lp,
    )
    .unwrap();
    let n = (s[0] * s[0] + s[1] * s[1]).sqrt();
    assert!((n - 70.0).abs() < 1e-3, "norm {n}");
    assert!(s[0] > 0.0);
}

#[test]
fn mc_score_is_the_same_for_any_thread_count() {
    let t = CountedTarget::new(
        Spec::<families::Target>::from_ron("Gmm40()")
            .unwrap()
            .config
            .build()
            .unwrap(),
    );
    let mc = McScore {
        k: 100,
        scale: 50.0,
        clip: ScoreClip::Norm(70.0),
        com_free: None,
        tweedie_above: None,
    };
    let x: Vec<f32> = (0..200)
        .map(|i| ((i * 37 % 100) as f32 / 50.0) - 1.0)
        .collect();
    let h = vec![0.05f32; 100];
    let run = |threads: usize| {
        let pool = nsamp_core::rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut s = vec![0f32; 200];
            let mut lp = vec![0f32; 100];
            mc.estimate(&t, &x, &h, &RngStreams::new(4), 9, &mut s, &mut lp)
                .unwrap();
            (s, lp)
        })
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn score_mlp_has_the_papers_parameter_count_and_seeded_weights() {
    let build = |seed: u64| {
        let vm = VarMap::new();
        let vb = seeded_var_builder(&vm, RngStreams::new(seed), DType::F32, &Device::Cpu);
        let m = Spec::<families::Model>::from_ron("ScoreMlp()")
            .unwrap()
            .config
            .build(&ModelShape::flat(2), vb)
            .unwrap();
        let t = Tensor::new(&[0.1f32, 0.9], &Device::Cpu).unwrap();
        let x = Tensor::new(&[[0.1f32, -0.2], [0.5, 0.3]], &Device::Cpu).unwrap();
        let out = m
            .as_score()
            .unwrap()
            .score(&t, &x)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        (count_parameters(&vm), out)
    };
    let (n, a) = build(1);
    assert_eq!(n, 99_074);
    assert_eq!(build(1).1, a, "same seed, same initial network");
    assert_ne!(build(2).1, a, "another seed, another network");
}

/// The reverse SDE driven by the Monte Carlo score alone (no network) samples GMM-40 as well as
/// exact sampling does, up to Monte Carlo noise: the estimator, the clipping, the normalised units
/// and the integrator are right together.
#[test]
fn mc_score_sde_samples_gmm40_near_the_exact_floor() {
    use nsamp_core::numerics::mc_score::integrate_with_mc_score;
    use nsamp_core::numerics::schedule::GeometricSchedule;
    use nsamp_core::numerics::sde::ReverseSde;
    let t = CountedTarget::new(
        Spec::<families::Target>::from_ron("Gmm40()")
            .unwrap()
            .config
            .build()
            .unwrap(),
    );
    let sde = ReverseSde {
        schedule: GeometricSchedule::new(1e-5, 1.0).unwrap(),
        steps: 100,
        noise_scale: 1.0,
        com_free: None,
    };
    let mc = McScore {
        k: 500,
        scale: 50.0,
        clip: ScoreClip::Norm(70.0),
        com_free: None,
        tweedie_above: None,
    };
    let s = RngStreams::new(1);
    let mut x = sde.prior(1000, 2, &s, 0);
    integrate_with_mc_score(&t, &mc, &sde, &mut x, &s, 0, &mut |_, _| {}).unwrap();
    assert_eq!(t.evals(), 1000 * 100 * 500);
    let x: Vec<f32> = x.iter().map(|v| v * 50.0).collect();
    let eval = nsamp_core::eval::EvalSettings {
        samples: 1000,
        reference: Default::default(),
        reference_seed: 0,
        metrics: ["W2()", "ETvd()", "ModeCoverage()"]
            .iter()
            .map(|m| Spec::from_ron(m).unwrap())
            .collect(),
        tvd_samples: 10_000,
        exact_floor: true,
    };
    let silent = &mut nsamp_core::experiment::Silent;
    let e = nsamp_core::eval::evaluate(&t, "Gmm40()", &x, &eval, &s, silent).unwrap();
    let floor = e.exact_floor.unwrap();
    assert_eq!(e.metrics["modes_covered"], 40.0);
    assert!(
        e.metrics["W2"] < floor["W2"] + 2.0,
        "W2 {} vs floor {}",
        e.metrics["W2"],
        floor["W2"]
    );
    assert!(e.metrics["E-TVD"] < 0.2, "E-TVD {}", e.metrics["E-TVD"]);
}

/// D-TVD: a configuration set against itself is 0; against a copy dilated 3 times, whose distances
/// mostly fall beyond the reference's range, it is large (> 0.6); it refuses non-particle targets.
#[test]
fn dtvd_known_cases() {
    use nsamp_core::metric::MetricInput;
    let t = Spec::<families::Target>::from_ron("Lj13()")
        .unwrap()
        .config
        .build()
        .unwrap();
    let mut rng = RngStreams::new(8).stream("x", 0);
    let mut x = vec![0f32; 39 * 100];
    nsamp_core::numerics::rng::fill_normal(&mut rng, &mut x);
    let far: Vec<f32> = x.iter().map(|v| v * 3.0).collect();
    let m = Spec::<families::Metric>::from_ron("DTvd(bins: Some(10))")
        .unwrap()
        .config
        .build()
        .unwrap();
    let e = vec![0f32; 100];
    let input = |s: &[f32]| -> f64 {
        let i = MetricInput {
            samples: s,
            reference: &x,
            dim: 39,
            sample_energy: &e,
            reference_energy: &e,
            target: &*t,
            density: None,
        };
        m.compute(&i).unwrap()[0].1
    };
    assert_eq!(input(&x), 0.0);
    let d = input(&far);
    assert!(d > 0.6, "D-TVD of a 3x dilation {d}");
    assert!(m
        .check(
            &*Spec::<families::Target>::from_ron("Gmm40()")
                .unwrap()
                .config
                .build()
                .unwrap()
        )
        .is_err());
}
