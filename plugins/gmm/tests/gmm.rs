//! Mixture energies against an independent f64 formula, gradients against finite differences,
//! the exact sampler against the mixture's moments, and GMM-40 against the community's means.

use nsamp_core::numerics::rng::RngStreams;
use nsamp_core::rand::Rng as _;
use nsamp_core::registry::{families, Spec};
use nsamp_core::Target;
use nsamp_plugin_gmm::{MixtureConfig, GMM40_MEANS};

fn build(ron: &str) -> Box<dyn Target> {
    Spec::<families::Target>::from_ron(ron)
        .unwrap()
        .config
        .build()
        .unwrap()
}

fn diag_mixture() -> Box<dyn Target> {
    build("Mixture(means: [[-3.0, 1.0], [2.0, 2.0], [0.5, -4.0]], stds: [[0.7, 1.3], [1.0], [2.0, 0.4]], weights: [1.0, 2.0, 3.0])")
}

/// -log sum_c w_c N(x; mu_c, diag s_c^2) in f64, written independently of the kernel.
fn naive_energy(t: &dyn Target, x: &[f64]) -> f64 {
    let m = t.mixture().unwrap();
    let d = x.len();
    let mut p = 0.0;
    for c in 0..m.weights.len() {
        let mut dens = m.weights[c] as f64;
        for (k, &xk) in x.iter().enumerate() {
            let s = m.stds[c * d + k] as f64;
            let z = (xk - m.means[c * d + k] as f64) / s;
            dens *= (-0.5 * z * z).exp() / (s * (2.0 * std::f64::consts::PI).sqrt());
        }
        p += dens;
    }
    -p.ln()
}

fn random_points(n: usize, half: f32, seed: u64) -> Vec<f32> {
    let mut rng = RngStreams::new(seed).stream("test-points", 0);
    (0..2 * n).map(|_| rng.random_range(-half..half)).collect()
}

#[test]
fn energy_matches_independent_formula() {
    for (t, half) in [
        (diag_mixture(), 6.0),
        (build("Gmm40()"), 45.0),
        (build("Mog8()"), 7.0),
    ] {
        let x = random_points(300, half, 1);
        let mut e = vec![0f32; 300];
        t.energy(&x, &mut e).unwrap();
        let mut e2 = vec![0f32; 300];
        let mut g = vec![0f32; 600];
        t.energy_and_grad(&x, &mut e2, &mut g).unwrap();
        for (i, row) in x.chunks(2).enumerate() {
            let want = naive_energy(&*t, &[row[0] as f64, row[1] as f64]);
            if want.is_finite() && want < 80.0 {
                assert!(
                    (e[i] as f64 - want).abs() < 2e-4 * (1.0 + want.abs()),
                    "row {i}: {} vs {want}",
                    e[i]
                );
            }
            assert_eq!(e[i], e2[i]);
        }
    }
}

#[test]
fn gradient_matches_central_differences() {
    for (t, half) in [(diag_mixture(), 6.0), (build("Gmm40()"), 45.0)] {
        let x = random_points(200, half, 2);
        let mut e = vec![0f32; 200];
        let mut g = vec![0f32; 400];
        t.energy_and_grad(&x, &mut e, &mut g).unwrap();
        for (i, row) in x.chunks(2).enumerate() {
            for k in 0..2 {
                let h = 1e-3f64;
                let mut a = [row[0] as f64, row[1] as f64];
                let mut b = a;
                a[k] += h;
                b[k] -= h;
                let fd = (naive_energy(&*t, &a) - naive_energy(&*t, &b)) / (2.0 * h);
                if !fd.is_finite() || naive_energy(&*t, &a) > 80.0 {
                    continue;
                }
                let an = g[2 * i + k] as f64;
                assert!(
                    (an - fd).abs() < 1e-3 * (1.0 + fd.abs()),
                    "row {i} dim {k}: analytic {an} fd {fd}"
                );
            }
        }
    }
}

#[test]
fn exact_sampler_matches_mixture_moments() {
    let t = diag_mixture();
    let m = t.mixture().unwrap().clone();
    let mut rng = RngStreams::new(5).stream("s", 0);
    let n = 200_000;
    let x = t.exact_sample(n, &mut rng).unwrap();
    for k in 0..2 {
        let mean: f64 = (0..3)
            .map(|c| m.weights[c] as f64 * m.means[c * 2 + k] as f64)
            .sum();
        let second: f64 = (0..3)
            .map(|c| {
                let (mu, s) = (m.means[c * 2 + k] as f64, m.stds[c * 2 + k] as f64);
                m.weights[c] as f64 * (mu * mu + s * s)
            })
            .sum();
        let var = second - mean * mean;
        let got: f64 = x.iter().skip(k).step_by(2).map(|&v| v as f64).sum::<f64>() / n as f64;
        let got2: f64 = x
            .iter()
            .skip(k)
            .step_by(2)
            .map(|&v| (v as f64 - got).powi(2))
            .sum::<f64>()
            / n as f64;
        let se = (var / n as f64).sqrt();
        assert!(
            (got - mean).abs() < 5.0 * se,
            "dim {k}: mean {got} vs {mean}"
        );
        assert!(
            (got2 - var).abs() < 0.02 * var,
            "dim {k}: var {got2} vs {var}"
        );
    }
}

#[test]
fn gmm40_means_are_the_community_means() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/gmm40_means.csv"
    );
    let Ok(text) = std::fs::read_to_string(path) else {
        eprintln!("skipped: {path} not present (the product does not need it)");
        return;
    };
    let rows: Vec<Vec<f32>> = text
        .lines()
        .skip(1)
        .map(|l| {
            l.split(',')
                .skip(1)
                .map(|v| v.trim().parse().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 40);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!([r[0], r[1]], GMM40_MEANS[i], "mean {i}");
    }
    let t = build("Gmm40()");
    let m = t.mixture().unwrap();
    assert!(m.stds.iter().all(|&s| (s - 1.313_261_7).abs() < 1e-6));
    assert!(m.weights.iter().all(|&w| (w - 0.025).abs() < 1e-7));
}

#[test]
fn presets_have_their_sizes_and_scales() {
    for (ron, k, scale) in [
        ("Gmm40()", 40, 50.0),
        ("Gmm80()", 80, 100.0),
        ("Gmm120()", 120, 150.0),
        ("Mog4()", 4, 1.0),
        ("Mog8(radius: 3.0)", 8, 1.0),
    ] {
        let t = build(ron);
        assert_eq!(t.mixture().unwrap().len(), k, "{ron}");
        assert_eq!(t.natural_scale(), scale, "{ron}");
        assert_eq!(t.log_z(), Some(0.0));
    }
    let m = build("Gmm80()");
    assert!(m.mixture().unwrap().means.iter().all(|v| v.abs() <= 80.0));
}

#[test]
fn bad_configs_are_rejected() {
    let bad = MixtureConfig {
        means: vec![vec![0.0, 0.0]],
        stds: vec![vec![-1.0]],
        weights: None,
        scale: 1.0,
    };
    use nsamp_core::TargetConfig;
    assert!(bad.build().is_err());
    let err = Spec::<families::Target>::from_ron("Gmm41()")
        .unwrap_err()
        .to_string();
    assert!(err.contains("Gmm40") && err.contains("Mog8"), "{err}");
    let err = Spec::<families::Target>::from_ron("Gmm40(sdt: 1.0)")
        .unwrap_err()
        .to_string();
    assert!(err.contains("sdt"), "{err}");
}
