//! The Monte Carlo target score (iDEM's estimator, IW-SM eq. 7).
//!
//! For x_t (sampler units) at time t, with K samples y_k = x_t + sqrt(h(t)) eps_k:
//!   w_k = softmax_k(-E(s y_k)),   S_K(x_t, t) = sum_k w_k (-s grad E(s y_k)),
//! where s is the sampler's length scale (samplers work in units of x / s, energies are in data
//! units, so the chain rule brings the factor s). Computed in log space, then clipped
//! ([`ScoreClip`]). The same K energies give the numerator of IW-SM's importance weight (eq. 9):
//!   log p_hat(x_t) = LSE_k(-E(s y_k)) - log K.
//! Rows are processed in parallel in fixed chunks, each with its own random stream, so results do
//! not depend on the thread count.
//!
//! Posterior-mean (Tweedie) form: since grad log p_t(x) = E[grad log p(y) | x] = (E[y | x] - x) / h,
//! the same K samples and weights also give
//!   S_K^tw(x_t, t) = sum_k w_k (y_k - x_t) / h(t)      (y_k in sampler units).
//! Both are self-normalised estimates of the same score; the gradient form's error stays large as
//! h grows (its terms are the target's score at samples far from the posterior's mass), the
//! posterior-mean form's shrinks as 1/h. On GMM-40 (normalised units, K = 500, points of p_t) the
//! clipped gradient form's RMS error is 19.7 at h = 1, 10.5 at h = 0.1 and 5.5 at h = 0.01 against
//! true scores of RMS 1.3, 2.9 and 8.6; the posterior-mean form's is 0.24, 0.66 and 1.5. They cross
//! near h = 1e-3, about the variance of a component (6.9e-4); below it the gradient form is better
//! and the posterior-mean form's 1/h diverges. [`McScore::tweedie_above`] selects the posterior-mean
//! form for rows with h above a threshold (None: the gradient form everywhere, DEM's estimator).

use super::fast_exp::exp_f32;
use super::pairwise::remove_mean;
use super::rng::{fill_normal, RngStreams};
use crate::target::{CountedTarget, Particles};
use rayon::prelude::*;

/// Rows per parallel chunk (and per random stream).
const CHUNK_ROWS: usize = 4;

/// How the estimated score is clipped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScoreClip {
    /// No clipping.
    None,
    /// Scale the whole vector down to norm <= max (GMMs: 70 in normalised units).
    Norm(f32),
    /// Scale each particle's vector down to norm <= max (particle systems: 20).
    PerParticle(Particles, f32),
}

impl ScoreClip {
    /// Applies the clip to one score vector in place.
    #[inline]
    pub fn apply(&self, s: &mut [f32]) {
        match *self {
            ScoreClip::None => {}
            ScoreClip::Norm(max) => clip_norm(s, max),
            ScoreClip::PerParticle(p, max) => {
                for part in s.chunks_exact_mut(p.spatial_dim) {
                    clip_norm(part, max)
                }
            }
        }
    }
}

#[inline]
fn clip_norm(v: &mut [f32], max: f32) {
    let n = v.iter().map(|a| a * a).sum::<f32>().sqrt();
    if n > max {
        let f = max / n;
        v.iter_mut().for_each(|a| *a *= f);
    }
}

/// The estimator's settings.
#[derive(Debug, Clone, Copy)]
pub struct McScore {
    /// K, the number of Monte Carlo samples per point.
    pub k: usize,
    /// Length scale s between sampler units and data units.
    pub scale: f32,
    /// Clipping of the result.
    pub clip: ScoreClip,
    /// Draw centre-of-mass-free noise for particle systems.
    pub com_free: Option<Particles>,
    /// Rows with h(t) above this variance (sampler units) use the posterior-mean form
    /// sum_k w_k (y_k - x) / h instead of the gradient form (module docs); None: the gradient form
    /// for every row (DEM's estimator, bit for bit).
    pub tweedie_above: Option<f32>,
}

struct Scratch {
    y: Vec<f32>,
    e: Vec<f32>,
    g: Vec<f32>,
    acc: Vec<f64>,
}

impl McScore {
    /// Estimates S_K for every row of `x` (n x dim, sampler units), with per-row variances `h`
    /// (h(t_i)). Writes the (clipped) scores to `score` and log p_hat to `log_p_hat`.
    /// `call` distinguishes independent calls (e.g. the training step) in the random streams.
    #[allow(clippy::too_many_arguments)]
    pub fn estimate(
        &self,
        target: &CountedTarget,
        x: &[f32],
        h: &[f32],
        streams: &RngStreams,
        call: u64,
        score: &mut [f32],
        log_p_hat: &mut [f32],
    ) -> anyhow::Result<()> {
        let dim = target.dim();
        let n = h.len();
        assert_eq!(x.len(), n * dim);
        assert_eq!(score.len(), n * dim);
        assert_eq!(log_p_hat.len(), n);
        let k = self.k;
        let ln_k = (k as f32).ln();
        x.par_chunks(CHUNK_ROWS * dim)
            .zip(h.par_chunks(CHUNK_ROWS))
            .zip(score.par_chunks_mut(CHUNK_ROWS * dim))
            .zip(log_p_hat.par_chunks_mut(CHUNK_ROWS))
            .enumerate()
            .try_for_each_init(
                || Scratch {
                    y: vec![0.0; k * dim],
                    e: vec![0.0; k],
                    g: vec![0.0; k * dim],
                    acc: vec![0.0; dim],
                },
                |sc, (chunk, (((xc, hc), sc_out), lp_out))| {
                    let mut rng = streams.stream("mc-score", (call << 24) | chunk as u64);
                    for (r, &hr) in hc.iter().enumerate() {
                        let xr = &xc[r * dim..(r + 1) * dim];
                        fill_normal(&mut rng, &mut sc.y);
                        if let Some(p) = self.com_free {
                            remove_mean(&mut sc.y, p.n, p.spatial_dim);
                        }
                        let sd = hr.max(0.0).sqrt();
                        let tweedie = self.tweedie_above.is_some_and(|h0| hr >= h0);
                        for yk in sc.y.chunks_exact_mut(dim) {
                            for (a, &b) in yk.iter_mut().zip(xr) {
                                *a = (b + sd * *a) * self.scale;
                            }
                        }
                        if tweedie {
                            // Energies only: sum_k w_k (y_k - x) / h = sum_k w_k (-s g'_k) with
                            // g'_k = -(y_k / s - x) / (s h), the same weighted sum.
                            target.energy(&sc.y, &mut sc.e)?;
                            let f = 1.0 / (self.scale * self.scale * hr);
                            for (gk, yk) in sc.g.chunks_exact_mut(dim).zip(sc.y.chunks_exact(dim)) {
                                for ((g, &y), &x) in gk.iter_mut().zip(yk).zip(xr) {
                                    *g = -(y - x * self.scale) * f;
                                }
                            }
                        } else {
                            target.energy_and_grad(&sc.y, &mut sc.e, &mut sc.g)?;
                        }
                        let out = &mut sc_out[r * dim..(r + 1) * dim];
                        lp_out[r] =
                            weighted_score(&mut sc.e, &sc.g, self.scale, &mut sc.acc, out) - ln_k;
                        self.clip.apply(out);
                    }
                    Ok(())
                },
            )
    }
}

/// Given energies `e` (overwritten with weights) and gradients `g` of K samples, writes
/// -scale * sum_k softmax(-e)_k g_k to `out` and returns LSE_k(-e_k). Sums are accumulated in f64
/// (`acc`, length dim), so large K carries no f32 rounding bias. Non-finite energies get weight 0;
/// if none is finite the score is NaN (the caller reports it).
fn weighted_score(e: &mut [f32], g: &[f32], scale: f32, acc: &mut [f64], out: &mut [f32]) -> f32 {
    let dim = out.len();
    let mut m = f32::NEG_INFINITY;
    for v in e.iter_mut() {
        *v = if v.is_finite() {
            -*v
        } else {
            f32::NEG_INFINITY
        };
        m = m.max(*v);
    }
    if m == f32::NEG_INFINITY {
        out.iter_mut().for_each(|o| *o = f32::NAN);
        return f32::NEG_INFINITY;
    }
    let mut s = 0f64;
    for v in e.iter_mut() {
        *v = exp_f32(*v - m);
        s += *v as f64;
    }
    acc.iter_mut().for_each(|a| *a = 0.0);
    for (w, gk) in e.iter().zip(g.chunks_exact(dim)) {
        if *w > 0.0 {
            for (a, &gv) in acc.iter_mut().zip(gk) {
                *a += (*w * gv) as f64;
            }
        }
    }
    let f = -(scale as f64) / s;
    for (o, a) in out.iter_mut().zip(acc.iter()) {
        *o = (a * f) as f32;
    }
    m + s.ln() as f32
}

/// Samples by integrating the reverse SDE driven by the Monte Carlo score itself (no network):
/// the "direct sampling with estimated scores" of IW-SM appendix H, and DEM's initial buffer for
/// GMMs. `x` starts as prior draws (sampler units) and is integrated in place. Costs
/// n * K * steps energy evaluations.
pub fn integrate_with_mc_score(
    target: &CountedTarget,
    mc: &McScore,
    sde: &super::sde::ReverseSde,
    x: &mut [f32],
    streams: &RngStreams,
    call: u64,
    progress: &mut dyn FnMut(u64, u64),
) -> anyhow::Result<()> {
    let dim = target.dim();
    let n = x.len() / dim;
    let mut lp = vec![0f32; n];
    let mut h = vec![0f32; n];
    let mut step = 0u64;
    let mut score = |t: f64, xs: &[f32], out: &mut [f32]| {
        h.iter_mut().for_each(|v| *v = sde.schedule.h(t) as f32);
        let c = (call << 20) | step;
        step += 1;
        mc.estimate(target, xs, &h, &streams.derive("mc-sde"), c, out, &mut lp)?;
        anyhow::ensure!(
            out.iter().all(|v| v.is_finite()),
            "the Monte Carlo score is not finite at t = {t:.4}: every one of the K samples has a non-finite energy"
        );
        Ok(())
    };
    sde.integrate(x, dim, streams, call, &mut score, progress)
}
