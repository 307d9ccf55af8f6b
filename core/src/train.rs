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
        Ok(())
    }
}

/// One step's figures.
#[derive(Debug, Clone, Serialize)]
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
    /// After each step.
    fn on_step(&mut self, record: &StepRecord) -> anyhow::Result<()>;
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

/// One optimiser over a model's parameters: backward, global gradient-norm clipping, Adam.
pub struct Trainer {
    vars: Vec<candle_core::Var>,
    opt: candle_nn::AdamW,
    clip: Option<f64>,
}

impl Trainer {
    /// Adam on every parameter of `varmap`, with optional global-norm clipping.
    pub fn new(varmap: &VarMap, lr: f64, clip: Option<f64>) -> anyhow::Result<Self> {
        // Sorted by name: the global norm then sums in one fixed order (a VarMap is a HashMap).
        let mut named: Vec<(String, candle_core::Var)> = varmap
            .data()
            .lock()
            .map_err(|_| anyhow::anyhow!("parameter map poisoned"))?
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Trainer {
            vars: named.into_iter().map(|(_, v)| v).collect(),
            opt: adam(varmap, lr)?,
            clip,
        })
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
        Ok(norm)
    }
}

/// Runs `settings.steps` gradient steps of `objective` on the parameters in `varmap`.
/// Stops with [`NsampError::NonFinite`] as soon as a loss or gradient norm is not finite.
pub fn train(
    objective: &mut dyn Objective,
    varmap: Option<&VarMap>,
    cx: &Context<'_>,
    settings: &TrainSettings,
    observer: &mut dyn TrainObserver,
) -> anyhow::Result<()> {
    let mut trainer = match varmap {
        Some(vm) => Some(Trainer::new(vm, settings.lr, settings.grad_clip)?),
        None => None,
    };
    let (mut last_loss, mut last_norm) = (f64::NAN, f64::NAN);
    for step in 0..settings.steps {
        let out = objective.loss(step, cx)?;
        let loss = out
            .loss
            .to_dtype(candle_core::DType::F64)?
            .to_scalar::<f64>()?;
        let non_finite = |what: &'static str, hint: &str| NsampError::NonFinite {
            step,
            what,
            last_loss,
            last_grad_norm: last_norm,
            hint: hint.to_string(),
        };
        if !loss.is_finite() {
            return Err(non_finite(
                "loss",
                "Check the target's energy for overflow, lower train.lr, or set train.grad_clip.",
            )
            .into());
        }
        let grad_norm = match trainer.as_mut() {
            Some(t) => t.step(&out.loss)?,
            None => 0.0,
        };
        if !grad_norm.is_finite() {
            return Err(non_finite(
                "gradient norm",
                "Lower train.lr or set train.grad_clip; check the model's inputs for extreme values.",
            )
            .into());
        }
        objective.after_step(step, cx)?;
        last_loss = loss;
        last_norm = grad_norm;
        observer.on_step(&StepRecord {
            step,
            loss,
            grad_norm,
            energy_evals: cx.target.evals(),
            diagnostics: out
                .diagnostics
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        })?;
    }
    Ok(())
}
