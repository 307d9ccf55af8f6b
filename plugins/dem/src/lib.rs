//! Denoising Energy Matching (DEM; Akhound-Sadegh et al. 2024): iDEM with a replay buffer and
//! pDEM with prior points. Registered as `Idem` and `Pdem`, which share [`DemConfig`].
//!
//! Per step (DESIGN.md, "Numerics every diffusion method shares"), in sampler units x / s:
//! x_0 from the buffer (iDEM) or the prior N(0, h(1) I) (pDEM); t ~ U(0, 1);
//! x_t = x_0 + sqrt(h(t)) eps; S_K(x_t, t) the clipped Monte Carlo score;
//! loss = mean_i lambda(t_i) mean_d (s_theta(t_i, x_t^i) - S_K(x_t^i, t_i))^2.
//! iDEM's outer loop: every `refill_every` steps, `refill_samples` reverse-SDE samples of the
//! current network are pushed into a FIFO buffer of `buffer` rows.

pub mod config;

pub use config::{BufferInit, DemConfig, Lambda, Variant};
pub use nsamp_core::score_sampler::ScoreSdeSampler;

use nsamp_core::candle::{Device, Tensor};
use nsamp_core::error::NsampError;
use nsamp_core::numerics::buffer::ReplayBuffer;
use nsamp_core::numerics::mc_score::{integrate_with_mc_score, McScore, ScoreClip};
use nsamp_core::numerics::pairwise::remove_mean;
use nsamp_core::numerics::rng::fill_normal;
use nsamp_core::numerics::sde::ReverseSde;
use nsamp_core::rand::Rng as _;
use nsamp_core::{Context, CountedTarget, Model, Objective, Sampler, StepLoss};

/// The DEM objective's state.
pub struct Dem {
    cfg: DemConfig,
    sde: ReverseSde,
    mc: McScore,
    buffer: Option<ReplayBuffer>,
    dim: usize,
    // Per-step work arrays, allocated once.
    x0: Vec<f32>,
    xt: Vec<f32>,
    t: Vec<f32>,
    h: Vec<f32>,
    target_score: Vec<f32>,
    log_p: Vec<f32>,
}

impl Dem {
    /// Builds the objective for `target`.
    pub fn new(cfg: DemConfig, target: &CountedTarget) -> anyhow::Result<Self> {
        cfg.validate()?;
        let dim = target.dim();
        let particles = target.inner().particles();
        let scale = cfg.scale.unwrap_or_else(|| target.inner().natural_scale());
        let clip = match (cfg.score_clip, particles) {
            (None, _) => ScoreClip::None,
            (Some(c), Some(p)) => ScoreClip::PerParticle(p, c),
            (Some(c), None) => ScoreClip::Norm(c),
        };
        Ok(Dem {
            sde: cfg.reverse_sde(particles)?,
            mc: McScore {
                k: cfg.mc_samples,
                scale,
                clip,
                com_free: particles,
            },
            buffer: None,
            dim,
            x0: Vec::new(),
            xt: Vec::new(),
            t: Vec::new(),
            h: Vec::new(),
            target_score: Vec::new(),
            log_p: Vec::new(),
            cfg,
        })
    }

    /// The replay buffer (iDEM), in sampler units.
    pub fn buffer(&self) -> Option<&ReplayBuffer> {
        self.buffer.as_ref()
    }

    /// The Monte Carlo score settings.
    pub fn mc_score(&self) -> &McScore {
        &self.mc
    }

    fn score_sampler<'a>(
        &'a self,
        model: &'a dyn Model,
        device: &'a Device,
    ) -> anyhow::Result<ScoreSdeSampler<'a>> {
        let score = model.as_score().ok_or_else(|| {
            NsampError::Incompatible("DEM needs a score model (e.g. ScoreMlp)".into())
        })?;
        Ok(ScoreSdeSampler {
            score,
            sde: self.sde,
            scale: self.mc.scale,
            dim: self.dim,
            device,
            chunk: self.cfg.refill_samples.max(1),
            normalised: false,
        })
    }
}

impl Objective for Dem {
    fn init(&mut self, cx: &Context<'_>) -> anyhow::Result<()> {
        let b = cx.batch;
        let d = self.dim;
        self.x0 = vec![0.0; b * d];
        self.xt = vec![0.0; b * d];
        self.t = vec![0.0; b];
        self.h = vec![0.0; b];
        self.target_score = vec![0.0; b * d];
        self.log_p = vec![0.0; b];
        if self.cfg.variant == Variant::Buffer {
            let n = self.cfg.initial_buffer;
            let mut x = self.sde.prior(n, d, cx.streams, 0);
            if let BufferInit::McScoreSde { steps } = self.cfg.init {
                let sde = ReverseSde { steps, ..self.sde };
                integrate_with_mc_score(
                    cx.target,
                    &self.mc,
                    &sde,
                    &mut x,
                    cx.streams,
                    0,
                    &mut |_, _| {},
                )?;
            }
            let mut buf = ReplayBuffer::new(self.cfg.buffer, d);
            buf.push(&x);
            self.buffer = Some(buf);
        }
        Ok(())
    }

    fn loss(&mut self, step: u64, cx: &Context<'_>) -> anyhow::Result<StepLoss> {
        let b = cx.batch;
        let d = self.dim;
        let mut rng = cx.streams.stream("dem-batch", step);
        match &self.buffer {
            Some(buf) => buf.sample_into(&mut rng, &mut self.x0),
            None => {
                // pDEM: x_0 from the prior N(0, h(1) I).
                fill_normal(&mut rng, &mut self.x0);
                if let Some(p) = self.mc.com_free {
                    remove_mean(&mut self.x0, p.n, p.spatial_dim);
                }
                let sd = self.sde.schedule.h(1.0).sqrt() as f32;
                self.x0.iter_mut().for_each(|v| *v *= sd);
            }
        }
        for (t, h) in self.t.iter_mut().zip(self.h.iter_mut()) {
            *t = rng.random::<f32>();
            *h = self.sde.schedule.h(*t as f64) as f32;
        }
        fill_normal(&mut rng, &mut self.xt);
        if let Some(p) = self.mc.com_free {
            remove_mean(&mut self.xt, p.n, p.spatial_dim);
        }
        for ((xt, x0), h) in self
            .xt
            .chunks_exact_mut(d)
            .zip(self.x0.chunks_exact(d))
            .zip(&self.h)
        {
            let sd = h.sqrt();
            for (a, &b0) in xt.iter_mut().zip(x0) {
                *a = b0 + sd * *a;
            }
        }
        self.mc.estimate(
            cx.target,
            &self.xt,
            &self.h,
            cx.streams,
            step,
            &mut self.target_score,
            &mut self.log_p,
        );
        if let Some(i) = self.target_score.iter().position(|v| !v.is_finite()) {
            return Err(NsampError::NonFinite {
                step,
                what: "Monte Carlo target score",
                last_loss: f64::NAN,
                last_grad_norm: f64::NAN,
                hint: format!(
                    "row {} at t = {:.4}: all K energies were non-finite; check the target and `scale`",
                    i / d,
                    self.t[i / d]
                ),
            }
            .into());
        }
        let model = cx
            .model
            .ok_or_else(|| anyhow::anyhow!("DEM needs a model"))?;
        let score = model.as_score().ok_or_else(|| {
            NsampError::Incompatible("DEM needs a score model (e.g. ScoreMlp)".into())
        })?;
        let dev = cx.device;
        let t = Tensor::from_slice(&self.t, b, dev)?;
        let xt = Tensor::from_slice(&self.xt, (b, d), dev)?;
        let target = Tensor::from_slice(&self.target_score, (b, d), dev)?;
        let lambda: Vec<f32> = self.h.iter().map(|&h| self.cfg.lambda.weight(h)).collect();
        let lambda = Tensor::from_vec(lambda, b, dev)?;
        let pred = score.score(&t, &xt)?;
        let per_row = (pred - target)?.sqr()?.mean(1)?;
        let loss = (per_row * lambda)?.mean_all()?;
        let mean_norm = self
            .target_score
            .chunks_exact(d)
            .map(|r| r.iter().map(|v| (v * v) as f64).sum::<f64>().sqrt())
            .sum::<f64>()
            / b as f64;
        Ok(StepLoss {
            loss,
            diagnostics: vec![("target_score_norm", mean_norm)],
        })
    }

    fn after_step(&mut self, step: u64, cx: &Context<'_>) -> anyhow::Result<()> {
        if self.buffer.is_none() || !(step + 1).is_multiple_of(self.cfg.refill_every) {
            return Ok(());
        }
        let model = cx
            .model
            .ok_or_else(|| anyhow::anyhow!("DEM needs a model"))?;
        let mut sampler = self.score_sampler(model, cx.device)?;
        sampler.normalised = true;
        let fresh = sampler.sample(
            self.cfg.refill_samples,
            &cx.streams.derive("dem-refill").derive(&step.to_string()),
            &mut |_, _| {},
        )?;
        if fresh.x.iter().all(|v| v.is_finite()) {
            self.buffer.as_mut().unwrap().push(&fresh.x);
            Ok(())
        } else {
            Err(NsampError::NonFinite {
                step,
                what: "buffer refill samples",
                last_loss: f64::NAN,
                last_grad_norm: f64::NAN,
                hint: "the reverse SDE with the learned score diverged; lower train.lr or the noise scale".into(),
            }
            .into())
        }
    }

    fn sampler<'a>(
        &'a self,
        model: Option<&'a dyn Model>,
        _target: &'a CountedTarget,
        device: &'a Device,
    ) -> anyhow::Result<Box<dyn Sampler + 'a>> {
        let model = model.ok_or_else(|| anyhow::anyhow!("DEM needs a model"))?;
        Ok(Box::new(self.score_sampler(model, device)?))
    }
}
