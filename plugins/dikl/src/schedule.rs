//! DiKL's discrete variance-preserving diffusion (DiKL `models/dm_utils.py`, `models/mlp.py`):
//! T integer steps with beta_k linear from `beta_start` to `beta_end` (k = 0..T-1),
//! alphabar_t = prod_{k <= t} (1 - beta_k), a_t = sqrt(alphabar_t), sigma_t = sqrt(1 - alphabar_t),
//! and x_t = a_t x_0 + sigma_t eps. Training draws t ~ U{1, ..., T-1} (t = 0 is never used).

use nsamp_core::rand::Rng as _;

nsamp_core::config! {
    /// `(steps: 30, beta_start: 1e-4, beta_end: 0.7)`: the VP schedule.
    pub struct VpScheduleConfig {
        /// Number of integer steps T (t ~ U{1..T-1}); DiKL: 30.
        steps: usize = 30,
        /// beta_0 (DiKL GMM: 1e-4; DW-4 / LJ-13: 1e-6).
        beta_start: f64 = 1e-4,
        /// beta_{T-1} (DiKL GMM: 0.7; DW-4 / LJ-13: 0.05).
        beta_end: f64 = 0.7,
    }
}

/// The tabulated schedule: a_t and sigma_t for t = 0..T-1.
#[derive(Debug, Clone)]
pub struct VpSchedule {
    /// a_t = sqrt(alphabar_t).
    pub a: Vec<f64>,
    /// sigma_t = sqrt(1 - alphabar_t).
    pub sigma: Vec<f64>,
}

impl VpSchedule {
    /// Tabulates the schedule; fails unless 2 <= T <= 10^6 and 0 < beta_start, beta_end < 1.
    pub fn new(c: &VpScheduleConfig) -> anyhow::Result<Self> {
        anyhow::ensure!(
            (2..=1_000_000).contains(&c.steps),
            "DiKL schedule: `steps` must be between 2 and 10^6, got {}",
            c.steps
        );
        for (name, b) in [("beta_start", c.beta_start), ("beta_end", c.beta_end)] {
            anyhow::ensure!(
                b.is_finite() && b > 0.0 && b < 1.0,
                "DiKL schedule: `{name}` must lie in (0, 1), got {b}"
            );
        }
        let n = c.steps;
        let mut abar = 1f64;
        let (mut a, mut sigma) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for k in 0..n {
            // torch.linspace(start, end, n)[k].
            let beta = c.beta_start + (c.beta_end - c.beta_start) * k as f64 / (n - 1) as f64;
            abar *= 1.0 - beta;
            a.push(abar.sqrt());
            sigma.push((1.0 - abar).sqrt());
        }
        Ok(VpSchedule { a, sigma })
    }

    /// Number of steps T.
    pub fn steps(&self) -> usize {
        self.a.len()
    }

    /// `n` steps drawn uniformly from {1, ..., T-1}.
    pub fn draw_steps(&self, rng: &mut nsamp_core::numerics::rng::Rng, n: usize) -> Vec<usize> {
        (0..n).map(|_| rng.random_range(1..self.steps())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_official_schedule() {
        let s = VpSchedule::new(&VpScheduleConfig::default()).unwrap();
        // torch: betas = linspace(1e-4, 0.7, 30); alphas_bar_sqrt = sqrt(cumprod(1 - betas)).
        assert!((s.a[0] - (1.0f64 - 1e-4).sqrt()).abs() < 1e-12);
        let b1: f64 = 1e-4 + (0.7 - 1e-4) / 29.0;
        assert!((s.a[1] - ((1.0 - 1e-4f64) * (1.0 - b1)).sqrt()).abs() < 1e-12);
        // Values printed by the same recursion in Python: a_29 = 6.6e-4, sigma/a = 1.51e3.
        assert!((s.a[29] - 6.6e-4).abs() < 1e-5, "{}", s.a[29]);
        for t in 0..30 {
            assert!((s.a[t].powi(2) + s.sigma[t].powi(2) - 1.0).abs() < 1e-12);
        }
        let mut rng = nsamp_core::numerics::rng::RngStreams::new(1).stream("t", 0);
        let t = s.draw_steps(&mut rng, 10_000);
        assert!(t.iter().all(|&t| (1..30).contains(&t)));
        assert!(t.contains(&1) && t.contains(&29));
    }

    #[test]
    fn refuses_bad_settings() {
        let bad = VpScheduleConfig {
            beta_end: 1.5,
            ..Default::default()
        };
        assert!(VpSchedule::new(&bad).is_err());
        let bad = VpScheduleConfig {
            steps: 1,
            ..Default::default()
        };
        assert!(VpSchedule::new(&bad).is_err());
    }
}
