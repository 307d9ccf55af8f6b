//! Importance Weighted Score Matching (IW-SM; seeds/001): iDEM's loop with each regression term
//! weighted by a self-normalised importance weight that corrects for the buffer not being the
//! target (DESIGN.md, "Importance Weighted Score Matching").
//!
//! For B buffer samples x_0^i, times t_i and J noisy copies x^{ij} = x_0^i + sqrt(h(t_i)) eps:
//! - numerator (eq. 9), from the same K energies as S_K: log p_hat(x) = LSE_k(-E(y_k)) - log K;
//! - denominator (eq. 10), the buffer-induced proposal from the mini-batch itself:
//!   log q_hat(x) = LSE_m(-|x - x_0^m|^2 / (2 h(t))) - log B - (d/2) log(2 pi h(t)),
//!   d the effective dimension ((n-1) D for centre-of-mass-free particles);
//! - log w = log p_hat - log q_hat (eq. 11); wbar = softmax over the J copies of x_0^i (eq. 12),
//!   or over the whole batch times B (`WholeBatch`: valid because Z is common to all t);
//! - loss = (1/B) sum_i sum_j wbar^{ij} lambda(t_i) mean_d (s_theta - S_K)^2 (eq. 15-16).
//!
//! log p_hat is in data units and log q_hat in sampler units: the Jacobian s^d is common to every
//! term and cancels in the self-normalisation. J = 1 gives wbar = 1: iDEM's loss exactly.

use crate::batch::{regression_loss, Batch};
use crate::settings::diffusion_config;
use crate::state::{DiffusionState, X0Source};
use crate::weights::{log_q_hat, snis_weights, Normalisation, SnisSummary};
use nsamp_core::candle::Device;
use nsamp_core::error::NsampError;
use nsamp_core::{
    Context, CountedTarget, Model, Objective, ObjectiveConfig, ObjectiveState, Sampler, StepLoss,
};
use serde::{Deserialize, Serialize};

/// How the J copies are weighted.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub enum Weighting {
    /// Self-normalised importance weights (IW-SM).
    #[default]
    Snis,
    /// Weight 1/J for every copy (the "W/O IW" ablation; with J = 1 it is iDEM).
    Uniform,
}

diffusion_config! {
    /// `IwSm(...)`: J, the normalisation set and the weighting, then the fields of `Idem(...)`.
    pub struct IwSmConfig {
        /// J, noisy copies per buffer sample (the SNIS quantity: 2, 5 or 10; 1 = iDEM).
        snis: usize = 5,
        /// Normalisation set of the weights: PerSample (over the J copies) or WholeBatch (over
        /// all B J).
        normalisation: Normalisation = Normalisation::PerSample,
        /// Snis (importance weights) or Uniform (1/J each: the "W/O IW" ablation).
        weighting: Weighting = Weighting::Snis,
    }
}

impl ObjectiveConfig for IwSmConfig {
    fn build(&self, target: &CountedTarget) -> anyhow::Result<Box<dyn Objective>> {
        anyhow::ensure!(self.snis >= 1, "IwSm: snis (J) must be at least 1");
        let d_eff = match target.inner().particles() {
            Some(p) => (p.n - 1) * p.spatial_dim,
            None => target.dim(),
        };
        Ok(Box::new(IwSm {
            state: DiffusionState::new(self.settings(), X0Source::Buffer, target)?,
            cfg: self.clone(),
            d_eff,
            batch: Batch::default(),
            scores: Vec::new(),
            log_p: Vec::new(),
        }))
    }
}

/// The IW-SM objective's state.
pub struct IwSm {
    cfg: IwSmConfig,
    state: DiffusionState,
    d_eff: usize,
    batch: Batch,
    scores: Vec<f32>,
    log_p: Vec<f32>,
}

impl IwSm {
    fn scratch(&mut self, batch: usize) {
        let rows = batch * self.cfg.snis;
        self.scores = vec![0.0; rows * self.state.dim];
        self.log_p = vec![0.0; rows];
    }
}

impl Objective for IwSm {
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
        let (b, j) = (cx.batch, self.cfg.snis);
        self.state.draw_batch(step, b, j, cx, &mut self.batch);
        let st = &self.state;
        // One set of K energy evaluations per noisy point serves S_K and log p_hat.
        st.mc.estimate(
            cx.target,
            &self.batch.xt,
            &self.batch.h_rep,
            cx.streams,
            step,
            &mut self.scores,
            &mut self.log_p,
        )?;
        st.check_scores(step, &self.scores, &self.batch.t_rep)?;
        let (wbar, summary) = match self.cfg.weighting {
            Weighting::Uniform => (vec![1.0 / j as f32; b * j], SnisSummary::uniform(j)),
            Weighting::Snis => {
                let log_q = log_q_hat(&self.batch.xt, &self.batch.x0, &self.batch.h, j, self.d_eff);
                let log_w: Vec<f32> = self.log_p.iter().zip(&log_q).map(|(p, q)| p - q).collect();
                snis_weights(&log_w, j, self.cfg.normalisation)
            }
        };
        let model = cx
            .model
            .ok_or_else(|| anyhow::anyhow!("IwSm needs a model"))?;
        let score = model.as_score().ok_or_else(|| {
            NsampError::Incompatible("IwSm needs a score model (e.g. ScoreMlp)".into())
        })?;
        let loss = regression_loss(
            score,
            &self.batch,
            &self.scores,
            Some(&wbar),
            st.settings.lambda,
            cx.device,
        )?;
        Ok(StepLoss {
            loss,
            diagnostics: vec![
                ("snis_ess", summary.mean_ess),
                ("snis_max_weight", summary.max_weight),
            ],
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
        self.state.trained_sampler(model, device, "IwSm")
    }
}

nsamp_core::register!(
    Objective,
    "IwSm",
    IwSmConfig,
    "Importance Weighted Score Matching: iDEM's loss reweighted by SNIS weights p_hat / q_hat over J noisy copies"
);
