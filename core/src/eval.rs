//! The evaluation protocol: which reference set, how many samples, which metrics, and the exact
//! floor (the same metrics for a fresh exact sample of the same size against the same reference,
//! i.e. the score a perfect sampler gets).

use crate::io::read_npy;
use crate::metric::{Metric, MetricInput, ModelDensity};
use crate::numerics::rng::RngStreams;
use crate::registry::{families, Spec};
use crate::target::Target;
use anyhow::{bail, Context as _};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

fn default_samples() -> usize {
    1000
}
fn default_true() -> bool {
    true
}

/// Where the reference set comes from.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub enum Reference {
    /// Fresh exact samples of the target (needs an exact sampler), drawn from `reference_seed`.
    #[default]
    Exact,
    /// An `.npy` file (n x dim, data units), path relative to the working directory.
    File(String),
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

    /// Fails early if the reference cannot be had: a missing or misshapen file, or an exact
    /// reference for a target without an exact sampler.
    pub fn check_reference(&self, target: &dyn Target) -> anyhow::Result<()> {
        match &self.reference {
            Reference::File(p) => load_rows(Path::new(p), target.dim())
                .map(|_| ())
                .with_context(|| {
                    if Path::new(p).exists() {
                        "eval.reference".to_string()
                    } else {
                        format!(
                            "eval.reference (draw an MCMC reference set with \
                             `nsamp reference RECIPE -n 10000 -o {p}`)"
                        )
                    }
                }),
            Reference::Exact => {
                let mut rng = RngStreams::new(0).stream("probe", 0);
                anyhow::ensure!(
                    target.exact_sample(1, &mut rng).is_some(),
                    "this target has no exact sampler: set eval.reference to File(\"ref.npy\")"
                );
                Ok(())
            }
        }
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

    /// The reference set (n x dim) and a description of where it came from.
    pub fn reference_set(&self, target: &dyn Target) -> anyhow::Result<(Vec<f32>, String)> {
        match &self.reference {
            Reference::Exact => {
                let mut rng = RngStreams::new(self.reference_seed).stream("reference", 0);
                let x = target.exact_sample(self.samples, &mut rng).ok_or_else(|| {
                    anyhow::anyhow!(
                        "this target has no exact sampler: set eval.reference to File(\"ref.npy\")"
                    )
                })?;
                Ok((
                    x,
                    format!(
                        "{} exact samples, reference_seed {}",
                        self.samples, self.reference_seed
                    ),
                ))
            }
            Reference::File(p) => {
                let a = load_rows(Path::new(p), target.dim())?;
                Ok((a, format!("file {p}")))
            }
        }
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
pub fn energies(target: &dyn Target, x: &[f32]) -> Vec<f32> {
    let dim = target.dim();
    let mut e = vec![0f32; x.len() / dim];
    e.par_chunks_mut(256)
        .zip(x.par_chunks(256 * dim))
        .for_each(|(e, x)| target.energy(x, e));
    e
}

/// Computes every metric of `samples` against `reference`.
pub fn score(
    target: &dyn Target,
    samples: &[f32],
    reference: &[f32],
    metrics: &[Box<dyn Metric>],
    density: Option<&ModelDensity>,
) -> anyhow::Result<BTreeMap<String, f64>> {
    let dim = target.dim();
    let se = energies(target, samples);
    let re = energies(target, reference);
    let input = MetricInput {
        samples,
        reference,
        dim,
        sample_energy: &se,
        reference_energy: &re,
        target,
        density,
    };
    let mut out = BTreeMap::new();
    for m in metrics {
        if m.needs_density() && density.is_none() {
            continue;
        }
        for (k, v) in m.compute(&input)? {
            out.insert(k, v);
        }
    }
    let finite = se.iter().filter(|e| e.is_finite()).count();
    out.insert(
        "mean_energy".into(),
        se.iter()
            .filter(|e| e.is_finite())
            .map(|&e| e as f64)
            .sum::<f64>()
            / finite.max(1) as f64,
    );
    Ok(out)
}

/// Metrics of a sampler's output, and the exact floor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Evaluation {
    /// Metric name -> value.
    pub metrics: BTreeMap<String, f64>,
    /// The same metrics for a fresh exact sample of the same size (None without exact sampler).
    pub exact_floor: Option<BTreeMap<String, f64>>,
    /// Samples scored.
    pub n_samples: usize,
    /// Reference rows.
    pub n_reference: usize,
    /// Where the reference came from.
    pub reference: String,
    /// The reference rows as scored (centred for particle targets), for plots.
    #[serde(skip)]
    pub reference_rows: Vec<f32>,
}

/// A flow's own samples and its log-density, for the density metrics (NLL, RNLL, ESS).
pub struct ModelSamples<'a> {
    /// The model's samples before any corrector, row-major.
    pub x: &'a [f32],
    /// Their log q.
    pub log_q: &'a [f32],
    /// log q of arbitrary rows (the reference set).
    pub log_prob: &'a dyn Fn(&[f32]) -> anyhow::Result<Vec<f32>>,
}

/// Scores `samples` under the recipe's protocol. `floor_streams` seeds the exact floor's sample;
/// `model` (flows) feeds the density metrics, which the exact floor does not report.
pub fn evaluate(
    target: &dyn Target,
    samples: &[f32],
    settings: &EvalSettings,
    floor_streams: &RngStreams,
    model: Option<ModelSamples<'_>>,
) -> anyhow::Result<Evaluation> {
    let dim = target.dim();
    anyhow::ensure!(
        samples.len().is_multiple_of(dim) && !samples.is_empty(),
        "no samples to evaluate"
    );
    let metrics = settings.build_metrics(target)?;
    let (mut reference, described) = settings.reference_set(target)?;
    let n = samples.len() / dim;
    // Particle configurations are compared centre-of-mass free (community files are not always
    // centred, e.g. the DW-4 test split); energies and distances do not change.
    let centred;
    let samples = match target.particles() {
        Some(p) => {
            crate::numerics::pairwise::remove_mean(&mut reference, p.n, p.spatial_dim);
            let mut c = samples.to_vec();
            crate::numerics::pairwise::remove_mean(&mut c, p.n, p.spatial_dim);
            centred = c;
            &centred[..]
        }
        None => samples,
    };
    let density = match model {
        Some(m) => Some(ModelDensity {
            sample_log_q: m.log_q.to_vec(),
            sample_energy: energies(target, m.x),
            reference_log_q: (m.log_prob)(&reference)?,
        }),
        None => None,
    };
    let metrics_out = score(target, samples, &reference, &metrics, density.as_ref())?;
    let exact_floor = if settings.exact_floor {
        let mut rng = floor_streams.stream("exact-floor", 0);
        match target.exact_sample(n, &mut rng) {
            Some(fresh) => Some(score(target, &fresh, &reference, &metrics, None)?),
            None => None,
        }
    } else {
        None
    };
    Ok(Evaluation {
        metrics: metrics_out,
        exact_floor,
        n_samples: n,
        n_reference: reference.len() / dim,
        reference: described,
        reference_rows: reference,
    })
}
