//! Metropolis-adjusted Langevin (MALA) step for many chains at once.
//!
//! Proposal x' = x - eps grad E(x) + sqrt(2 eps) xi, xi ~ N(0, I) (centre-of-mass free for
//! particles), accepted with probability
//! min(1, exp(-E(x') + E(x)) q(x | x') / q(x' | x)), log q(x' | x) = -|x' - x + eps grad E(x)|^2 / (4 eps) + const.

use super::chains::{metropolis, Chains};
use crate::numerics::rng::RngStreams;
use crate::target::CountedTarget;

/// Advances every chain by one MALA step; returns the acceptance probabilities.
pub fn mala_step(
    target: &CountedTarget,
    chains: &mut Chains,
    streams: &RngStreams,
    step: u64,
) -> anyhow::Result<Vec<f64>> {
    let d = chains.dim;
    let c = chains.len();
    let mut xi = vec![0f32; c * d];
    chains.normals(streams, "mcmc-mala-noise", step, &mut xi);
    let mut y = vec![0f32; c * d];
    for i in 0..c {
        let eps = chains.step[i];
        let s = (2.0 * eps).sqrt();
        for k in i * d..(i + 1) * d {
            y[k] = chains.x[k] - eps * chains.grad[k] + s * xi[k];
        }
    }
    let mut ey = vec![0f32; c];
    let mut gy = vec![0f32; c * d];
    target.energy_and_grad(&y, &mut ey, &mut gy)?;
    let log_alpha: Vec<f64> = (0..c)
        .map(|i| {
            let eps = chains.step[i] as f64;
            let (mut fwd, mut bwd) = (0f64, 0f64);
            for k in i * d..(i + 1) * d {
                let f = (y[k] - chains.x[k]) as f64 + eps * chains.grad[k] as f64;
                let b = (chains.x[k] - y[k]) as f64 + eps * gy[k] as f64;
                fwd += f * f;
                bwd += b * b;
            }
            let la = -(ey[i] as f64 - chains.energy[i] as f64) - (bwd - fwd) / (4.0 * eps);
            if ey[i].is_finite() {
                la
            } else {
                f64::NAN
            }
        })
        .collect();
    let u = chains.uniforms(streams, "mcmc-mala-accept", step);
    let (accept, prob) = metropolis(&log_alpha, &u);
    chains.accept(&accept, &y, &ey, &gy);
    Ok(prob)
}
