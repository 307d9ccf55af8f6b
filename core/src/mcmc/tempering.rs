//! Parallel tempering (replica exchange) as a training-free sampler: `sampler:
//! ParallelTempering(replicas: 8, beta_min: 0.05, kernel: Mala, ...)`.
//!
//! R replicas at inverse temperatures on a geometric ladder beta_r = beta_min^{r / (R - 1)},
//! r = 0..R-1 (beta_0 = 1 > ... > beta_{R-1} = beta_min), `chains` independent ensembles of R
//! replicas each. Every step, each replica takes one step of the local kernel (MALA or HMC from
//! [`super`]) on the tempered energy beta_r E, then neighbours swap states: in alternating rounds
//! the pairs (r, r + 1) with r even, then r odd, each accepted with probability
//! min(1, exp((beta_r - beta_{r+1}) (E(x_r) - E(x_{r+1})))) ([`swap_log_accept`]).
//! Step sizes adapt per replica during burn-in (as the reference MCMC, then the median of each
//! replica's chains); a pilot measures the autocorrelation time tau of the beta = 1 energy and
//! sets the thinning; the samples are the beta = 1 replica's states. Every energy evaluation of
//! every replica is counted on the run's target.

use super::chains::{metropolis, Chains};
use super::{adapt_steps, check_sign_symmetry, descend, hmc, iat, mala, sign_flip, Method};
use crate::numerics::pairwise::remove_mean;
use crate::numerics::rng::{fill_normal, RngStreams};
use crate::sampler::{Progress, Sampler, SamplerConfig, Samples};
use crate::target::{CountedTarget, Target, TargetStructure};
use std::sync::Arc;

super::sampler::mcmc_config! {
    /// `ParallelTempering(...)`: replica exchange over a geometric ladder of temperatures; the
    /// chain settings (`chains` ensembles of R replicas, `burn_in`, `pilot`, `thin`, ...) are
    /// those of `Mala`/`Hmc`, and `sign_flip` acts in every replica.
    pub struct ParallelTemperingConfig {
        /// Replicas R (temperatures), at least 1 (1: plain MCMC).
        replicas: usize = 8,
        /// Smallest inverse temperature beta_{R-1} of the ladder, in (0, 1].
        beta_min: f64 = 0.05,
        /// The local kernel within each replica: `Mala` or `Hmc(L)` (L leapfrog steps).
        kernel: Method = Method::Mala,
    }
}

/// The geometric ladder beta_r = beta_min^{r / (R - 1)}, r = 0..R-1 (just [1] for R = 1).
pub fn ladder(replicas: usize, beta_min: f64) -> Vec<f64> {
    if replicas == 1 {
        return vec![1.0];
    }
    (0..replicas)
        .map(|r| beta_min.powf(r as f64 / (replicas - 1) as f64))
        .collect()
}

/// Log acceptance of swapping states x_i and x_j between inverse temperatures beta_i and
/// beta_j: log [p_i(x_j) p_j(x_i) / (p_i(x_i) p_j(x_j))] = (beta_i - beta_j) (E(x_i) - E(x_j)).
pub fn swap_log_accept(beta_i: f64, beta_j: f64, e_i: f64, e_j: f64) -> f64 {
    (beta_i - beta_j) * (e_i - e_j)
}

/// The target seen by the replicas: row k's energy and gradient times `beta[k]`.
struct Tempered {
    inner: Arc<dyn Target>,
    beta: Vec<f32>,
}

impl Tempered {
    fn check(&self, rows: usize) -> anyhow::Result<()> {
        anyhow::ensure!(
            rows == self.beta.len(),
            "parallel tempering: {rows} rows evaluated, {} replicas x chains",
            self.beta.len()
        );
        Ok(())
    }
}

impl Target for Tempered {
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn structure(&self) -> TargetStructure {
        self.inner.structure()
    }
    fn natural_scale(&self) -> f32 {
        self.inner.natural_scale()
    }
    fn energy(&self, x: &[f32], energy: &mut [f32]) -> anyhow::Result<()> {
        self.check(energy.len())?;
        self.inner.energy(x, energy)?;
        energy.iter_mut().zip(&self.beta).for_each(|(e, b)| *e *= b);
        Ok(())
    }
    fn energy_and_grad(
        &self,
        x: &[f32],
        energy: &mut [f32],
        grad: &mut [f32],
    ) -> anyhow::Result<()> {
        self.check(energy.len())?;
        self.inner.energy_and_grad(x, energy, grad)?;
        let d = self.dim();
        for (k, b) in self.beta.iter().enumerate() {
            energy[k] *= b;
            grad[k * d..(k + 1) * d].iter_mut().for_each(|g| *g *= b);
        }
        Ok(())
    }
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct TemperingReport {
    /// The inverse temperatures.
    pub betas: Vec<f64>,
    /// Mean swap acceptance per neighbour pair (r, r + 1) over production.
    pub swap_rates: Vec<f64>,
    /// Mean local-kernel acceptance of the beta = 1 replica over production.
    pub acceptance: f64,
    /// Step size of the beta = 1 replica after burn-in.
    pub step_size: f64,
    /// tau of the beta = 1 energy in steps (pilot).
    pub tau_steps: f64,
    /// Steps between recorded states.
    pub thin: usize,
    /// tau over the recorded states.
    pub tau_samples: f64,
    /// n / tau_samples.
    pub ess: f64,
    /// Mean, standard deviation and error of the mean of the recorded energies.
    pub energy_mean: f64,
    /// Standard deviation of the recorded energies.
    pub energy_std: f64,
    /// energy_std / sqrt(ess).
    pub energy_mean_err: f64,
}

/// Replica exchange over `target` (see the module documentation).
pub struct ParallelTempering {
    cfg: ParallelTemperingConfig,
    target: CountedTarget,
    last: Option<TemperingReport>,
}

impl SamplerConfig for ParallelTemperingConfig {
    fn build(&self, target: &CountedTarget) -> anyhow::Result<Box<dyn Sampler>> {
        let c = self;
        anyhow::ensure!(
            (1..=1024).contains(&c.replicas),
            "ParallelTempering: `replicas` must be between 1 and 1024, got {}",
            c.replicas
        );
        anyhow::ensure!(
            c.beta_min > 0.0 && c.beta_min <= 1.0,
            "ParallelTempering: `beta_min` must lie in (0, 1], got {}",
            c.beta_min
        );
        anyhow::ensure!(
            (1..=1 << 20).contains(&c.chains),
            "ParallelTempering: `chains` must be between 1 and 2^20, got {}",
            c.chains
        );
        if let Method::Hmc(l) = c.kernel {
            anyhow::ensure!(
                l > 0,
                "ParallelTempering: `kernel` Hmc needs at least 1 leapfrog step"
            );
        }
        let accept = c.target_accept.unwrap_or(c.kernel.default_accept());
        anyhow::ensure!(
            accept > 0.0 && accept < 1.0,
            "ParallelTempering: `target_accept` must lie in (0, 1), got {accept}"
        );
        Ok(Box::new(ParallelTempering {
            cfg: self.clone(),
            target: target.clone(),
            last: None,
        }))
    }
}

/// Swaps rows `i` and `j` of the chains between inverse temperatures `bi` and `bj` (the stored
/// energies and gradients are tempered: each is rescaled to its new temperature).
fn swap_rows(ch: &mut Chains, i: usize, j: usize, bi: f32, bj: f32) {
    let d = ch.dim;
    let (ei, ej) = (ch.energy[i] / bi, ch.energy[j] / bj);
    ch.energy[i] = bi * ej;
    ch.energy[j] = bj * ei;
    for k in 0..d {
        ch.x.swap(i * d + k, j * d + k);
        let (gi, gj) = (ch.grad[i * d + k] / bi, ch.grad[j * d + k] / bj);
        ch.grad[i * d + k] = bi * gj;
        ch.grad[j * d + k] = bj * gi;
    }
}

impl ParallelTempering {
    /// One round of neighbour swaps (pairs (r, r + 1) with r of the parity of `t`); adds the
    /// acceptance probabilities to `rates` per pair.
    fn swap_round(
        &self,
        ch: &mut Chains,
        betas: &[f64],
        streams: &RngStreams,
        t: u64,
        rates: &mut [f64],
        tries: &mut [u64],
    ) {
        let c = self.cfg.chains;
        let r_max = betas.len();
        let u = ch.uniforms(streams, "pt-swap", t);
        let mut r = (t % 2) as usize;
        while r + 1 < r_max {
            let (bi, bj) = (betas[r], betas[r + 1]);
            let log_a: Vec<f64> = (0..c)
                .map(|k| {
                    let (i, j) = (r * c + k, (r + 1) * c + k);
                    let ei = ch.energy[i] as f64 / bi;
                    let ej = ch.energy[j] as f64 / bj;
                    swap_log_accept(bi, bj, ei, ej)
                })
                .collect();
            let (accept, prob) = metropolis(&log_a, &u[r * c..(r + 1) * c]);
            rates[r] += prob.iter().sum::<f64>() / c as f64;
            tries[r] += 1;
            for (k, a) in accept.iter().enumerate() {
                if *a {
                    swap_rows(ch, r * c + k, (r + 1) * c + k, bi as f32, bj as f32);
                }
            }
            r += 2;
        }
    }
}

impl Sampler for ParallelTempering {
    fn sample(
        &mut self,
        n: usize,
        streams: &RngStreams,
        progress: Progress<'_>,
    ) -> anyhow::Result<Samples> {
        anyhow::ensure!(n > 0, "ParallelTempering: ask for at least one sample");
        let cfg = self.cfg.clone();
        let (r_count, c) = (cfg.replicas, cfg.chains);
        let rows = r_count * c;
        let dim = self.target.dim();
        let betas = ladder(r_count, cfg.beta_min);
        let beta_rows: Vec<f32> = (0..rows).map(|k| betas[k / c] as f32).collect();
        let scale = cfg
            .init_scale
            .unwrap_or(self.target.inner().natural_scale());
        let particles = self.target.inner().particles();
        let per_chain = n.div_ceil(c);
        let total_known = (cfg.descent_steps + cfg.burn_in + cfg.pilot) as u64;

        // Start and descend on the untempered energy.
        let mut x = vec![0f32; rows * dim];
        fill_normal(&mut streams.stream("pt-init", 0), &mut x);
        x.iter_mut().for_each(|v| *v *= scale);
        if let Some(p) = particles {
            remove_mean(&mut x, p.n, p.spatial_dim);
        }
        descend(&self.target, &mut x, cfg.descent_steps, scale, &mut |t| {
            progress(t, total_known + per_chain as u64)
        })?;
        let tempered = self.target.sharing_counter(Arc::new(Tempered {
            inner: self.target.inner_arc(),
            beta: beta_rows,
        }));
        let step0 = cfg.kernel.initial_step(cfg.init_step, scale);
        let mut ch = Chains::new(&tempered, x, step0)?;
        if cfg.sign_flip {
            check_sign_symmetry(&tempered, &ch)?;
        }
        let target_accept = cfg.target_accept.unwrap_or(cfg.kernel.default_accept());
        let mut t_global = 0u64;
        let mut rates = vec![0f64; r_count.saturating_sub(1)];
        let mut tries = vec![0u64; r_count.saturating_sub(1)];
        let step = |ch: &mut Chains,
                    t: u64,
                    rates: &mut [f64],
                    tries: &mut [u64]|
         -> anyhow::Result<Vec<f64>> {
            let prob = match cfg.kernel {
                Method::Mala => mala::mala_step(&tempered, ch, streams, t)?,
                Method::Hmc(l) => hmc::hmc_step(&tempered, ch, streams, t, l)?,
            };
            if cfg.sign_flip {
                sign_flip(ch, streams, t);
            }
            self.swap_round(ch, &betas, streams, t, rates, tries);
            Ok(prob)
        };
        let mut done = cfg.descent_steps as u64;

        // Burn-in: per-row Robbins-Monro adaptation, then each replica's median step.
        for t in 0..cfg.burn_in {
            let prob = step(&mut ch, t_global, &mut rates, &mut tries)?;
            t_global += 1;
            adapt_steps(&mut ch.step, &prob, t, target_accept);
            done += 1;
            progress(done, total_known + per_chain as u64);
        }
        for r in 0..r_count {
            let mut s = ch.step[r * c..(r + 1) * c].to_vec();
            s.sort_by(|a, b| a.total_cmp(b));
            let m = s[s.len() / 2];
            ch.step[r * c..(r + 1) * c].iter_mut().for_each(|v| *v = m);
        }
        let step_size = ch.step[0] as f64;

        // Pilot: tau of the beta = 1 energy.
        let mut trace = Vec::with_capacity(cfg.pilot * c);
        for _ in 0..cfg.pilot {
            step(&mut ch, t_global, &mut rates, &mut tries)?;
            t_global += 1;
            trace.extend(ch.energy[..c].iter().map(|&v| v as f64));
            done += 1;
            progress(done, total_known + per_chain as u64);
        }
        let tau_steps = if cfg.pilot > 0 {
            iat::integrated_autocorr_time(&trace, c)
        } else {
            1.0
        };
        let thin = cfg.thin.unwrap_or(tau_steps.ceil() as usize).max(1);

        // Production: the beta = 1 replica every `thin` steps.
        rates.iter_mut().for_each(|v| *v = 0.0);
        tries.iter_mut().for_each(|v| *v = 0);
        let production = per_chain * thin;
        let total = total_known + production as u64;
        let mut samples = Vec::with_capacity(per_chain * c * dim);
        let mut recorded = Vec::with_capacity(per_chain * c);
        let mut accept_sum = 0f64;
        for t in 0..production {
            let prob = step(&mut ch, t_global, &mut rates, &mut tries)?;
            t_global += 1;
            accept_sum += prob[..c].iter().sum::<f64>();
            if (t + 1) % thin == 0 {
                samples.extend_from_slice(&ch.x[..c * dim]);
                recorded.extend(ch.energy[..c].iter().map(|&v| v as f64));
            }
            done += 1;
            progress(done, total);
        }
        if let Some(bad) = recorded.iter().position(|e| !e.is_finite()) {
            anyhow::bail!("ParallelTempering: recorded state {bad} has a non-finite energy");
        }
        let tau_samples = iat::integrated_autocorr_time(&recorded, c);
        samples.truncate(n * dim);
        recorded.truncate(n);
        let mean = recorded.iter().sum::<f64>() / n as f64;
        let var = recorded.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / n as f64;
        let ess = n as f64 / tau_samples;
        self.last = Some(TemperingReport {
            swap_rates: rates
                .iter()
                .zip(&tries)
                .map(|(v, &k)| if k > 0 { v / k as f64 } else { f64::NAN })
                .collect(),
            betas,
            acceptance: accept_sum / (production * c) as f64,
            step_size,
            tau_steps,
            thin,
            tau_samples,
            ess,
            energy_mean: mean,
            energy_std: var.sqrt(),
            energy_mean_err: (var / ess).sqrt(),
        });
        Ok(Samples::new(samples, dim))
    }

    fn report(&self) -> Vec<(String, f64)> {
        let Some(r) = &self.last else {
            return Vec::new();
        };
        let mut v = vec![
            ("acceptance".into(), r.acceptance),
            ("step_size".into(), r.step_size),
            ("tau_steps".into(), r.tau_steps),
            ("thin".into(), r.thin as f64),
            ("tau_samples".into(), r.tau_samples),
            ("ess".into(), r.ess),
            ("energy_mean".into(), r.energy_mean),
            ("energy_mean_err".into(), r.energy_mean_err),
            ("beta_min".into(), *r.betas.last().unwrap_or(&1.0)),
        ];
        for (i, s) in r.swap_rates.iter().enumerate() {
            v.push((format!("swap_rate_{i}_{}", i + 1), *s));
        }
        v
    }
}

crate::register!(
    Sampler,
    "ParallelTempering",
    ParallelTemperingConfig,
    "parallel tempering: R replicas on a geometric ladder of temperatures, MALA or HMC within replicas, neighbour swaps"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swap_acceptance_matches_a_hand_computed_case() {
        // beta 1 and 0.5, E(x_1) = 3, E(x_2) = 1: (1 - 0.5)(3 - 1) = 1 > 0, always accepted;
        // the reverse energies give -1, accepted with probability e^-1.
        assert_eq!(swap_log_accept(1.0, 0.5, 3.0, 1.0), 1.0);
        assert_eq!(swap_log_accept(1.0, 0.5, 1.0, 3.0), -1.0);
        // By hand from the densities: p_i(x) = exp(-beta_i E(x)).
        let (bi, bj, ei, ej) = (0.8f64, 0.3f64, 2.5f64, 7.0f64);
        let direct = (-bi * ej - bj * ei) - (-bi * ei - bj * ej);
        assert!((swap_log_accept(bi, bj, ei, ej) - direct).abs() < 1e-12);
        assert!((direct - (-2.25)).abs() < 1e-12);
    }

    #[test]
    fn ladder_is_geometric_from_one_to_beta_min() {
        let b = ladder(4, 0.001);
        assert_eq!(b[0], 1.0);
        assert!((b[3] - 0.001).abs() < 1e-15);
        assert!((b[1] / b[0] - b[2] / b[1]).abs() < 1e-12);
        assert_eq!(ladder(1, 0.5), vec![1.0]);
    }

    #[test]
    fn swapping_rows_keeps_each_temperature_s_tempered_energy() {
        let mut ch = Chains {
            x: vec![1.0, 2.0],
            energy: vec![3.0, 0.5 * 7.0],
            grad: vec![6.0, 0.5 * 14.0],
            step: vec![0.1, 0.1],
            dim: 1,
            particles: None,
        };
        swap_rows(&mut ch, 0, 1, 1.0, 0.5);
        assert_eq!(ch.x, vec![2.0, 1.0]);
        assert_eq!(ch.energy, vec![7.0, 1.5]);
        assert_eq!(ch.grad, vec![14.0, 3.0]);
    }

    /// p(x) = 0.3 N(-4, 0.5^2) + 0.7 N(4, 0.5^2): a barrier of 32 nats between the modes.
    struct TwoModes;
    impl Target for TwoModes {
        fn dim(&self) -> usize {
            1
        }
        fn energy(&self, x: &[f32], e: &mut [f32]) -> anyhow::Result<()> {
            let mut g = vec![0f32; x.len()];
            self.energy_and_grad(x, e, &mut g)
        }
        fn energy_and_grad(&self, x: &[f32], e: &mut [f32], g: &mut [f32]) -> anyhow::Result<()> {
            for ((xi, ei), gi) in x.iter().zip(e.iter_mut()).zip(g.iter_mut()) {
                let x = *xi as f64;
                let (l1, l2) = (
                    0.3f64.ln() - (x + 4.0).powi(2) / 0.5,
                    0.7f64.ln() - (x - 4.0).powi(2) / 0.5,
                );
                let m = l1.max(l2);
                let (w1, w2) = ((l1 - m).exp(), (l2 - m).exp());
                *ei = -(m + (w1 + w2).ln()) as f32;
                // -d/dx log p = sum_k w_k (x - mu_k) / s^2 / sum_k w_k.
                *gi = ((w1 * (x + 4.0) + w2 * (x - 4.0)) / 0.25 / (w1 + w2)) as f32;
            }
            Ok(())
        }
    }

    fn right_mode_share(x: &[f32]) -> f64 {
        x.iter().filter(|v| **v > 0.0).count() as f64 / x.len() as f64
    }

    #[test]
    fn tempering_finds_the_mode_weights_a_single_mala_chain_does_not() {
        let target = CountedTarget::new(Box::new(TwoModes));
        let cfg = ParallelTemperingConfig {
            replicas: 8,
            beta_min: 0.02,
            chains: 32,
            burn_in: 500,
            pilot: 300,
            descent_steps: 50,
            ..Default::default()
        };
        let mut pt = cfg.build(&target).unwrap();
        // At n = 64,000 the share is 0.709; the mode indicator decorrelates more slowly than
        // the energy whose tau sets the thinning, hence the 0.05 tolerance at n = 4,000.
        let n = 4000;
        let x = pt.sample(n, &RngStreams::new(3), &mut |_, _| {}).unwrap().x;
        let report = pt.report();
        let share = right_mode_share(&x);
        assert!((share - 0.7).abs() < 0.05, "PT: share {share}, {report:?}");
        // Every pair swaps, and every replica's evaluations are counted: 8 x 32 rows per step.
        for (k, v) in &report {
            if k.starts_with("swap_rate") {
                assert!(*v > 0.2 && *v <= 1.0, "{k} = {v}");
            }
        }
        let thin = report.iter().find(|(k, _)| k == "thin").unwrap().1 as u64;
        let steps = 500 + 300 + n.div_ceil(32) as u64 * thin;
        assert_eq!(target.evals(), 8 * 32 * (50 + 1 + steps));
        // The same budget of plain MALA chains keeps the share they started with.
        let mala = super::super::McmcSettings {
            method: Method::Mala,
            chains: 32,
            burn_in: 500,
            pilot: 300,
            descent_steps: 50,
            ..Default::default()
        };
        let (y, _) =
            super::super::run_mcmc(&target, &mala, n, &RngStreams::new(3), &mut |_, _, _| {})
                .unwrap();
        let single = right_mode_share(&y);
        eprintln!("right-mode share: PT {share:.3}, MALA {single:.3} (exact 0.7); {report:?}");
        assert!((single - 0.7).abs() > 0.1, "MALA: share {single}");
    }
}
