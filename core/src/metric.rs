//! The `Metric` trait: a named figure comparing samples with a reference set.

use crate::target::Target;

/// Everything a metric may use. Samples and reference are in data units, row-major `n x dim`.
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
}

/// A metric: returns one or more named values.
pub trait Metric: Send + Sync {
    /// Checks that the metric applies to this target (called by `nsamp check`).
    fn check(&self, _target: &dyn Target) -> anyhow::Result<()> {
        Ok(())
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
