//! The state of many independent chains, advanced together so the target sees one batch.

use crate::numerics::pairwise::remove_mean;
use crate::numerics::rng::{fill_normal, Rng, RngStreams};
use crate::target::{CountedTarget, Particles};
use rand::Rng as _;
use rayon::prelude::*;

/// C chains of dimension d: positions, energies, energy gradients and per-chain step sizes.
#[derive(Debug, Clone)]
pub struct Chains {
    /// Positions, C x d row-major.
    pub x: Vec<f32>,
    /// E(x) per chain.
    pub energy: Vec<f32>,
    /// grad E(x), C x d.
    pub grad: Vec<f32>,
    /// Step size per chain.
    pub step: Vec<f32>,
    /// Dimension of one state.
    pub dim: usize,
    /// Particle structure: noise and momenta are drawn centre-of-mass free.
    pub particles: Option<Particles>,
}

impl Chains {
    /// Chains at `x` (C x d), evaluating E and grad E once.
    pub fn new(target: &CountedTarget, x: Vec<f32>, step: f32) -> anyhow::Result<Self> {
        let dim = target.dim();
        let c = x.len() / dim;
        let mut chains = Chains {
            energy: vec![0.0; c],
            grad: vec![0.0; x.len()],
            step: vec![step; c],
            dim,
            particles: target.inner().particles(),
            x,
        };
        target.energy_and_grad(&chains.x, &mut chains.energy, &mut chains.grad)?;
        if let Some(i) = chains.energy.iter().position(|e| !e.is_finite()) {
            anyhow::bail!(
                "MCMC: chain {i} starts at a configuration with non-finite energy {}",
                chains.energy[i]
            );
        }
        Ok(chains)
    }

    /// Number of chains.
    pub fn len(&self) -> usize {
        self.energy.len()
    }

    /// Whether there are no chains.
    pub fn is_empty(&self) -> bool {
        self.energy.is_empty()
    }

    /// Fills `out` (C x d) with standard normals, one stream per (step, chain) so results do not
    /// depend on the thread count; removes the centre of mass for particle systems.
    pub fn normals(&self, streams: &RngStreams, purpose: &str, step: u64, out: &mut [f32]) {
        let c = self.len() as u64;
        let particles = self.particles;
        out.par_chunks_mut(self.dim)
            .enumerate()
            .for_each(|(i, row)| {
                let mut rng = streams.stream(purpose, step * c + i as u64);
                fill_normal(&mut rng, row);
                if let Some(p) = particles {
                    remove_mean(row, p.n, p.spatial_dim);
                }
            });
    }

    /// One uniform per chain for the accept/reject decision.
    pub fn uniforms(&self, streams: &RngStreams, purpose: &str, step: u64) -> Vec<f64> {
        let c = self.len() as u64;
        (0..c)
            .map(|i| {
                let mut rng: Rng = streams.stream(purpose, step * c + i);
                rng.random::<f64>()
            })
            .collect()
    }

    /// Copies chain i of `proposal` (x, E, grad E) where `accept[i]`.
    pub fn accept(&mut self, accept: &[bool], x: &[f32], energy: &[f32], grad: &[f32]) {
        let d = self.dim;
        for (i, &a) in accept.iter().enumerate() {
            if a {
                self.x[i * d..(i + 1) * d].copy_from_slice(&x[i * d..(i + 1) * d]);
                self.grad[i * d..(i + 1) * d].copy_from_slice(&grad[i * d..(i + 1) * d]);
                self.energy[i] = energy[i];
            }
        }
    }
}

/// Metropolis decision from log acceptance ratios: accept when ln u < log alpha; non-finite
/// ratios reject. Returns the decisions and the acceptance probabilities min(1, alpha).
pub fn metropolis(log_alpha: &[f64], uniforms: &[f64]) -> (Vec<bool>, Vec<f64>) {
    log_alpha
        .iter()
        .zip(uniforms)
        .map(|(&la, &u)| {
            if la.is_nan() {
                (false, 0.0)
            } else {
                (u.ln() < la, la.min(0.0).exp())
            }
        })
        .unzip()
}
