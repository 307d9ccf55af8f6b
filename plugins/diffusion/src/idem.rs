//! Denoising Energy Matching (DEM; Akhound-Sadegh et al. 2024): iDEM with a replay buffer and
//! pDEM with prior points. Registered as `Idem` and `Pdem`, whose fields are those of
//! [`DiffusionSettings`]; the registered name fixes where x_0 comes from.
//!
//! Per step (DESIGN.md, "Numerics every diffusion method shares"), in sampler units x / s:
//! x_0 from the buffer (iDEM) or the prior N(0, h(1) I) (pDEM); t ~ U(0, 1);
//! x_t = x_0 + sqrt(h(t)) eps; S_K(x_t, t) the clipped Monte Carlo score;
//! loss = mean_i lambda(t_i) mean_d (s_theta(t_i, x_t^i) - S_K(x_t^i, t_i))^2.
//! iDEM's outer loop: every `buffer.refill_every` steps, `buffer.refill_samples` reverse-SDE
//! samples of the current network are pushed into a FIFO buffer of `buffer.size` rows.

use crate::batch::{regression_loss, Batch};
use crate::settings::{diffusion_config, DiffusionSettings};
use crate::state::{DiffusionState, X0Source};
use nsamp_core::candle::Device;
use nsamp_core::error::NsampError;
use nsamp_core::numerics::buffer::ReplayBuffer;
use nsamp_core::numerics::mc_score::McScore;
use nsamp_core::{
    Context, CountedTarget, Model, Objective, ObjectiveConfig, ObjectiveState, Sampler, StepLoss,
};

diffusion_config! {
    /// `Idem(...)`: iDEM, x_0 from the replay buffer.
    pub struct IdemConfig {}
}

diffusion_config! {
    /// `Pdem(...)`: pDEM, x_0 from the prior (the buffer fields are unused).
    pub struct PdemConfig {}
}

impl ObjectiveConfig for IdemConfig {
    fn build(&self, target: &CountedTarget) -> anyhow::Result<Box<dyn Objective>> {
        Ok(Box::new(Dem::new(
            self.settings(),
            X0Source::Buffer,
            target,
        )?))
    }
}

impl ObjectiveConfig for PdemConfig {
    fn build(&self, target: &CountedTarget) -> anyhow::Result<Box<dyn Objective>> {
        Ok(Box::new(Dem::new(
            self.settings(),
            X0Source::Prior,
            target,
        )?))
    }
}

/// The DEM objective's state.
pub struct Dem {
    state: DiffusionState,
    batch: Batch,
    target_score: Vec<f32>,
    log_p: Vec<f32>,
}

impl Dem {
    /// Builds the objective for `target`.
    pub fn new(
        settings: DiffusionSettings,
        source: X0Source,
        target: &CountedTarget,
    ) -> anyhow::Result<Self> {
        Ok(Dem {
            state: DiffusionState::new(settings, source, target)?,
            batch: Batch::default(),
            target_score: Vec::new(),
            log_p: Vec::new(),
        })
    }

    /// The replay buffer (iDEM), in sampler units.
    pub fn buffer(&self) -> Option<&ReplayBuffer> {
        self.state.buffer.as_ref()
    }

    /// The Monte Carlo score settings.
    pub fn mc_score(&self) -> &McScore {
        &self.state.mc
    }
}

impl Dem {
    fn scratch(&mut self, batch: usize) {
        self.target_score = vec![0.0; batch * self.state.dim];
        self.log_p = vec![0.0; batch];
    }
}

/// Mean |S_K| over the batch: DEM's per-step diagnostic.
fn mean_norm(target_score: &[f32], d: usize) -> f64 {
    let b = target_score.len() / d;
    target_score
        .chunks_exact(d)
        .map(|r| r.iter().map(|v| (v * v) as f64).sum::<f64>().sqrt())
        .sum::<f64>()
        / b as f64
}

impl Objective for Dem {
    fn init(&mut self, cx: &Context<'_>) -> anyhow::Result<()> {
        self.scratch(cx.batch);
        self.state.init(cx)
    }

    fn state(&self) -> anyhow::Result<ObjectiveState> {
        Ok(self.state.save())
    }

    fn restore(&mut self, state: ObjectiveState, cx: &Context<'_>) -> anyhow::Result<()> {
        self.scratch(cx.batch);
        self.state.restore(state)
    }

    fn loss(&mut self, step: u64, cx: &Context<'_>) -> anyhow::Result<StepLoss> {
        self.state
            .draw_batch(step, cx.batch, 1, cx, &mut self.batch);
        let st = &self.state;
        st.mc.estimate(
            cx.target,
            &self.batch.xt,
            &self.batch.h,
            cx.streams,
            step,
            &mut self.target_score,
            &mut self.log_p,
        )?;
        st.check_scores(step, &self.target_score, &self.batch.t)?;
        let model = cx
            .model
            .ok_or_else(|| anyhow::anyhow!("DEM needs a model"))?;
        let score = model.as_score().ok_or_else(|| {
            NsampError::Incompatible("DEM needs a score model (e.g. ScoreMlp)".into())
        })?;
        let loss = regression_loss(
            score,
            &self.batch,
            &self.target_score,
            None,
            st.settings.lambda,
            cx.device,
        )?;
        Ok(StepLoss {
            loss,
            diagnostics: vec![("target_score_norm", mean_norm(&self.target_score, st.dim))],
        })
    }

    fn after_step(&mut self, step: u64, cx: &Context<'_>) -> anyhow::Result<()> {
        self.state.after_step(step, cx)
    }

    fn sampler<'a>(
        &'a self,
        model: Option<&'a dyn Model>,
        _target: &'a CountedTarget,
        device: &'a Device,
    ) -> anyhow::Result<Box<dyn Sampler + 'a>> {
        self.state.trained_sampler(model, device, "DEM")
    }
}

nsamp_core::register!(
    Objective,
    "Idem",
    IdemConfig,
    "iDEM: denoising energy matching on a replay buffer refilled from the reverse SDE"
);
nsamp_core::register!(
    Objective,
    "Pdem",
    PdemConfig,
    "pDEM: denoising energy matching with x_0 from the prior (the buffer fields are unused)"
);
