//! The auxiliary score network s_phi(x_t, t) ~ grad log q_t(x_t) that DiKL's objective owns: its
//! own parameters (a `VarMap` apart from the generator's), its own Adam ([`Trainer`]), trained by
//! denoising score matching on detached generator samples (DiKL `loss.py`, `dsm_loss`):
//!
//! L_DSM(phi) = mean_b |eps_b + sigma_{t_b} s_phi(a_{t_b} x_b + sigma_{t_b} eps_b, t_b)|^2,
//!
//! t_b ~ U{1..T-1}, eps_b ~ N(0, I) (centre-of-mass free for particles), |.|^2 summed over
//! coordinates. Its minimiser is s_phi = grad log q_t (Vincent 2011).
//!
//! Checkpoints: the parameters go into the objective's state as `score_net/<name>`, Adam's moments
//! as `score_adam.m/<name>` and `score_adam.v/<name>`, its step count as counter `score_adam.steps`.

use crate::schedule::VpSchedule;
use nsamp_core::candle::{DType, Device, Tensor, D};
use nsamp_core::candle_nn::VarMap;
use nsamp_core::numerics::rng::RngStreams;
use nsamp_core::params::seeded_var_builder;
use nsamp_core::registry::{families, Spec};
use nsamp_core::train::{Moments, Trainer};
use nsamp_core::{Model, ModelShape, ObjectiveState, ScoreModel};

/// The network, its parameters and its optimiser.
pub struct AuxScore {
    varmap: VarMap,
    model: Box<dyn Model>,
    trainer: Trainer,
    /// The network sees t * `time_scale` (1: the integer step, as the official MLP).
    time_scale: f64,
}

impl AuxScore {
    /// Builds the network of `spec` with seeded initial weights (streams derived for
    /// "dikl-score-net") and Adam with learning rate `lr`, optional gradient clip.
    pub fn new(
        spec: &Spec<families::Model>,
        shape: &ModelShape,
        streams: &RngStreams,
        device: &Device,
        lr: f64,
        clip: Option<f64>,
        time_scale: f64,
    ) -> anyhow::Result<Self> {
        let varmap = VarMap::new();
        let vb = seeded_var_builder(
            &varmap,
            streams.derive("dikl-score-net"),
            DType::F32,
            device,
        );
        let model = spec
            .config
            .build(shape, vb)
            .map_err(|e| anyhow::anyhow!("DiKL score_net `{}`: {e}", spec.name))?;
        anyhow::ensure!(
            model.as_score().is_some(),
            "DiKL score_net: `{}` is not a score network (use DiklScoreMlp(...) or Egnn(...))",
            spec.name
        );
        let trainer = Trainer::new(&varmap, lr, clip)?;
        Ok(AuxScore {
            varmap,
            model,
            trainer,
            time_scale,
        })
    }

    /// The network as a score model.
    pub fn score_model(&self) -> &dyn ScoreModel {
        self.model.as_score().expect("checked at construction")
    }

    /// s_phi(x_t, t) for integer steps `t` (rows of `xt`, a (n, d) tensor).
    pub fn score(&self, t: &[usize], xt: &Tensor) -> anyhow::Result<Tensor> {
        let tt: Vec<f32> = t
            .iter()
            .map(|&v| (v as f64 * self.time_scale) as f32)
            .collect();
        let tt = Tensor::from_vec(tt, t.len(), xt.device())?;
        Ok(self.score_model().score(&tt, xt)?)
    }

    /// The DSM loss tensor for clean rows `x0` (n x d), steps `t` and noise `eps` (n x d).
    pub fn dsm_loss(
        &self,
        sched: &VpSchedule,
        x0: &[f32],
        t: &[usize],
        eps: &[f32],
        device: &Device,
    ) -> anyhow::Result<Tensor> {
        let n = t.len();
        let d = x0.len() / n;
        let mut xt = vec![0f32; n * d];
        let mut sig = vec![0f32; n];
        for b in 0..n {
            let (a, s) = (sched.a[t[b]], sched.sigma[t[b]]);
            sig[b] = s as f32;
            for k in b * d..(b + 1) * d {
                xt[k] = (a * x0[k] as f64 + s * eps[k] as f64) as f32;
            }
        }
        let xt = Tensor::from_vec(xt, (n, d), device)?;
        let eps = Tensor::from_slice(eps, (n, d), device)?;
        let sig = Tensor::from_vec(sig, (n, 1), device)?;
        let s = self.score(t, &xt)?;
        Ok((eps + s.broadcast_mul(&sig)?)?
            .sqr()?
            .sum(D::Minus1)?
            .mean_all()?)
    }

    /// One Adam step on the DSM loss; returns the loss value.
    pub fn dsm_step(
        &mut self,
        sched: &VpSchedule,
        x0: &[f32],
        t: &[usize],
        eps: &[f32],
        device: &Device,
    ) -> anyhow::Result<f64> {
        let loss = self.dsm_loss(sched, x0, t, eps, device)?;
        let v = loss.to_scalar::<f32>()? as f64;
        anyhow::ensure!(
            v.is_finite(),
            "DiKL: the score network's DSM loss is not finite ({v}); lower score_lr"
        );
        self.trainer.step(&loss)?;
        Ok(v)
    }

    /// Number of parameters.
    pub fn parameters(&self) -> usize {
        nsamp_core::params::count_parameters(&self.varmap)
    }

    /// Writes the parameters, Adam's moments and step count into `st`.
    pub fn save(&self, st: &mut ObjectiveState) -> anyhow::Result<()> {
        let data = self
            .varmap
            .data()
            .lock()
            .map_err(|_| anyhow::anyhow!("score network parameters poisoned"))?;
        for (name, var) in data.iter() {
            st.arrays.insert(
                format!("score_net/{name}"),
                var.as_tensor().flatten_all()?.to_vec1::<f32>()?,
            );
        }
        let opt = self.trainer.optimizer();
        for (name, m, v) in opt.moments() {
            st.arrays.insert(
                format!("score_adam.m/{name}"),
                m.flatten_all()?.to_vec1::<f32>()?,
            );
            st.arrays.insert(
                format!("score_adam.v/{name}"),
                v.flatten_all()?.to_vec1::<f32>()?,
            );
        }
        st.counters.insert("score_adam.steps".into(), opt.steps());
        Ok(())
    }

    /// Restores what [`Self::save`] wrote (shapes checked against the network).
    pub fn restore(&mut self, st: &mut ObjectiveState) -> anyhow::Result<()> {
        let mut moments = Moments::new();
        {
            let data = self
                .varmap
                .data()
                .lock()
                .map_err(|_| anyhow::anyhow!("score network parameters poisoned"))?;
            for (name, var) in data.iter() {
                let shape = var.as_tensor().shape().clone();
                let dev = var.as_tensor().device().clone();
                let get = |st: &mut ObjectiveState, key: String| -> anyhow::Result<Tensor> {
                    let v = st.take_array(&key)?;
                    anyhow::ensure!(
                        v.len() == shape.elem_count(),
                        "checkpoint array `{key}` has {} values, the score network needs {}",
                        v.len(),
                        shape.elem_count()
                    );
                    Ok(Tensor::from_vec(v, shape.clone(), &dev)?)
                };
                let p = get(st, format!("score_net/{name}"))?;
                var.set(&p)?;
                let m = get(st, format!("score_adam.m/{name}"))?;
                let v = get(st, format!("score_adam.v/{name}"))?;
                moments.insert(name.clone(), (m, v));
            }
        }
        let steps = st.counter("score_adam.steps")?;
        self.trainer.optimizer_mut().restore(steps, &moments)?;
        Ok(())
    }
}
