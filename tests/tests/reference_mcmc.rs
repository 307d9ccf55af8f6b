//! The reference MCMC sampler against exact facts on the particle targets: the virial identity
//! <x . grad E> = (n - 1) D for a translation-invariant Boltzmann density (integration by parts
//! over the centre-of-mass-free coordinates), and the community LJ-13 energy mean when that set
//! is present.

use nsamp as _;
use nsamp_core::io::read_npy;
use nsamp_core::mcmc::{run_mcmc, McmcReport, McmcSettings};
use nsamp_core::numerics::rng::RngStreams;
use nsamp_core::registry::{families, Spec};
use nsamp_core::CountedTarget;
use std::path::Path;

fn sample(name: &str, n: usize, burn_in: usize) -> (CountedTarget, Vec<f32>, McmcReport) {
    let spec: Spec<families::Target> = Spec::from_ron(name).unwrap();
    let target = CountedTarget::new(spec.config.build().unwrap());
    let settings = McmcSettings {
        chains: 128,
        burn_in,
        pilot: 1000,
        ..Default::default()
    };
    let (x, r) = run_mcmc(
        &target,
        &settings,
        n,
        &RngStreams::new(11),
        &mut |_, _, _| {},
    )
    .unwrap();
    (target, x, r)
}

/// Mean and standard error (with the run's ESS) of x . grad E over the samples.
fn virial(target: &CountedTarget, x: &[f32], ess: f64) -> (f64, f64) {
    let d = target.dim();
    let n = x.len() / d;
    let mut e = vec![0f32; n];
    let mut g = vec![0f32; x.len()];
    target.energy_and_grad(x, &mut e, &mut g).unwrap();
    let v: Vec<f64> = x
        .chunks(d)
        .zip(g.chunks(d))
        .map(|(a, b)| a.iter().zip(b).map(|(p, q)| (p * q) as f64).sum())
        .collect();
    let m = v.iter().sum::<f64>() / n as f64;
    let var = v.iter().map(|t| (t - m).powi(2)).sum::<f64>() / n as f64;
    (m, (var / ess).sqrt())
}

#[test]
fn lj13_mcmc_satisfies_the_virial_identity() {
    let (target, x, r) = sample("Lj13()", 2048, 4000);
    let (m, err) = virial(&target, &x, r.ess);
    let want = 3.0 * 12.0;
    assert!(
        (m - want).abs() < 5.0 * err,
        "virial {m} +- {err} vs {want}; {r:?}"
    );
    assert!(r.acceptance > 0.5 && r.acceptance < 0.65, "{r:?}");
    // The community set (when present): energy mean -43.13; the two error bars combined.
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/test_split_LJ13-1000.npy");
    match read_npy(&path) {
        Ok(reference) => {
            let rows = reference.rows;
            let mut e = vec![0f32; rows];
            target.energy(&reference.data, &mut e).unwrap();
            let mean = e.iter().map(|&v| v as f64).sum::<f64>() / rows as f64;
            let sd =
                (e.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / rows as f64).sqrt();
            let err = (r.energy_mean_err.powi(2) + sd * sd / rows as f64).sqrt();
            assert!(
                (r.energy_mean - mean).abs() < 5.0 * err,
                "MCMC energy {} +- {} vs reference {mean}",
                r.energy_mean,
                r.energy_mean_err
            );
        }
        Err(_) => eprintln!("SKIPPED energy comparison: {} not present", path.display()),
    }
}

#[test]
fn dw4_mcmc_satisfies_the_virial_identity() {
    let (target, x, r) = sample("Dw4()", 4096, 2000);
    let (m, err) = virial(&target, &x, r.ess);
    let want = 2.0 * 3.0;
    assert!(
        (m - want).abs() < 5.0 * err,
        "virial {m} +- {err} vs {want}; {r:?}"
    );
}
