//! The `Model` trait: the learnable sampler, with capabilities queried at run time.
//!
//! Parameters live in a candle `VarMap` owned by the run (checkpoints are safetensors files);
//! a model is built from a `VarBuilder` over it. A model exposes what it can do through the
//! `as_*` methods: a score network answers [`Model::as_score`]; flows and generators add their own
//! capability traits without changing this one.

use candle_core::Tensor;
use candle_nn::VarBuilder;

/// What a model needs to know about the target to be built.
#[derive(Debug, Clone, Copy)]
pub struct ModelShape {
    /// Dimension of one configuration.
    pub dim: usize,
    /// The layout of a configuration (particles for equivariant networks, a lattice for
    /// checkerboard masks).
    pub structure: crate::target::TargetStructure,
}

impl ModelShape {
    /// A flat shape of dimension `dim`.
    pub fn flat(dim: usize) -> Self {
        ModelShape {
            dim,
            structure: crate::target::TargetStructure::Flat,
        }
    }
    /// Particle structure, if any.
    pub fn particles(&self) -> Option<crate::target::Particles> {
        match self.structure {
            crate::target::TargetStructure::Particles(p) => Some(p),
            _ => None,
        }
    }
    /// Side of a square lattice, if the target is one.
    pub fn lattice_side(&self) -> Option<usize> {
        match self.structure {
            crate::target::TargetStructure::Lattice { side } => Some(side),
            _ => None,
        }
    }
}

/// A score network s_theta(t, x) ~ grad_x log p_t(x).
pub trait ScoreModel: Send + Sync {
    /// Scores for a batch: `t` has shape (n,), `x` (n, dim); returns (n, dim).
    fn score(&self, t: &Tensor, x: &Tensor) -> candle_core::Result<Tensor>;
    /// An inference-only evaluator of the current weights (copied now: later training steps do
    /// not reach it), for the many forward passes of a reverse SDE: no autograd graph, buffers
    /// reused across calls. `None` (the default) means: evaluate through [`ScoreModel::score`]
    /// (see `score_sampler::score_inference`, which falls back to it).
    fn inference(&self) -> anyhow::Result<Option<Box<dyn ScoreInference + '_>>> {
        Ok(None)
    }
}

/// Inference-only evaluation of a score network at one time for a whole batch, as a reverse SDE
/// calls it: `out = s_theta(t, x)` with `x` and `out` of shape (n, dim), row-major.
pub trait ScoreInference {
    /// Writes s_theta(t, x_i) for every row x_i of `x` into `out` (same length as `x`).
    fn score_into(&mut self, t: f32, x: &[f32], out: &mut [f32]) -> anyhow::Result<()>;
}

/// A normalising flow x = T(z), z ~ N(0, I), with an exact density.
///
/// Base noise is an input (drawn by the caller from the run's seeded streams: candle's CPU
/// generator cannot be seeded). All three maps are tensor ops that candle differentiates with
/// respect to the parameters (first order): `score` is written as an explicit input-gradient,
/// so training on it needs no second-order autodiff.
pub trait FlowModel: Send + Sync {
    /// Pushes base noise z (n, d) forward: (x, log q(x)) with shapes (n, d) and (n,).
    fn sample_with_log_prob(&self, z: &Tensor) -> candle_core::Result<(Tensor, Tensor)>;
    /// log q(x) for a batch (n, d) -> (n,).
    fn log_prob(&self, x: &Tensor) -> candle_core::Result<Tensor>;
    /// grad_x log q(x), (n, d) -> (n, d).
    fn score(&self, x: &Tensor) -> candle_core::Result<Tensor>;
}

/// A one-step generator x = g(z), z ~ N(0, I) of the data's dimension (centre-of-mass free
/// for particles), without a tractable density (DiKL's sampler).
pub trait GeneratorModel: Send + Sync {
    /// Pushes noise z (n, d) to samples x (n, d); candle differentiates it with respect to the
    /// parameters.
    fn generate(&self, z: &Tensor) -> candle_core::Result<Tensor>;
}

/// The drift u(x, t) of a controlled SDE dx = u(x, t) dt + sigma dW on [0, 1] (PIS), given the
/// target's score at x (the network may use it, PIS clips and scales it by a learned NN(t)).
pub trait ControlModel: Send + Sync {
    /// Drift for a batch: `t` (n,), `x` (n, d), `target_score` = grad log p~(x) (n, d), detached;
    /// returns (n, d).
    fn drift(&self, t: &Tensor, x: &Tensor, target_score: &Tensor) -> candle_core::Result<Tensor>;
}

/// A learnable sampler.
pub trait Model: Send + Sync {
    /// The model as a score network, if it is one.
    fn as_score(&self) -> Option<&dyn ScoreModel> {
        None
    }
    /// The model as a normalising flow, if it is one.
    fn as_flow(&self) -> Option<&dyn FlowModel> {
        None
    }
    /// The model as a one-step generator, if it is one.
    fn as_generator(&self) -> Option<&dyn GeneratorModel> {
        None
    }
    /// The model as the drift of a controlled SDE, if it is one.
    fn as_control(&self) -> Option<&dyn ControlModel> {
        None
    }
    /// A short human description ("ScoreMlp: 99,074 parameters").
    fn describe(&self) -> String;
}

/// The config of a model: deserialised from a recipe, it builds the model's layers in `vb`.
pub trait ModelConfig:
    erased_serde::Serialize + dyn_clone::DynClone + std::fmt::Debug + Send + Sync
{
    /// Builds the model, creating its parameters through `vb`.
    fn build(&self, shape: &ModelShape, vb: VarBuilder) -> anyhow::Result<Box<dyn Model>>;
}
