//! Objectives for normalising flows (the ScoreNF paper and its baselines), registered as `Rkl`,
//! `Fkl`, `Sm` and `ScoreNf`, which share one loss with different weights:
//!
//! - RKL: E_{z ~ N}[log q(T(z)) + E(T(z))] (reparameterised: the gradient of E flows through
//!   x = T(z) as grad E(x) . dx/dtheta);
//! - FKL: -E_{x ~ D} log q(x) on a fixed training ensemble D of target samples;
//! - SM: E_{x ~ D} |grad_x log q(x) + grad E(x)|^2 (summed over coordinates);
//! - ScoreNF: rkl * RKL + sm * SM (+ fkl * FKL).
//!
//! Each step draws `batch` base points for RKL and `batch` ensemble rows for FKL/SM from the
//! run's seeded streams. The trained sampler is the flow itself (core's `FlowSampler`), which also
//! returns log q(x) for correctors (IMH, SNIS) and metrics (ESS).

pub mod ensemble;

use ensemble::{Ensemble, McmcEnsemble};
use nsamp_core::candle::{Device, Tensor, D};
use nsamp_core::flow_sampler::FlowSampler;
use nsamp_core::numerics::lse::ess_fraction;
use nsamp_core::numerics::rng::{fill_normal, RngStreams};
use nsamp_core::rand::Rng as _;
use nsamp_core::{
    Context, CountedTarget, FlowModel, Model, Objective, ObjectiveConfig, ObjectiveState, Sampler,
    StepLoss,
};

/// `k` row indices drawn uniformly with replacement from `n`.
fn pick_rows(rng: &mut nsamp_core::numerics::rng::Rng, n: usize, k: usize) -> Vec<usize> {
    (0..k).map(|_| rng.random_range(0..n)).collect()
}

/// The loss weights and the ensemble: what all four registered names build.
#[derive(Debug, Clone)]
pub struct FlowLoss {
    /// Weight of the reverse KL.
    pub rkl: f64,
    /// Weight of the forward KL.
    pub fkl: f64,
    /// Weight of score matching.
    pub sm: f64,
    /// Training ensemble (needed when fkl > 0 or sm > 0).
    pub ensemble: Option<Ensemble>,
}

nsamp_core::config! {
    /// `Rkl()`: reverse KL only (no target samples).
    pub struct RklConfig {}
}

nsamp_core::config! {
    /// `Fkl(ensemble: ...)`: forward KL on a training ensemble.
    pub struct FklConfig {
        /// Training ensemble of target samples: Mcmc(size, sampler: Mala(...) or Hmc(...)) draws
        /// it with a training-free sampler (its energy evaluations count as training cost);
        /// Exact(n) for mixtures; File("set.npy") loads one.
        ensemble: Ensemble = default_ensemble(),
    }
}

nsamp_core::config! {
    /// `Sm(ensemble: ...)`: score matching on a training ensemble.
    pub struct SmConfig {
        /// Training ensemble of target samples: Mcmc(size, sampler: Mala(...) or Hmc(...)) draws
        /// it with a training-free sampler (its energy evaluations count as training cost);
        /// Exact(n) for mixtures; File("set.npy") loads one.
        ensemble: Ensemble = default_ensemble(),
    }
}

nsamp_core::config! {
    /// `ScoreNf(rkl: 1.0, sm: 1.0, fkl: 0.0, ensemble: ...)`.
    pub struct ScoreNfConfig {
        /// Weight of the reverse KL.
        rkl: f64 = 1.0,
        /// Weight lambda of score matching.
        sm: f64 = 1.0,
        /// Weight of the forward KL (the paper's ScoreNF: 0).
        fkl: f64 = 0.0,
        /// Training ensemble of target samples: Mcmc(size, sampler: Mala(...) or Hmc(...)) draws
        /// it with a training-free sampler (its energy evaluations count as training cost);
        /// Exact(n) for mixtures; File("set.npy") loads one.
        ensemble: Ensemble = default_ensemble(),
    }
}

fn default_ensemble() -> Ensemble {
    Ensemble::Mcmc(McmcEnsemble::default())
}
macro_rules! objective_config {
    ($cfg:ty, |$c:ident| $loss:expr) => {
        impl ObjectiveConfig for $cfg {
            fn build(&self, target: &CountedTarget) -> anyhow::Result<Box<dyn Objective>> {
                let $c = self;
                FlowObjective::boxed($loss, target.dim())
            }
        }
    };
}
objective_config!(RklConfig, |_c| FlowLoss {
    rkl: 1.0,
    fkl: 0.0,
    sm: 0.0,
    ensemble: None
});
objective_config!(FklConfig, |c| FlowLoss {
    rkl: 0.0,
    fkl: 1.0,
    sm: 0.0,
    ensemble: Some(c.ensemble.clone())
});
objective_config!(SmConfig, |c| FlowLoss {
    rkl: 0.0,
    fkl: 0.0,
    sm: 1.0,
    ensemble: Some(c.ensemble.clone())
});
objective_config!(ScoreNfConfig, |c| FlowLoss {
    rkl: c.rkl,
    fkl: c.fkl,
    sm: c.sm,
    ensemble: Some(c.ensemble.clone())
});

/// The objective's state: the ensemble and its target scores.
pub struct FlowObjective {
    loss: FlowLoss,
    dim: usize,
    ensemble: Vec<f32>,
    ensemble_score: Vec<f32>,
}

impl FlowObjective {
    /// Validates the weights.
    pub fn boxed(loss: FlowLoss, dim: usize) -> anyhow::Result<Box<dyn Objective>> {
        anyhow::ensure!(
            loss.rkl >= 0.0
                && loss.fkl >= 0.0
                && loss.sm >= 0.0
                && loss.rkl + loss.fkl + loss.sm > 0.0,
            "flow objective: weights must be >= 0 and not all 0"
        );
        anyhow::ensure!(
            loss.ensemble.is_some() || (loss.fkl == 0.0 && loss.sm == 0.0),
            "FKL and SM need a training ensemble"
        );
        Ok(Box::new(FlowObjective {
            loss,
            dim,
            ensemble: Vec::new(),
            ensemble_score: Vec::new(),
        }))
    }
}

fn flow(model: Option<&dyn Model>) -> anyhow::Result<&dyn FlowModel> {
    model.and_then(|m| m.as_flow()).ok_or_else(|| {
        anyhow::anyhow!("this objective trains a normalising flow: use `model: RealNvp(...)`")
    })
}

/// Standard normals (n, d) from stream (purpose, index).
/// n x d standard-normal base noise from the stream (`purpose`, `index`).
fn base_noise(
    streams: &RngStreams,
    purpose: &str,
    index: u64,
    n: usize,
    d: usize,
    device: &Device,
) -> anyhow::Result<Tensor> {
    let mut z = vec![0f32; n * d];
    fill_normal(&mut streams.stream(purpose, index), &mut z);
    Ok(Tensor::from_vec(z, (n, d), device)?)
}

impl Objective for FlowObjective {
    fn init(&mut self, cx: &Context<'_>) -> anyhow::Result<()> {
        flow(cx.model)?;
        if let Some(e) = &self.loss.ensemble {
            self.ensemble = e.draw(cx.target, cx.streams)?;
            anyhow::ensure!(!self.ensemble.is_empty(), "the training ensemble is empty");
            if self.loss.sm > 0.0 {
                let n = self.ensemble.len() / self.dim;
                let mut en = vec![0f32; n];
                self.ensemble_score = vec![0f32; self.ensemble.len()];
                cx.target
                    .energy_and_grad(&self.ensemble, &mut en, &mut self.ensemble_score)?;
                // The target score is -grad E.
                self.ensemble_score.iter_mut().for_each(|v| *v = -*v);
            }
        }
        Ok(())
    }

    fn state(&self) -> anyhow::Result<ObjectiveState> {
        let mut st = ObjectiveState::default();
        if self.loss.ensemble.is_some() {
            st.arrays.insert("ensemble".into(), self.ensemble.clone());
            st.arrays
                .insert("ensemble_score".into(), self.ensemble_score.clone());
        }
        Ok(st)
    }

    fn restore(&mut self, mut st: ObjectiveState, cx: &Context<'_>) -> anyhow::Result<()> {
        flow(cx.model)?;
        if self.loss.ensemble.is_some() {
            self.ensemble = st.take_array("ensemble")?;
            self.ensemble_score = st.take_array("ensemble_score")?;
            anyhow::ensure!(
                !self.ensemble.is_empty() && self.ensemble.len().is_multiple_of(self.dim),
                "the checkpoint's training ensemble is empty or not a whole number of rows"
            );
        }
        Ok(())
    }

    fn loss(&mut self, step: u64, cx: &Context<'_>) -> anyhow::Result<StepLoss> {
        let f = flow(cx.model)?;
        let (b, d) = (cx.batch, self.dim);
        let mut total: Option<Tensor> = None;
        let mut diag = Vec::new();
        let mut add = |t: Tensor, w: f64| -> anyhow::Result<()> {
            let t = (t * w)?;
            total = Some(match total.take() {
                Some(s) => (s + t)?,
                None => t,
            });
            Ok(())
        };
        if self.loss.rkl > 0.0 {
            let z = base_noise(cx.streams, "flow-rkl", step, b, d, cx.device)?;
            let (x, logq) = f.sample_with_log_prob(&z)?;
            let xv = x.flatten_all()?.to_vec1::<f32>()?;
            let mut e = vec![0f32; b];
            let mut g = vec![0f32; b * d];
            cx.target.energy_and_grad(&xv, &mut e, &mut g)?;
            let g = Tensor::from_vec(g, (b, d), cx.device)?;
            // Surrogate with the RKL's gradient: mean log q + mean <x, grad E(x)> (grad E constant).
            let surrogate = (logq.mean_all()? + (x * g)?.sum(D::Minus1)?.mean_all()?)?;
            add(surrogate, self.loss.rkl)?;
            let lq = logq.to_vec1::<f32>()?;
            let rkl = lq
                .iter()
                .zip(&e)
                .map(|(l, e)| (*l + *e) as f64)
                .sum::<f64>()
                / b as f64;
            let log_w: Vec<f64> = lq
                .iter()
                .zip(&e)
                .map(|(l, e)| -(*e as f64) - *l as f64)
                .collect();
            diag.push(("rkl", rkl));
            diag.push(("ess", ess_fraction(&log_w)));
        }
        if self.loss.fkl > 0.0 || self.loss.sm > 0.0 {
            let n = self.ensemble.len() / d;
            let rows = pick_rows(&mut cx.streams.stream("flow-ensemble-batch", step), n, b);
            let mut xb = Vec::with_capacity(b * d);
            let mut sb = Vec::with_capacity(if self.loss.sm > 0.0 { b * d } else { 0 });
            for &r in &rows {
                xb.extend_from_slice(&self.ensemble[r * d..(r + 1) * d]);
                if self.loss.sm > 0.0 {
                    sb.extend_from_slice(&self.ensemble_score[r * d..(r + 1) * d]);
                }
            }
            let x = Tensor::from_vec(xb, (b, d), cx.device)?;
            if self.loss.fkl > 0.0 {
                let fkl = f.log_prob(&x)?.mean_all()?.neg()?;
                diag.push(("fkl", fkl.to_scalar::<f32>()? as f64));
                add(fkl, self.loss.fkl)?;
            }
            if self.loss.sm > 0.0 {
                let s = Tensor::from_vec(sb, (b, d), cx.device)?;
                let sm = (f.score(&x)? - s)?.sqr()?.sum(D::Minus1)?.mean_all()?;
                diag.push(("sm", sm.to_scalar::<f32>()? as f64));
                add(sm, self.loss.sm)?;
            }
        }
        Ok(StepLoss {
            loss: total.expect("at least one weight is positive"),
            diagnostics: diag,
        })
    }

    fn sampler<'a>(
        &'a self,
        model: Option<&'a dyn Model>,
        target: &'a CountedTarget,
        device: &'a Device,
    ) -> anyhow::Result<Box<dyn Sampler + 'a>> {
        Ok(Box::new(FlowSampler {
            flow: flow(model)?,
            dim: target.dim(),
            device,
            chunk: 4096,
        }))
    }
}

nsamp_core::register!(
    Objective,
    "Rkl",
    RklConfig,
    "reverse KL for flows: E_z[log q(T(z)) + E(T(z))] (no target samples; prone to mode collapse)"
);
nsamp_core::register!(
    Objective,
    "Fkl",
    FklConfig,
    "forward KL for flows: -E_{x~D} log q(x) on a training ensemble D"
);
nsamp_core::register!(
    Objective,
    "Sm",
    SmConfig,
    "score matching for flows: E_{x~D} |grad log q(x) + grad E(x)|^2 on a training ensemble D"
);
nsamp_core::register!(
    Objective,
    "ScoreNf",
    ScoreNfConfig,
    "ScoreNF: rkl * RKL + sm * SM (+ fkl * FKL) for flows, SM on a small training ensemble"
);
