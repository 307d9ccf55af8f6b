//! The FAB objective with the prioritised replay buffer (Midgley et al. 2023, Algorithm 2;
//! fab-torch `fab/train_with_prioritised_buffer.py` @ b1586a9).
//!
//! fab-torch's iteration: one AIS batch of B points from q towards g = p^alpha q^(1 - alpha) is
//! added to the buffer as (x, log w, log q_old = log q(x)); k B rows are drawn without
//! replacement with probability propto w and split into k minibatches; for each minibatch
//! log w_adj = (1 - alpha)(log q(x).detach() - log q_old) and one gradient step on
//! loss = -mean_i min(exp(log w_adj,i), w_adjust_clip) log q(x_i), then log w += log w_adj, log q_old = log q(x)
//! (with log q from before that step).
//!
//! nsamp's trainer takes one gradient step per `loss()` call, so one nsamp step is one
//! minibatch: step s is minibatch s mod k of iteration s / k, and the AIS batch and the k B
//! draws happen at the first step of each iteration. `train.steps` = k x fab-torch iterations.
//! In f32 the loss of a minibatch with a weight above [`W_MAX`] is scaled down (see there).

use crate::buffer::{PrioritisedBuffer, MAX_ROWS};
use crate::config::FabConfig;
use crate::ends::FlowEnds;
use crate::sampler::FabSampler;
use nsamp_core::candle::{Device, Tensor};
use nsamp_core::mcmc::ais::ais;
use nsamp_core::numerics::lse::ess_fraction;
use nsamp_core::numerics::rng::{fill_normal, RngStreams};
use nsamp_core::{
    Context, CountedTarget, FlowModel, Model, Objective, ObjectiveConfig, ObjectiveState, Sampler,
    StepLoss,
};

/// The largest loss weight w_adj in f32 arithmetic: a minibatch whose largest weight exceeds it
/// has its loss scaled by W_MAX / max w (fab-torch, in float64, reaches e^65 and more where a
/// buffer point's log q fell by 65 nats since it was added; in f32 the gradient then overflows).
/// The trainer clips the gradient before Adam, so whenever the scaled gradient norm still exceeds
/// `train.grad_clip` (a weight of 1e6 over B = 128 rows gives norms ~1e4 |grad log q|) the
/// update is exactly fab-torch's clipped one; the `loss_scale` diagnostic records the factor.
pub const W_MAX: f64 = 1e6;

/// The trained model as a flow, or an error naming the fix.
pub fn flow(model: Option<&dyn Model>) -> anyhow::Result<&dyn FlowModel> {
    model
        .and_then(|m| m.as_flow())
        .ok_or_else(|| anyhow::anyhow!("Fab trains a normalising flow: use `model: RealNvp(...)`"))
}

/// Figures of the last AIS batch.
#[derive(Debug, Clone, Copy, PartialEq)]
struct AisStats {
    /// ESS fraction of the AIS weights (towards g).
    ess: f64,
    /// Mean acceptance of the kernel moves.
    acceptance: f64,
    /// ESS fraction of the flow's own weights p~/q at the AIS start.
    flow_ess: f64,
}

/// Non-finite log weights as -inf (a weight of zero), so that ESS and LSE stay defined.
pub fn finite_or_zero_weight(v: &mut [f64]) {
    v.iter_mut()
        .filter(|a| !a.is_finite())
        .for_each(|a| *a = f64::NEG_INFINITY);
}

/// FAB's state: the buffer, the kernel's adapted step, the current iteration's draws.
pub struct Fab {
    cfg: FabConfig,
    dim: usize,
    buffer: PrioritisedBuffer,
    /// The AIS kernel's step (adapted for Hmc with target_accept, carried across batches).
    step: f64,
    /// The k B buffer slots of the current iteration, minibatch j at [j B, (j + 1) B).
    pending: Vec<usize>,
    last: AisStats,
}

impl ObjectiveConfig for FabConfig {
    fn build(&self, target: &CountedTarget) -> anyhow::Result<Box<dyn Objective>> {
        Ok(Box::new(Fab::new(self.clone(), target)?))
    }
}

impl Fab {
    /// Validates the settings and allocates the buffer.
    pub fn new(cfg: FabConfig, target: &CountedTarget) -> anyhow::Result<Self> {
        cfg.validate()?;
        let dim = target.dim();
        Ok(Fab {
            buffer: PrioritisedBuffer::new(dim, cfg.buffer_max, cfg.buffer_min)?,
            step: cfg.kernel.step(),
            dim,
            cfg,
            pending: Vec::new(),
            last: AisStats {
                ess: f64::NAN,
                acceptance: f64::NAN,
                flow_ess: f64::NAN,
            },
        })
    }

    /// The replay buffer.
    pub fn buffer(&self) -> &PrioritisedBuffer {
        &self.buffer
    }

    /// The buffer, for tests.
    #[cfg(test)]
    pub(crate) fn buffer_mut(&mut self) -> &mut PrioritisedBuffer {
        &mut self.buffer
    }

    /// The current iteration's k B buffer slots.
    pub fn pending(&self) -> &[usize] {
        &self.pending
    }

    /// The AIS kernel's current step.
    pub fn ais_step(&self) -> f64 {
        self.step
    }

    fn check_batch(&self, batch: usize) -> anyhow::Result<()> {
        let need = self.cfg.minibatches * batch;
        anyhow::ensure!(
            need <= self.cfg.buffer_min && need <= MAX_ROWS,
            "Fab: minibatches x train.batch = {need} rows are drawn without replacement per \
             AIS batch, more than buffer_min = {}",
            self.cfg.buffer_min
        );
        Ok(())
    }

    /// One AIS batch of `cx.batch` points from q towards g, added to the buffer (rows whose
    /// log w or log q is not finite are dropped, as fab-torch's `_remove_nan_and_infs`).
    /// Randomness: base noise from stream (`purpose`, index), AIS from streams derived for
    /// (`purpose`, index).
    fn ais_batch(&mut self, purpose: &str, index: u64, cx: &Context<'_>) -> anyhow::Result<()> {
        let f = flow(cx.model)?;
        let (b, d) = (cx.batch, self.dim);
        let mut z = vec![0f32; b * d];
        fill_normal(&mut cx.streams.stream(purpose, index), &mut z);
        let (x0, _) = f.sample_with_log_prob(&Tensor::from_vec(z, (b, d), cx.device)?)?;
        let x0 = x0.flatten_all()?.to_vec1::<f32>()?;
        let ends = FlowEnds::new(f, cx.target, cx.device, self.cfg.alpha, self.cfg.max_grad);
        let streams = ais_streams(cx.streams, purpose, index);
        let run = ais(x0, &ends, &self.cfg.ais(self.step), &streams)?;
        self.step = run.step;
        let (log_q, _) = ends.flow_log_q(&run.x, false)?;
        let mut keep_x = Vec::with_capacity(run.x.len());
        let (mut keep_w, mut keep_q) = (Vec::with_capacity(b), Vec::with_capacity(b));
        for ((row, &w), &q) in run.x.chunks_exact(d).zip(&run.log_w).zip(&log_q) {
            let q = q as f64;
            if w.is_finite() && q.is_finite() {
                keep_x.extend_from_slice(row);
                keep_w.push(w);
                keep_q.push(q);
            }
        }
        anyhow::ensure!(
            !keep_w.is_empty(),
            "Fab: no AIS point of the batch has a finite weight and log q (the flow or the \
             target overflowed); lower train.lr or the AIS kernel's step"
        );
        self.buffer.add(&keep_x, &keep_w, &keep_q);
        let mut flow_w = ends.first.borrow_mut().take().unwrap_or_default();
        finite_or_zero_weight(&mut flow_w);
        self.last = AisStats {
            ess: ess_fraction(&keep_w),
            acceptance: run.acceptance,
            flow_ess: ess_fraction(&flow_w),
        };
        Ok(())
    }
}

impl Objective for Fab {
    fn init(&mut self, cx: &Context<'_>) -> anyhow::Result<()> {
        flow(cx.model)?;
        self.check_batch(cx.batch)?;
        let mut i = 0u64;
        while !self.buffer.can_sample() {
            self.ais_batch("fab-init", i, cx)?;
            i += 1;
        }
        Ok(())
    }

    fn loss(&mut self, step: u64, cx: &Context<'_>) -> anyhow::Result<StepLoss> {
        let f = flow(cx.model)?;
        let (b, d, k) = (cx.batch, self.dim, self.cfg.minibatches as u64);
        let (iteration, j) = (step / k, (step % k) as usize);
        if j == 0 {
            self.ais_batch("fab-ais", iteration, cx)?;
            let mut rng = cx.streams.stream("fab-buffer-draw", iteration);
            self.pending = self.buffer.sample_indices(k as usize * b, &mut rng)?;
        }
        anyhow::ensure!(
            self.pending.len() == k as usize * b,
            "Fab: step {step} has no buffer draw of {} rows (a checkpoint of another batch \
             size?)",
            k as usize * b
        );
        let idx = self.pending[j * b..(j + 1) * b].to_vec();
        let (x, log_q_old) = self.buffer.gather(&idx);
        let xt = Tensor::from_vec(x, (b, d), cx.device)?;
        let log_q = f.log_prob(&xt)?;
        let lq: Vec<f64> = log_q.to_vec1::<f32>()?.iter().map(|&v| v as f64).collect();
        let adj: Vec<f64> = lq
            .iter()
            .zip(&log_q_old)
            .map(|(q, old)| (1.0 - self.cfg.alpha) * (q - old))
            .collect();
        // w_adj = exp(log w_adj), a constant (no gradient); rows whose weight or log q is not
        // finite in f32 leave the loss (fab-torch skips the whole step on a non-finite loss).
        let clip = self.cfg.w_adjust_clip.unwrap_or(f64::INFINITY);
        let w64: Vec<f64> = adj.iter().map(|a| a.exp().min(clip)).collect();
        let w_max = w64
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .fold(0f64, f64::max);
        let scale = if w_max > W_MAX { W_MAX / w_max } else { 1.0 };
        let w: Vec<f32> = w64.iter().map(|v| (v * scale) as f32).collect();
        let valid: Vec<u32> = (0..b)
            .filter(|&i| w[i].is_finite() && lq[i].is_finite())
            .map(|i| i as u32)
            .collect();
        // Mean of the unclipped w_adj, as fab-torch logs it (over the finite ones).
        let finite: Vec<f64> = adj
            .iter()
            .map(|a| a.exp())
            .filter(|v| v.is_finite())
            .collect();
        let w_mean = finite.iter().sum::<f64>() / finite.len().max(1) as f64;
        let loss = if valid.len() == b {
            let wt = Tensor::from_vec(w, b, cx.device)?;
            (wt * &log_q)?.mean_all()?.neg()?
        } else if valid.is_empty() {
            Tensor::new(0f32, cx.device)?
        } else {
            let sel = Tensor::from_slice(&valid, valid.len(), cx.device)?;
            let wv: Vec<f32> = valid.iter().map(|&i| w[i as usize]).collect();
            let wt = Tensor::from_vec(wv, valid.len(), cx.device)?;
            let lq_valid = f.log_prob(&xt.index_select(&sel, 0)?)?;
            ((wt * lq_valid)?.sum_all()? / -(b as f64))?
        };
        self.buffer.adjust(&idx, &adj, &lq);
        Ok(StepLoss {
            loss,
            diagnostics: vec![
                ("ais_ess", self.last.ess),
                ("ais_acceptance", self.last.acceptance),
                ("flow_ess", self.last.flow_ess),
                ("ais_step", self.step),
                ("buffer_len", self.buffer.len() as f64),
                ("w_adjust_mean", w_mean),
                ("skipped_rows", (b - valid.len()) as f64),
                ("loss_scale", scale),
            ],
        })
    }

    fn state(&self) -> anyhow::Result<ObjectiveState> {
        let mut st = ObjectiveState::default();
        self.buffer.save(&mut st);
        st.counters
            .insert("ais_step_bits".into(), self.step.to_bits());
        st.arrays.insert(
            "pending".into(),
            self.pending.iter().map(|&i| i as f32).collect(),
        );
        st.arrays_f64.insert(
            "ais_stats".into(),
            vec![self.last.ess, self.last.acceptance, self.last.flow_ess],
        );
        Ok(st)
    }

    fn restore(&mut self, mut st: ObjectiveState, cx: &Context<'_>) -> anyhow::Result<()> {
        flow(cx.model)?;
        self.check_batch(cx.batch)?;
        self.buffer.restore(&mut st)?;
        self.step = f64::from_bits(st.counter("ais_step_bits")?);
        self.pending = st
            .take_array("pending")?
            .iter()
            .map(|&v| v as usize)
            .collect();
        anyhow::ensure!(
            self.pending.iter().all(|&i| i < self.buffer.len()),
            "Fab: the checkpoint's buffer draw points past the buffer"
        );
        let s = st.take_array_f64("ais_stats")?;
        anyhow::ensure!(
            s.len() == 3,
            "Fab: the checkpoint's `ais_stats` is not 3 values"
        );
        self.last = AisStats {
            ess: s[0],
            acceptance: s[1],
            flow_ess: s[2],
        };
        Ok(())
    }

    fn sampler<'a>(
        &'a self,
        model: Option<&'a dyn Model>,
        target: &'a CountedTarget,
        device: &'a Device,
    ) -> anyhow::Result<Box<dyn Sampler + 'a>> {
        Ok(Box::new(FabSampler::new(
            flow(model)?,
            target,
            device,
            &self.cfg,
            self.step,
        )))
    }
}

nsamp_core::register!(
    Objective,
    "Fab",
    FabConfig,
    "FAB (Midgley et al. 2023): flow trained by D_alpha(p||q) with AIS towards p^alpha q^(1-alpha) and a prioritised replay buffer"
);

/// Streams of one AIS call: `streams` derived for `purpose` and `index`.
pub fn ais_streams(streams: &RngStreams, purpose: &str, index: u64) -> RngStreams {
    streams.derive(purpose).derive(&index.to_string())
}
