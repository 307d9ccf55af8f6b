//! DiKL's posterior sampler (`sampler/denoise_sampler.py`, `sampler/ais.py`, `loss.py`): for every
//! noisy point x_t (coefficients a, sigma) it draws x_0 approximately from
//!
//! p(x_0 | x_t) propto pi(x_0) N(x_t; a x_0, sigma^2 I) propto pi(x_0) N(x_0; x_t / a, (sigma / a)^2 I),
//!
//! in three stages:
//! 1. `n_is` proposals x_0 ~ N(x_t / a, (sigma / a)^2 I), truncated to the box [-B, B]^d when
//!    `boundary` is Some(B) (centre-of-mass free for particles);
//! 2. AIS (core's [`ais`]) along the geometric path from log pi_0 = log N(x_0; x_t / a, (sigma/a)^2 I)
//!    to log pi_1 = log pi_0 + log pi~ (the posterior up to a constant of x_t), both -inf outside
//!    the box; one of the `n_is` final states is kept by Gumbel-max on the AIS log weights,
//!    argmax_k (log w_k + G_k), G_k ~ Gumbel(0, 1) (a draw from the weights' categorical law);
//! 3. `mala_steps` MALA steps of step size eps on U(x_0) = E(x_0) + |x_t - a x_0|^2 / (2 sigma^2);
//!    x_0 and grad log pi(x_0) = -grad E(x_0) are averaged over the last `average` states.
//!
//! The official AIS_step = K + 1 counts the annealing increments: `ais_intermediates` = K =
//! AIS_step - 1 (GMM 14, DW-4 9, LJ-13 0 = plain importance sampling).

use crate::truncnorm::truncated;
use nsamp_core::mcmc::ais::{ais, AisKernel, AisSettings, AnnealEnds};
use nsamp_core::numerics::lse::ess_fraction;
use nsamp_core::numerics::pairwise::remove_mean;
use nsamp_core::numerics::rng::{fill_normal, RngStreams};
use nsamp_core::rand::Rng as _;
use nsamp_core::rayon::prelude::*;
use nsamp_core::{CountedTarget, Particles};

nsamp_core::config! {
    /// The posterior sampler's settings (DiKL `configs/*.yaml`, "posterior sampling").
    pub struct PosteriorConfig {
        /// Importance proposals per x_t (`n_is`; GMM 10, DW-4 20, LJ-13 500).
        n_is: usize = 10,
        /// Truncation box [-B, B] per coordinate for the proposals and the AIS path
        /// (`boundary`: 1000.0; None: no box).
        boundary: Option<f64> = Some(1000.0),
        /// AIS intermediate levels K (official AIS_step - 1: GMM 14, DW-4 9, LJ-13 0 = IS only).
        ais_intermediates: usize = 14,
        /// AIS transition kernel (GMM: Hmc(leapfrog: 1, step: 1.0, target_accept: None);
        /// DW-4: Mala(step: 0.01)).
        ais_kernel: AisKernel = AisKernel::Hmc { leapfrog: 1, step: 1.0, target_accept: None },
        /// Kernel moves per AIS level (official: 1).
        ais_moves: usize = 1,
        /// MALA refinement steps on the posterior (`num_langevin_steps`; GMM 5, DW-4 50, LJ-13 1000).
        mala_steps: usize = 5,
        /// Initial MALA step size eps (`langevin_step_size`; GMM / DW-4 0.01, LJ-13 0.001).
        mala_step: f64 = 0.01,
        /// Adapt eps between training steps: x 1.5 when the step's mean acceptance exceeds 0.6,
        /// / 1.5 below 0.5 (`dynamic_step_size`; GMM false, DW-4 / LJ-13 true).
        mala_adapt: bool = false,
        /// Average x_0 and grad log pi(x_0) over the last this many MALA states (`sample_size`;
        /// GMM / DW-4 1, LJ-13 500).
        average: usize = 1,
    }
}

impl PosteriorConfig {
    /// Range checks with messages naming the field.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            (1..=100_000).contains(&self.n_is),
            "DiKL posterior: `n_is` must be between 1 and 100000, got {}",
            self.n_is
        );
        if let Some(b) = self.boundary {
            anyhow::ensure!(
                b.is_finite() && b > 0.0,
                "DiKL posterior: `boundary` must be positive, got {b}"
            );
        }
        anyhow::ensure!(
            self.ais_intermediates <= 100_000,
            "DiKL posterior: `ais_intermediates` must be at most 100000"
        );
        self.ais_kernel.validate()?;
        anyhow::ensure!(
            (1..=1000).contains(&self.ais_moves),
            "DiKL posterior: `ais_moves` must be between 1 and 1000, got {}",
            self.ais_moves
        );
        anyhow::ensure!(
            self.mala_steps <= 1_000_000,
            "DiKL posterior: `mala_steps` must be at most 10^6"
        );
        anyhow::ensure!(
            self.mala_step.is_finite() && self.mala_step > 0.0,
            "DiKL posterior: `mala_step` must be positive, got {}",
            self.mala_step
        );
        anyhow::ensure!(
            self.average >= 1 && self.average <= self.mala_steps.max(1),
            "DiKL posterior: `average` must be between 1 and max(mala_steps, 1) = {}, got {}",
            self.mala_steps.max(1),
            self.average
        );
        Ok(())
    }

    /// The adapted MALA step after a training step with mean acceptance `acc` (unchanged unless
    /// `mala_adapt`).
    pub fn adapt(&self, eps: f64, acc: f64) -> f64 {
        if !self.mala_adapt || !acc.is_finite() {
            eps
        } else if acc > 0.6 {
            eps * 1.5
        } else if acc < 0.5 {
            eps / 1.5
        } else {
            eps
        }
    }
}

/// The noisy points whose posteriors are sampled: rows x_t (B x d) with per-row a and sigma.
#[derive(Debug, Clone, Copy)]
pub struct Noisy<'a> {
    /// x_t, row-major B x d.
    pub xt: &'a [f32],
    /// a per row.
    pub a: &'a [f64],
    /// sigma per row.
    pub sigma: &'a [f64],
}

/// What the posterior sampler returns per x_t.
#[derive(Debug, Clone)]
pub struct PosteriorDraw {
    /// Mean of x_0 over the last `average` states (B x d).
    pub x0: Vec<f32>,
    /// Mean of grad log pi(x_0) over the same states (B x d).
    pub grad_log_pi: Vec<f32>,
    /// Mean acceptance of the AIS moves (NaN without intermediates).
    pub ais_acceptance: f64,
    /// Mean ESS fraction of the `n_is` AIS weights of each x_t.
    pub ais_ess: f64,
    /// Mean acceptance of the MALA refinement (NaN without steps).
    pub mala_acceptance: f64,
}

/// Rows per parallel chunk of target evaluations.
const CHUNK: usize = 256;

/// E and grad E for every row of `x`, in parallel chunks (each row counted once).
fn energy_and_grad(
    target: &CountedTarget,
    x: &[f32],
    e: &mut [f32],
    g: &mut [f32],
) -> anyhow::Result<()> {
    let d = target.dim();
    x.par_chunks(CHUNK * d)
        .zip(e.par_chunks_mut(CHUNK))
        .zip(g.par_chunks_mut(CHUNK * d))
        .try_for_each(|((x, e), g)| target.energy_and_grad(x, e, g))
}

/// E for every row of `x`, in parallel chunks.
fn energy(target: &CountedTarget, x: &[f32], e: &mut [f32]) -> anyhow::Result<()> {
    let d = target.dim();
    x.par_chunks(CHUNK * d)
        .zip(e.par_chunks_mut(CHUNK))
        .try_for_each(|(x, e)| target.energy(x, e))
}

/// The two ends of the AIS path for the posteriors of B points, n_is rows each (row r belongs to
/// x_t row r / n_is): the proposal N(x_t / a, (sigma / a)^2 I) and proposal + log pi~.
pub struct PosteriorEnds<'a> {
    target: &'a CountedTarget,
    noisy: Noisy<'a>,
    n_is: usize,
    bound: Option<(f64, f64)>,
    particles: Option<Particles>,
}

impl<'a> PosteriorEnds<'a> {
    /// The ends for the points `noisy`, `n_is` rows each, inside the box [-B, B] when
    /// `boundary` is Some(B); noise centre-of-mass free for particle targets.
    pub fn new(
        target: &'a CountedTarget,
        noisy: Noisy<'a>,
        n_is: usize,
        boundary: Option<f64>,
    ) -> Self {
        PosteriorEnds {
            target,
            noisy,
            n_is,
            bound: boundary.map(|b| (-b, b)),
            particles: target.inner().particles(),
        }
    }

    fn row_constants(&self, b: usize) -> (f64, f64) {
        (self.noisy.a[b], self.noisy.sigma[b] / self.noisy.a[b])
    }
}

impl AnnealEnds for PosteriorEnds<'_> {
    fn dim(&self) -> usize {
        self.target.dim()
    }
    fn particles(&self) -> Option<Particles> {
        self.particles
    }
    fn eval(
        &self,
        x: &[f32],
        log0: &mut [f64],
        log1: &mut [f64],
        grads: Option<(&mut [f32], &mut [f32])>,
    ) -> anyhow::Result<()> {
        let d = self.dim();
        let n = log0.len();
        let mut e = vec![0f32; n];
        let half_ln_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
        let ge = match &grads {
            Some(_) => {
                let mut g = vec![0f32; n * d];
                energy_and_grad(self.target, x, &mut e, &mut g)?;
                Some(g)
            }
            None => {
                energy(self.target, x, &mut e)?;
                None
            }
        };
        for r in 0..n {
            let b = r / self.n_is;
            let (a, s) = self.row_constants(b);
            let xt = &self.noisy.xt[b * d..(b + 1) * d];
            let row = &x[r * d..(r + 1) * d];
            let mut q = 0f64;
            let mut inside = true;
            for (&xi, &ti) in row.iter().zip(xt) {
                let z = (xi as f64 - ti as f64 / a) / s;
                q += z * z;
                if let Some((lo, hi)) = self.bound {
                    inside &= (lo..=hi).contains(&(xi as f64));
                }
            }
            let l0 = if inside {
                -0.5 * q - d as f64 * (s.ln() + half_ln_2pi)
            } else {
                f64::NEG_INFINITY
            };
            log0[r] = l0;
            log1[r] = l0 - e[r] as f64;
        }
        if let (Some((g0, g1)), Some(ge)) = (grads, ge) {
            for r in 0..n {
                let b = r / self.n_is;
                let (a, s) = self.row_constants(b);
                let inv_s2 = 1.0 / (s * s);
                for k in 0..d {
                    let i = r * d + k;
                    let gq = -(x[i] as f64 - self.noisy.xt[b * d + k] as f64 / a) * inv_s2;
                    g0[i] = gq as f32;
                    g1[i] = (gq - ge[i] as f64) as f32;
                }
            }
        }
        Ok(())
    }
}

/// Stage 1: `n_is` proposals per x_t (rows b * n_is + k), from stream ("dikl-proposal", 0).
fn proposals(
    noisy: Noisy<'_>,
    d: usize,
    cfg: &PosteriorConfig,
    particles: Option<Particles>,
    streams: &RngStreams,
) -> anyhow::Result<Vec<f32>> {
    let bsz = noisy.a.len();
    let bound = cfg.boundary.map(|b| (-b, b));
    let mut rng = streams.stream("dikl-proposal", 0);
    let mut x = Vec::with_capacity(bsz * cfg.n_is * d);
    for b in 0..bsz {
        let (a, s) = (noisy.a[b], noisy.sigma[b] / noisy.a[b]);
        for _ in 0..cfg.n_is {
            for k in 0..d {
                let mu = noisy.xt[b * d + k] as f64 / a;
                x.push(truncated(&mut rng, mu, s, bound)? as f32);
            }
        }
    }
    if let Some(p) = particles {
        for row in x.chunks_mut(d) {
            remove_mean(row, p.n, p.spatial_dim);
        }
    }
    Ok(x)
}

/// Stage 2's selection: per x_t, argmax_k (log w_k + G_k) with G ~ Gumbel(0, 1) from stream
/// ("dikl-gumbel", 0); the first proposal when every weight is -inf.
pub fn gumbel_max(log_w: &[f64], n_is: usize, streams: &RngStreams) -> Vec<usize> {
    let mut rng = streams.stream("dikl-gumbel", 0);
    log_w
        .chunks(n_is)
        .map(|w| {
            let mut best = (f64::NEG_INFINITY, 0);
            for (k, &l) in w.iter().enumerate() {
                let u: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
                let v = l - (-u.ln()).ln();
                if v > best.0 {
                    best = (v, k);
                }
            }
            best.1
        })
        .collect()
}

/// The MALA refinement's state: x_0, E, grad E and U = E + |x_t - a x_0|^2 / (2 sigma^2) with grad U.
struct Refine {
    x: Vec<f32>,
    e: Vec<f32>,
    ge: Vec<f32>,
    u: Vec<f64>,
    gu: Vec<f64>,
}

impl Refine {
    fn evaluate(target: &CountedTarget, noisy: Noisy<'_>, x: Vec<f32>) -> anyhow::Result<Self> {
        let d = target.dim();
        let n = x.len() / d;
        let mut r = Refine {
            e: vec![0.0; n],
            ge: vec![0.0; n * d],
            u: vec![0.0; n],
            gu: vec![0.0; n * d],
            x,
        };
        energy_and_grad(target, &r.x, &mut r.e, &mut r.ge)?;
        for b in 0..n {
            let (a, s2) = (noisy.a[b], noisy.sigma[b] * noisy.sigma[b]);
            let mut q = 0f64;
            for k in b * d..(b + 1) * d {
                let res = a * r.x[k] as f64 - noisy.xt[k] as f64;
                q += res * res;
                r.gu[k] = r.ge[k] as f64 + a * res / s2;
            }
            r.u[b] = r.e[b] as f64 + q / (2.0 * s2);
        }
        Ok(r)
    }
}

/// Stage 3: MALA on U from `x`; returns the averages and the mean acceptance.
fn refine(
    target: &CountedTarget,
    noisy: Noisy<'_>,
    x: Vec<f32>,
    cfg: &PosteriorConfig,
    eps: f64,
    particles: Option<Particles>,
    streams: &RngStreams,
) -> anyhow::Result<(Vec<f32>, Vec<f32>, f64)> {
    let d = target.dim();
    let n = x.len() / d;
    let mut cur = Refine::evaluate(target, noisy, x)?;
    let mut sum_x = vec![0f64; n * d];
    let mut sum_g = vec![0f64; n * d];
    let mut record = |st: &Refine| {
        let mut xs = st.x.clone();
        let mut gs: Vec<f32> = st.ge.iter().map(|v| -v).collect();
        if let Some(p) = particles {
            for (rx, rg) in xs.chunks_mut(d).zip(gs.chunks_mut(d)) {
                remove_mean(rx, p.n, p.spatial_dim);
                remove_mean(rg, p.n, p.spatial_dim);
            }
        }
        for (s, v) in sum_x.iter_mut().zip(&xs) {
            *s += *v as f64;
        }
        for (s, v) in sum_g.iter_mut().zip(&gs) {
            *s += *v as f64;
        }
    };
    if cfg.mala_steps == 0 {
        record(&cur);
    }
    let mut noise = vec![0f32; n * d];
    let mut acc_sum = 0f64;
    let root = (2.0 * eps).sqrt();
    for step in 0..cfg.mala_steps {
        fill_normal(
            &mut streams.stream("dikl-mala-noise", step as u64),
            &mut noise,
        );
        if let Some(p) = particles {
            for row in noise.chunks_mut(d) {
                remove_mean(row, p.n, p.spatial_dim);
            }
        }
        let y: Vec<f32> = (0..n * d)
            .map(|k| (cur.x[k] as f64 - eps * cur.gu[k] + root * noise[k] as f64) as f32)
            .collect();
        let prop = Refine::evaluate(target, noisy, y)?;
        let mut urng = streams.stream("dikl-mala-accept", step as u64);
        for b in 0..n {
            let (mut fwd, mut bwd) = (0f64, 0f64);
            for k in b * d..(b + 1) * d {
                let f = prop.x[k] as f64 - cur.x[k] as f64 + eps * cur.gu[k];
                let r = cur.x[k] as f64 - prop.x[k] as f64 + eps * prop.gu[k];
                fwd += f * f;
                bwd += r * r;
            }
            let la = -(prop.u[b] - cur.u[b]) - (bwd - fwd) / (4.0 * eps);
            let u: f64 = urng.random();
            if !la.is_nan() {
                acc_sum += la.min(0.0).exp();
            }
            if !la.is_nan() && u.ln() < la {
                let r = b * d..(b + 1) * d;
                cur.x[r.clone()].copy_from_slice(&prop.x[r.clone()]);
                cur.ge[r.clone()].copy_from_slice(&prop.ge[r.clone()]);
                cur.gu[r.clone()].copy_from_slice(&prop.gu[r]);
                cur.e[b] = prop.e[b];
                cur.u[b] = prop.u[b];
            }
        }
        if step + cfg.average >= cfg.mala_steps {
            record(&cur);
        }
    }
    let m = cfg.average as f64;
    let mean = |s: Vec<f64>| s.into_iter().map(|v| (v / m) as f32).collect::<Vec<f32>>();
    let acc = if cfg.mala_steps == 0 {
        f64::NAN
    } else {
        acc_sum / (n * cfg.mala_steps) as f64
    };
    Ok((mean(sum_x), mean(sum_g), acc))
}

/// Runs the three stages for every row of `noisy` with MALA step `eps`; randomness from
/// `streams` (derive one per training step).
pub fn sample_posterior(
    target: &CountedTarget,
    noisy: Noisy<'_>,
    cfg: &PosteriorConfig,
    eps: f64,
    streams: &RngStreams,
) -> anyhow::Result<PosteriorDraw> {
    let d = target.dim();
    let bsz = noisy.a.len();
    anyhow::ensure!(
        noisy.xt.len() == bsz * d && noisy.sigma.len() == bsz,
        "DiKL posterior: x_t, a and sigma disagree in size"
    );
    let particles = target.inner().particles();
    let x = proposals(noisy, d, cfg, particles, streams)?;
    let ends = PosteriorEnds::new(target, noisy, cfg.n_is, cfg.boundary);
    let settings = AisSettings {
        intermediates: cfg.ais_intermediates,
        kernel: cfg.ais_kernel,
        moves: cfg.ais_moves,
    };
    let run = ais(x, &ends, &settings, &streams.derive("dikl-ais"))?;
    let ess = run
        .log_w
        .chunks(cfg.n_is)
        .map(ess_fraction)
        .filter(|v| v.is_finite())
        .collect::<Vec<_>>();
    let ais_ess = ess.iter().sum::<f64>() / ess.len().max(1) as f64;
    let pick = gumbel_max(&run.log_w, cfg.n_is, streams);
    let mut x0 = Vec::with_capacity(bsz * d);
    for (b, &k) in pick.iter().enumerate() {
        let r = b * cfg.n_is + k;
        x0.extend_from_slice(&run.x[r * d..(r + 1) * d]);
    }
    let (x0, grad_log_pi, mala_acceptance) =
        refine(target, noisy, x0, cfg, eps, particles, streams)?;
    Ok(PosteriorDraw {
        x0,
        grad_log_pi,
        ais_acceptance: run.acceptance,
        ais_ess,
        mala_acceptance,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use nsamp_core::Target;

    /// E(x) = sum_k (x_k^4 / 4 + c_k x_k^2 / 2), grad E = x^3 + c x.
    struct Quartic;
    impl Target for Quartic {
        fn dim(&self) -> usize {
            2
        }
        fn energy(&self, x: &[f32], e: &mut [f32]) -> anyhow::Result<()> {
            let mut g = vec![0f32; x.len()];
            self.energy_and_grad(x, e, &mut g)
        }
        fn energy_and_grad(&self, x: &[f32], e: &mut [f32], g: &mut [f32]) -> anyhow::Result<()> {
            for (i, row) in x.chunks(2).enumerate() {
                e[i] = 0.0;
                for k in 0..2 {
                    let (v, c) = (row[k] as f64, 1.0 + k as f64);
                    e[i] += (v.powi(4) / 4.0 + c * v * v / 2.0) as f32;
                    g[2 * i + k] = (v.powi(3) + c * v) as f32;
                }
            }
            Ok(())
        }
    }

    #[test]
    fn hand_written_gradients_match_finite_differences() {
        let target = CountedTarget::new(Box::new(Quartic));
        let xt = [0.4f32, -0.7, 1.1, 0.2];
        let (a, sigma) = ([0.8, 0.3], [0.6, 0.954]);
        let noisy = Noisy {
            xt: &xt,
            a: &a,
            sigma: &sigma,
        };
        // Two proposals per point: rows 0, 1 -> x_t row 0; rows 2, 3 -> row 1.
        let x = [0.3f32, -0.5, 0.9, 0.1, 1.2, -0.4, -0.8, 0.6];
        let ends = PosteriorEnds::new(&target, noisy, 2, Some(1000.0));
        let (mut l0, mut l1) = (vec![0.0; 4], vec![0.0; 4]);
        let (mut g0, mut g1) = (vec![0f32; 8], vec![0f32; 8]);
        ends.eval(&x, &mut l0, &mut l1, Some((&mut g0, &mut g1)))
            .unwrap();
        let h = 1e-3f32;
        for k in 0..8 {
            let (mut xp, mut xm) = (x, x);
            xp[k] += h;
            xm[k] -= h;
            let (mut p0, mut p1, mut m0, mut m1) =
                (vec![0.0; 4], vec![0.0; 4], vec![0.0; 4], vec![0.0; 4]);
            ends.eval(&xp, &mut p0, &mut p1, None).unwrap();
            ends.eval(&xm, &mut m0, &mut m1, None).unwrap();
            let r = k / 2;
            let fd0 = (p0[r] - m0[r]) / (2.0 * h as f64);
            let fd1 = (p1[r] - m1[r]) / (2.0 * h as f64);
            assert!(
                (fd0 - g0[k] as f64).abs() < 2e-3 * (1.0 + fd0.abs()),
                "g0[{k}]: {fd0} vs {}",
                g0[k]
            );
            assert!(
                (fd1 - g1[k] as f64).abs() < 2e-3 * (1.0 + fd1.abs()),
                "g1[{k}]: {fd1} vs {}",
                g1[k]
            );
        }
        // log pi_1 - log pi_0 = -E; outside the box both are -inf.
        let mut e = vec![0f32; 4];
        target.energy(&x, &mut e).unwrap();
        for r in 0..4 {
            assert!((l1[r] - l0[r] + e[r] as f64).abs() < 1e-5);
        }
        let small = PosteriorEnds::new(&target, noisy, 2, Some(1.0));
        small.eval(&x, &mut l0, &mut l1, None).unwrap();
        assert!(l0[2] == f64::NEG_INFINITY && l1[2] == f64::NEG_INFINITY && l0[0].is_finite());

        // The MALA refinement's U = E + |x_t - a x|^2 / (2 sigma^2) and grad U.
        let x0 = vec![0.3f32, -0.5, 1.2, -0.4];
        let r = Refine::evaluate(&target, noisy, x0.clone()).unwrap();
        for k in 0..4 {
            let (mut xp, mut xm) = (x0.clone(), x0.clone());
            xp[k] += h;
            xm[k] -= h;
            let up = Refine::evaluate(&target, noisy, xp).unwrap().u[k / 2];
            let um = Refine::evaluate(&target, noisy, xm).unwrap().u[k / 2];
            let fd = (up - um) / (2.0 * h as f64);
            assert!(
                (fd - r.gu[k]).abs() < 2e-3 * (1.0 + fd.abs()),
                "grad U[{k}]: {fd} vs {}",
                r.gu[k]
            );
        }
    }

    #[test]
    fn gumbel_max_picks_by_weight() {
        // Weights 1 : 3 : 0 (the last -inf): frequencies 1/4, 3/4, 0.
        let n = 20_000;
        let log_w: Vec<f64> = (0..n)
            .flat_map(|_| [0.0, 3f64.ln(), f64::NEG_INFINITY])
            .collect();
        let pick = gumbel_max(&log_w, 3, &RngStreams::new(8));
        let f1 = pick.iter().filter(|&&k| k == 1).count() as f64 / n as f64;
        assert!(pick.iter().all(|&k| k < 2));
        assert!(
            (f1 - 0.75).abs() < 5.0 * (0.75f64 * 0.25 / n as f64).sqrt(),
            "{f1}"
        );
        // All -inf: the first proposal.
        assert_eq!(
            gumbel_max(&[f64::NEG_INFINITY; 3], 3, &RngStreams::new(1)),
            vec![0]
        );
    }
}
