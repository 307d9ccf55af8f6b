//! A worked example of extending nsamp without editing it: the objective `ExactDsm`, denoising
//! score matching on exact target samples (an oracle baseline for targets with an exact sampler:
//! what the same score network reaches when it is given data instead of an energy).
//!
//! Per step: x_0 ~ p exactly (in sampler units x / s), t ~ U(0, 1), x_t = x_0 + sqrt(h(t)) eps,
//! loss = mean_i lambda(t_i) mean_d (s_theta(t_i, x_t^i) + eps_i / sqrt(h(t_i)))^2 with
//! lambda(t) = h(t) (the usual DSM weighting). Sampling: the reverse SDE of nsamp-core.

use nsamp_core::candle::{Device, Tensor};
use nsamp_core::numerics::rng::fill_normal;
use nsamp_core::numerics::schedule::GeometricSchedule;
use nsamp_core::numerics::sde::ReverseSde;
use nsamp_core::rand::Rng as _;
use nsamp_core::score_sampler::ScoreSdeSampler;
use nsamp_core::{
    Context, CountedTarget, Model, Objective, ObjectiveConfig, ObjectiveState, Sampler, StepLoss,
};

nsamp_core::config! {
    /// `ExactDsm(...)` config: it is also the objective's constructor.
    pub struct ExactDsmConfig {
        /// Noise scale at t = 0 (sampler units).
        sigma_min: f64 = 1e-3,
        /// Noise scale at t = 1 (sampler units).
        sigma_max: f64 = 1.0,
        /// Reverse-SDE steps for sampling.
        sde_steps: usize = 200,
    }
}

/// The objective.
pub struct ExactDsm {
    sde: ReverseSde,
    scale: f32,
}

impl ObjectiveConfig for ExactDsmConfig {
    fn build(&self, target: &CountedTarget) -> anyhow::Result<Box<dyn Objective>> {
        anyhow::ensure!(
            target.inner().exact().is_some(),
            "ExactDsm needs a target with an exact sampler"
        );
        Ok(Box::new(ExactDsm {
            sde: ReverseSde {
                schedule: GeometricSchedule::new(self.sigma_min, self.sigma_max)?,
                steps: self.sde_steps,
                noise_scale: 1.0,
                com_free: None,
            },
            scale: target.inner().natural_scale(),
        }))
    }
}

impl Objective for ExactDsm {
    fn init(&mut self, _cx: &Context<'_>) -> anyhow::Result<()> {
        Ok(())
    }

    // No state between steps: every random number comes from the step's own stream.
    fn state(&self) -> anyhow::Result<ObjectiveState> {
        Ok(ObjectiveState::default())
    }

    fn restore(&mut self, _state: ObjectiveState, _cx: &Context<'_>) -> anyhow::Result<()> {
        Ok(())
    }

    fn loss(&mut self, step: u64, cx: &Context<'_>) -> anyhow::Result<StepLoss> {
        let (b, d) = (cx.batch, cx.target.dim());
        let mut rng = cx.streams.stream("exact-dsm", step);
        let x0 = cx.target.inner().exact_sample(b, &mut rng).unwrap();
        let mut eps = vec![0f32; b * d];
        fill_normal(&mut rng, &mut eps);
        let t: Vec<f32> = (0..b).map(|_| rng.random::<f32>().max(1e-3)).collect();
        let h: Vec<f32> = t
            .iter()
            .map(|&t| self.sde.schedule.h(t as f64) as f32)
            .collect();
        let mut xt = vec![0f32; b * d];
        let mut target = vec![0f32; b * d];
        for i in 0..b * d {
            let sd = h[i / d].sqrt();
            xt[i] = x0[i] / self.scale + sd * eps[i];
            target[i] = -eps[i] / sd;
        }
        let score = cx
            .model
            .and_then(|m| m.as_score())
            .ok_or_else(|| anyhow::anyhow!("ExactDsm needs a score model"))?;
        let dev = cx.device;
        let pred = score.score(
            &Tensor::from_slice(&t, b, dev)?,
            &Tensor::from_slice(&xt, (b, d), dev)?,
        )?;
        let diff = (pred - Tensor::from_vec(target, (b, d), dev)?)?
            .sqr()?
            .mean(1)?;
        let loss = (diff * Tensor::from_vec(h, b, dev)?)?.mean_all()?;
        Ok(StepLoss {
            loss,
            diagnostics: vec![],
        })
    }

    fn sampler<'a>(
        &'a self,
        model: Option<&'a dyn Model>,
        target: &'a CountedTarget,
        device: &'a Device,
    ) -> anyhow::Result<Box<dyn Sampler + 'a>> {
        let score = model
            .and_then(|m| m.as_score())
            .ok_or_else(|| anyhow::anyhow!("ExactDsm needs a score model"))?;
        Ok(Box::new(ScoreSdeSampler {
            score,
            sde: self.sde,
            scale: self.scale,
            dim: target.dim(),
            device,
            chunk: 1000,
            normalised: false,
        }))
    }
}

nsamp_core::register!(
    Objective,
    "ExactDsm",
    ExactDsmConfig,
    "example plugin: denoising score matching on exact target samples (oracle baseline)"
);
