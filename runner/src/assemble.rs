//! Builds a run's components from a recipe, by name, through the registry.

use anyhow::Context as _;
use nsamp_core::candle::{DType, Device};
use nsamp_core::candle_nn::VarMap;
use nsamp_core::numerics::rng::RngStreams;
use nsamp_core::params::{count_parameters, seeded_var_builder};
use nsamp_core::{Context, Corrector, CountedTarget, Metric, Model, ModelShape, Objective, Recipe};

/// Everything a run needs, assembled from a recipe.
pub struct Assembled {
    /// The recipe.
    pub recipe: Recipe,
    /// The counted target.
    pub target: CountedTarget,
    /// The model's parameters (None for network-free samplers).
    pub varmap: Option<VarMap>,
    /// The model.
    pub model: Option<Box<dyn Model>>,
    /// The objective.
    pub objective: Box<dyn Objective>,
    /// The corrector.
    pub corrector: Option<Box<dyn Corrector>>,
    /// Metrics, checked against the target.
    pub metrics: Vec<Box<dyn Metric>>,
    /// Tensor device.
    pub device: Device,
    /// The run's random streams.
    pub streams: RngStreams,
}

/// The recipe's target on the recipe's device, wrapped in an evaluation counter.
pub fn build_target(recipe: &Recipe) -> anyhow::Result<CountedTarget> {
    Ok(CountedTarget::new(
        recipe
            .target
            .config
            .build_on(recipe.device)
            .with_context(|| format!("target `{}`", recipe.target.name))?,
    ))
}

/// Fails if no component is registered (a binary that links no plugin).
pub fn ensure_registry() -> anyhow::Result<()> {
    anyhow::ensure!(
        !nsamp_core::registry::list_all().is_empty(),
        "no components are registered: this binary links no nsamp plugin"
    );
    Ok(())
}

impl Assembled {
    /// Builds every component of `recipe`.
    pub fn new(recipe: Recipe) -> anyhow::Result<Self> {
        ensure_registry()?;
        let device = Device::Cpu;
        let streams = RngStreams::new(recipe.seed);
        let target = build_target(&recipe)?;
        let (varmap, model) = match &recipe.model {
            Some(spec) => {
                let vm = VarMap::new();
                let vb = seeded_var_builder(&vm, streams, DType::F32, &device);
                let shape = ModelShape {
                    dim: target.dim(),
                    particles: target.inner().particles(),
                    lattice_side: target.inner().lattice_side(),
                };
                let m = spec
                    .config
                    .build(&shape, vb)
                    .with_context(|| format!("model `{}`", spec.name))?;
                (Some(vm), Some(m))
            }
            None => (None, None),
        };
        let objective = recipe
            .objective
            .config
            .build(&target)
            .with_context(|| format!("objective `{}`", recipe.objective.name))?;
        let corrector = match &recipe.corrector {
            Some(c) => Some(
                c.config
                    .build(target.dim())
                    .with_context(|| format!("corrector `{}`", c.name))?,
            ),
            None => None,
        };
        let metrics = recipe.eval.build_metrics(target.inner())?;
        Ok(Assembled {
            recipe,
            target,
            varmap,
            model,
            objective,
            corrector,
            metrics,
            device,
            streams,
        })
    }

    /// The objective's context.
    pub fn context(&self) -> Context<'_> {
        Context {
            target: &self.target,
            model: self.model.as_deref(),
            streams: &self.streams,
            device: &self.device,
            batch: self.recipe.train.batch,
        }
    }

    /// The objective (mutably) beside the context it runs in.
    pub fn split(&mut self) -> (&mut dyn Objective, Context<'_>) {
        let cx = Context {
            target: &self.target,
            model: self.model.as_deref(),
            streams: &self.streams,
            device: &self.device,
            batch: self.recipe.train.batch,
        };
        (self.objective.as_mut(), cx)
    }

    /// Number of model parameters.
    pub fn parameters(&self) -> usize {
        self.varmap.as_ref().map(count_parameters).unwrap_or(0)
    }

    /// One line describing the model.
    pub fn describe_model(&self) -> String {
        self.model
            .as_ref()
            .map(|m| m.describe())
            .unwrap_or_else(|| "no model (network-free sampler)".into())
    }

    /// Loads a safetensors checkpoint into the model's parameters.
    pub fn load_checkpoint(&mut self, path: &std::path::Path) -> anyhow::Result<()> {
        let vm = self
            .varmap
            .as_mut()
            .ok_or_else(|| anyhow::anyhow!("this recipe has no model to load"))?;
        vm.load(path)
            .with_context(|| format!("cannot load checkpoint {}", path.display()))
    }
}
