//! The `Metric` trait: a named figure comparing samples with a reference set.

use crate::target::Target;

/// Everything a metric may use. Samples and reference are in data units, row-major `n x dim`.
#[derive(Clone, Copy)]
pub struct MetricInput<'a> {
    /// The sampler's output.
    pub samples: &'a [f32],
    /// The reference set.
    pub reference: &'a [f32],
    /// Dimension of one row.
    pub dim: usize,
    /// E(x) of each sample.
    pub sample_energy: &'a [f32],
    /// E(x) of each reference row.
    pub reference_energy: &'a [f32],
    /// The target (for mixture structure, particles, bounds).
    pub target: &'a dyn Target,
    /// The trained model's density where it has one (flows), for NLL, RNLL and ESS.
    pub density: Option<&'a ModelDensity>,
}

impl<'a> MetricInput<'a> {
    /// The same input with the reference cut to its first n rows, n = the samples' row count
    /// (all of it when it is smaller): the community protocol scores sets of equal size, as
    /// DEM's evaluation draws `eval_batch_size` test rows for `eval_batch_size` samples.
    pub fn equal_sizes(&self) -> MetricInput<'a> {
        let n = (self.samples.len() / self.dim.max(1)).min(self.reference_energy.len());
        MetricInput {
            samples: self.samples,
            reference: &self.reference[..n * self.dim],
            dim: self.dim,
            sample_energy: self.sample_energy,
            reference_energy: &self.reference_energy[..n],
            target: self.target,
            density: self.density,
        }
    }
}

/// A flow's density at its own samples and at the reference rows.
#[derive(Debug, Clone)]
pub struct ModelDensity {
    /// log q of the model's own samples (drawn before any corrector).
    pub sample_log_q: Vec<f32>,
    /// E of those samples.
    pub sample_energy: Vec<f32>,
    /// log q of the reference rows.
    pub reference_log_q: Vec<f32>,
}

/// A metric: returns one or more named values.
pub trait Metric: Send + Sync {
    /// Checks that the metric applies to this target (called by `nsamp check`).
    fn check(&self, _target: &dyn Target) -> anyhow::Result<()> {
        Ok(())
    }
    /// Whether the metric needs the model's density ([`MetricInput::density`]); such metrics are
    /// skipped where there is none (the exact floor, `nsamp eval` of external samples).
    fn needs_density(&self) -> bool {
        false
    }
    /// The most samples the metric can score (None: no limit); checked against `eval.samples`
    /// when the recipe is assembled, before any training.
    fn max_samples(&self) -> Option<usize> {
        None
    }
    /// Whether the metric scores the evaluation's wide set (`eval.tvd_samples` rows against as
    /// many reference rows) instead of the `eval.samples` set: the nsamp protocol's histogram
    /// TVDs, whose noise at 1,000 rows hides the differences between samplers.
    fn wide_set(&self) -> bool {
        false
    }
    /// Computes the metric.
    fn compute(&self, input: &MetricInput<'_>) -> anyhow::Result<Vec<(String, f64)>>;
}

/// The config of a metric; builds it.
pub trait MetricConfig:
    erased_serde::Serialize + dyn_clone::DynClone + std::fmt::Debug + Send + Sync
{
    /// Builds the metric.
    fn build(&self) -> anyhow::Result<Box<dyn Metric>>;
}
