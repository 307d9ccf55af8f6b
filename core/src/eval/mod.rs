//! The evaluation protocol: which reference set, how many samples, which metrics, and the exact
//! floor (the same metrics for a fresh exact sample of the same size against the same reference,
//! i.e. the score a perfect sampler gets).
//!
//! [`EvalContext`] holds what a run's evaluations share (built once); [`reference`] says where
//! the reference set comes from and caches MCMC sets.

pub mod context;
pub mod reference;

pub use context::{EvalContext, Metrics};
pub use reference::Reference;

use crate::experiment::observer::Observer;
use crate::io::read_npy;
use crate::metric::Metric;
use crate::numerics::rng::RngStreams;
use crate::registry::{families, Spec};
use crate::target::{CountedTarget, Target};
use anyhow::{bail, Context as _};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;

fn default_samples() -> usize {
    1000
}
fn default_true() -> bool {
    true
}

/// The evaluation settings of a recipe.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalSettings {
    /// Number of samples drawn from the sampler and from the reference (equal counts).
    #[serde(default = "default_samples")]
    pub samples: usize,
    /// The reference set.
    #[serde(default)]
    pub reference: Reference,
    /// Seed of the exact reference set: fixed across runs, so every run is scored against the
    /// same reference whatever its own seed.
    #[serde(default)]
    pub reference_seed: u64,
    /// Metrics to report.
    pub metrics: Vec<Spec<families::Metric>>,
    /// Also report the exact floor (targets with an exact sampler).
    #[serde(default = "default_true")]
    pub exact_floor: bool,
}

impl EvalSettings {
    /// Range checks.
    pub fn validate(&self) -> Result<(), String> {
        if self.samples == 0 {
            return Err("`eval.samples` must be at least 1".into());
        }
        Ok(())
    }

    /// Builds the metrics and checks that each applies to `target`.
    pub fn build_metrics(&self, target: &dyn Target) -> anyhow::Result<Vec<Box<dyn Metric>>> {
        self.metrics
            .iter()
            .map(|m| {
                let built = m.config.build()?;
                built
                    .check(target)
                    .with_context(|| format!("metric `{}`", m.name))?;
                if let Some(max) = built.max_samples() {
                    anyhow::ensure!(
                        self.samples <= max,
                        "metric `{}` scores at most {max} samples; eval.samples is {}: lower it \
                         or leave `{}` out of eval.metrics",
                        m.name,
                        self.samples,
                        m.name
                    );
                }
                Ok(built)
            })
            .collect()
    }
}

/// Reads an `.npy` sample file and checks its width against the target's dimension.
pub fn load_rows(path: &Path, dim: usize) -> anyhow::Result<Vec<f32>> {
    let a = read_npy(path)?;
    if a.cols != dim {
        bail!(
            "{}: rows have {} values, the target's dimension is {dim}",
            path.display(),
            a.cols
        );
    }
    if a.rows == 0 {
        bail!("{}: no rows", path.display());
    }
    Ok(a.data)
}

/// E(x) of each row (uncounted: evaluation is not part of a sampler's budget).
pub fn energies(target: &dyn Target, x: &[f32]) -> anyhow::Result<Vec<f32>> {
    par_energies(target.dim(), x, |x, e| target.energy(x, e))
}

/// E(x) of each row of `x` by `energy` over chunks of 256 rows in parallel.
pub fn par_energies(
    dim: usize,
    x: &[f32],
    energy: impl Fn(&[f32], &mut [f32]) -> anyhow::Result<()> + Sync,
) -> anyhow::Result<Vec<f32>> {
    let mut e = vec![0f32; x.len() / dim];
    e.par_chunks_mut(256)
        .zip(x.par_chunks(256 * dim))
        .try_for_each(|(e, x)| energy(x, e))?;
    Ok(e)
}

/// Metrics of a sampler's output, and the exact floor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Evaluation {
    /// Metric name -> value.
    pub metrics: Metrics,
    /// The same metrics for a fresh exact sample of the same size (None without exact sampler).
    pub exact_floor: Option<Metrics>,
    /// Samples scored.
    pub n_samples: usize,
    /// Reference rows.
    pub n_reference: usize,
    /// Where the reference came from.
    pub reference: String,
}

/// Scores `samples` under the recipe's protocol, with the exact floor where the settings ask
/// for it (`nsamp eval` of a sample file; a run builds its [`EvalContext`] once instead).
pub fn evaluate(
    target: &CountedTarget,
    target_ron: &str,
    samples: &[f32],
    settings: &EvalSettings,
    floor_streams: &RngStreams,
    obs: &mut dyn Observer,
) -> anyhow::Result<Evaluation> {
    let cx = EvalContext::new(target, target_ron, settings, obs)?;
    let n = samples.len() / target.dim();
    let metrics = cx.score(samples, None)?;
    let exact_floor = if settings.exact_floor {
        cx.exact_floor(n, floor_streams)?
    } else {
        None
    };
    Ok(Evaluation {
        metrics,
        exact_floor,
        n_samples: n,
        n_reference: cx.n_reference(),
        reference: cx.description.clone(),
    })
}
