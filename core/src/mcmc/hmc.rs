//! Hamiltonian Monte Carlo step (leapfrog, unit mass) for many chains at once.
//!
//! H(x, p) = E(x) + |p|^2 / 2, p ~ N(0, I) (centre-of-mass free for particles); `leapfrog`
//! steps of size eps: p -= eps/2 grad E; x += eps p; p -= eps/2 grad E; accepted with
//! probability min(1, exp(H(x, p) - H(x', p'))).

use super::chains::{metropolis, Chains};
use crate::numerics::rng::RngStreams;
use crate::target::CountedTarget;

/// Advances every chain by one HMC trajectory of `leapfrog` steps; returns the acceptance
/// probabilities.
pub fn hmc_step(
    target: &CountedTarget,
    chains: &mut Chains,
    streams: &RngStreams,
    step: u64,
    leapfrog: usize,
) -> anyhow::Result<Vec<f64>> {
    let d = chains.dim;
    let c = chains.len();
    let mut p = vec![0f32; c * d];
    chains.normals(streams, "mcmc-hmc-momentum", step, &mut p);
    let kinetic = |p: &[f32], i: usize| -> f64 {
        0.5 * p[i * d..(i + 1) * d]
            .iter()
            .map(|&v| v as f64 * v as f64)
            .sum::<f64>()
    };
    let h0: Vec<f64> = (0..c)
        .map(|i| chains.energy[i] as f64 + kinetic(&p, i))
        .collect();
    let mut y = chains.x.clone();
    let mut gy = chains.grad.clone();
    let mut ey = chains.energy.clone();
    for _ in 0..leapfrog {
        for i in 0..c {
            let eps = chains.step[i];
            for k in i * d..(i + 1) * d {
                p[k] -= 0.5 * eps * gy[k];
                y[k] += eps * p[k];
            }
        }
        target.energy_and_grad(&y, &mut ey, &mut gy)?;
        for i in 0..c {
            let eps = chains.step[i];
            for k in i * d..(i + 1) * d {
                p[k] -= 0.5 * eps * gy[k];
            }
        }
    }
    let log_alpha: Vec<f64> = (0..c)
        .map(|i| {
            let h1 = ey[i] as f64 + kinetic(&p, i);
            if h1.is_finite() {
                h0[i] - h1
            } else {
                f64::NAN
            }
        })
        .collect();
    let u = chains.uniforms(streams, "mcmc-hmc-accept", step);
    let (accept, prob) = metropolis(&log_alpha, &u);
    chains.accept(&accept, &y, &ey, &gy);
    Ok(prob)
}
