//! The diffused target's score from posterior samples (DiKL Section 3.2; `loss.py`,
//! `grad_estimator: 'msm'` / `'tsm'`).
//!
//! With x_t = a x_0 + sigma eps, a^2 + sigma^2 = 1, x_0 ~ pi, the diffused density is
//! p_t(x_t) = int pi(x_0) N(x_t; a x_0, sigma^2 I) dx_0, and two identities hold with expectations
//! over the posterior p(x_0 | x_t) propto pi(x_0) N(x_t; a x_0, sigma^2 I):
//!
//! - Tweedie (differentiate the Gaussian): grad log p_t(x_t) = E[(a x_0 - x_t)] / sigma^2;
//! - target score identity (substitute u = x_t - a x_0, so p_t(x_t) = a^-d int pi((x_t - u) / a)
//!   N(u; 0, sigma^2 I) du, and differentiate pi): grad log p_t(x_t) = E[grad log pi(x_0)] / a.
//!
//! Any convex combination of the two is again exact; DiKL's mixed score identity weighs Tweedie
//! by sigma^2 and the target score identity by 1 - sigma^2 = a^2:
//!
//! grad log p_t(x_t) = sigma^2 E[a x_0 - x_t] / sigma^2 + a^2 E[grad log pi(x_0)] / a
//!                   = a (E[x_0] + E[grad log pi(x_0)]) - x_t,
//!
//! which is the official `target_score = a * (x_0 + _target_score) - x_t` (its `_target_score`
//! is -grad E = grad log pi). Its variance stays bounded as sigma -> 0 (Tweedie's 1 / sigma^2
//! blows up) and as a -> 0 (the target score identity's 1 / a does).

use serde::{Deserialize, Serialize};

/// Which posterior identity estimates grad log p_t (the official `grad_estimator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScoreIdentity {
    /// The mixed score identity a (x_0 + grad log pi(x_0)) - x_t (`msm`, DiKL's choice).
    Mixed,
    /// The target score identity grad log pi(x_0) / a (`tsm`).
    TargetScore,
}

impl ScoreIdentity {
    /// The estimate for one row from posterior averages: `x0` = mean x_0, `g` = mean
    /// grad log pi(x_0), at `xt` with coefficient `a`; written into `out`.
    pub fn estimate(&self, a: f64, xt: &[f32], x0: &[f32], g: &[f32], out: &mut [f32]) {
        for (k, o) in out.iter_mut().enumerate() {
            *o = match self {
                ScoreIdentity::Mixed => (a * (x0[k] as f64 + g[k] as f64) - xt[k] as f64) as f32,
                ScoreIdentity::TargetScore => (g[k] as f64 / a) as f32,
            };
        }
    }
}
