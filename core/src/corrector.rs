//! The `Corrector` trait: turns model samples into better-founded estimates (IMH, SNIS, MALA).

use crate::numerics::rng::RngStreams;
use crate::sampler::Samples;
use crate::target::CountedTarget;

/// Corrected samples and the corrector's own report (acceptance rate, ESS, ...).
#[derive(Debug, Clone)]
pub struct Corrected {
    /// The corrected samples (same count as the input unless documented).
    pub samples: Samples,
    /// Named figures for the run's metrics.
    pub report: Vec<(String, f64)>,
}

/// A post-processing step on a sampler's output.
pub trait Corrector: Send {
    /// Proposals consumed per corrected sample: for n corrected samples the runner draws
    /// n * this many (IMH with thinning k: k; default 1).
    fn proposals_per_sample(&self) -> usize {
        1
    }
    /// Corrects `samples` (data units) against `target`; returns samples.n() /
    /// proposals_per_sample() rows.
    fn correct(
        &mut self,
        samples: Samples,
        target: &CountedTarget,
        streams: &RngStreams,
    ) -> anyhow::Result<Corrected>;
}

/// The config of a corrector; builds it.
pub trait CorrectorConfig:
    erased_serde::Serialize + dyn_clone::DynClone + std::fmt::Debug + Send + Sync
{
    /// Builds the corrector for a target of the given dimension.
    fn build(&self, dim: usize) -> anyhow::Result<Box<dyn Corrector>>;
}
