//! The training ensemble of target samples for FKL and SM: drawn by a training-free sampler
//! (`Mcmc(size, sampler: Hmc(...))`, the reference MCMC kernels; its energy evaluations count as
//! training cost), exact samples for targets that have them, or rows of an .npy file.

use nsamp_core::eval::load_rows;
use nsamp_core::numerics::rng::RngStreams;
use nsamp_core::registry::{families, Spec};
use nsamp_core::CountedTarget;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// An ensemble drawn by a training-free sampler (`Mala(...)`, `Hmc(...)`, or any other).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct McmcEnsemble {
    /// Rows in the ensemble.
    pub size: usize,
    /// The sampler that draws them, as in `eval.reference: Mcmc(n, sampler)`.
    pub sampler: Spec<families::Sampler>,
}

impl Default for McmcEnsemble {
    fn default() -> Self {
        McmcEnsemble {
            size: 1000,
            sampler: Spec::from_ron("Mala(chains: 100, burn_in: 1000, pilot: 500)")
                .expect("Mala is registered by nsamp-core"),
        }
    }
}

/// Where the training ensemble comes from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Ensemble {
    /// `size` states of a training-free sampler on the target.
    Mcmc(McmcEnsemble),
    /// This many exact samples (mixtures).
    Exact(usize),
    /// Rows of an .npy file (n x d, data units).
    File(String),
}

impl Ensemble {
    /// Draws (or loads) the ensemble, row-major n x d.
    pub fn draw(&self, target: &CountedTarget, streams: &RngStreams) -> anyhow::Result<Vec<f32>> {
        match self {
            Ensemble::Mcmc(m) => {
                anyhow::ensure!(m.size > 0, "ensemble size must be positive");
                let mut sampler = m.sampler.config.build(target)?;
                let drawn =
                    sampler.sample(m.size, &streams.derive("ensemble-mcmc"), &mut |_, _| {})?;
                Ok(drawn.x)
            }
            Ensemble::Exact(n) => {
                let mut rng = streams.stream("ensemble-exact", 0);
                target
                    .inner()
                    .exact_sample(*n, &mut rng)
                    .ok_or_else(|| anyhow::anyhow!("ensemble Exact: this target has no exact sampler; use Mcmc(...) or File(...)"))
            }
            Ensemble::File(p) => load_rows(Path::new(p), target.dim()),
        }
    }
}
