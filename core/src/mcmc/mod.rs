//! Reference MCMC: many independent MALA or HMC chains for any target, with step-size adaptation
//! during burn-in and thinning by the measured integrated autocorrelation time of the energy.
//!
//! Protocol (`run_mcmc`):
//! 1. Start: x ~ N(0, s^2 I) with s = `init_scale` (default: the target's natural scale),
//!    centre-of-mass free for particles, then `descent_steps` of clipped gradient descent so that
//!    no chain starts in an overlap (Lennard-Jones energies of random points are astronomic).
//! 2. Burn-in (`burn_in` steps): each chain adapts log eps by Robbins-Monro,
//!    log eps += (alpha - target_accept) / (t + 3)^0.6; at the end every chain takes the median.
//! 3. Pilot (`pilot` steps, fixed eps): tau of the energy trace sets the thinning,
//!    thin = ceil(tau) unless given.
//! 4. Production: ceil(n / C) states per chain, every `thin` steps; tau is measured again on the
//!    recorded states (in samples) and the report gives ESS = n / tau and the error of the
//!    energy mean, std / sqrt(ESS).

pub mod ais;
pub mod chains;
pub mod hmc;
pub mod iat;
pub mod mala;
pub mod sampler;
pub mod tempering;

use crate::numerics::pairwise::remove_mean;
use crate::numerics::rng::{fill_normal, RngStreams};
use crate::target::CountedTarget;
use chains::Chains;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// The transition kernel.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Method {
    /// Metropolis-adjusted Langevin (one gradient per step).
    Mala,
    /// Hamiltonian Monte Carlo with this many leapfrog steps per trajectory.
    Hmc(usize),
}

impl Method {
    /// The starting step size: `init_step` (default 1e-3 for MALA, 0.05 for HMC) in units of
    /// `scale`^2 (MALA's eps) or `scale` (HMC's).
    pub fn initial_step(&self, init_step: Option<f32>, scale: f32) -> f32 {
        match self {
            Method::Mala => init_step.unwrap_or(1e-3) * scale * scale,
            Method::Hmc(_) => init_step.unwrap_or(0.05) * scale,
        }
    }

    /// The acceptance rate the step size is tuned to: 0.574 for MALA, 0.8 for HMC.
    pub fn default_accept(&self) -> f64 {
        match self {
            Method::Mala => 0.574,
            Method::Hmc(_) => 0.8,
        }
    }
}

/// Settings of the reference sampler.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McmcSettings {
    /// Transition kernel.
    pub method: Method,
    /// Independent chains advanced together.
    pub chains: usize,
    /// Adaptation steps (discarded).
    pub burn_in: usize,
    /// Steps at the adapted step size used to measure tau (discarded).
    pub pilot: usize,
    /// Steps between recorded states; None: ceil(tau) from the pilot.
    pub thin: Option<usize>,
    /// Target acceptance rate; None: 0.574 (MALA) or 0.8 (HMC).
    pub target_accept: Option<f64>,
    /// Initial step size, in units of natural_scale^2 (MALA eps) or natural_scale (HMC);
    /// None: 1e-3 (MALA) or 0.05 (HMC). Adaptation moves it by orders of magnitude in a few
    /// hundred steps either way.
    pub init_step: Option<f32>,
    /// Standard deviation of the starting points; None: the target's natural scale.
    pub init_scale: Option<f32>,
    /// Clipped gradient-descent steps before burn-in.
    pub descent_steps: usize,
    /// For targets with E(-x) = E(x) (phi^4): after every step each chain flips its sign with
    /// probability 1/2, an exact symmetry move (always accepted) that crosses between the
    /// two modes of a broken phase which local moves almost never cross. Checked at the start.
    #[serde(default)]
    pub sign_flip: bool,
}

impl Default for McmcSettings {
    fn default() -> Self {
        McmcSettings {
            method: Method::Mala,
            chains: 256,
            burn_in: 2000,
            pilot: 1000,
            thin: None,
            target_accept: None,
            init_step: None,
            init_scale: None,
            descent_steps: 500,
            sign_flip: false,
        }
    }
}

/// What a reference run did and measured (written next to the samples as provenance).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct McmcReport {
    /// The settings used.
    pub settings: McmcSettings,
    /// Seed of the random streams.
    pub seed: u64,
    /// Rows written.
    pub samples: usize,
    /// Median step size after burn-in.
    pub step_size: f64,
    /// Mean acceptance probability over the production steps.
    pub acceptance: f64,
    /// tau of the energy in MCMC steps, measured on the pilot.
    pub tau_steps: f64,
    /// Steps between recorded states.
    pub thin: usize,
    /// Production steps per chain.
    pub production_steps: usize,
    /// tau of the energy over the recorded states (1 = independent).
    pub tau_samples: f64,
    /// Effective sample size n / tau_samples.
    pub ess: f64,
    /// Mean energy of the samples.
    pub energy_mean: f64,
    /// Standard deviation of the energy.
    pub energy_std: f64,
    /// Error of the mean energy, energy_std / sqrt(ess).
    pub energy_mean_err: f64,
    /// Energy (and gradient) evaluations spent, all phases.
    pub energy_evals: u64,
    /// Wall time in seconds.
    pub seconds: f64,
}

/// One Robbins-Monro update of every chain's step size during burn-in step `t`:
/// log eps += (alpha - target_accept) / (t + 3)^0.6.
pub(crate) fn adapt_steps(step: &mut [f32], accept: &[f64], t: usize, target_accept: f64) {
    let gain = 1.0 / (t as f64 + 3.0).powf(0.6);
    for (eps, a) in step.iter_mut().zip(accept) {
        *eps = ((*eps as f64).ln() + gain * (a - target_accept)).exp() as f32;
    }
}

/// Fails unless E(-x) = E(x) (to 1e-4 relative) at every chain's state: `sign_flip` needs it.
pub(crate) fn check_sign_symmetry(target: &CountedTarget, chains: &Chains) -> anyhow::Result<()> {
    let neg: Vec<f32> = chains.x.iter().map(|v| -v).collect();
    let mut e = vec![0f32; chains.len()];
    target.energy(&neg, &mut e)?;
    for (a, b) in e.iter().zip(&chains.energy) {
        anyhow::ensure!(
            (a - b).abs() <= 1e-4 * b.abs().max(1.0),
            "MCMC sign_flip: this target is not symmetric under x -> -x (E {b} vs {a})"
        );
    }
    Ok(())
}

/// The exact symmetry move x -> -x (always accepted for E(-x) = E(x)), each chain with
/// probability 1/2 (stream `mcmc-sign-flip`/t); energies are unchanged, gradients flip.
pub(crate) fn sign_flip(chains: &mut Chains, streams: &RngStreams, t: u64) {
    let d = chains.dim;
    let u = chains.uniforms(streams, "mcmc-sign-flip", t);
    for (i, u) in u.iter().enumerate() {
        if *u < 0.5 {
            chains.x[i * d..(i + 1) * d]
                .iter_mut()
                .for_each(|v| *v = -*v);
            chains.grad[i * d..(i + 1) * d]
                .iter_mut()
                .for_each(|v| *v = -*v);
        }
    }
}

/// `steps` of clipped gradient descent on every row of `x` (moves of at most 0.02 `scale` per
/// coordinate, learning rate 0.01 `scale`^2), so that no chain starts in an overlap;
/// `progress(t)` after step t.
pub(crate) fn descend(
    target: &CountedTarget,
    x: &mut [f32],
    steps: usize,
    scale: f32,
    progress: &mut dyn FnMut(u64),
) -> anyhow::Result<()> {
    let mut e = vec![0f32; x.len() / target.dim()];
    let mut g = vec![0f32; x.len()];
    let max_move = 0.02 * scale;
    let lr = 1e-2 * scale * scale;
    for t in 0..steps {
        target.energy_and_grad(x, &mut e, &mut g)?;
        for (xi, gi) in x.iter_mut().zip(&g) {
            let d = (lr * gi).clamp(-max_move, max_move);
            if d.is_finite() {
                *xi -= d;
            }
        }
        progress(t as u64 + 1);
    }
    Ok(())
}

/// Progress callback: (phase, done, total) in MCMC steps.
pub type McmcProgress<'a> = &'a mut dyn FnMut(&str, u64, u64);

/// Draws `n` reference samples by the protocol in the module documentation.
pub fn run_mcmc(
    target: &CountedTarget,
    settings: &McmcSettings,
    n: usize,
    streams: &RngStreams,
    progress: McmcProgress<'_>,
) -> anyhow::Result<(Vec<f32>, McmcReport)> {
    let s = settings;
    anyhow::ensure!(n > 0, "MCMC: ask for at least one sample");
    anyhow::ensure!(s.chains > 0, "MCMC: chains must be positive");
    if let Method::Hmc(l) = s.method {
        anyhow::ensure!(l > 0, "MCMC: HMC needs at least one leapfrog step");
    }
    let target_accept = s.target_accept.unwrap_or(s.method.default_accept());
    anyhow::ensure!(
        target_accept > 0.0 && target_accept < 1.0,
        "MCMC: target_accept must lie in (0, 1)"
    );
    let start = Instant::now();
    let evals0 = target.evals();
    let dim = target.dim();
    let scale = s.init_scale.unwrap_or(target.inner().natural_scale());
    let particles = target.inner().particles();

    // 1. Start and descend.
    let mut x = vec![0f32; s.chains * dim];
    fill_normal(&mut streams.stream("mcmc-init", 0), &mut x);
    x.iter_mut().for_each(|v| *v *= scale);
    if let Some(p) = particles {
        remove_mean(&mut x, p.n, p.spatial_dim);
    }
    descend(target, &mut x, s.descent_steps, scale, &mut |t| {
        progress("descent", t, s.descent_steps as u64)
    })?;
    let step0 = s.method.initial_step(s.init_step, scale);
    let mut chains = Chains::new(target, x, step0)?;
    if s.sign_flip {
        check_sign_symmetry(target, &chains)?;
    }
    let flip = |chains: &mut Chains, t: u64| {
        if s.sign_flip {
            sign_flip(chains, streams, t);
        }
    };
    let mut t_global = 0u64;
    let advance = |chains: &mut Chains, t: u64| -> anyhow::Result<Vec<f64>> {
        match s.method {
            Method::Mala => mala::mala_step(target, chains, streams, t),
            Method::Hmc(l) => hmc::hmc_step(target, chains, streams, t, l),
        }
    };

    // 2. Burn-in with adaptation.
    for t in 0..s.burn_in {
        let prob = advance(&mut chains, t_global)?;
        flip(&mut chains, t_global);
        t_global += 1;
        adapt_steps(&mut chains.step, &prob, t, target_accept);
        progress("burn-in", t as u64 + 1, s.burn_in as u64);
    }
    let mut steps = chains.step.clone();
    steps.sort_by(|a, b| a.total_cmp(b));
    let step_size = steps[steps.len() / 2];
    chains.step.iter_mut().for_each(|v| *v = step_size);

    // 3. Pilot: tau of the energy.
    let mut trace = Vec::with_capacity(s.pilot * s.chains);
    for t in 0..s.pilot {
        advance(&mut chains, t_global)?;
        flip(&mut chains, t_global);
        t_global += 1;
        trace.extend(chains.energy.iter().map(|&v| v as f64));
        progress("pilot", t as u64 + 1, s.pilot as u64);
    }
    let tau_steps = if s.pilot > 0 {
        iat::integrated_autocorr_time(&trace, s.chains)
    } else {
        1.0
    };
    let thin = s.thin.unwrap_or(tau_steps.ceil() as usize).max(1);

    // 4. Production.
    let per_chain = n.div_ceil(s.chains);
    let production_steps = per_chain * thin;
    let mut samples = Vec::with_capacity(per_chain * s.chains * dim);
    let mut recorded = Vec::with_capacity(per_chain * s.chains);
    let mut accept_sum = 0f64;
    for t in 0..production_steps {
        let prob = advance(&mut chains, t_global)?;
        flip(&mut chains, t_global);
        t_global += 1;
        accept_sum += prob.iter().sum::<f64>();
        if (t + 1) % thin == 0 {
            samples.extend_from_slice(&chains.x);
            recorded.extend(chains.energy.iter().map(|&v| v as f64));
        }
        progress("production", t as u64 + 1, production_steps as u64);
    }
    if let Some(bad) = recorded.iter().position(|e| !e.is_finite()) {
        anyhow::bail!("MCMC: recorded state {bad} has a non-finite energy");
    }
    let tau_samples = iat::integrated_autocorr_time(&recorded, s.chains);
    samples.truncate(n * dim);
    recorded.truncate(n);
    let mean = recorded.iter().sum::<f64>() / n as f64;
    let var = recorded.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / n as f64;
    let ess = n as f64 / tau_samples;
    let report = McmcReport {
        settings: s.clone(),
        seed: streams.seed(),
        samples: n,
        step_size: step_size as f64,
        acceptance: accept_sum / (production_steps * s.chains) as f64,
        tau_steps,
        thin,
        production_steps,
        tau_samples,
        ess,
        energy_mean: mean,
        energy_std: var.sqrt(),
        energy_mean_err: (var / ess).sqrt(),
        energy_evals: target.evals() - evals0,
        seconds: start.elapsed().as_secs_f64(),
    };
    Ok((samples, report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::Target;

    /// E(x) = sum_k x_k^2 / (2 sigma_k^2): <E> = d / 2 and Var x_k = sigma_k^2 exactly.
    struct Gauss(Vec<f32>);
    impl Target for Gauss {
        fn dim(&self) -> usize {
            self.0.len()
        }
        fn energy(&self, x: &[f32], e: &mut [f32]) -> anyhow::Result<()> {
            let mut g = vec![0f32; x.len()];
            self.energy_and_grad(x, e, &mut g)
        }
        fn energy_and_grad(&self, x: &[f32], e: &mut [f32], g: &mut [f32]) -> anyhow::Result<()> {
            let d = self.0.len();
            for (i, ei) in e.iter_mut().enumerate() {
                *ei = 0.0;
                for k in 0..d {
                    let s2 = self.0[k] * self.0[k];
                    *ei += 0.5 * x[i * d + k] * x[i * d + k] / s2;
                    g[i * d + k] = x[i * d + k] / s2;
                }
            }
            Ok(())
        }
    }

    fn check(method: Method) {
        let sigma = vec![1.0f32, 3.0, 0.5, 2.0];
        let target = CountedTarget::new(Box::new(Gauss(sigma.clone())));
        let settings = McmcSettings {
            method,
            chains: 64,
            burn_in: 500,
            pilot: 300,
            descent_steps: 0,
            init_scale: Some(1.0),
            ..Default::default()
        };
        let n = 8192;
        let (x, r) = run_mcmc(
            &target,
            &settings,
            n,
            &RngStreams::new(7),
            &mut |_, _, _| {},
        )
        .unwrap();
        assert_eq!(x.len(), n * 4);
        // MALA tunes to its target; HMC on a Gaussian has a stability cliff in eps (2 sigma_min),
        // below which acceptance stays near 1, so only a lower bound is meaningful there.
        let ok = match method {
            Method::Mala => (r.acceptance - 0.574).abs() < 0.08,
            Method::Hmc(_) => r.acceptance > 0.6,
        };
        assert!(ok, "acceptance {} for {method:?}", r.acceptance);
        // <E> = d / 2 = 2, within 5 of its own standard errors.
        assert!(
            (r.energy_mean - 2.0).abs() < 5.0 * r.energy_mean_err,
            "{r:?}"
        );
        for (k, s) in sigma.iter().enumerate() {
            let v = (0..n).map(|i| (x[i * 4 + k] as f64).powi(2)).sum::<f64>() / n as f64;
            let want = (*s as f64).powi(2);
            // Var of a variance estimate: 2 sigma^4 / ESS.
            let err = want * (2.0 / r.ess).sqrt();
            assert!(
                (v - want).abs() < 5.0 * err,
                "var {k}: {v} vs {want} (err {err})"
            );
        }
        assert!(r.energy_evals > 0 && r.tau_samples >= 1.0);
    }

    #[test]
    fn mala_samples_a_gaussian() {
        check(Method::Mala);
    }

    #[test]
    fn hmc_samples_a_gaussian() {
        check(Method::Hmc(10));
    }
}
