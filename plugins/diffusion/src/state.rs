//! The state the trained members share (iDEM, pDEM, IW-SM): the reverse SDE, the Monte Carlo
//! score, the replay buffer with its initial fill and outer loop, and the trained sampler.
//! Sampler units are x / scale.
//!
//! Initial buffer (iDEM, IW-SM): `buffer.initial` prior draws N(0, h(1) I), optionally carried
//! to t = 0 by the reverse SDE driven by S_K itself (`McScoreSde`). Outer loop: every
//! `buffer.refill_every` steps, `buffer.refill_samples` reverse-SDE samples of the current
//! network (stream `dem-refill`/step) enter the FIFO.

use crate::settings::{resolve_scale, BufferInit, DiffusionSettings};
use nsamp_core::candle::Device;
use nsamp_core::error::NsampError;
use nsamp_core::numerics::buffer::ReplayBuffer;
use nsamp_core::numerics::mc_score::{integrate_with_mc_score, McScore};
use nsamp_core::numerics::pairwise::remove_mean;
use nsamp_core::numerics::sde::ReverseSde;
use nsamp_core::score_sampler::ScoreSdeSampler;
use nsamp_core::{Context, CountedTarget, Model, ObjectiveState, Sampler};

/// Where x_0 comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum X0Source {
    /// A replay buffer of the sampler's own output (iDEM, IW-SM).
    #[default]
    Buffer,
    /// The prior N(0, h(1) I) (pDEM).
    Prior,
}

/// The state shared by the trained members.
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
    /// The state for `target`; fails if a setting is out of range.
    pub fn new(
        settings: DiffusionSettings,
        source: X0Source,
        target: &CountedTarget,
    ) -> anyhow::Result<Self> {
        settings.validate()?;
        let particles = target.inner().particles();
        let scale = resolve_scale(settings.scale, target)?;
        Ok(DiffusionState {
            sde: settings.sde.reverse_sde(&settings.schedule, particles)?,
            mc: settings.mc.mc_score(scale, particles),
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
        let b = &self.settings.buffer;
        let mut x = self.sde.prior(b.initial, self.dim, cx.streams, 0);
        if let BufferInit::McScoreSde { steps } = b.init {
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
        let mut buf = ReplayBuffer::new(b.size, self.dim);
        buf.push(&x);
        self.buffer = Some(buf);
        Ok(())
    }

    /// The replay buffer as checkpoint state (empty for the prior source).
    pub fn save(&self) -> ObjectiveState {
        let mut st = ObjectiveState::default();
        if let Some(b) = &self.buffer {
            st.arrays.insert("buffer".into(), b.rows().to_vec());
            st.counters.insert("buffer_head".into(), b.head() as u64);
        }
        st
    }

    /// Restores what [`Self::save`] wrote, in place of [`Self::init`].
    pub fn restore(&mut self, mut st: ObjectiveState) -> anyhow::Result<()> {
        if self.source != X0Source::Buffer {
            return Ok(());
        }
        let rows = st.take_array("buffer")?;
        let head = st.counter("buffer_head")? as usize;
        self.buffer = Some(ReplayBuffer::from_rows(
            self.settings.buffer.size,
            self.dim,
            &rows,
            head,
        )?);
        Ok(())
    }

    /// Removes each row's particle mean (particle systems only).
    pub(crate) fn com_free(&self, x: &mut [f32]) {
        if let Some(p) = self.mc.com_free {
            remove_mean(x, p.n, p.spatial_dim);
        }
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

    /// The outer loop: every `buffer.refill_every` steps push fresh reverse-SDE samples of the
    /// current network into the buffer (buffer source only).
    pub fn after_step(&mut self, step: u64, cx: &Context<'_>) -> anyhow::Result<()> {
        let b = self.settings.buffer;
        if self.buffer.is_none() || !(step + 1).is_multiple_of(b.refill_every) {
            return Ok(());
        }
        let model = cx
            .model
            .ok_or_else(|| anyhow::anyhow!("this objective needs a model"))?;
        let mut sampler = self.sampler(model, cx.device)?;
        sampler.normalised = true;
        let fresh = sampler.sample(
            b.refill_samples,
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

    /// The trained sampler of an objective of this family: the reverse SDE driven by the
    /// model's score, in data units (`who` names the objective in the error without a model).
    pub fn trained_sampler<'a>(
        &'a self,
        model: Option<&'a dyn Model>,
        device: &'a Device,
        who: &str,
    ) -> anyhow::Result<Box<dyn Sampler + 'a>> {
        let model = model.ok_or_else(|| anyhow::anyhow!("{who} needs a model"))?;
        Ok(Box::new(self.sampler(model, device)?))
    }

    /// The reverse SDE driven by the model's score (data units unless `normalised` is set), in
    /// chunks of `buffer.refill_samples`.
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
            chunk: self.settings.buffer.refill_samples.max(1),
            normalised: false,
        })
    }
}
