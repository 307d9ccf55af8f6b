//! The AIS path of FAB between the flow q and g = p^alpha q^(1 - alpha) (training, alpha = 2) or
//! p (evaluation, alpha = 1), as core's [`AnnealEnds`]:
//!
//! log pi_0 = log q(x),  log pi_1 = alpha log p~(x) + (1 - alpha) log q(x),  log p~ = -E,
//!
//! so that core's geometric path (1 - beta) log pi_0 + beta log pi_1 is fab-torch's
//! `get_intermediate_log_prob`, ((1 - beta) + beta (1 - alpha)) log q + beta alpha log p, and its
//! gradient carries alpha beta grad log p (fab-torch's `get_grad_intermediate_log_prob`
//! hard-codes 2 beta; paper Eq. 8 and DESIGN.md "Baselines").
//!
//! log q and grad log q come from the flow's tensors (detached: copied out as numbers), log p~ and
//! its gradient from the counted target (every row counted as one energy evaluation).
//!
//! Particle targets (DW-4, LJ-13) are translation invariant, so p~ is not normalisable over the
//! full n x d space in which nsamp's RealNvp lives, and g = p^2 / q would grow without bound along
//! the centre of mass c = (1/n) sum_i x_i. FAB here targets the proper density
//! p~(x) exp(-(n/2) |c|^2) instead (as if every coordinate had a unit tether, whose
//! relative part is dropped): its law of the relative coordinates is the target's, its c is
//! N(0, I/n) (that of a standard-normal configuration), and evaluation compares samples centre-of-mass
//! free. Its gradient adds c to every particle's grad E. The AIS noise is then flat (full space:
//! the flow's score is not centre-of-mass free, so centre-of-mass-free momenta would not leave the
//! path invariant).

use nsamp_core::candle::{Device, Tensor};
use nsamp_core::mcmc::ais::AnnealEnds;
use nsamp_core::{CountedTarget, FlowModel, Particles};
use std::cell::RefCell;

/// FAB's annealing ends over a flow and a counted target.
pub struct FlowEnds<'a> {
    /// The flow q.
    pub flow: &'a dyn FlowModel,
    /// The target p~ = exp(-E).
    pub target: &'a CountedTarget,
    /// Device of the flow's tensors.
    pub device: &'a Device,
    /// alpha of the end g = p^alpha q^(1 - alpha) (1: the end is p).
    pub alpha: f64,
    /// Element-wise clip of both ends' gradients (fab-torch's HMC clips its gradient at 1e3);
    /// None: no clip. A clipped force keeps leapfrog reversible and volume-preserving, so
    /// the Metropolis correction stays exact.
    pub max_grad: Option<f64>,
    /// Particle layout of a translation-invariant target: p~ gets the factor exp(-(n/2) |c|^2).
    pub com: Option<Particles>,
    /// log p~(x) - log q(x) at the rows of the first `eval` call (the AIS start x_0 ~ q): the
    /// flow's own importance weights, for its ESS.
    pub first: RefCell<Option<Vec<f64>>>,
}

impl<'a> FlowEnds<'a> {
    /// Ends towards p^alpha q^(1 - alpha).
    pub fn new(
        flow: &'a dyn FlowModel,
        target: &'a CountedTarget,
        device: &'a Device,
        alpha: f64,
        max_grad: Option<f64>,
    ) -> Self {
        FlowEnds {
            flow,
            target,
            device,
            alpha,
            max_grad,
            com: target.inner().particles(),
            first: RefCell::new(None),
        }
    }

    /// log q(x) (n) and, if asked, grad_x log q(x) (n x d), as numbers.
    pub fn flow_log_q(&self, x: &[f32], grad: bool) -> anyhow::Result<(Vec<f32>, Vec<f32>)> {
        let d = self.target.dim();
        let xt = Tensor::from_slice(x, (x.len() / d, d), self.device)?;
        let lq = self.flow.log_prob(&xt)?.to_vec1::<f32>()?;
        let g = if grad {
            self.flow.score(&xt)?.flatten_all()?.to_vec1::<f32>()?
        } else {
            Vec::new()
        };
        Ok((lq, g))
    }
}

impl FlowEnds<'_> {
    /// For particle targets: E += (n/2) |c|^2 and grad_i E += c, c the centre of mass.
    fn add_com(&self, x: &[f32], e: &mut [f32], mut g: Option<&mut [f32]>) {
        let Some(p) = self.com else { return };
        let (d, sd) = (p.n * p.spatial_dim, p.spatial_dim);
        let mut c = vec![0f64; sd];
        for (r, er) in e.iter_mut().enumerate() {
            let row = &x[r * d..(r + 1) * d];
            c.iter_mut().for_each(|v| *v = 0.0);
            for (k, &v) in row.iter().enumerate() {
                c[k % sd] += v as f64 / p.n as f64;
            }
            *er += (0.5 * p.n as f64 * c.iter().map(|v| v * v).sum::<f64>()) as f32;
            if let Some(g) = g.as_deref_mut() {
                for (k, gk) in g[r * d..(r + 1) * d].iter_mut().enumerate() {
                    *gk += c[k % sd] as f32;
                }
            }
        }
    }
}

impl AnnealEnds for FlowEnds<'_> {
    fn dim(&self) -> usize {
        self.target.dim()
    }
    fn eval(
        &self,
        x: &[f32],
        log0: &mut [f64],
        log1: &mut [f64],
        grads: Option<(&mut [f32], &mut [f32])>,
    ) -> anyhow::Result<()> {
        let n = log0.len();
        let (a, b) = (self.alpha, 1.0 - self.alpha);
        let (lq, sq) = self.flow_log_q(x, grads.is_some())?;
        let mut e = vec![0f32; n];
        match grads {
            None => {
                self.target.energy(x, &mut e)?;
                self.add_com(x, &mut e, None);
            }
            Some((g0, g1)) => {
                self.target.energy_and_grad(x, &mut e, g1)?;
                self.add_com(x, &mut e, Some(g1));
                let clip = self.max_grad.unwrap_or(f64::INFINITY) as f32;
                for ((g0, g1), &s) in g0.iter_mut().zip(g1.iter_mut()).zip(&sq) {
                    // g1 holds grad E: grad log pi_1 = -alpha grad E + (1 - alpha) grad log q.
                    *g0 = s.clamp(-clip, clip);
                    *g1 = ((-a * *g1 as f64 + b * s as f64) as f32).clamp(-clip, clip);
                }
            }
        }
        for i in 0..n {
            let (q, p) = (lq[i] as f64, -(e[i] as f64));
            log0[i] = q;
            log1[i] = a * p + b * q;
        }
        let mut first = self.first.borrow_mut();
        if first.is_none() {
            *first = Some((0..n).map(|i| -(e[i] as f64) - lq[i] as f64).collect());
        }
        Ok(())
    }
}
