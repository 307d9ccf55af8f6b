//! The variance-exploding SDE with a geometric noise schedule (DEM, IW-SM).
//!
//! sigma_d = sigma_max / sigma_min; g(t) = sigma_min sigma_d^t sqrt(2 ln sigma_d);
//! h(t) = sigma_min^2 (sigma_d^(2t) - 1) = int_0^t g(s)^2 ds, the variance of x_t given x_0.

use serde::{Deserialize, Serialize};

/// Geometric VE schedule.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GeometricSchedule {
    /// Noise scale at t = 0.
    pub sigma_min: f64,
    /// Noise scale at t = 1.
    pub sigma_max: f64,
}

impl GeometricSchedule {
    /// A schedule; fails unless 0 < sigma_min < sigma_max.
    pub fn new(sigma_min: f64, sigma_max: f64) -> anyhow::Result<Self> {
        let s = GeometricSchedule {
            sigma_min,
            sigma_max,
        };
        s.validate()?;
        Ok(s)
    }
    /// Checks 0 < sigma_min < sigma_max, both finite.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.sigma_min > 0.0 && self.sigma_max > self.sigma_min && self.sigma_max.is_finite(),
            "noise schedule needs 0 < sigma_min < sigma_max, got sigma_min = {}, sigma_max = {}",
            self.sigma_min,
            self.sigma_max
        );
        Ok(())
    }
    fn ln_ratio(&self) -> f64 {
        (self.sigma_max / self.sigma_min).ln()
    }
    /// Diffusion coefficient g(t).
    pub fn g(&self, t: f64) -> f64 {
        let l = self.ln_ratio();
        self.sigma_min * (t * l).exp() * (2.0 * l).sqrt()
    }
    /// g(t)^2.
    pub fn g2(&self, t: f64) -> f64 {
        let g = self.g(t);
        g * g
    }
    /// Variance h(t) of x_t given x_0.
    pub fn h(&self, t: f64) -> f64 {
        self.sigma_min * self.sigma_min * (2.0 * t * self.ln_ratio()).exp_m1()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h_is_the_integral_of_g_squared() {
        let s = GeometricSchedule::new(1e-5, 1.0).unwrap();
        assert_eq!(s.h(0.0), 0.0);
        assert!((s.h(1.0) - (1.0 - 1e-10)).abs() < 1e-12);
        for &t in &[0.1, 0.5, 0.9] {
            let eps = 1e-6;
            let dh = (s.h(t + eps) - s.h(t - eps)) / (2.0 * eps);
            assert!((dh - s.g2(t)).abs() / s.g2(t) < 1e-6, "t={t}");
        }
    }

    #[test]
    fn rejects_bad_sigmas() {
        assert!(GeometricSchedule::new(1.0, 0.5).is_err());
        assert!(GeometricSchedule::new(0.0, 1.0).is_err());
    }
}
