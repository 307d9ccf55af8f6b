//! Where a trained score model's reverse-SDE samples come from: integrates `n` prior draws
//! through a finished run's network (the run's final weights, `model.safetensors`) with the
//! reverse SDE of `nsamp_core::numerics::sde` and writes the states at t = 1 (the prior draw),
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
use nsamp_core::numerics::rng::{fill_normal, RngStreams};
use nsamp_core::numerics::schedule::GeometricSchedule;
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
    let schedule = GeometricSchedule::new(sigma_min, sigma_max)?;
    let streams = RngStreams::new(seed);
    let mut x = vec![0f32; n * dim];
    fill_normal(&mut streams.stream("prior", 0), &mut x);
    let sd = schedule.h(1.0).sqrt() as f32;
    x.iter_mut().for_each(|v| *v *= sd);
    let mut out = x.clone();
    let (mut s, mut z) = (vec![0f32; x.len()], vec![0f32; x.len()]);
    let mut rng = streams.stream("noise", 0);
    let dt = 1.0 / steps as f64;
    let keep = [9 * steps / 10, 8 * steps / 10, 7 * steps / 10, steps / 2];
    for i in 0..steps {
        if keep.contains(&(steps - i)) {
            out.extend_from_slice(&x);
        }
        // Euler-Maruyama as ReverseSde::integrate, the states between steps kept.
        let t = 1.0 - i as f64 * dt;
        net.score_into(t as f32, &x, &mut s)?;
        let g2 = schedule.g2(t);
        let (drift, diff) = ((g2 * dt) as f32, (g2 * dt).sqrt() as f32);
        fill_normal(&mut rng, &mut z);
        for ((xv, sv), zv) in x.iter_mut().zip(&s).zip(&z) {
            *xv += drift * sv + diff * zv;
        }
    }
    out.extend_from_slice(&x);
    write_npy(std::path::Path::new(&args[1]), &out, dim)?;
    println!(
        "wrote 6 x {n} states (t = 1, 0.9, 0.8, 0.7, 0.5, end) to {}",
        args[1]
    );
    Ok(())
}
