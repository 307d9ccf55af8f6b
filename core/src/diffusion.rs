//! Shared machinery of diffusion samplers trained on a replay buffer or prior points (iDEM, pDEM,
//! IW-SM): the settings, the initial buffer, the mini-batch of noisy points, the outer loop that
//! refills the buffer from the reverse SDE, and the trained sampler. Sampler units are x / scale.
//!
//! Per step, with the `dem-batch` stream of the step: x_0 (B rows) from the buffer or the prior
//! N(0, h(1) I); t_i ~ U(0, 1); J noisy copies x^{ij} = x_0^i + sqrt(h(t_i)) eps^{ij}
//! (centre-of-mass free for particles). iDEM is J = 1.

use crate::error::NsampError;
use crate::model::Model;
use crate::numerics::buffer::ReplayBuffer;
use crate::numerics::mc_score::{integrate_with_mc_score, McScore, ScoreClip};
use crate::numerics::pairwise::remove_mean;
use crate::numerics::rng::{fill_normal, Rng};
use crate::numerics::schedule::GeometricSchedule;
use crate::numerics::sde::ReverseSde;
use crate::objective::Context;
use crate::sampler::Sampler;
use crate::score_sampler::ScoreSdeSampler;
use crate::target::{CountedTarget, Particles};
use candle_core::{Device, Tensor};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

/// Where x_0 comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum X0Source {
    /// A replay buffer of the sampler's own output (iDEM, IW-SM).
    #[default]
    Buffer,
    /// The prior N(0, h(1) I) (pDEM).
    Prior,
}

/// The regression weight lambda(t).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub enum Lambda {
    /// lambda(t) = h(t) + eps (GMMs: eps = 1e-3).
    Variance(f32),
    /// lambda(t) = c (particle systems: 1).
    Constant(f32),
}

impl Lambda {
    /// lambda at variance h = h(t).
    pub fn weight(&self, h: f32) -> f32 {
        match *self {
            Lambda::Variance(eps) => h + eps,
            Lambda::Constant(c) => c,
        }
    }
}

/// How the initial buffer is filled.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub enum BufferInit {
    /// Draws from the prior N(0, h(1) I).
    Prior,
    /// The reverse SDE driven by the Monte Carlo score itself, with this many steps.
    McScoreSde {
        /// Euler-Maruyama steps.
        steps: usize,
    },
}

crate::config! {
    /// Settings shared by buffer-based diffusion objectives (the fields of `Idem(...)`).
    pub struct DiffusionSettings {
        /// Noise scale at t = 0 (sampler units).
        sigma_min: f64 = 1e-5,
        /// Noise scale at t = 1 (sampler units).
        sigma_max: f64 = 1.0,
        /// K, Monte Carlo samples of the target score.
        mc_samples: usize = 500,
        /// Clip of the target score: whole-vector norm, or per particle for particle targets.
        score_clip: Option<f32> = Some(70.0),
        /// Regression weight lambda(t).
        lambda: Lambda = Lambda::Variance(1e-3),
        /// Replay buffer capacity.
        buffer: usize = 10_000,
        /// Initial buffer size.
        initial_buffer: usize = 1024,
        /// How the initial buffer is filled.
        init: BufferInit = BufferInit::McScoreSde { steps: 1000 },
        /// Refill the buffer every this many steps.
        refill_every: u64 = 100,
        /// Samples generated per refill; also the sampler's chunk size.
        refill_samples: usize = 1000,
        /// Euler-Maruyama steps of the reverse SDE (refills and final sampling).
        sde_steps: usize = 1000,
        /// Noise scale c of the reverse SDE (1 = exact).
        noise_scale: f64 = 1.0,
        /// Length unit of the sampler (None: the target's natural scale, e.g. 50 for GMM-40).
        scale: Option<f32> = None,
    }
}

impl DiffusionSettings {
    /// Range checks.
    pub fn validate(&self) -> anyhow::Result<()> {
        GeometricSchedule::new(self.sigma_min, self.sigma_max)?;
        anyhow::ensure!(self.mc_samples > 0, "mc_samples must be at least 1");
        anyhow::ensure!(
            self.buffer > 0 && self.initial_buffer > 0,
            "buffer sizes must be at least 1"
        );
        anyhow::ensure!(
            self.refill_every > 0 && self.refill_samples > 0,
            "refill_every and refill_samples must be at least 1"
        );
        anyhow::ensure!(self.sde_steps > 0, "sde_steps must be at least 1");
        anyhow::ensure!(self.noise_scale >= 0.0, "noise_scale must be >= 0");
        if let BufferInit::McScoreSde { steps } = self.init {
            anyhow::ensure!(steps > 0, "init McScoreSde needs steps >= 1");
        }
        if let Some(c) = self.score_clip {
            anyhow::ensure!(c > 0.0, "score_clip must be positive");
        }
        if let Some(s) = self.scale {
            anyhow::ensure!(s > 0.0 && s.is_finite(), "scale must be positive");
        }
        Ok(())
    }

    /// The reverse SDE of these settings.
    pub fn reverse_sde(&self, particles: Option<Particles>) -> anyhow::Result<ReverseSde> {
        Ok(ReverseSde {
            schedule: GeometricSchedule::new(self.sigma_min, self.sigma_max)?,
            steps: self.sde_steps,
            noise_scale: self.noise_scale,
            com_free: particles,
        })
    }
}

/// One step's mini-batch: B clean points, their times, and J noisy copies of each.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// x_0, B x dim.
    pub x0: Vec<f32>,
    /// t_i, B.
    pub t: Vec<f32>,
    /// h(t_i), B.
    pub h: Vec<f32>,
    /// x^{ij}, (B J) x dim, copy j of row i at row i J + j.
    pub xt: Vec<f32>,
    /// h(t_i) repeated for each copy, B J.
    pub h_rep: Vec<f32>,
    /// t_i repeated for each copy, B J.
    pub t_rep: Vec<f32>,
}

/// The state shared by buffer-based diffusion objectives.
pub struct DiffusionState {
    /// Settings.
    pub settings: DiffusionSettings,
    /// Where x_0 comes from.
    pub source: X0Source,
    /// The reverse SDE.
    pub sde: ReverseSde,
    /// The Monte Carlo target score.
    pub mc: McScore,
    /// The replay buffer (sampler units), once initialised.
    pub buffer: Option<ReplayBuffer>,
    /// Dimension.
    pub dim: usize,
}

impl DiffusionState {
    /// The state for `target`.
    pub fn new(
        settings: DiffusionSettings,
        source: X0Source,
        target: &CountedTarget,
    ) -> anyhow::Result<Self> {
        settings.validate()?;
        let particles = target.inner().particles();
        let scale = settings
            .scale
            .unwrap_or_else(|| target.inner().natural_scale());
        let clip = match (settings.score_clip, particles) {
            (None, _) => ScoreClip::None,
            (Some(c), Some(p)) => ScoreClip::PerParticle(p, c),
            (Some(c), None) => ScoreClip::Norm(c),
        };
        Ok(DiffusionState {
            sde: settings.reverse_sde(particles)?,
            mc: McScore {
                k: settings.mc_samples,
                scale,
                clip,
                com_free: particles,
            },
            buffer: None,
            dim: target.dim(),
            source,
            settings,
        })
    }

    /// Fills the initial buffer (buffer source only).
    pub fn init(&mut self, cx: &Context<'_>) -> anyhow::Result<()> {
        if self.source != X0Source::Buffer {
            return Ok(());
        }
        let n = self.settings.initial_buffer;
        let mut x = self.sde.prior(n, self.dim, cx.streams, 0);
        if let BufferInit::McScoreSde { steps } = self.settings.init {
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
        let mut buf = ReplayBuffer::new(self.settings.buffer, self.dim);
        buf.push(&x);
        self.buffer = Some(buf);
        Ok(())
    }

    fn com_free(&self, x: &mut [f32]) {
        if let Some(p) = self.mc.com_free {
            remove_mean(x, p.n, p.spatial_dim);
        }
    }

    /// Draws step `step`'s batch of `b` rows with `copies` noisy copies each into `batch`.
    pub fn draw_batch(
        &self,
        step: u64,
        b: usize,
        copies: usize,
        cx: &Context<'_>,
        batch: &mut Batch,
    ) {
        let d = self.dim;
        batch.x0.resize(b * d, 0.0);
        batch.t.resize(b, 0.0);
        batch.h.resize(b, 0.0);
        batch.xt.resize(b * copies * d, 0.0);
        let mut rng: Rng = cx.streams.stream("dem-batch", step);
        match (&self.buffer, self.source) {
            (Some(buf), X0Source::Buffer) => buf.sample_into(&mut rng, &mut batch.x0),
            _ => {
                fill_normal(&mut rng, &mut batch.x0);
                self.com_free(&mut batch.x0);
                let sd = self.sde.schedule.h(1.0).sqrt() as f32;
                batch.x0.iter_mut().for_each(|v| *v *= sd);
            }
        }
        for (t, h) in batch.t.iter_mut().zip(batch.h.iter_mut()) {
            *t = rng.random::<f32>();
            *h = self.sde.schedule.h(*t as f64) as f32;
        }
        fill_normal(&mut rng, &mut batch.xt);
        self.com_free(&mut batch.xt);
        for (i, (x0, &h)) in batch.x0.chunks_exact(d).zip(&batch.h).enumerate() {
            let sd = h.sqrt();
            for j in 0..copies {
                let row = &mut batch.xt[(i * copies + j) * d..(i * copies + j + 1) * d];
                for (a, &b0) in row.iter_mut().zip(x0) {
                    *a = b0 + sd * *a;
                }
            }
        }
        batch.h_rep = batch
            .h
            .iter()
            .flat_map(|&h| std::iter::repeat_n(h, copies))
            .collect();
        batch.t_rep = batch
            .t
            .iter()
            .flat_map(|&t| std::iter::repeat_n(t, copies))
            .collect();
    }

    /// Fails with a diagnostic if any estimated target score is not finite.
    pub fn check_scores(&self, step: u64, scores: &[f32], t: &[f32]) -> anyhow::Result<()> {
        if let Some(i) = scores.iter().position(|v| !v.is_finite()) {
            return Err(NsampError::NonFinite {
                step,
                what: "Monte Carlo target score",
                last_loss: f64::NAN,
                last_grad_norm: f64::NAN,
                hint: format!(
                    "row {} at t = {:.4}: all K energies were non-finite; check the target and `scale`",
                    i / self.dim,
                    t[i / self.dim]
                ),
            }
            .into());
        }
        Ok(())
    }

    /// The outer loop: every `refill_every` steps push fresh reverse-SDE samples of the current
    /// network into the buffer (buffer source only).
    pub fn after_step(&mut self, step: u64, cx: &Context<'_>) -> anyhow::Result<()> {
        if self.buffer.is_none() || !(step + 1).is_multiple_of(self.settings.refill_every) {
            return Ok(());
        }
        let model = cx
            .model
            .ok_or_else(|| anyhow::anyhow!("this objective needs a model"))?;
        let mut sampler = self.sampler(model, cx.device)?;
        sampler.normalised = true;
        let fresh = sampler.sample(
            self.settings.refill_samples,
            &cx.streams.derive("dem-refill").derive(&step.to_string()),
            &mut |_, _| {},
        )?;
        if !fresh.x.iter().all(|v| v.is_finite()) {
            return Err(NsampError::NonFinite {
                step,
                what: "buffer refill samples",
                last_loss: f64::NAN,
                last_grad_norm: f64::NAN,
                hint: "the reverse SDE with the learned score diverged; lower train.lr or the noise scale".into(),
            }
            .into());
        }
        self.buffer.as_mut().unwrap().push(&fresh.x);
        Ok(())
    }

    /// The reverse SDE driven by the model's score (data units unless `normalised` is set).
    pub fn sampler<'a>(
        &'a self,
        model: &'a dyn Model,
        device: &'a Device,
    ) -> anyhow::Result<ScoreSdeSampler<'a>> {
        let score = model.as_score().ok_or_else(|| {
            NsampError::Incompatible("this objective needs a score model (e.g. ScoreMlp)".into())
        })?;
        Ok(ScoreSdeSampler {
            score,
            sde: self.sde,
            scale: self.mc.scale,
            dim: self.dim,
            device,
            chunk: self.settings.refill_samples.max(1),
            normalised: false,
        })
    }
}

/// The score-regression loss of buffer-based diffusion objectives over a batch of B J rows
/// (copy j of buffer sample i at row i J + j):
///   (1/B) sum_{ij} w^{ij} lambda(t_i) mean_d (s_theta(t_i, x^{ij}) - S_K(x^{ij}))^2,
/// with w = 1 when `weights` is None (iDEM: J = 1). Computed as J times the mean over rows, so
/// iDEM and IW-SM with J = 1 perform the same operations and give the same bits.
pub fn regression_loss(
    score: &dyn crate::model::ScoreModel,
    batch: &Batch,
    target_score: &[f32],
    weights: Option<&[f32]>,
    lambda: Lambda,
    device: &Device,
) -> anyhow::Result<Tensor> {
    let rows = batch.t_rep.len();
    let copies = rows / batch.t.len();
    let d = batch.xt.len() / rows;
    let pred = score.score(
        &Tensor::from_slice(&batch.t_rep, rows, device)?,
        &Tensor::from_slice(&batch.xt, (rows, d), device)?,
    )?;
    let target = Tensor::from_slice(target_score, (rows, d), device)?;
    let coef: Vec<f32> = match weights {
        Some(w) => w
            .iter()
            .zip(&batch.h_rep)
            .map(|(&w, &h)| w * lambda.weight(h))
            .collect(),
        None => batch.h_rep.iter().map(|&h| lambda.weight(h)).collect(),
    };
    let per_row = (pred - target)?.sqr()?.mean(1)?;
    let loss = (per_row * Tensor::from_vec(coef, rows, device)?)?.mean_all()?;
    // x * 1.0 is exact, so J = 1 keeps iDEM's bits.
    Ok((loss * copies as f64)?)
}
