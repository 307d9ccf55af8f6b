//! The training ensemble of target samples for FKL and SM: drawn by the reference MCMC
//! (`nsamp_core::mcmc`, its energy evaluations counted as training cost), exact samples for
//! targets that have them, or rows of an .npy file.

use nsamp_core::eval::load_rows;
use nsamp_core::mcmc::{run_mcmc, McmcSettings, Method};
use nsamp_core::numerics::rng::RngStreams;
use nsamp_core::CountedTarget;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// MCMC settings of an ensemble (the rest as in `McmcSettings::default`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct McmcEnsemble {
    /// Rows in the ensemble.
    pub size: usize,
    /// Transition kernel: Mala or Hmc(L).
    pub method: Method,
    /// Independent chains.
    pub chains: usize,
    /// Adaptation steps.
    pub burn_in: usize,
    /// Steps measuring tau (which sets the thinning).
    pub pilot: usize,
    /// The exact x -> -x move (symmetric targets such as phi^4; see `McmcSettings::sign_flip`).
    pub sign_flip: bool,
}

impl Default for McmcEnsemble {
    fn default() -> Self {
        McmcEnsemble {
            size: 1000,
            method: Method::Mala,
            chains: 100,
            burn_in: 1000,
            pilot: 500,
            sign_flip: false,
        }
    }
}

/// Where the training ensemble comes from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Ensemble {
    /// The reference MCMC on the target.
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
                let settings = McmcSettings {
                    method: m.method,
                    chains: m.chains,
                    burn_in: m.burn_in,
                    pilot: m.pilot,
                    sign_flip: m.sign_flip,
                    ..Default::default()
                };
                let (x, _) = run_mcmc(
                    target,
                    &settings,
                    m.size,
                    &streams.derive("ensemble-mcmc"),
                    &mut |_, _, _| {},
                )?;
                Ok(x)
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
