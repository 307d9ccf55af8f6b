//! The `Objective` trait: one training loss and the state it keeps (replay buffers, particles,
//! auxiliary networks); it decides how training points are drawn and which sampler results.

use crate::model::Model;
use crate::numerics::rng::RngStreams;
use crate::sampler::Sampler;
use crate::target::CountedTarget;
use candle_core::{Device, Tensor};
use std::collections::BTreeMap;

/// An objective's state between two steps, for complete checkpoints: named f32 and f64 arrays
/// (saved as safetensors) and named counters (saved as JSON). Random numbers are not state: every
/// stream is derived from the seed and the step.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ObjectiveState {
    /// Named f32 arrays (replay buffer rows, training ensembles, auxiliary parameters).
    pub arrays: BTreeMap<String, Vec<f32>>,
    /// Named f64 arrays (log weights and other values f32 would round), saved as f64.
    pub arrays_f64: BTreeMap<String, Vec<f64>>,
    /// Named counters (buffer head and length, inner step counts).
    pub counters: BTreeMap<String, u64>,
}

impl ObjectiveState {
    /// The array `name`, or an error naming it.
    pub fn take_array(&mut self, name: &str) -> anyhow::Result<Vec<f32>> {
        self.arrays
            .remove(name)
            .ok_or_else(|| anyhow::anyhow!("the checkpoint has no objective array `{name}`"))
    }
    /// The f64 array `name`, or an error naming it.
    pub fn take_array_f64(&mut self, name: &str) -> anyhow::Result<Vec<f64>> {
        self.arrays_f64
            .remove(name)
            .ok_or_else(|| anyhow::anyhow!("the checkpoint has no objective array `{name}`"))
    }
    /// The counter `name`, or an error naming it.
    pub fn counter(&self, name: &str) -> anyhow::Result<u64> {
        self.counters
            .get(name)
            .copied()
            .ok_or_else(|| anyhow::anyhow!("the checkpoint has no objective counter `{name}`"))
    }
}

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
    /// The state after the last completed step (what [`Self::restore`] needs to go on exactly
    /// as if never stopped). Stateless objectives return `ObjectiveState::default()`.
    fn state(&self) -> anyhow::Result<ObjectiveState>;
    /// Restores a state [`Self::state`] returned; called instead of [`Self::init`] when a run
    /// resumes from a checkpoint, so it also prepares what `init` would (scratch space).
    fn restore(&mut self, state: ObjectiveState, cx: &Context<'_>) -> anyhow::Result<()>;
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
