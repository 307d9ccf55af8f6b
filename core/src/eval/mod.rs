//! The evaluation protocol: which reference set, how many samples, which metrics, and the exact
//! floor (the same metrics for a fresh exact sample of the same size against the same reference,
//! i.e. the score a perfect sampler gets).
//!
//! [`EvalContext`] holds what a run's evaluations share (built once); [`reference`] says where
//! the reference set comes from and caches MCMC sets.

pub mod context;
pub mod reference;

pub use context::{named_floor, EvalContext, Floor, FloorKind, Metrics};
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
fn default_tvd_samples() -> usize {
    10_000
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
    /// Rows of the nsamp protocol's histogram TVDs (`E-TVD`, `S-TVD`, `D-TVD`): that many
    /// sampler draws against as many reference rows (an exact reference is extended with further
    /// exact draws; a file or MCMC reference gives at most its own rows). The other metrics
    /// score `samples` rows. At or below `samples`, the TVDs score the `samples` set.
    #[serde(default = "default_tvd_samples")]
    pub tvd_samples: usize,
    /// Metrics to report.
    pub metrics: Vec<Spec<families::Metric>>,
    /// Also report the floor: the same metrics for fresh exact samples (targets with an exact
    /// sampler), else for one half of the reference set against the other half.
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

/// Metrics of a sampler's output, and the floor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Evaluation {
    /// Metric name -> value.
    pub metrics: Metrics,
    /// The same metrics for a fresh exact sample of the same size (None without exact sampler).
    pub exact_floor: Option<Metrics>,
    /// Without an exact sampler: the reference's second half against its first half.
    #[serde(default)]
    pub split_half_floor: Option<Metrics>,
    /// Samples scored.
    pub n_samples: usize,
    /// Reference rows.
    pub n_reference: usize,
    /// Samples the nsamp protocol's TVDs scored.
    #[serde(default)]
    pub tvd_samples: usize,
    /// Reference rows of those TVDs.
    #[serde(default)]
    pub tvd_reference: usize,
    /// Rows on each side of the floor's TVDs (0 without a floor; see [`Floor::tvd_rows`]).
    #[serde(default)]
    pub floor_tvd_rows: usize,
    /// Where the reference came from.
    pub reference: String,
}

impl Evaluation {
    /// The floor with its name ("exact floor" or "split-half floor").
    pub fn floor(&self) -> Option<(&'static str, &Metrics)> {
        named_floor(self.exact_floor.as_ref(), self.split_half_floor.as_ref())
    }
}

/// Scores `samples` under the recipe's protocol as a run does (its first `eval.samples` rows;
/// the TVDs its first `eval.tvd_samples` rows where it has more), with the floor where the
/// settings ask for it (`nsamp eval` of a sample file; a run builds its [`EvalContext`] once
/// instead).
pub fn evaluate(
    target: &CountedTarget,
    target_ron: &str,
    samples: &[f32],
    settings: &EvalSettings,
    floor_streams: &RngStreams,
    obs: &mut dyn Observer,
) -> anyhow::Result<Evaluation> {
    let cx = EvalContext::new(target, target_ron, settings, obs)?;
    let dim = target.dim();
    let rows = samples.len() / dim;
    let n = rows.min(settings.samples);
    let n_wide = rows.min(cx.wide_rows());
    let wide = (n_wide > n).then(|| &samples[..n_wide * dim]);
    let metrics = cx.score_with(&samples[..n * dim], None, wide, None)?;
    let floor = if settings.exact_floor {
        cx.floor(n, if wide.is_some() { n_wide } else { 0 }, floor_streams)?
    } else {
        None
    };
    let floor_tvd_rows = floor.as_ref().map_or(0, |f| f.tvd_rows);
    let (exact_floor, split_half_floor) = Floor::into_fields(floor);
    Ok(Evaluation {
        floor_tvd_rows,
        metrics,
        exact_floor,
        split_half_floor,
        n_samples: n,
        n_reference: cx.n_reference(),
        tvd_samples: if wide.is_some() { n_wide } else { n },
        tvd_reference: if wide.is_some() {
            cx.n_wide_reference()
        } else {
            cx.n_reference()
        },
        reference: cx.description.clone(),
    })
}
