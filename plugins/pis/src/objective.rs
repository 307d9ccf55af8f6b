//! The objective `Pis`: the path-space reverse KL of the controlled SDE (see [`crate::sde`]),
//! trained by backpropagation through the Euler-Maruyama trajectory (the DEM code's
//! `PISLitModule.get_loss`, jarridrb/DEM @ 26c930b `dem/models/pis_module.py`).
//!
//! Per step: `batch` paths from y_0 = 0 with noise from the stream ("pis-train", step); at every
//! Euler step the target score grad log p~(y_k) = -grad E(y_k) of the detached state enters the
//! drift as a constant (no second derivatives of E); the terminal E(y_1) contributes its gradient
//! through the surrogate y_1 . grad E(y_1) (grad detached). Energy-and-gradient evaluations per
//! step: batch x (steps + 1) (the scores at the N Euler steps and the terminal term).
//!
//! Differences from the DEM code: the loss is not divided by d + 1 (under Adam this only changes
//! the effective gradient-clip threshold: DEM's clip 0.5 equals a clip of 0.5 (d + 1) here, which
//! the recipes use); no learning-rate schedule, no weight decay (DEM: 1e-7) and no CFM network
//! trained beside it (DEM's `nll_with_cfm`, used only for its NLL figures).

use crate::sampler::PisSampler;
use crate::sde::{ControlledSde, ScaledTarget};
use nsamp_core::candle::{DType, Device};
use nsamp_core::numerics::lse::{ess_fraction, log_sum_exp_f64};
use nsamp_core::numerics::rng::fill_normal;
use nsamp_core::{
    Context, ControlModel, CountedTarget, Model, Objective, ObjectiveConfig, ObjectiveState,
    Sampler, StepLoss,
};

nsamp_core::config! {
    /// `Pis(...)` config: the path integral sampler's objective.
    pub struct PisConfig {
        /// Diffusion coefficient sigma of dy = u dt + sigma dW (sampler units); the reference
        /// terminal law is N(0, sigma^2 I). DEM: `pis_scale` = 1.
        sigma: f64 = 1.0,
        /// Euler-Maruyama steps on [0, 1] (training and sampling). DEM: `num_integration_steps` = 100.
        steps: usize = 100,
        /// Length unit s: the SDE runs in y = x / s (None: the target's natural scale, GMM-40:
        /// 50, DEM's `data_normalization_factor`).
        scale: Option<f32> = None,
        /// Paths simulated at once when sampling (memory bound).
        sample_chunk: usize = 4096,
    }
}

/// The objective.
pub struct Pis {
    sde: ControlledSde,
    scale: f32,
    dim: usize,
    chunk: usize,
}

impl ObjectiveConfig for PisConfig {
    fn build(&self, target: &CountedTarget) -> anyhow::Result<Box<dyn Objective>> {
        let sde = ControlledSde {
            sigma: self.sigma,
            steps: self.steps,
        };
        sde.validate()?;
        anyhow::ensure!(
            target.inner().particles().is_none(),
            "Pis: particle targets are not supported (no centre-of-mass-free noise); use a flat target"
        );
        let scale = self.scale.unwrap_or_else(|| target.inner().natural_scale());
        anyhow::ensure!(
            scale.is_finite() && scale > 0.0,
            "Pis: `scale` must be positive and finite, got {scale}"
        );
        anyhow::ensure!(
            (1..=1 << 24).contains(&self.sample_chunk),
            "Pis: `sample_chunk` must be between 1 and 2^24, got {}",
            self.sample_chunk
        );
        Ok(Box::new(Pis {
            sde,
            scale,
            dim: target.dim(),
            chunk: self.sample_chunk,
        }))
    }
}

/// The model as a drift, or a clear error.
pub fn control(model: Option<&dyn Model>) -> anyhow::Result<&dyn ControlModel> {
    model.and_then(|m| m.as_control()).ok_or_else(|| {
        anyhow::anyhow!("Pis trains the drift of a controlled SDE: use `model: PisNet(...)`")
    })
}

/// log Z in data units from path log-weights in sampler units y = x / s:
/// LSE(log w) - ln n + d ln s (the weights estimate Z_y = Z / s^d).
pub fn log_z_data_units(log_w: &[f64], dim: usize, scale: f32) -> f64 {
    log_sum_exp_f64(log_w) - (log_w.len() as f64).ln() + dim as f64 * (scale as f64).ln()
}

impl Pis {
    /// The SDE settings.
    pub fn sde(&self) -> ControlledSde {
        self.sde
    }
    /// The length unit s.
    pub fn scale(&self) -> f32 {
        self.scale
    }
}

impl Objective for Pis {
    fn init(&mut self, cx: &Context<'_>) -> anyhow::Result<()> {
        control(cx.model)?;
        Ok(())
    }

    // Stateless: every random number comes from the step's own stream.
    fn state(&self) -> anyhow::Result<ObjectiveState> {
        Ok(ObjectiveState::default())
    }

    fn restore(&mut self, _state: ObjectiveState, cx: &Context<'_>) -> anyhow::Result<()> {
        control(cx.model)?;
        Ok(())
    }

    fn loss(&mut self, step: u64, cx: &Context<'_>) -> anyhow::Result<StepLoss> {
        let u = control(cx.model)?;
        let mut rng = cx.streams.stream("pis-train", step);
        let mut noise = |buf: &mut [f32]| fill_normal(&mut rng, buf);
        let mut target = ScaledTarget::new(cx.target, self.scale);
        let paths = self.sde.simulate(
            u,
            &mut target,
            &mut noise,
            cx.batch,
            self.dim,
            DType::F32,
            cx.device,
            true,
        )?;
        let loss = paths
            .loss
            .expect("differentiable simulation returns a loss");
        Ok(StepLoss {
            loss,
            diagnostics: vec![
                ("ess", ess_fraction(&paths.log_w)),
                (
                    "log_z",
                    log_z_data_units(&paths.log_w, self.dim, self.scale),
                ),
            ],
        })
    }

    fn sampler<'a>(
        &'a self,
        model: Option<&'a dyn Model>,
        target: &'a CountedTarget,
        device: &'a Device,
    ) -> anyhow::Result<Box<dyn Sampler + 'a>> {
        Ok(Box::new(PisSampler::new(
            control(model)?,
            target,
            device,
            self.sde,
            self.scale,
            self.chunk,
        )))
    }
}

nsamp_core::register!(
    Objective,
    "Pis",
    PisConfig,
    "Path integral sampler (Zhang and Chen 2022): controlled SDE from 0 trained by the path-space KL, backpropagation through Euler-Maruyama; ESS and log Z from path weights"
);
