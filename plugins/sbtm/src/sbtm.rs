//! `Sbtm`: score-based transport modelling (Ilin, Hosseini, Hu 2025; seeds/, DESIGN.md "SBTM").
//!
//! n particles follow the Wasserstein gradient flow of KL(f_t | pi_t),
//! dx/dt = grad log pi_t(x) - s(x), with s ~ grad log f_t re-fitted on the particles at every
//! time step by implicit score matching, L(s) = (1/n) sum_i [|s(x_i)|^2 + 2 div s(x_i)] (exact
//! divergence by forward-mode tangents, `net`), at least `fit_steps` AdamW steps over whole epochs
//! of mini-batches, the optimiser's state kept across steps; then the forward Euler move
//! x <- x + dt (grad log pi_t(x) - s(x)). Before the first step s is fitted to the prior's exact
//! score by explicit score matching (Adam, until the loss is below `pretrain_tol` or after
//! `pretrain_max_steps`). The trajectories are deterministic given the initial particles.

use crate::anneal::Prior;
use crate::dynamics::particle_config;
use crate::net::{score_rows, ScoreNet};
use nsamp_core::candle::{DType, Device, Tensor};
use nsamp_core::candle_nn::{AdamW, Optimizer, ParamsAdamW, VarMap};
use nsamp_core::numerics::rng::RngStreams;
use nsamp_core::params::seeded_var_builder;
use nsamp_core::rand::seq::SliceRandom;
use nsamp_core::sampler::Progress;
use nsamp_core::{CountedTarget, Sampler, SamplerConfig, Samples, Trace};

particle_config! {
    /// `Sbtm(...)`: score-based transport modelling with a residual softsign score network.
    pub struct SbtmConfig {
        /// Hidden layers of the score network (the paper: 2; 4 for the 2-D mixtures).
        layers: usize = 2,
        /// Width of every hidden layer.
        width: usize = 128,
        /// Minimum implicit-score-matching steps per time step (whole epochs of mini-batches).
        fit_steps: usize = 10,
        /// Mini-batch size of the score fits.
        batch: usize = 400,
        /// AdamW learning rate (beta1 0.9, beta2 0.999, weight decay 1e-4, as optax's adamw).
        lr: f64 = 5e-4,
        /// Pre-training on the prior's exact score stops below this explicit-SM loss ...
        pretrain_tol: f64 = 1e-4,
        /// ... or after this many Adam steps.
        pretrain_max_steps: usize = 10000,
    }
}

impl SamplerConfig for SbtmConfig {
    fn build(&self, target: &CountedTarget) -> anyhow::Result<Box<dyn Sampler>> {
        anyhow::ensure!(
            self.batch >= 1 && self.fit_steps >= 1 && self.lr > 0.0,
            "Sbtm: batch, fit_steps and lr must be positive"
        );
        Ok(Box::new(Sbtm {
            cfg: self.clone(),
            target: target.clone(),
            trace: None,
            report: Vec::new(),
        }))
    }
}

/// The SBTM sampler.
pub struct Sbtm {
    cfg: SbtmConfig,
    target: CountedTarget,
    trace: Option<Trace>,
    report: Vec<(String, f64)>,
}

/// Row `i` of the particles as mini-batch tensors, in the order of `idx`.
fn batch_tensor(x: &[f32], dim: usize, idx: &[usize], dev: &Device) -> anyhow::Result<Tensor> {
    let mut b = Vec::with_capacity(idx.len() * dim);
    for &i in idx {
        b.extend_from_slice(&x[i * dim..(i + 1) * dim]);
    }
    Ok(Tensor::from_vec(b, (idx.len(), dim), dev)?)
}

impl Sbtm {
    /// Explicit score matching on the prior's exact score at the initial particles.
    fn pretrain(
        &self,
        net: &ScoreNet,
        vm: &VarMap,
        x: &[f32],
        prior: &Prior,
        streams: &RngStreams,
    ) -> anyhow::Result<(usize, f64)> {
        let dim = self.target.dim();
        let n = x.len() / dim;
        let mut target = vec![0f32; x.len()];
        prior.score(x, &mut target);
        let mut opt = nsamp_core::train::adam(vm, self.cfg.lr)?;
        let mut rng = streams.stream("sbtm-pretrain", 0);
        let mut idx: Vec<usize> = (0..n).collect();
        let mut loss = f64::INFINITY;
        for step in 0..self.cfg.pretrain_max_steps {
            // A fresh random mini-batch: O(batch) per step, not a shuffle of all n particles.
            let (b, _) = idx.partial_shuffle(&mut rng, self.cfg.batch.min(n));
            let xb = batch_tensor(x, dim, b, &Device::Cpu)?;
            let tb = batch_tensor(&target, dim, b, &Device::Cpu)?;
            let l = net.explicit_sm_loss(&xb, &tb)?;
            loss = l.to_dtype(DType::F64)?.to_scalar::<f64>()?;
            if loss < self.cfg.pretrain_tol {
                return Ok((step, loss));
            }
            opt.backward_step(&l)?;
        }
        Ok((self.cfg.pretrain_max_steps, loss))
    }

    /// Whole epochs of implicit score matching until at least `fit_steps` steps; the mean loss.
    fn fit(
        &self,
        net: &ScoreNet,
        opt: &mut AdamW,
        x: &[f32],
        k: usize,
        streams: &RngStreams,
    ) -> anyhow::Result<f64> {
        let dim = self.target.dim();
        let n = x.len() / dim;
        let per_epoch = n.div_ceil(self.cfg.batch);
        let epochs = self.cfg.fit_steps.div_ceil(per_epoch);
        let mut rng = streams.stream("sbtm-fit", k as u64);
        let mut idx: Vec<usize> = (0..n).collect();
        let (mut sum, mut count) = (0f64, 0usize);
        for _ in 0..epochs {
            idx.shuffle(&mut rng);
            for b in idx.chunks(self.cfg.batch) {
                let xb = batch_tensor(x, dim, b, &Device::Cpu)?;
                let l = net.implicit_sm_loss(&xb)?;
                sum += l.to_dtype(DType::F64)?.to_scalar::<f64>()?;
                count += 1;
                opt.backward_step(&l)?;
            }
        }
        Ok(sum / count as f64)
    }
}

impl Sampler for Sbtm {
    fn sample(
        &mut self,
        n: usize,
        streams: &RngStreams,
        progress: Progress<'_>,
    ) -> anyhow::Result<Samples> {
        let c = &self.cfg;
        let dim = self.target.dim();
        let (mut x, mut dynamics) = c.start(&self.target, n, streams, &["ism_loss"])?;
        let vm = VarMap::new();
        let vb = seeded_var_builder(&vm, streams.derive("sbtm-net"), DType::F32, &Device::Cpu);
        let net = ScoreNet::new(dim, c.width, c.layers, vb)?;
        let (pre_steps, pre_loss) = self.pretrain(&net, &vm, &x, &dynamics.prior, streams)?;
        let params = ParamsAdamW {
            lr: c.lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 1e-4,
        };
        let mut opt = AdamW::new(vm.all_vars(), params)?;
        let mut g = vec![0f32; x.len()];
        for k in 0..c.steps {
            dynamics.track(&x);
            let loss = self.fit(&net, &mut opt, &x, k, streams)?;
            let s = score_rows(&net, &x, &Device::Cpu)?;
            if dynamics.records(k) {
                dynamics.record(k, &x, &s, &[loss])?;
            }
            dynamics.drift(k, &x, &mut g)?;
            let dt = dynamics.dt as f32;
            for ((xi, gi), si) in x.iter_mut().zip(&g).zip(&s) {
                *xi += dt * (gi - si);
            }
            anyhow::ensure!(
                x.iter().all(|v| v.is_finite()),
                "Sbtm: particles diverged at step {k}; lower dt"
            );
            progress(k as u64 + 1, c.steps as u64);
        }
        dynamics.track(&x);
        self.report = dynamics.final_figures();
        self.report
            .push(("pretrain_steps".into(), pre_steps as f64));
        self.report.push(("pretrain_loss".into(), pre_loss));
        self.trace = Some(dynamics.trace);
        Ok(Samples::new(x, dim))
    }

    fn report(&self) -> Vec<(String, f64)> {
        self.report.clone()
    }

    fn trace(&self) -> Option<Trace> {
        self.trace.clone()
    }
}
