//! The `Objective` trait: one training loss and the state it keeps (replay buffers, particles,
//! auxiliary networks); it decides how training points are drawn and which sampler results.

use crate::model::Model;
use crate::numerics::rng::RngStreams;
use crate::sampler::Sampler;
use crate::target::CountedTarget;
use candle_core::{Device, Tensor};

/// What an objective sees at every call.
pub struct Context<'a> {
    /// The counted target.
    pub target: &'a CountedTarget,
    /// The model being trained (None for network-free methods).
    pub model: Option<&'a dyn Model>,
    /// Seeded random streams of the run.
    pub streams: &'a RngStreams,
    /// The device tensors live on.
    pub device: &'a Device,
    /// Training batch size from the recipe.
    pub batch: usize,
}

/// The loss of one step, and diagnostics to log beside it.
pub struct StepLoss {
    /// Scalar loss; the trainer differentiates it with respect to the model's parameters.
    pub loss: Tensor,
    /// Named per-step diagnostics (e.g. "ess", "max_weight"); logged and plotted.
    pub diagnostics: Vec<(&'static str, f64)>,
}

/// A training objective.
pub trait Objective: Send {
    /// Prepares state before the first step (e.g. fills a replay buffer).
    fn init(&mut self, cx: &Context<'_>) -> anyhow::Result<()>;
    /// The loss for gradient step `step` (0-based).
    fn loss(&mut self, step: u64, cx: &Context<'_>) -> anyhow::Result<StepLoss>;
    /// Called after the optimiser step (outer loops such as buffer refills).
    fn after_step(&mut self, _step: u64, _cx: &Context<'_>) -> anyhow::Result<()> {
        Ok(())
    }
    /// The sampler this objective trains, built over the trained model.
    fn sampler<'a>(
        &'a self,
        model: Option<&'a dyn Model>,
        target: &'a CountedTarget,
        device: &'a Device,
    ) -> anyhow::Result<Box<dyn Sampler + 'a>>;
}

/// The config of an objective; builds it for a given target.
pub trait ObjectiveConfig:
    erased_serde::Serialize + dyn_clone::DynClone + std::fmt::Debug + Send + Sync
{
    /// Builds the objective. Fails with a clear message if the target does not fit.
    fn build(&self, target: &CountedTarget) -> anyhow::Result<Box<dyn Objective>>;
    /// Whether the objective trains a network (false for network-free samplers).
    fn needs_model(&self) -> bool {
        true
    }
}
