//! The DiKL objective (He et al., AISTATS 2025; jiajunhe98/DiKL @ 11876a5, `train.py`, `loss.py`).
//!
//! One training step (`loss(step)`), as the official loop:
//! 1. `dsm_steps` DSM updates of the auxiliary score network s_phi, each on a fresh detached batch
//!    x = g(z) (see [`crate::aux_net`]);
//! 2. x = g(z), t ~ U{1..T-1}, x_t = a_t x + sigma_t eps (differentiable in the generator);
//! 3. s_p(x_t) ~ grad log p_t(x_t) by the posterior sampler ([`crate::posterior`]) and the score
//!    identity ([`crate::identity`]; mixed: a (x_0 + grad log pi(x_0)) - x_t);
//! 4. the surrogate loss L = mean_b sum_d [w(t_b) (s_phi(x_t, t_b) - s_p(x_t))].detach() x_t,
//!    whose gradient in the generator's parameters theta is
//!    E[w(t) (grad log q_t(x_t) - grad log p_t(x_t)) . d x_t / d theta], the gradient of the
//!    diffusive KL sum_t w(t) KL(q_t || p_t) (paper eq. 9, with s_phi standing in for grad log q_t).
//!
//! The runner's trainer then takes the generator step (recipe `train.lr`, `train.grad_clip`).

use crate::aux_net::AuxScore;
use crate::identity::ScoreIdentity;
use crate::posterior::{sample_posterior, Noisy, PosteriorConfig};
use crate::sampler::{base_noise, generate, GeneratorSampler};
use crate::schedule::{VpSchedule, VpScheduleConfig};
use nsamp_core::candle::{Device, Tensor, D};
use nsamp_core::numerics::pairwise::remove_mean;
use nsamp_core::numerics::rng::{fill_normal, RngStreams};
use nsamp_core::registry::{families, Spec};
use nsamp_core::{
    Context, CountedTarget, GeneratorModel, Model, ModelShape, Objective, ObjectiveConfig,
    ObjectiveState, Particles, Sampler, StepLoss,
};
use serde::{Deserialize, Serialize};

/// The weight w(t) of each noise level in the generator's loss (the official `weight`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DiklWeight {
    /// w = 1 (`uniform`; DW-4, LJ-13).
    Uniform,
    /// w = 1 / a_t (`1/a`; GMM).
    InvA,
    /// w = sigma_t^2 / a_t (`s2/a`).
    S2OverA,
    /// w = sigma_t^2 / a_t^2 (`s2/a2`).
    S2OverA2,
}

impl DiklWeight {
    /// w(t) from a_t and sigma_t.
    pub fn at(&self, a: f64, sigma: f64) -> f64 {
        match self {
            DiklWeight::Uniform => 1.0,
            DiklWeight::InvA => 1.0 / a,
            DiklWeight::S2OverA => sigma * sigma / a,
            DiklWeight::S2OverA2 => sigma * sigma / (a * a),
        }
    }
}

fn default_score_net() -> Spec<families::Model> {
    Spec {
        name: "DiklScoreMlp",
        config: Box::new(crate::score_net::DiklScoreMlpConfig::default()),
    }
}

nsamp_core::config! {
    /// `Dikl(...)`: the diffusive-KL objective for a generator model (GeneratorMlp, Egnn).
    pub struct DiklConfig {
        /// The auxiliary score network s_phi(x_t, t) (GMM: DiklScoreMlp(hidden: [400, 400, 400,
        /// 400]); particles: Egnn(...)); built and trained by the objective itself.
        score_net: Spec<families::Model> = default_score_net(),
        /// s_phi sees t * score_time_scale (1.0: the integer step, as the official networks).
        score_time_scale: f64 = 1.0,
        /// The VP schedule (GMM: steps 30, beta 1e-4 to 0.7; particles: 1e-6 to 0.05).
        schedule: VpScheduleConfig = VpScheduleConfig::default(),
        /// DSM updates of s_phi per generator step (`score_iter`; GMM 50, particles 100).
        dsm_steps: usize = 50,
        /// Adam learning rate of s_phi (`score_lr`: 1e-4).
        score_lr: f64 = 1e-4,
        /// Global gradient-norm clip of s_phi (official: none).
        score_grad_clip: Option<f64> = None,
        /// Weight w(t) of the generator loss: InvA (GMM), Uniform (particles), S2OverA, S2OverA2.
        weight: DiklWeight = DiklWeight::InvA,
        /// Score identity: Mixed (a (x_0 + grad log pi(x_0)) - x_t; `msm`) or TargetScore (`tsm`).
        identity: ScoreIdentity = ScoreIdentity::Mixed,
        /// The posterior sampler's settings.
        posterior: PosteriorConfig = PosteriorConfig::default(),
        /// Samples generated at once when sampling.
        sample_chunk: usize = 4096,
    }
}

impl DiklConfig {
    fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            (1..=100_000).contains(&self.dsm_steps),
            "Dikl: `dsm_steps` must be between 1 and 100000, got {}",
            self.dsm_steps
        );
        anyhow::ensure!(
            self.score_lr.is_finite() && self.score_lr > 0.0,
            "Dikl: `score_lr` must be positive, got {}",
            self.score_lr
        );
        if let Some(c) = self.score_grad_clip {
            anyhow::ensure!(
                c.is_finite() && c > 0.0,
                "Dikl: `score_grad_clip` must be positive, got {c}"
            );
        }
        anyhow::ensure!(
            self.score_time_scale.is_finite() && self.score_time_scale > 0.0,
            "Dikl: `score_time_scale` must be positive, got {}",
            self.score_time_scale
        );
        anyhow::ensure!(
            (1..=1 << 20).contains(&self.sample_chunk),
            "Dikl: `sample_chunk` must be between 1 and 2^20, got {}",
            self.sample_chunk
        );
        self.posterior.validate()
    }
}

impl ObjectiveConfig for DiklConfig {
    fn build(&self, target: &CountedTarget) -> anyhow::Result<Box<dyn Objective>> {
        Ok(Box::new(Dikl::new(self.clone(), target)?))
    }
}

/// The objective's state.
pub struct Dikl {
    cfg: DiklConfig,
    sched: VpSchedule,
    shape: ModelShape,
    particles: Option<Particles>,
    aux: Option<AuxScore>,
    /// The MALA step of the posterior refinement (adapted between steps when `mala_adapt`).
    mala_step: f64,
}

/// Figures of one step, returned as diagnostics.
#[derive(Debug, Clone, Copy, Default)]
pub struct StepFigures {
    /// Mean DSM loss over the step's DSM updates.
    pub dsm_loss: f64,
    /// mean_b |s_phi(x_t) - s_p(x_t)|^2.
    pub score_gap: f64,
    /// AIS acceptance.
    pub ais_acceptance: f64,
    /// Mean ESS fraction of each x_t's AIS weights.
    pub ais_ess: f64,
    /// MALA acceptance.
    pub mala_acceptance: f64,
}

fn generator(model: Option<&dyn Model>) -> anyhow::Result<&dyn GeneratorModel> {
    model.and_then(|m| m.as_generator()).ok_or_else(|| {
        anyhow::anyhow!("Dikl trains a one-step generator: use `model: GeneratorMlp(...)`")
    })
}

impl Dikl {
    /// Checks the settings against `target`.
    pub fn new(cfg: DiklConfig, target: &CountedTarget) -> anyhow::Result<Self> {
        cfg.validate()?;
        let sched = VpSchedule::new(&cfg.schedule)?;
        let shape = ModelShape {
            dim: target.dim(),
            structure: target.inner().structure(),
        };
        Ok(Dikl {
            mala_step: cfg.posterior.mala_step,
            particles: target.inner().particles(),
            cfg,
            sched,
            shape,
            aux: None,
        })
    }

    fn build_aux(&mut self, cx: &Context<'_>) -> anyhow::Result<()> {
        generator(cx.model)?;
        self.aux = Some(AuxScore::new(
            &self.cfg.score_net,
            &self.shape,
            cx.streams,
            cx.device,
            self.cfg.score_lr,
            self.cfg.score_grad_clip,
            self.cfg.score_time_scale,
        )?);
        Ok(())
    }

    /// The auxiliary score network (after `init` or `restore`).
    pub fn aux(&self) -> Option<&AuxScore> {
        self.aux.as_ref()
    }

    /// The current MALA step of the posterior refinement.
    pub fn mala_step(&self) -> f64 {
        self.mala_step
    }

    /// t ~ U{1..T-1} and eps ~ N(0, I) (centre-of-mass free for particles) for n rows from one
    /// stream.
    fn steps_and_noise(
        &self,
        streams: &RngStreams,
        purpose: &str,
        index: u64,
        n: usize,
    ) -> (Vec<usize>, Vec<f32>) {
        let d = self.shape.dim;
        let mut rng = streams.stream(purpose, index);
        let t = self.sched.draw_steps(&mut rng, n);
        let mut eps = vec![0f32; n * d];
        fill_normal(&mut rng, &mut eps);
        if let Some(p) = self.particles {
            for row in eps.chunks_mut(d) {
                remove_mean(row, p.n, p.spatial_dim);
            }
        }
        (t, eps)
    }

    /// Stage 1: `dsm_steps` DSM updates of s_phi; returns the mean loss.
    fn train_score(
        &mut self,
        step: u64,
        cx: &Context<'_>,
        g: &dyn GeneratorModel,
    ) -> anyhow::Result<f64> {
        let (b, d) = (cx.batch, self.shape.dim);
        let k = self.cfg.dsm_steps as u64;
        let mut sum = 0f64;
        for j in 0..k {
            let idx = step * k + j;
            let z = base_noise(cx.streams, "dikl-dsm-z", idx, b, d, self.particles);
            let x = generate(g, z, b, d, self.particles, cx.device)?
                .detach()
                .flatten_all()?
                .to_vec1::<f32>()?;
            let (t, eps) = self.steps_and_noise(cx.streams, "dikl-dsm-noise", idx, b);
            let aux = self.aux.as_mut().expect("built in init/restore");
            sum += aux.dsm_step(&self.sched, &x, &t, &eps, cx.device)?;
        }
        Ok(sum / k as f64)
    }

    /// Stages 2 to 4: the generator's surrogate loss and the step's figures.
    pub fn generator_loss(
        &mut self,
        step: u64,
        cx: &Context<'_>,
        g: &dyn GeneratorModel,
    ) -> anyhow::Result<(Tensor, StepFigures)> {
        let (b, d) = (cx.batch, self.shape.dim);
        let z = base_noise(cx.streams, "dikl-gen-z", step, b, d, self.particles);
        let x = generate(g, z, b, d, self.particles, cx.device)?;
        let (t, eps) = self.steps_and_noise(cx.streams, "dikl-gen-noise", step, b);
        let a: Vec<f64> = t.iter().map(|&t| self.sched.a[t]).collect();
        let sigma: Vec<f64> = t.iter().map(|&t| self.sched.sigma[t]).collect();
        let at = Tensor::from_vec(
            a.iter().map(|&v| v as f32).collect::<Vec<_>>(),
            (b, 1),
            cx.device,
        )?;
        let st = Tensor::from_vec(
            sigma.iter().map(|&v| v as f32).collect::<Vec<_>>(),
            (b, 1),
            cx.device,
        )?;
        let eps = Tensor::from_vec(eps, (b, d), cx.device)?;
        let xt = (x.broadcast_mul(&at)? + eps.broadcast_mul(&st)?)?;
        let xt_fixed = xt.detach();
        let xt_host = xt_fixed.flatten_all()?.to_vec1::<f32>()?;
        let aux = self.aux.as_ref().expect("built in init/restore");
        let s_phi = aux.score(&t, &xt_fixed)?.flatten_all()?.to_vec1::<f32>()?;
        let posterior_streams = cx.streams.derive(&format!("dikl-posterior-{step}"));
        let draw = sample_posterior(
            cx.target,
            Noisy {
                xt: &xt_host,
                a: &a,
                sigma: &sigma,
            },
            &self.cfg.posterior,
            self.mala_step,
            &posterior_streams,
        )?;
        let mut s_p = vec![0f32; b * d];
        let mut diff = vec![0f32; b * d];
        let mut gap = 0f64;
        for r in 0..b {
            let rows = r * d..(r + 1) * d;
            self.cfg.identity.estimate(
                a[r],
                &xt_host[rows.clone()],
                &draw.x0[rows.clone()],
                &draw.grad_log_pi[rows.clone()],
                &mut s_p[rows.clone()],
            );
            let w = self.cfg.weight.at(a[r], sigma[r]);
            for k in rows {
                let dk = s_phi[k] as f64 - s_p[k] as f64;
                gap += dk * dk;
                diff[k] = (w * dk) as f32;
            }
        }
        let diff = Tensor::from_vec(diff, (b, d), cx.device)?;
        let loss = (diff * xt)?.sum(D::Minus1)?.mean_all()?;
        self.mala_step = self
            .cfg
            .posterior
            .adapt(self.mala_step, draw.mala_acceptance);
        Ok((
            loss,
            StepFigures {
                dsm_loss: f64::NAN,
                score_gap: gap / b as f64,
                ais_acceptance: draw.ais_acceptance,
                ais_ess: draw.ais_ess,
                mala_acceptance: draw.mala_acceptance,
            },
        ))
    }
}

impl Objective for Dikl {
    fn init(&mut self, cx: &Context<'_>) -> anyhow::Result<()> {
        self.build_aux(cx)?;
        self.mala_step = self.cfg.posterior.mala_step;
        Ok(())
    }

    fn state(&self) -> anyhow::Result<ObjectiveState> {
        let mut st = ObjectiveState::default();
        if let Some(aux) = &self.aux {
            aux.save(&mut st)?;
        }
        st.counters
            .insert("mala_step_bits".into(), self.mala_step.to_bits());
        Ok(st)
    }

    fn restore(&mut self, mut state: ObjectiveState, cx: &Context<'_>) -> anyhow::Result<()> {
        self.build_aux(cx)?;
        self.aux.as_mut().expect("just built").restore(&mut state)?;
        self.mala_step = f64::from_bits(state.counter("mala_step_bits")?);
        anyhow::ensure!(
            self.mala_step.is_finite() && self.mala_step > 0.0,
            "the checkpoint's DiKL MALA step {} is not positive",
            self.mala_step
        );
        Ok(())
    }

    fn loss(&mut self, step: u64, cx: &Context<'_>) -> anyhow::Result<StepLoss> {
        let g = generator(cx.model)?;
        anyhow::ensure!(self.aux.is_some(), "Dikl: init was not called");
        let dsm = self.train_score(step, cx, g)?;
        let (loss, mut fig) = self.generator_loss(step, cx, g)?;
        fig.dsm_loss = dsm;
        Ok(StepLoss {
            loss,
            diagnostics: vec![
                ("dsm_loss", fig.dsm_loss),
                ("score_gap", fig.score_gap),
                ("ais_acceptance", fig.ais_acceptance),
                ("ais_ess", fig.ais_ess),
                ("mala_acceptance", fig.mala_acceptance),
                ("mala_step", self.mala_step),
            ],
        })
    }

    fn sampler<'a>(
        &'a self,
        model: Option<&'a dyn Model>,
        target: &'a CountedTarget,
        device: &'a Device,
    ) -> anyhow::Result<Box<dyn Sampler + 'a>> {
        Ok(Box::new(GeneratorSampler {
            generator: generator(model)?,
            dim: target.dim(),
            particles: target.inner().particles(),
            device,
            chunk: self.cfg.sample_chunk,
        }))
    }
}
