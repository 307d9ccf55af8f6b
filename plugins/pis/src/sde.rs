//! The controlled SDE of PIS and its path weights (Zhang and Chen 2022, sections 2-3).
//!
//! dy = u(y, t) dt + sigma dW on [0, 1] from y_0 = 0, Euler-Maruyama with N steps, dt = 1/N,
//! t_k = k dt (k = 0..N-1, the DEM code's grid):
//!
//! y_{k+1} = y_k + u_k dt + sigma sqrt(dt) xi_k,  u_k = u(y_k, t_k),  xi_k ~ N(0, I).
//!
//! Without control (u = 0) the chain ends in y_1 ~ N(0, sigma^2 I) exactly (N steps of variance
//! sigma^2 dt): the reference law. The transition densities of the controlled chain Q and the
//! uncontrolled chain P differ by (Girsanov, here exact for the discrete chain):
//!
//! log P(y_{k+1} | y_k) - log Q(y_{k+1} | y_k)
//!   = [|y_{k+1} - y_k - u_k dt|^2 - |y_{k+1} - y_k|^2] / (2 sigma^2 dt)
//!   = -u_k . xi_k sqrt(dt) / sigma - |u_k|^2 dt / (2 sigma^2).
//!
//! The target path law P*(path) = P(path) p(y_1) / N(y_1; 0, sigma^2 I) has the target as its
//! terminal marginal, so the importance weight of a path drawn from Q is
//!
//! log w = log p~(y_1) - log N(y_1; 0, sigma^2 I) - sum_k [u_k . dW_k / sigma + |u_k|^2 dt / (2 sigma^2)]
//!
//! with dW_k = sqrt(dt) xi_k, and E_Q\[w\] = Z exactly (no discretisation bias in the weights).
//! The PIS loss (the paper's path-space KL; the DEM code's `get_loss` without its division by
//! d + 1) is E_Q\[-log w\] with the stochastic-integral term dropped (it has mean zero):
//!
//! L = E_Q\[ sum_k |u_k|^2 dt / (2 sigma^2) + log N(y_1; 0, sigma^2 I) - log p~(y_1) \]
//!   = KL(Q || P*) - log Z >= -log Z,
//!
//! with equality at the optimal control (up to the Euler discretisation of the control).

use nsamp_core::candle::{DType, Device, Tensor, D};
use nsamp_core::{ControlModel, CountedTarget};

/// The target as the SDE sees it, in sampler units y = x / s.
pub trait PathTarget {
    /// The target score grad_y log p~(y) at the rows `y` of step `step` into `score`.
    fn score(&mut self, step: usize, y: &[f32], score: &mut [f32]) -> anyhow::Result<()>;
    /// E(y) = -log p~(y) and grad_y E(y) at the terminal rows `y`.
    fn terminal(&mut self, y: &[f32], e: &mut [f32], grad: &mut [f32]) -> anyhow::Result<()>;
}

/// A counted target in sampler units y = x / s: E_y(y) = E(s y), grad_y E_y = s grad E(s y).
/// Every row is one energy-and-gradient evaluation of the counted target.
pub struct ScaledTarget<'a> {
    /// The counted target (data units).
    pub target: &'a CountedTarget,
    /// The length unit s.
    pub scale: f32,
    x: Vec<f32>,
    e: Vec<f32>,
}

impl<'a> ScaledTarget<'a> {
    /// The target in units of `scale`.
    pub fn new(target: &'a CountedTarget, scale: f32) -> Self {
        ScaledTarget {
            target,
            scale,
            x: Vec::new(),
            e: Vec::new(),
        }
    }
    fn eval(&mut self, y: &[f32], grad: &mut [f32]) -> anyhow::Result<()> {
        let n = y.len() / self.target.dim();
        self.x.clear();
        self.x.extend(y.iter().map(|v| v * self.scale));
        self.e.resize(n, 0.0);
        self.target.energy_and_grad(&self.x, &mut self.e, grad)?;
        grad.iter_mut().for_each(|g| *g *= self.scale);
        Ok(())
    }
}

impl PathTarget for ScaledTarget<'_> {
    fn score(&mut self, _step: usize, y: &[f32], score: &mut [f32]) -> anyhow::Result<()> {
        self.eval(y, score)?;
        score.iter_mut().for_each(|g| *g = -*g);
        Ok(())
    }
    fn terminal(&mut self, y: &[f32], e: &mut [f32], grad: &mut [f32]) -> anyhow::Result<()> {
        self.eval(y, grad)?;
        e.copy_from_slice(&self.e);
        Ok(())
    }
}

/// The controlled SDE's settings.
#[derive(Debug, Clone, Copy)]
pub struct ControlledSde {
    /// Diffusion coefficient sigma (DEM `pis_scale`).
    pub sigma: f64,
    /// Euler-Maruyama steps N on [0, 1].
    pub steps: usize,
}

/// Simulated paths.
pub struct Paths {
    /// Terminal states y_1 (sampler units), n x d.
    pub y1: Vec<f32>,
    /// Path log-weights log w (see the module docs).
    pub log_w: Vec<f64>,
    /// The per-path loss values sum_k |u_k|^2 dt / (2 sigma^2) + log N(y_1) + E(y_1).
    pub loss_rows: Vec<f64>,
    /// The mean loss as a scalar tensor whose gradient w.r.t. the control's parameters is the
    /// loss's (backpropagation through the trajectory; the target score detached; E(y_1) through
    /// the surrogate y_1 . grad E(y_1)); None unless simulated with `differentiable`.
    pub loss: Option<Tensor>,
}

impl Paths {
    /// The mean of the per-path losses.
    pub fn loss_value(&self) -> f64 {
        self.loss_rows.iter().sum::<f64>() / self.loss_rows.len().max(1) as f64
    }
}

fn values(t: &Tensor) -> nsamp_core::candle::Result<Vec<f32>> {
    t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()
}

impl ControlledSde {
    /// Range checks.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.sigma.is_finite() && self.sigma > 0.0,
            "Pis: `sigma` must be positive and finite, got {}",
            self.sigma
        );
        anyhow::ensure!(
            (1..=1_000_000).contains(&self.steps),
            "Pis: `steps` must be between 1 and 1,000,000, got {}",
            self.steps
        );
        Ok(())
    }

    /// Simulates n paths of dimension d from y_0 = 0 with the drift `control`, standard normals
    /// from `noise` (called once per step with an n x d buffer), tensors in `dtype`.
    /// `differentiable`: keep the graph and return the loss tensor; otherwise every drift is
    /// detached (sampling: no graph grows over the steps).
    #[allow(clippy::too_many_arguments)]
    pub fn simulate(
        &self,
        control: &dyn ControlModel,
        target: &mut dyn PathTarget,
        noise: &mut dyn FnMut(&mut [f32]),
        n: usize,
        d: usize,
        dtype: DType,
        device: &Device,
        differentiable: bool,
    ) -> anyhow::Result<Paths> {
        self.validate()?;
        anyhow::ensure!(n > 0 && d > 0, "PIS: empty batch");
        let (sigma, dt) = (self.sigma, 1.0 / self.steps as f64);
        let sq = dt.sqrt();
        let mut y = Tensor::zeros((n, d), dtype, device)?;
        let mut y_vals = vec![0f32; n * d];
        let mut score = vec![0f32; n * d];
        let mut xi = vec![0f32; n * d];
        let mut quad: Option<Tensor> = None;
        // Stochastic-integral term sum_k u_k . xi_k sqrt(dt) / sigma, per row (values only).
        let mut uw = vec![0f64; n];
        let mut quad_vals = vec![0f64; n];
        for k in 0..self.steps {
            let t = Tensor::full(k as f64 * dt, n, device)?.to_dtype(dtype)?;
            target.score(k, &y_vals, &mut score)?;
            let s = Tensor::from_slice(&score, (n, d), device)?.to_dtype(dtype)?;
            let mut u = control.drift(&t, &y, &s)?;
            if !differentiable {
                u = u.detach();
            }
            noise(&mut xi);
            let u_vals = values(&u)?;
            for (i, (ur, xr)) in u_vals.chunks_exact(d).zip(xi.chunks_exact(d)).enumerate() {
                let (mut dot, mut sq_norm) = (0f64, 0f64);
                for (a, b) in ur.iter().zip(xr) {
                    dot += *a as f64 * *b as f64;
                    sq_norm += *a as f64 * *a as f64;
                }
                anyhow::ensure!(
                    sq_norm.is_finite(),
                    "PIS: the drift is not finite at step {k} (row {i})"
                );
                uw[i] += dot * sq / sigma;
                quad_vals[i] += sq_norm * dt / (2.0 * sigma * sigma);
            }
            let z = Tensor::from_slice(&xi, (n, d), device)?.to_dtype(dtype)?;
            if differentiable {
                let q = (u.sqr()?.sum(D::Minus1)? * (dt / (2.0 * sigma * sigma)))?;
                quad = Some(match quad.take() {
                    Some(a) => (a + q)?,
                    None => q,
                });
            }
            y = ((y + (u * dt)?)? + (z * (sigma * sq))?)?;
            y_vals = values(&y)?;
        }
        // Terminal terms: log N(y_1; 0, sigma^2 I) and E(y_1).
        let mut e = vec![0f32; n];
        let mut g = vec![0f32; n * d];
        target.terminal(&y_vals, &mut e, &mut g)?;
        let log_norm_const = -0.5 * d as f64 * (2.0 * std::f64::consts::PI * sigma * sigma).ln();
        let mut log_w = vec![0f64; n];
        let mut loss_rows = vec![0f64; n];
        let mut surrogate_shift = vec![0f32; n];
        for i in 0..n {
            let row = &y_vals[i * d..(i + 1) * d];
            let grow = &g[i * d..(i + 1) * d];
            let r2: f64 = row.iter().map(|v| *v as f64 * *v as f64).sum();
            let log_ref = -r2 / (2.0 * sigma * sigma) + log_norm_const;
            let ei = e[i] as f64;
            log_w[i] = -ei - log_ref - uw[i] - quad_vals[i];
            loss_rows[i] = quad_vals[i] + log_ref + ei;
            let yg: f64 = row
                .iter()
                .zip(grow)
                .map(|(a, b)| *a as f64 * *b as f64)
                .sum();
            surrogate_shift[i] = (ei - yg) as f32;
        }
        let loss = if differentiable {
            let gt = Tensor::from_slice(&g, (n, d), device)?.to_dtype(dtype)?;
            let shift = Tensor::from_slice(&surrogate_shift, n, device)?.to_dtype(dtype)?;
            // E(y_1) with gradient grad E(y_1) . dy_1: y_1 . g + (E - y_1 . g) (constants detached).
            let e_term = ((&y * gt)?.sum(D::Minus1)? + shift)?;
            let log_ref =
                ((y.sqr()?.sum(D::Minus1)? * (-0.5 / (sigma * sigma)))? + log_norm_const)?;
            let rows = ((quad.expect("at least one step") + log_ref)? + e_term)?;
            Some(rows.mean_all()?)
        } else {
            None
        };
        Ok(Paths {
            y1: y_vals,
            log_w,
            loss_rows,
            loss,
        })
    }
}
