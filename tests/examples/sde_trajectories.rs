//! Where a trained score model's reverse-SDE samples come from: integrates `n` prior draws
//! through a finished run's network (the run's final weights, `model.safetensors`) with
//! `nsamp_core::numerics::sde::ReverseSde` (prior, Euler-Maruyama, noise scale 1) and writes the states at t = 1 (the prior draw),
//! 0.9, 0.8, 0.7, 0.5 and the end as one .npy of 6 n rows (sampler units: x / scale), for an
//! analysis such as `results/far_samples.py`. Diffusion runs on d-dimensional non-particle
//! targets only (no centre-of-mass removal).
//!
//!     cargo run --release -p nsamp-tests --example sde_trajectories -- RUN_DIR OUT.npy \
//!         [N=10000] [SIGMA_MIN=1e-5] [SIGMA_MAX=1.0] [STEPS=1000] [SEED=777]
//!
//! The schedule and step count are arguments (the GMM-40 paper recipes' by default) because a
//! recipe's objective config is not readable here without the diffusion plugin's types.

use nsamp_core::io::write_npy;
use nsamp_core::numerics::rng::RngStreams;
use nsamp_core::numerics::schedule::GeometricSchedule;
use nsamp_core::numerics::sde::ReverseSde;
use nsamp_core::score_sampler::score_inference;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(
        args.len() >= 2,
        "usage: sde_trajectories RUN_DIR OUT.npy [N] [SIGMA_MIN] [SIGMA_MAX] [STEPS] [SEED]"
    );
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or(default.into());
    let n: usize = arg(2, "10000").parse()?;
    let (sigma_min, sigma_max): (f64, f64) = (arg(3, "1e-5").parse()?, arg(4, "1.0").parse()?);
    let steps: usize = arg(5, "1000").parse()?;
    let seed: u64 = arg(6, "777").parse()?;
    let exp = nsamp::cmd::sample::rebuild_from_run(std::path::Path::new(&args[0]))?;
    let dim = exp.parts.target.dim();
    let model = exp
        .parts
        .model
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("the run has no model"))?;
    let score = model
        .as_score()
        .ok_or_else(|| anyhow::anyhow!("the run's model is not a score model"))?;
    let mut net = score_inference(score, dim, &exp.parts.device)?;
    let sde = ReverseSde {
        schedule: GeometricSchedule::new(sigma_min, sigma_max)?,
        steps,
        noise_scale: 1.0,
        com_free: None,
    };
    let streams = RngStreams::new(seed);
    let mut x = sde.prior(n, dim, &streams, 0);
    let mut out = x.clone();
    let keep = [steps / 10, 2 * steps / 10, 3 * steps / 10, steps / 2];
    sde.integrate_observed(
        &mut x,
        dim,
        &streams,
        0,
        &mut |t, xs, o| net.score_into(t as f32, xs, o),
        &mut |i, xs| {
            if keep.contains(&i) {
                out.extend_from_slice(xs);
            }
        },
    )?;
    out.extend_from_slice(&x);
    write_npy(std::path::Path::new(&args[1]), &out, dim)?;
    println!(
        "wrote 6 x {n} states (t = 1, 0.9, 0.8, 0.7, 0.5, end) to {}",
        args[1]
    );
    Ok(())
}
