//! The buffer-induced proposal density and the self-normalised importance weights of IW-SM.

use nsamp_core::numerics::fast_exp::exp_f32;
use nsamp_core::rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Over which set the importance weights are normalised.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub enum Normalisation {
    /// Softmax over the J copies of each buffer sample (eq. 12); each group sums to 1.
    #[default]
    PerSample,
    /// Softmax over all B J points, times B (so the weights sum to B as in `PerSample`).
    WholeBatch,
}

/// log q_hat(x^{ij}) = LSE_m(-|x^{ij} - x_0^m|^2 / (2 h_i)) - log B - (d/2) log(2 pi h_i) (eq. 10):
/// the mixture of the B Gaussians N(x_0^m, h_i I) that the mini-batch induces at time t_i.
/// `xt` holds B J rows (copy j of row i at i J + j), `x0` B rows, `h` B variances.
pub fn log_q_hat(xt: &[f32], x0: &[f32], h: &[f32], copies: usize, d_eff: usize) -> Vec<f32> {
    let b = h.len();
    let dim = x0.len() / b;
    let log_b = (b as f32).ln();
    let mut out = vec![0f32; b * copies];
    out.par_chunks_mut(copies)
        .zip(xt.par_chunks(copies * dim))
        .zip(h.par_iter())
        .for_each_init(
            || vec![0f32; b],
            |a, ((out, rows), &hi)| {
                let inv = -0.5 / hi;
                let norm = 0.5 * d_eff as f32 * (2.0 * std::f32::consts::PI * hi).ln();
                for (o, x) in out.iter_mut().zip(rows.chunks_exact(dim)) {
                    let mut m = f32::NEG_INFINITY;
                    for (am, x0m) in a.iter_mut().zip(x0.chunks_exact(dim)) {
                        let mut s = 0f32;
                        for k in 0..dim {
                            let d = x[k] - x0m[k];
                            s += d * d;
                        }
                        *am = s * inv;
                        m = if *am > m { *am } else { m };
                    }
                    let sum: f64 = a.iter().map(|&v| exp_f32(v - m) as f64).sum();
                    *o = m + sum.ln() as f32 - log_b - norm;
                }
            },
        );
    out
}

/// Summary of the weights of one step.
#[derive(Debug, Clone, Copy)]
pub struct SnisSummary {
    /// Effective sample size of each group's weights as a fraction of J, averaged over groups:
    /// (sum_j w)^2 / (J sum_j w^2).
    pub mean_ess: f64,
    /// The largest normalised weight (of a group, for `PerSample`; of the batch / B otherwise).
    pub max_weight: f64,
}

impl SnisSummary {
    /// The summary of uniform weights.
    pub fn uniform(j: usize) -> Self {
        SnisSummary {
            mean_ess: 1.0,
            max_weight: 1.0 / j as f64,
        }
    }
}

/// Self-normalised weights from log weights (B J, copy j of group i at i J + j), in log space.
pub fn snis_weights(log_w: &[f32], copies: usize, norm: Normalisation) -> (Vec<f32>, SnisSummary) {
    let groups = log_w.len() / copies;
    let mut w = vec![0f32; log_w.len()];
    match norm {
        Normalisation::PerSample => {
            for (wg, lg) in w.chunks_exact_mut(copies).zip(log_w.chunks_exact(copies)) {
                softmax_into(lg, wg, 1.0);
            }
        }
        Normalisation::WholeBatch => softmax_into(log_w, &mut w, groups as f64),
    }
    let mut ess = 0f64;
    let mut max_w = 0f64;
    for wg in w.chunks_exact(copies) {
        let s: f64 = wg.iter().map(|&v| v as f64).sum();
        let s2: f64 = wg.iter().map(|&v| (v as f64).powi(2)).sum();
        ess += if s2 > 0.0 {
            s * s / (copies as f64 * s2)
        } else {
            0.0
        };
        max_w = max_w.max(wg.iter().copied().fold(0f32, f32::max) as f64);
    }
    let max_weight = match norm {
        Normalisation::PerSample => max_w,
        Normalisation::WholeBatch => max_w / groups as f64,
    };
    (
        w,
        SnisSummary {
            mean_ess: ess / groups as f64,
            max_weight,
        },
    )
}

/// out = total * softmax(v), in f64, non-finite log weights get weight 0.
fn softmax_into(v: &[f32], out: &mut [f32], total: f64) {
    let m = v
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .fold(f32::NEG_INFINITY, f32::max);
    if m == f32::NEG_INFINITY {
        out.iter_mut()
            .for_each(|o| *o = (total / v.len() as f64) as f32);
        return;
    }
    let e: Vec<f64> = v
        .iter()
        .map(|&x| {
            if x.is_finite() {
                ((x - m) as f64).exp()
            } else {
                0.0
            }
        })
        .collect();
    let s: f64 = e.iter().sum();
    for (o, x) in out.iter_mut().zip(e) {
        *o = (total * x / s) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_q_hat_of_a_single_point_is_the_gaussian_density() {
        // B = 1: q_hat = N(x; x_0, h I) exactly.
        let x0 = [1.0f32, -1.0];
        let h = [0.25f32];
        let xt = [1.5f32, -0.5, 1.0, -1.0];
        let q = log_q_hat(&xt, &x0, &h, 2, 2);
        let want = |r2: f32| -r2 / (2.0 * 0.25) - (2.0 * std::f32::consts::PI * 0.25).ln();
        assert!((q[0] - want(0.5)).abs() < 1e-5);
        assert!((q[1] - want(0.0)).abs() < 1e-5);
    }

    #[test]
    fn weights_normalise_and_survive_hundreds_of_nats() {
        let lw = [-800.0f32, 0.0, -1.0, 500.0, 400.0, f32::NEG_INFINITY];
        let (w, s) = snis_weights(&lw, 3, Normalisation::PerSample);
        assert!(w.iter().all(|v| v.is_finite()));
        assert!((w[0] + w[1] + w[2] - 1.0).abs() < 1e-6);
        assert!((w[3] - 1.0).abs() < 1e-6 && w[4] < 1e-30 && w[5] == 0.0);
        assert!(s.mean_ess > 0.33 && s.mean_ess < 1.0);
        let (w, _) = snis_weights(&lw, 3, Normalisation::WholeBatch);
        assert!((w.iter().sum::<f32>() - 2.0).abs() < 1e-5);
        let (w, s) = snis_weights(&[3.0f32, -7.0], 1, Normalisation::PerSample);
        assert_eq!(w, vec![1.0, 1.0]);
        assert_eq!(s.mean_ess, 1.0);
    }
}
