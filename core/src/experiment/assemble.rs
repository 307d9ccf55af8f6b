//! Builds a run's components from a recipe, by name, through the registry.

use crate::corrector::Corrector;
use crate::model::{Model, ModelShape};
use crate::numerics::rng::RngStreams;
use crate::objective::{Context, Objective};
use crate::params::{count_parameters, seeded_var_builder};
use crate::recipe::Recipe;
use crate::sampler::Sampler;
use crate::target::CountedTarget;
use anyhow::Context as _;
use candle_core::{DType, Device};
use candle_nn::VarMap;

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
    /// The objective (trained methods).
    pub objective: Option<Box<dyn Objective>>,
    /// The training-free sampler (`sampler: ...` recipes).
    pub sampler: Option<Box<dyn Sampler>>,
    /// The corrector.
    pub corrector: Option<Box<dyn Corrector>>,
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
        !crate::registry::list_all().is_empty(),
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
                    structure: target.inner().structure(),
                };
                let m = spec
                    .config
                    .build(&shape, vb)
                    .with_context(|| format!("model `{}`", spec.name))?;
                (Some(vm), Some(m))
            }
            None => (None, None),
        };
        let objective = match &recipe.objective {
            Some(o) => Some(
                o.config
                    .build(&target)
                    .with_context(|| format!("objective `{}`", o.name))?,
            ),
            None => None,
        };
        let sampler = match &recipe.sampler {
            Some(s) => Some(
                s.config
                    .build(&target)
                    .with_context(|| format!("sampler `{}`", s.name))?,
            ),
            None => None,
        };
        let corrector = match &recipe.corrector {
            Some(c) => Some(
                c.config
                    .build(target.dim())
                    .with_context(|| format!("corrector `{}`", c.name))?,
            ),
            None => None,
        };
        // The metrics are checked against the target here, before any training; the evaluation
        // context builds its own.
        recipe.eval.build_metrics(target.inner())?;
        Ok(Assembled {
            recipe,
            target,
            varmap,
            model,
            objective,
            sampler,
            corrector,
            device,
            streams,
        })
    }

    /// The objective (mutably, trained methods only) beside the context it runs in.
    pub fn split(&mut self) -> (Option<&mut (dyn Objective + 'static)>, Context<'_>) {
        let cx = Context {
            target: &self.target,
            model: self.model.as_deref(),
            streams: &self.streams,
            device: &self.device,
            batch: self.recipe.train.batch,
        };
        (self.objective.as_deref_mut(), cx)
    }

    /// Draws `n` samples from the method's sampler: the trained objective's over the model, or
    /// the training-free one. Returns them with the sampler's report and trace.
    pub fn draw(
        &mut self,
        n: usize,
        streams: &RngStreams,
        progress: crate::sampler::Progress<'_>,
    ) -> anyhow::Result<crate::sampler::Drawn> {
        let mut trained;
        let sampler: &mut dyn Sampler = match (&self.objective, &mut self.sampler) {
            (Some(o), _) => {
                trained = o.sampler(self.model.as_deref(), &self.target, &self.device)?;
                trained.as_mut()
            }
            (None, Some(s)) => s.as_mut(),
            (None, None) => anyhow::bail!("the recipe names no method"),
        };
        let s = sampler.sample(n, streams, progress)?;
        anyhow::ensure!(
            s.x.iter().all(|v| v.is_finite()),
            "the sampler produced non-finite samples"
        );
        Ok(crate::sampler::Drawn {
            samples: s,
            report: sampler.report(),
            trace: sampler.trace(),
        })
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
