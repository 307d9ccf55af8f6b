//! phi^4: the action against closed forms and an independent f64 formula, its gradient against
//! finite differences, and the reference MCMC's chi_2 against the known 0.743(1).

use nsamp_core::mcmc::{run_mcmc, McmcSettings, Method};
use nsamp_core::numerics::rng::{fill_normal, RngStreams};
use nsamp_core::{CountedTarget, Target};
use nsamp_plugin_phi4::observables::{chi2_error, observables};
use nsamp_plugin_phi4::Phi4;

/// The DESIGN.md form, literally: sum_x [sum_mu phi_x (2 phi_x - phi_{x+mu} - phi_{x-mu}) + m2 phi^2 + lambda phi^4].
fn action_f64(phi: &[f64], l: usize, m2: f64, lam: f64) -> f64 {
    let at = |i: usize, j: usize| phi[(i % l) * l + (j % l)];
    let mut s = 0.0;
    for i in 0..l {
        for j in 0..l {
            let p = at(i, j);
            let kin = p * (2.0 * p - at(i + 1, j) - at(i + l - 1, j))
                + p * (2.0 * p - at(i, j + 1) - at(i, j + l - 1));
            s += kin + m2 * p * p + lam * p.powi(4);
        }
    }
    s
}

#[test]
fn action_matches_closed_forms_and_the_literal_formula() {
    let t = Phi4::new(8, -4.0, 8.0).unwrap();
    // Constant field c: no kinetic term, S = V (m2 c^2 + lambda c^4).
    let c = 0.3f32;
    let mut e = [0f32];
    t.energy(&vec![c; 64], &mut e).unwrap();
    let want = 64.0 * (-4.0 * 0.09 + 8.0 * 0.0081);
    assert!((e[0] as f64 - want).abs() < 1e-4, "{} vs {want}", e[0]);
    // Random fields on a non-square-power side, against the literal formula in f64.
    for (l, m2, lam) in [(8, -4.0, 8.0), (5, 1.5, 0.7), (3, -4.0, 4.0)] {
        let t = Phi4::new(l, m2 as f32, lam as f32).unwrap();
        let mut x = vec![0f32; 3 * l * l];
        fill_normal(&mut RngStreams::new(2).stream("phi4", l as u64), &mut x);
        let mut e = vec![0f32; 3];
        t.energy(&x, &mut e).unwrap();
        for (r, row) in x.chunks(l * l).enumerate() {
            let xf: Vec<f64> = row.iter().map(|&v| v as f64).collect();
            let want = action_f64(&xf, l, m2, lam);
            assert!(
                (e[r] as f64 - want).abs() < 1e-4 * want.abs().max(1.0),
                "{} vs {want}",
                e[r]
            );
        }
    }
}

#[test]
fn gradient_matches_finite_differences() {
    let (l, m2, lam) = (6, -4.0, 8.0);
    let t = Phi4::new(l, m2 as f32, lam as f32).unwrap();
    let mut x = vec![0f32; l * l];
    fill_normal(&mut RngStreams::new(4).stream("phi4-fd", 0), &mut x);
    let (mut e, mut g) = ([0f32], vec![0f32; l * l]);
    t.energy_and_grad(&x, &mut e, &mut g).unwrap();
    let xf: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let h = 1e-5;
    for k in 0..l * l {
        let (mut a, mut b) = (xf.clone(), xf.clone());
        a[k] += h;
        b[k] -= h;
        let fd = (action_f64(&a, l, m2, lam) - action_f64(&b, l, m2, lam)) / (2.0 * h);
        assert!(
            (g[k] as f64 - fd).abs() < 1e-3 * fd.abs().max(1.0),
            "site {k}: {} vs {fd}",
            g[k]
        );
    }
}

/// chi_2 at L = 8, m2 = -4, lambda = 8 is 0.743(1) (DESIGN.md: two independent samplers). The
/// test's tolerance is the known value's error plus 4 jackknife errors of this modest run
/// (errors over 16 groups of independent chains, so autocorrelation is accounted for).
#[test]
fn reference_mcmc_reproduces_the_known_susceptibility() {
    let target = CountedTarget::new(Box::new(Phi4::new(8, -4.0, 8.0).unwrap()));
    let settings = McmcSettings {
        method: Method::Hmc(10),
        chains: 256,
        burn_in: 300,
        pilot: 100,
        // Every state: the jackknife over independent chains accounts for the autocorrelation.
        thin: Some(1),
        init_scale: Some(0.5),
        descent_steps: 0,
        ..Default::default()
    };
    let n = 256 * 1000;
    let (x, r) = run_mcmc(
        &target,
        &settings,
        n,
        &RngStreams::new(9),
        &mut |_, _, _| {},
    )
    .unwrap();
    // Rows are step-major: row s * 256 + c is chain c. Jackknife over 16 groups of 16 chains.
    let groups = 16;
    let chi = |keep: &dyn Fn(usize) -> bool| -> f64 {
        let rows: Vec<f32> = x
            .chunks(64)
            .enumerate()
            .filter(|(i, _)| keep((i % 256) / 16))
            .flat_map(|(_, c)| c.iter().copied())
            .collect();
        observables(&rows, 8).chi2
    };
    let full = chi(&|_| true);
    let loo: Vec<f64> = (0..groups).map(|g| chi(&|k| k != g)).collect();
    let mean = loo.iter().sum::<f64>() / groups as f64;
    let err = ((groups - 1) as f64 / groups as f64
        * loo.iter().map(|v| (v - mean).powi(2)).sum::<f64>())
    .sqrt();
    assert!(
        (full - 0.743).abs() < 0.001 + 4.0 * err,
        "chi_2 {full:.4} +- {err:.4} (acceptance {:.3}, tau {:.1}) vs 0.743(1)",
        r.acceptance,
        r.tau_steps
    );
    assert!(
        err < 0.006,
        "the run is too short to test anything: error {err}"
    );
    eprintln!(
        "chi_2 = {full:.4} +- {err:.4}, acceptance {:.3}, tau {:.1} steps",
        r.acceptance, r.tau_steps
    );
}

/// The one-pass jackknife equals its definition: chi_2 recomputed by `observables` on the rows
/// outside each block, then sqrt((B - 1) / B sum (chi2_b - mean)^2); rows past B * size unused.
#[test]
fn chi2_error_matches_the_leave_one_block_out_definition() {
    let (l, n, blocks) = (3, 203, 7);
    let v = l * l;
    let mut phi = vec![0f32; n * v];
    fill_normal(&mut RngStreams::new(11).stream("phi", 0), &mut phi);
    // A drifting offset per row, so that blocks differ.
    for (r, c) in phi.chunks_exact_mut(v).enumerate() {
        c.iter_mut().for_each(|p| *p += (r as f32 / 40.0).sin());
    }
    let size = n / blocks;
    let loo: Vec<f64> = (0..blocks)
        .map(|b| {
            let mut rest = phi[..b * size * v].to_vec();
            rest.extend_from_slice(&phi[(b + 1) * size * v..blocks * size * v]);
            observables(&rest, l).chi2
        })
        .collect();
    let mean = loo.iter().sum::<f64>() / blocks as f64;
    let want = ((blocks - 1) as f64 / blocks as f64
        * loo.iter().map(|x| (x - mean).powi(2)).sum::<f64>())
    .sqrt();
    let got = chi2_error(&phi, l, blocks);
    assert!(want > 0.01, "degenerate case: {want}");
    assert!((got - want).abs() < 1e-9 * want, "{got} vs {want}");
    assert!(chi2_error(&phi[..(2 * blocks - 1) * v], l, blocks).is_nan());
}
