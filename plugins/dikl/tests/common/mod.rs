//! A small diagonal Gaussian mixture target with its closed-form diffused score and exact
//! posterior, for the DiKL tests (the crate depends on no other plugin).

#![allow(dead_code)]

use nsamp_core::numerics::rng::Rng;
use nsamp_core::rand::Rng as _;
use nsamp_core::rand_distr::{Distribution, StandardNormal};
use nsamp_core::Target;

/// p(x) = sum_k w_k N(x; mu_k, diag s_k^2), E = -log p.
#[derive(Clone)]
pub struct Mix {
    pub means: Vec<Vec<f64>>,
    pub stds: Vec<Vec<f64>>,
    pub weights: Vec<f64>,
}

fn log_normal_diag(x: &[f64], m: &[f64], var: &[f64]) -> f64 {
    let mut l = 0.0;
    for k in 0..x.len() {
        l -=
            0.5 * (x[k] - m[k]).powi(2) / var[k] + 0.5 * (2.0 * std::f64::consts::PI * var[k]).ln();
    }
    l
}

fn lse(v: &[f64]) -> f64 {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    m + v.iter().map(|a| (a - m).exp()).sum::<f64>().ln()
}

impl Mix {
    pub fn dim(&self) -> usize {
        self.means[0].len()
    }

    /// log p and grad log p at x for the mixture with means c * mu_k and variances
    /// c^2 s_k^2 + v (the diffused density p_t: c = a, v = sigma^2; the target: c = 1, v = 0).
    pub fn log_and_score(&self, x: &[f64], c: f64, v: f64) -> (f64, Vec<f64>) {
        let d = self.dim();
        let comps: Vec<(Vec<f64>, Vec<f64>)> = (0..self.weights.len())
            .map(|k| {
                let m: Vec<f64> = self.means[k].iter().map(|u| c * u).collect();
                let var: Vec<f64> = self.stds[k].iter().map(|s| c * c * s * s + v).collect();
                (m, var)
            })
            .collect();
        let logs: Vec<f64> = comps
            .iter()
            .zip(&self.weights)
            .map(|((m, var), w)| w.ln() + log_normal_diag(x, m, var))
            .collect();
        let l = lse(&logs);
        let mut g = vec![0.0; d];
        for ((m, var), lk) in comps.iter().zip(&logs) {
            let r = (lk - l).exp();
            for j in 0..d {
                g[j] -= r * (x[j] - m[j]) / var[j];
            }
        }
        (l, g)
    }

    /// n exact draws of p(x_0 | x_t) propto p(x_0) N(x_t; a x_0, sigma^2 I): a mixture with
    /// weights propto w_k N(x_t; a mu_k, a^2 S_k + sigma^2 I), components
    /// N(V_k (S_k^-1 mu_k + a x_t / sigma^2), V_k), V_k = (S_k^-1 + a^2 / sigma^2)^-1.
    pub fn posterior_draws(
        &self,
        xt: &[f64],
        a: f64,
        sigma: f64,
        n: usize,
        rng: &mut Rng,
    ) -> Vec<Vec<f64>> {
        let d = self.dim();
        let s2 = sigma * sigma;
        let logs: Vec<f64> = (0..self.weights.len())
            .map(|k| {
                let m: Vec<f64> = self.means[k].iter().map(|u| a * u).collect();
                let var: Vec<f64> = self.stds[k].iter().map(|s| a * a * s * s + s2).collect();
                self.weights[k].ln() + log_normal_diag(xt, &m, &var)
            })
            .collect();
        let l = lse(&logs);
        let probs: Vec<f64> = logs.iter().map(|v| (v - l).exp()).collect();
        (0..n)
            .map(|_| {
                let u: f64 = rng.random();
                let mut acc = 0.0;
                let mut k = probs.len() - 1;
                for (i, p) in probs.iter().enumerate() {
                    acc += p;
                    if u < acc {
                        k = i;
                        break;
                    }
                }
                (0..d)
                    .map(|j| {
                        let prec = 1.0 / self.stds[k][j].powi(2) + a * a / s2;
                        let var = 1.0 / prec;
                        let mean =
                            var * (self.means[k][j] / self.stds[k][j].powi(2) + a * xt[j] / s2);
                        let z: f64 = StandardNormal.sample(rng);
                        mean + var.sqrt() * z
                    })
                    .collect()
            })
            .collect()
    }
}

impl Target for Mix {
    fn dim(&self) -> usize {
        Mix::dim(self)
    }
    fn energy(&self, x: &[f32], e: &mut [f32]) -> anyhow::Result<()> {
        let mut g = vec![0f32; x.len()];
        self.energy_and_grad(x, e, &mut g)
    }
    fn energy_and_grad(&self, x: &[f32], e: &mut [f32], g: &mut [f32]) -> anyhow::Result<()> {
        let d = Mix::dim(self);
        for (i, row) in x.chunks_exact(d).enumerate() {
            let xr: Vec<f64> = row.iter().map(|&v| v as f64).collect();
            let (l, s) = self.log_and_score(&xr, 1.0, 0.0);
            e[i] = -l as f32;
            for j in 0..d {
                g[i * d + j] = -s[j] as f32;
            }
        }
        Ok(())
    }
}

/// Three well-separated unit-ish components in 2-D (a small GMM-40 in spirit).
pub fn three_modes() -> Mix {
    Mix {
        means: vec![vec![-5.0, 0.0], vec![5.0, 1.0], vec![0.0, 6.0]],
        stds: vec![vec![1.0, 1.0], vec![0.8, 1.3], vec![1.2, 0.9]],
        weights: vec![0.3, 0.5, 0.2],
    }
}
