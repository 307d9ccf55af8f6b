//! Correctors for samplers with a tractable density (flows): their samples carry log q(x).
//!
//! - `Imh(thin: k)`: independent Metropolis-Hastings with the sampler as proposal. The N = k n
//!   proposals, in order, drive one chain started at the first: x' is accepted with probability
//!   min(1, w(x') / w(x)), w = p~ / q = exp(-E - log q). Every k-th state of the chain (with
//!   repeats; states k-1, 2k-1, ...) is a corrected sample, n in all. Reports `imh_acceptance`
//!   (over the N - 1 moves), `imh_tau` (integrated autocorrelation time of E along the n returned
//!   states, Sokal window) and `imh_ess` = n / tau.
//! - `Snis`: self-normalised importance weights w_i / sum w; reports `snis_ess` =
//!   (sum w)^2 / sum w^2 / n and `snis_log_z` = LSE(log w) - log n, and returns n rows resampled
//!   systematically by weight so that every metric sees the reweighted distribution.

use nsamp_core::mcmc::iat::integrated_autocorr_time;
use nsamp_core::numerics::lse::{ess_fraction, log_sum_exp_f64};
use nsamp_core::numerics::rng::RngStreams;
use nsamp_core::rand::Rng as _;
use nsamp_core::{Corrected, Corrector, CorrectorConfig, CountedTarget, Samples};

/// log w = -E(x) - log q(x) of the proposals (energies counted as correction cost).
fn log_weights(
    samples: &Samples,
    target: &CountedTarget,
    who: &str,
) -> anyhow::Result<(Vec<f64>, Vec<f32>)> {
    let lq = samples.log_q.as_ref().ok_or_else(|| {
        anyhow::anyhow!(
            "{who} needs proposals with a density: a flow model (RealNvp) and its objective"
        )
    })?;
    let n = samples.n();
    anyhow::ensure!(n >= 2, "{who} needs at least 2 proposals");
    let mut e = vec![0f32; n];
    target.energy(&samples.x, &mut e)?;
    let lw = e
        .iter()
        .zip(lq)
        .map(|(&e, &l)| -(e as f64) - l as f64)
        .collect();
    Ok((lw, e))
}

fn gather(samples: &Samples, idx: &[usize]) -> Samples {
    let d = samples.dim;
    let mut x = Vec::with_capacity(idx.len() * d);
    for &i in idx {
        x.extend_from_slice(&samples.x[i * d..(i + 1) * d]);
    }
    let mut out = Samples::new(x, d);
    out.log_q = samples
        .log_q
        .as_ref()
        .map(|l| idx.iter().map(|&i| l[i]).collect());
    out
}

nsamp_core::config! {
    /// `Imh(thin: 1)`: independent Metropolis-Hastings over the sampler's proposals, keeping every
    /// `thin`-th state of one chain over `thin` x n proposals.
    pub struct Imh {
        /// Chain steps per returned state (>= 1): the chain runs over thin x n proposals. A mode the
        /// flow under-weights by a factor r is entered about once per r / weight proposals.
        thin: usize = 1,
    }
}

impl Corrector for Imh {
    fn proposals_per_sample(&self) -> usize {
        self.thin
    }
    fn correct(
        &mut self,
        samples: Samples,
        target: &CountedTarget,
        streams: &RngStreams,
    ) -> anyhow::Result<Corrected> {
        let (lw, e) = log_weights(&samples, target, "Imh")?;
        let k = self.thin;
        let n_prop = lw.len();
        let n = n_prop / k;
        anyhow::ensure!(
            n >= 2,
            "Imh: {n_prop} proposals at thin {k} leave fewer than 2 states"
        );
        let mut rng = streams.stream("imh", 0);
        let (mut cur, mut accepted) = (0usize, 0usize);
        let mut kept = Vec::with_capacity(n);
        for (i, &w) in lw.iter().enumerate().take(n * k) {
            // A non-finite current weight (only possible at the start) is always left.
            if i > 0 && (rng.random::<f64>().ln() < w - lw[cur] || !lw[cur].is_finite()) {
                cur = i;
                accepted += 1;
            }
            if i % k == k - 1 {
                kept.push(cur);
            }
        }
        let trace: Vec<f64> = kept.iter().map(|&i| e[i] as f64).collect();
        let tau = integrated_autocorr_time(&trace, 1);
        Ok(Corrected {
            samples: gather(&samples, &kept),
            report: vec![
                (
                    "imh_acceptance".into(),
                    accepted as f64 / (n * k - 1) as f64,
                ),
                ("imh_tau".into(), tau),
                ("imh_ess".into(), n as f64 / tau),
            ],
        })
    }
}

nsamp_core::config! {
    /// `Snis()`: importance reweighting with systematic resampling.
    pub struct Snis {}
}

impl Corrector for Snis {
    fn correct(
        &mut self,
        samples: Samples,
        target: &CountedTarget,
        streams: &RngStreams,
    ) -> anyhow::Result<Corrected> {
        let (lw, _) = log_weights(&samples, target, "Snis")?;
        let n = lw.len();
        let lse = log_sum_exp_f64(&lw);
        anyhow::ensure!(lse.is_finite(), "Snis: no proposal has a finite weight");
        // Systematic resampling: one uniform offset, n evenly spaced points on the weight CDF.
        let u0 = streams.stream("snis", 0).random::<f64>();
        let mut idx = Vec::with_capacity(n);
        let mut cdf = 0.0;
        let mut j = 0;
        for (i, &w) in lw.iter().enumerate() {
            cdf += (w - lse).exp();
            while j < n && (j as f64 + u0) / n as f64 <= cdf {
                idx.push(i);
                j += 1;
            }
        }
        while idx.len() < n {
            idx.push(n - 1); // rounding at the end of the CDF
        }
        Ok(Corrected {
            samples: gather(&samples, &idx),
            report: vec![
                ("snis_ess".into(), ess_fraction(&lw)),
                ("snis_log_z".into(), lse - (n as f64).ln()),
            ],
        })
    }
}

impl CorrectorConfig for Imh {
    fn build(&self, _dim: usize) -> anyhow::Result<Box<dyn Corrector>> {
        anyhow::ensure!(self.thin >= 1, "Imh: thin must be at least 1");
        Ok(Box::new(self.clone()))
    }
}
impl CorrectorConfig for Snis {
    fn build(&self, _dim: usize) -> anyhow::Result<Box<dyn Corrector>> {
        Ok(Box::new(self.clone()))
    }
}

nsamp_core::register!(
    Corrector,
    "Imh",
    Imh,
    "independent Metropolis-Hastings over a flow's proposals: acceptance, autocorrelation time, corrected samples"
);
nsamp_core::register!(
    Corrector,
    "Snis",
    Snis,
    "self-normalised importance weights of a flow's proposals: ESS, log Z estimate, systematic resampling"
);

#[cfg(test)]
mod tests {
    use super::*;
    use nsamp_core::numerics::rng::fill_normal;
    use nsamp_core::{ExactSampler, Target};

    /// The 2-D standard normal: E = |x|^2 / 2, log Z = log(2 pi).
    struct Normal2;
    impl Target for Normal2 {
        fn dim(&self) -> usize {
            2
        }
        fn energy(&self, x: &[f32], e: &mut [f32]) -> anyhow::Result<()> {
            for (r, e) in x.chunks(2).zip(e) {
                *e = 0.5 * (r[0] * r[0] + r[1] * r[1]);
            }
            Ok(())
        }
        fn energy_and_grad(&self, x: &[f32], e: &mut [f32], g: &mut [f32]) -> anyhow::Result<()> {
            self.energy(x, e)?;
            g.copy_from_slice(x);
            Ok(())
        }
        fn exact(&self) -> Option<&dyn ExactSampler> {
            Some(self)
        }
    }
    impl ExactSampler for Normal2 {
        fn sample(&self, n: usize, rng: &mut nsamp_core::numerics::rng::Rng) -> Vec<f32> {
            let mut x = vec![0f32; 2 * n];
            fill_normal(rng, &mut x);
            x
        }
        fn log_z(&self) -> Option<f64> {
            Some((2.0 * std::f64::consts::PI).ln())
        }
    }

    /// Proposals N(0, s^2 I) for the target N(0, I): with s = 1 IMH accepts everything and SNIS
    /// has ESS 1; with s = 1.5 the corrected variance returns to 1 and the log Z estimate to log 2 pi.
    fn proposals(s: f32, n: usize) -> Samples {
        let mut x = vec![0f32; 2 * n];
        fill_normal(&mut RngStreams::new(3).stream("prop", 0), &mut x);
        x.iter_mut().for_each(|v| *v *= s);
        let lq = x
            .chunks(2)
            .map(|r| {
                -0.5 * (r[0] * r[0] + r[1] * r[1]) / (s * s)
                    - (2.0 * std::f32::consts::PI * s * s).ln()
            })
            .collect();
        let mut out = Samples::new(x, 2);
        out.log_q = Some(lq);
        out
    }

    fn var(s: &Samples) -> f64 {
        s.x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / s.x.len() as f64
    }

    #[test]
    fn exact_proposals_are_all_accepted() {
        let t = CountedTarget::new(Box::new(Normal2));
        let c = Imh::default()
            .correct(proposals(1.0, 1000), &t, &RngStreams::new(1))
            .unwrap();
        assert_eq!(c.report[0], ("imh_acceptance".to_string(), 1.0));
        let s = Snis {}
            .correct(proposals(1.0, 1000), &t, &RngStreams::new(1))
            .unwrap();
        assert!((s.report[0].1 - 1.0).abs() < 1e-5);
    }

    /// Thinning by k runs the same chain over the k n proposals and keeps states k-1, 2k-1, ...
    #[test]
    fn thinning_keeps_every_kth_state_of_the_same_chain() {
        let t = CountedTarget::new(Box::new(Normal2));
        let raw = proposals(1.5, 1000);
        let full = Imh { thin: 1 }
            .correct(raw.clone(), &t, &RngStreams::new(1))
            .unwrap();
        let mut imh = Imh { thin: 5 };
        assert_eq!(imh.proposals_per_sample(), 5);
        let thinned = imh.correct(raw, &t, &RngStreams::new(1)).unwrap();
        assert_eq!(thinned.samples.n(), 200);
        for j in 0..200 {
            let i = 5 * j + 4;
            assert_eq!(
                thinned.samples.x[2 * j..2 * j + 2],
                full.samples.x[2 * i..2 * i + 2]
            );
        }
        assert_eq!(thinned.report[0], full.report[0], "the same acceptance");
        assert!(Imh { thin: 0 }.build(2).is_err());
    }

    #[test]
    fn wide_proposals_are_corrected() {
        let t = CountedTarget::new(Box::new(Normal2));
        let n = 40_000;
        let raw = proposals(1.5, n);
        assert!((var(&raw) - 2.25).abs() < 0.1);
        let c = Imh::default()
            .correct(raw.clone(), &t, &RngStreams::new(1))
            .unwrap();
        let acc = c.report[0].1;
        assert!(acc > 0.5 && acc < 0.95, "acceptance {acc}");
        assert!(
            (var(&c.samples) - 1.0).abs() < 0.05,
            "IMH variance {}",
            var(&c.samples)
        );
        let s = Snis {}.correct(raw, &t, &RngStreams::new(1)).unwrap();
        assert!(
            (var(&s.samples) - 1.0).abs() < 0.05,
            "SNIS variance {}",
            var(&s.samples)
        );
        let log_z = s.report[1].1;
        assert!(
            (log_z - (2.0 * std::f64::consts::PI).ln()).abs() < 0.02,
            "log Z {log_z}"
        );
    }
}
