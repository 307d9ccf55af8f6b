//! The training loop: loss, backward, gradient-norm clipping, Adam, and a diagnostic stop on
//! non-finite values. Progress and checkpoints are the caller's (the runner's) business, through
//! [`TrainObserver`].

use crate::error::NsampError;
use crate::objective::{Context, Objective};
use candle_nn::{Optimizer, VarMap};

use serde::{Deserialize, Serialize};

fn default_log_every() -> u64 {
    100
}
fn default_checkpoint_every() -> u64 {
    1000
}

/// Training settings of a recipe.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSettings {
    /// Number of gradient steps (0 for network-free samplers).
    pub steps: u64,
    /// Mini-batch size.
    pub batch: usize,
    /// Adam learning rate (no weight decay).
    pub lr: f64,
    /// Clip the global gradient norm to this value (None: no clipping).
    #[serde(default)]
    pub grad_clip: Option<f64>,
    /// Log a line (and a loss-curve point) every this many steps.
    #[serde(default = "default_log_every")]
    pub log_every: u64,
    /// Write a checkpoint every this many steps (so a killed run loses little).
    #[serde(default = "default_checkpoint_every")]
    pub checkpoint_every: u64,
    /// Keep the model's weights every this many steps (a multiple of `checkpoint_every`) in
    /// the run directory's `snapshots/`, for `nsamp curve` (metrics against the budget).
    /// Default None: only the last weights are kept.
    #[serde(default)]
    pub snapshot_every: Option<u64>,
    /// Sample with an exponential moving average of the weights, updated after every step:
    /// w_ema <- d w_ema + (1 - d) w, starting from the initial weights. The final samples,
    /// `model.safetensors` and the kept snapshots use w_ema; training and the objective's own
    /// sampling (iDEM's buffer refills) use w. Default None (the papers' protocol: DEM's
    /// `use_ema: false`).
    #[serde(default)]
    pub ema: Option<f64>,
}

impl Default for TrainSettings {
    /// No training (network-free samplers); batch and lr are then unused.
    fn default() -> Self {
        TrainSettings {
            steps: 0,
            batch: 1,
            lr: 1e-3,
            grad_clip: None,
            log_every: default_log_every(),
            checkpoint_every: default_checkpoint_every(),
            snapshot_every: None,
            ema: None,
        }
    }
}

impl TrainSettings {
    /// Range checks.
    pub fn validate(&self) -> Result<(), String> {
        if self.batch == 0 {
            return Err("`train.batch` must be at least 1".into());
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(format!("`train.lr` must be positive, got {}", self.lr));
        }
        if let Some(c) = self.grad_clip {
            if !(c.is_finite() && c > 0.0) {
                return Err(format!("`train.grad_clip` must be positive, got {c}"));
            }
        }
        if self.log_every == 0 || self.checkpoint_every == 0 {
            return Err("`train.log_every` and `train.checkpoint_every` must be at least 1".into());
        }
        if let Some(d) = self.ema {
            if !(d > 0.0 && d < 1.0) {
                return Err(format!("`train.ema` must be a decay in (0, 1), got {d}"));
            }
        }
        if let Some(k) = self.snapshot_every {
            if k == 0 || !k.is_multiple_of(self.checkpoint_every) {
                return Err(format!(
                    "`train.snapshot_every` ({k}) must be a positive multiple of \
                     `train.checkpoint_every` ({})",
                    self.checkpoint_every
                ));
            }
        }
        Ok(())
    }
}

/// One step's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRecord {
    /// Step index (0-based).
    pub step: u64,
    /// Loss value.
    pub loss: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// Energy evaluations so far.
    pub energy_evals: u64,
    /// The objective's diagnostics.
    pub diagnostics: Vec<(String, f64)>,
}

/// Receives every step (for logs, progress bars, checkpoints).
pub trait TrainObserver {
    /// After each step, with the state a checkpoint needs.
    fn on_step(&mut self, record: &StepRecord, state: &TrainView<'_>) -> anyhow::Result<()>;
}

/// Adam hyper-parameters other than the learning rate: beta1 = 0.9, beta2 = 0.999, eps = 1e-8.
pub fn adam(varmap: &VarMap, lr: f64) -> anyhow::Result<candle_nn::AdamW> {
    let params = candle_nn::ParamsAdamW {
        lr,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.0,
    };
    Ok(candle_nn::AdamW::new(varmap.all_vars(), params)?)
}

/// Adam's first and second moments by parameter name.
pub type Moments = std::collections::HashMap<String, (candle_core::Tensor, candle_core::Tensor)>;

/// Adam with beta1 = 0.9, beta2 = 0.999, eps = 1e-8 and no weight decay, its moments in the
/// open so a checkpoint can hold them (candle-nn's `AdamW` keeps them private). The arithmetic of
/// candle-nn's `AdamW` with weight decay 0, less its multiplication of theta by
/// 1 - lr * weight_decay = 1 (a pass over every parameter that changes nothing), so a run's
/// numbers are those it gave: with t the step count,
/// m <- b1 m + (1 - b1) g, v <- b2 v + (1 - b2) g^2,
/// theta <- theta - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
pub struct Adam {
    /// (name, parameter, first moment, second moment), sorted by name.
    vars: Vec<(String, candle_core::Var, candle_core::Var, candle_core::Var)>,
    steps: u64,
    lr: f64,
}

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPS: f64 = 1e-8;

impl Adam {
    /// Zero moments for every parameter of `varmap`, sorted by name.
    pub fn new(varmap: &VarMap, lr: f64) -> anyhow::Result<Self> {
        let mut named: Vec<(String, candle_core::Var)> = varmap
            .data()
            .lock()
            .map_err(|_| anyhow::anyhow!("parameter map poisoned"))?
            .iter()
            .filter(|(_, v)| v.dtype().is_float())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let vars = named
            .into_iter()
            .map(|(k, v)| {
                let zeros = || candle_core::Var::zeros(v.shape(), v.dtype(), v.device());
                Ok((k, v.clone(), zeros()?, zeros()?))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Adam { vars, steps: 0, lr })
    }

    /// One update with the gradients in `grads` (parameters without a gradient are left as are).
    pub fn step(&mut self, grads: &candle_core::backprop::GradStore) -> anyhow::Result<()> {
        self.steps += 1;
        let scale_m = 1f64 / (1f64 - BETA1.powi(self.steps as i32));
        let scale_v = 1f64 / (1f64 - BETA2.powi(self.steps as i32));
        for (_, theta, m, v) in &self.vars {
            if let Some(g) = grads.get(theta) {
                if !self.fused_step(theta, m, v, g, scale_m, scale_v)? {
                    self.tensor_step(theta, m, v, g, scale_m, scale_v)?;
                }
            }
        }
        Ok(())
    }

    /// The update of one parameter in candle's tensor operations (any dtype and device).
    fn tensor_step(
        &self,
        theta: &candle_core::Var,
        m: &candle_core::Var,
        v: &candle_core::Var,
        g: &candle_core::Tensor,
        scale_m: f64,
        scale_v: f64,
    ) -> anyhow::Result<()> {
        let next_m = ((m.as_tensor() * BETA1)? + (g * (1.0 - BETA1))?)?;
        let next_v = ((v.as_tensor() * BETA2)? + (g.sqr()? * (1.0 - BETA2))?)?;
        let m_hat = (&next_m * scale_m)?;
        let v_hat = (&next_v * scale_v)?;
        let adjusted = (m_hat / (v_hat.sqrt()? + EPS)?)?;
        let next_theta = (theta.as_tensor() - (adjusted * self.lr)?)?;
        m.set(&next_m)?;
        v.set(&next_v)?;
        theta.set(&next_theta)?;
        Ok(())
    }

    /// The update of one f32 CPU parameter in one pass over its elements, the same f32
    /// operations in the same order as the tensor path (candle's `x * c` is `x * c + 0`, `x + c`
    /// is `x * 1 + c`), so the same bits; false (nothing done) for other dtypes or devices.
    fn fused_step(
        &self,
        theta: &candle_core::Var,
        m: &candle_core::Var,
        v: &candle_core::Var,
        g: &candle_core::Tensor,
        scale_m: f64,
        scale_v: f64,
    ) -> anyhow::Result<bool> {
        use candle_core::{CpuStorage, Storage};
        let (b1, c1) = (BETA1 as f32, (1.0 - BETA1) as f32);
        let (b2, c2) = (BETA2 as f32, (1.0 - BETA2) as f32);
        let (sm, sv, lr, eps) = (scale_m as f32, scale_v as f32, self.lr as f32, EPS as f32);
        let n = theta.elem_count();
        let (mut nm, mut nv, mut nt) = (vec![0f32; n], vec![0f32; n], vec![0f32; n]);
        {
            let all = [theta.as_tensor(), m.as_tensor(), v.as_tensor(), g];
            let guards: Vec<_> = all.iter().map(|t| t.storage_and_layout()).collect();
            let mut slices: Vec<&[f32]> = Vec::with_capacity(4);
            for (s, l) in &guards {
                let (Storage::Cpu(CpuStorage::F32(data)), Some((a, b))) =
                    (&**s, l.contiguous_offsets())
                else {
                    return Ok(false);
                };
                if b - a != n {
                    return Ok(false);
                }
                slices.push(&data[a..b]);
            }
            let (th, mm, vv, gg) = (slices[0], slices[1], slices[2], slices[3]);
            for i in 0..n {
                let gi = gg[i];
                let m1 = (mm[i] * b1 + 0.0) + (gi * c1 + 0.0);
                let v1 = (vv[i] * b2 + 0.0) + ((gi * gi) * c2 + 0.0);
                let m_hat = m1 * sm + 0.0;
                let v_hat = v1 * sv + 0.0;
                let adjusted = m_hat / (v_hat.sqrt() * 1.0 + eps);
                nm[i] = m1;
                nv[i] = v1;
                nt[i] = th[i] - (adjusted * lr + 0.0);
            }
        }
        let (shape, dev) = (theta.shape().clone(), theta.device().clone());
        m.set(&candle_core::Tensor::from_vec(nm, shape.clone(), &dev)?)?;
        v.set(&candle_core::Tensor::from_vec(nv, shape.clone(), &dev)?)?;
        theta.set(&candle_core::Tensor::from_vec(nt, shape, &dev)?)?;
        Ok(true)
    }

    /// Updates done so far (t).
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The moments by parameter name: (name, first moment, second moment).
    pub fn moments(
        &self,
    ) -> impl Iterator<Item = (&str, &candle_core::Tensor, &candle_core::Tensor)> {
        self.vars
            .iter()
            .map(|(k, _, m, v)| (k.as_str(), m.as_tensor(), v.as_tensor()))
    }

    /// Restores the step count and the moments of every parameter (by name) from a checkpoint.
    pub fn restore(&mut self, steps: u64, moments: &Moments) -> anyhow::Result<()> {
        anyhow::ensure!(
            moments.len() == self.vars.len(),
            "the checkpoint holds optimiser moments for {} parameters, the model has {}",
            moments.len(),
            self.vars.len()
        );
        for (name, theta, m, v) in &self.vars {
            let (cm, cv) = moments.get(name).ok_or_else(|| {
                anyhow::anyhow!("the checkpoint has no optimiser moments for parameter `{name}`")
            })?;
            anyhow::ensure!(
                cm.shape() == theta.shape() && cv.shape() == theta.shape(),
                "optimiser moments of `{name}`: shape {:?} in the checkpoint, {:?} in the model",
                cm.shape(),
                theta.shape()
            );
            m.set(cm)?;
            v.set(cv)?;
        }
        self.steps = steps;
        Ok(())
    }
}

/// One optimiser over a model's parameters: backward, global gradient-norm clipping, Adam,
/// and optionally an exponential moving average of the parameters.
pub struct Trainer {
    vars: Vec<candle_core::Var>,
    opt: Adam,
    clip: Option<f64>,
    /// The decay d and the averages (name, w_ema), in the order of `vars`.
    ema: Option<(f64, Vec<(String, candle_core::Var)>)>,
}

impl Trainer {
    /// Adam on every parameter of `varmap`, with optional global-norm clipping.
    pub fn new(varmap: &VarMap, lr: f64, clip: Option<f64>) -> anyhow::Result<Self> {
        let opt = Adam::new(varmap, lr)?;
        // Sorted by name: the global norm then sums in one fixed order (a VarMap is a HashMap).
        Ok(Trainer {
            vars: opt.vars.iter().map(|(_, v, _, _)| v.clone()).collect(),
            opt,
            clip,
            ema: None,
        })
    }

    /// Also keeps w_ema <- d w_ema + (1 - d) w after every update (None: no average), starting
    /// from the current parameters.
    pub fn with_ema(mut self, decay: Option<f64>) -> anyhow::Result<Self> {
        self.ema = match decay {
            None => None,
            Some(d) => {
                anyhow::ensure!(d > 0.0 && d < 1.0, "EMA decay must be in (0, 1), got {d}");
                let avg = self
                    .opt
                    .vars
                    .iter()
                    .map(|(k, v, _, _)| {
                        Ok((
                            k.clone(),
                            candle_core::Var::from_tensor(&v.as_tensor().copy()?)?,
                        ))
                    })
                    .collect::<anyhow::Result<_>>()?;
                Some((d, avg))
            }
        };
        Ok(self)
    }

    /// The moving averages by parameter name (None without `with_ema`).
    pub fn ema(&self) -> Option<impl Iterator<Item = (&str, &candle_core::Tensor)>> {
        self.ema
            .as_ref()
            .map(|(_, avg)| avg.iter().map(|(k, v)| (k.as_str(), v.as_tensor())))
    }

    /// Restores the moving averages (by name) from a checkpoint.
    pub fn restore_ema(
        &mut self,
        saved: &std::collections::HashMap<String, candle_core::Tensor>,
    ) -> anyhow::Result<()> {
        let Some((_, avg)) = &self.ema else {
            anyhow::ensure!(
                saved.is_empty(),
                "the checkpoint holds weight averages but the recipe sets no train.ema"
            );
            return Ok(());
        };
        anyhow::ensure!(
            saved.len() == avg.len(),
            "the checkpoint holds weight averages for {} parameters, the model has {} \
             (was the run started without train.ema?)",
            saved.len(),
            avg.len()
        );
        for (k, v) in avg {
            let t = saved
                .get(k)
                .ok_or_else(|| anyhow::anyhow!("the checkpoint has no average of `{k}`"))?;
            v.set(t)?;
        }
        Ok(())
    }

    /// Copies the moving averages into the parameters (after training, before sampling).
    pub fn load_ema_into_parameters(&self) -> anyhow::Result<()> {
        if let Some((_, avg)) = &self.ema {
            for (theta, (_, a)) in self.vars.iter().zip(avg) {
                theta.set(a.as_tensor())?;
            }
        }
        Ok(())
    }

    /// The optimiser (its moments go into checkpoints).
    pub fn optimizer(&self) -> &Adam {
        &self.opt
    }

    /// The optimiser, to restore it from a checkpoint.
    pub fn optimizer_mut(&mut self) -> &mut Adam {
        &mut self.opt
    }

    /// Differentiates `loss`, clips the global gradient norm, applies Adam. Returns the norm
    /// before clipping; a non-finite norm is returned without updating the parameters.
    pub fn step(&mut self, loss: &candle_core::Tensor) -> anyhow::Result<f64> {
        let mut grads = loss.backward()?;
        let mut sq = 0f64;
        for v in &self.vars {
            if let Some(g) = grads.get(v) {
                sq += g
                    .sqr()?
                    .sum_all()?
                    .to_dtype(candle_core::DType::F64)?
                    .to_scalar::<f64>()?;
            }
        }
        let norm = sq.sqrt();
        if !norm.is_finite() {
            return Ok(norm);
        }
        if let Some(clip) = self.clip {
            if norm > clip {
                let f = clip / norm;
                for v in &self.vars {
                    if let Some(g) = grads.remove(v) {
                        grads.insert(v, (g * f)?);
                    }
                }
            }
        }
        self.opt.step(&grads)?;
        if let Some((d, avg)) = &self.ema {
            for (theta, (_, a)) in self.vars.iter().zip(avg) {
                let next = ((a.as_tensor() * *d)? + (theta.as_tensor() * (1.0 - *d))?)?;
                a.set(&next)?;
            }
        }
        Ok(norm)
    }
}

/// What the observer sees after each step: enough to write a complete checkpoint.
pub struct TrainView<'a> {
    /// Steps completed (the next step's index).
    pub steps_done: u64,
    /// Energy evaluations so far (the counter a resumed run starts from).
    pub energy_evals: u64,
    /// The optimiser (None without a network).
    pub trainer: Option<&'a Trainer>,
    /// The objective, whose [`Objective::state`] goes into the checkpoint.
    pub objective: &'a dyn Objective,
}

/// A step that failed: the error, or a non-finite loss or gradient norm at `step`.
pub enum StepFailure {
    /// An error of the objective or the optimiser.
    Error(anyhow::Error),
    /// `what` ("loss" or "gradient norm") was not finite; `hint` says what to try.
    NonFinite {
        /// The step.
        step: u64,
        /// Which value.
        what: &'static str,
        /// What to try.
        hint: &'static str,
    },
}

impl StepFailure {
    /// The error to report, with the last finite loss and gradient norm of the run.
    pub fn with_last(self, last_loss: f64, last_grad_norm: f64) -> anyhow::Error {
        match self {
            StepFailure::Error(e) => e,
            StepFailure::NonFinite { step, what, hint } => NsampError::NonFinite {
                step,
                what,
                last_loss,
                last_grad_norm,
                hint: hint.to_string(),
            }
            .into(),
        }
    }
}

impl<E: Into<anyhow::Error>> From<E> for StepFailure {
    fn from(e: E) -> Self {
        StepFailure::Error(e.into())
    }
}

/// What one step gives: its loss, the gradient norm before clipping, the objective's diagnostics.
pub struct StepDone {
    /// The loss.
    pub loss: f64,
    /// The global gradient norm before clipping (0 without a network).
    pub grad_norm: f64,
    /// The objective's diagnostics.
    pub diagnostics: Vec<(String, f64)>,
}

/// Step `step`'s loss, backward pass, clipping and Adam update (no update when the loss is not
/// finite): the loss, the gradient norm before clipping (0 without a network) and the
/// objective's diagnostics. What `train` runs per step, and what `nsamp bench` times.
pub fn step_once(
    objective: &mut dyn Objective,
    trainer: Option<&mut Trainer>,
    cx: &Context<'_>,
    step: u64,
) -> Result<StepDone, StepFailure> {
    let out = objective.loss(step, cx)?;
    let loss = out
        .loss
        .to_dtype(candle_core::DType::F64)?
        .to_scalar::<f64>()?;
    if !loss.is_finite() {
        return Err(StepFailure::NonFinite {
            step,
            what: "loss",
            hint: "Check the target's energy for overflow, lower train.lr, or set train.grad_clip.",
        });
    }
    let grad_norm = match trainer {
        Some(t) => t.step(&out.loss)?,
        None => 0.0,
    };
    if !grad_norm.is_finite() {
        return Err(StepFailure::NonFinite {
            step,
            what: "gradient norm",
            hint: "Lower train.lr or set train.grad_clip; check the model's inputs for extreme values.",
        });
    }
    let diagnostics = out
        .diagnostics
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    Ok(StepDone {
        loss,
        grad_norm,
        diagnostics,
    })
}

/// Runs the gradient steps `start..settings.steps` of `objective` with `trainer` (None for
/// network-free objectives). Stops with [`NsampError::NonFinite`] as soon as a loss or gradient
/// norm is not finite, and with [`NsampError::Interrupted`] before the next step once `stop` is
/// set (the state is then that after the last completed step).
pub fn train(
    objective: &mut dyn Objective,
    mut trainer: Option<&mut Trainer>,
    cx: &Context<'_>,
    settings: &TrainSettings,
    start: u64,
    stop: &std::sync::atomic::AtomicBool,
    observer: &mut dyn TrainObserver,
) -> anyhow::Result<()> {
    let (mut last_loss, mut last_norm) = (f64::NAN, f64::NAN);
    for step in start..settings.steps {
        if stop.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(NsampError::Interrupted { steps_done: step }.into());
        }
        let StepDone {
            loss,
            grad_norm,
            diagnostics,
        } = crate::threads::on_pool(|| {
            let done = step_once(objective, trainer.as_deref_mut(), cx, step)
                .map_err(|e| e.with_last(last_loss, last_norm))?;
            objective.after_step(step, cx)?;
            anyhow::Ok(done)
        })?;
        last_loss = loss;
        last_norm = grad_norm;
        let record = StepRecord {
            step,
            loss,
            grad_norm,
            energy_evals: cx.target.evals(),
            diagnostics,
        };
        let view = TrainView {
            steps_done: step + 1,
            energy_evals: record.energy_evals,
            trainer: trainer.as_deref(),
            objective: &*objective,
        };
        observer.on_step(&record, &view)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// The fused update gives the tensor path's bits (the checkpoints and snapshots of every run
    /// depend on it), over steps where the bias corrections change, with zero and tiny gradients.
    #[test]
    fn fused_adam_step_is_bit_identical_to_the_tensor_path() {
        use super::{Adam, BETA1, BETA2};
        use candle_core::{Device, Tensor, Var};
        let dev = Device::Cpu;
        let n = 1000;
        let vals = |seed: u64, scale: f32| -> Vec<f32> {
            (0..n as u64)
                .map(|i| ((i * 7919 + seed * 104_729) % 1009) as f32 / 1009.0 * scale - scale / 2.0)
                .collect()
        };
        let vm = VarMap::new();
        vm.get((n,), "w", Init::Const(0.0), DType::F32, &dev)
            .unwrap();
        let mut adam = Adam::new(&vm, 3e-3).unwrap();
        let (_, th, m, v) = adam.vars[0].clone();
        let copy = |x: &Var| Var::from_tensor(&x.as_tensor().copy().unwrap()).unwrap();
        th.set(&Tensor::from_vec(vals(1, 2.0), n, &dev).unwrap())
            .unwrap();
        for step in 1..=5u64 {
            adam.steps = step;
            let mut g = vals(step + 1, 10f32.powi(1 - step as i32 * 2));
            g[0] = 0.0;
            g[1] = 1e-30;
            let g = Tensor::from_vec(g, n, &dev).unwrap();
            let scale_m = 1f64 / (1f64 - BETA1.powi(step as i32));
            let scale_v = 1f64 / (1f64 - BETA2.powi(step as i32));
            let (th2, m2, v2) = (copy(&th), copy(&m), copy(&v));
            adam.tensor_step(&th2, &m2, &v2, &g, scale_m, scale_v)
                .unwrap();
            assert!(adam.fused_step(&th, &m, &v, &g, scale_m, scale_v).unwrap());
            for (a, b) in [(&th, &th2), (&m, &m2), (&v, &v2)] {
                let a: Vec<u32> = a
                    .to_vec1::<f32>()
                    .unwrap()
                    .iter()
                    .map(|x| x.to_bits())
                    .collect();
                let b: Vec<u32> = b
                    .to_vec1::<f32>()
                    .unwrap()
                    .iter()
                    .map(|x| x.to_bits())
                    .collect();
                assert_eq!(a, b, "step {step}");
            }
        }
    }

    use super::Trainer;
    use candle_core::{DType, Device, Tensor};
    use candle_nn::{Init, VarMap};

    /// w_ema <- d w_ema + (1 - d) w after each update; loading it replaces the parameters.
    #[test]
    fn ema_follows_the_parameters_and_replaces_them_after_training() {
        let vm = VarMap::new();
        let w = vm
            .get(2, "w", Init::Const(1.0), DType::F32, &Device::Cpu)
            .unwrap();
        let mut t = Trainer::new(&vm, 0.1, None)
            .unwrap()
            .with_ema(Some(0.5))
            .unwrap();
        let read = |x: &Tensor| x.to_vec1::<f32>().unwrap();
        let mut expected = vec![1.0f32; 2];
        for _ in 0..3 {
            // loss = sum(w): gradient 1, so Adam moves each weight by -lr (bias-corrected).
            t.step(&w.sum_all().unwrap()).unwrap();
            let now = read(&w);
            for (e, x) in expected.iter_mut().zip(&now) {
                *e = 0.5 * *e + 0.5 * x;
            }
            let (_, avg) = t.ema().unwrap().next().unwrap();
            for (a, e) in read(avg).iter().zip(&expected) {
                assert!((a - e).abs() < 1e-6, "{a} vs {e}");
            }
        }
        assert!((read(&w)[0] - 0.7).abs() < 1e-5);
        t.load_ema_into_parameters().unwrap();
        assert_eq!(read(&w), expected);
        assert!(Trainer::new(&vm, 0.1, None)
            .unwrap()
            .with_ema(Some(1.0))
            .is_err());
    }
}
