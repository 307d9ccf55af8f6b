//! nsamp-core: the traits, the link-time registry, recipes, shared numerics and metrics of nsamp.
//!
//! A plugin crate depends on this crate only. It implements one of the component traits
//! ([`Target`], [`Model`], [`Objective`], [`Corrector`], [`Metric`]), gives it a serde config type
//! that builds it (the config a recipe holds is also the constructor), and registers the config
//! under a stable name with [`register!`]. The runner looks names up in the registry.

pub mod checkpoint;
pub mod corrector;
pub mod error;
pub mod eval;
pub mod experiment;
pub mod flow_sampler;
pub mod io;
pub mod mcmc;
pub mod metric;
pub mod metrics;
pub mod model;
pub mod nn;
pub mod numerics;
pub mod objective;
mod override_value;
pub mod params;
pub mod recipe;
pub mod registry;
pub mod sampler;
pub mod score_sampler;
pub mod target;
pub mod threads;
pub mod train;

pub use corrector::{Corrected, Corrector, CorrectorConfig};
pub use error::NsampError;
pub use experiment::{Experiment, Observer, RunReport};
pub use metric::{Metric, MetricConfig, MetricInput};
pub use model::{
    ControlModel, FlowModel, GeneratorModel, Model, ModelConfig, ModelShape, ScoreInference,
    ScoreModel,
};
pub use objective::{Context, Objective, ObjectiveConfig, ObjectiveState, StepLoss};
pub use recipe::Recipe;
pub use registry::Spec;
pub use sampler::{Drawn, Sampler, SamplerConfig, Samples, Trace};
pub use target::{
    CountedTarget, Device, ExactSampler, Particles, Target, TargetConfig, TargetStructure,
};

// Re-exported so that plugin crates and `register!` need no direct dependency on them.
pub use anyhow;
pub use candle_core as candle;
pub use candle_nn;
pub use erased_serde;
pub use inventory;
pub use rand;
pub use rand_distr;
pub use rayon;
pub use serde;
