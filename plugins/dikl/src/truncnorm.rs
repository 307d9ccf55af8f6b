//! Exact draws from a normal distribution truncated to an interval, N(mu, s^2) restricted to
//! [lo, hi] (DiKL draws its posterior proposals with scipy's `truncnorm` inside a box).
//!
//! In standard units a = (lo - mu) / s, b = (hi - mu) / s, by rejection (every branch exact):
//! - a <= 0 <= b, b - a >= 2.5: z ~ N(0, 1) until a <= z <= b (acceptance >= 0.6);
//! - a <= 0 <= b, narrower: z ~ U(a, b), accepted with probability exp(-z^2 / 2);
//! - a > 0 (b < 0 by symmetry): Robert (1995): z = a + Exp(lambda), lambda = (a + sqrt(a^2 + 4)) / 2,
//!   accepted with probability exp(-(z - lambda)^2 / 2) when z <= b; when b - a < 1 / lambda,
//!   z ~ U(a, b) accepted with probability exp((a^2 - z^2) / 2) instead.

use nsamp_core::numerics::rng::Rng;
use nsamp_core::rand::Rng as _;
use nsamp_core::rand_distr::{Distribution, StandardNormal};

/// Most proposals per draw before giving up (every branch accepts with probability >= ~0.1).
const MAX_TRIES: usize = 100_000;

/// One draw of N(0, 1) truncated to [a, b], a < b (either may be infinite).
pub fn std_truncated(rng: &mut Rng, a: f64, b: f64) -> anyhow::Result<f64> {
    anyhow::ensure!(a < b, "truncated normal: empty interval [{a}, {b}]");
    if b <= 0.0 {
        return Ok(-std_truncated(rng, -b, -a)?);
    }
    for _ in 0..MAX_TRIES {
        let z = if a <= 0.0 {
            if b - a >= 2.5 {
                let z: f64 = StandardNormal.sample(rng);
                if z < a || z > b {
                    continue;
                }
                z
            } else {
                let z = rng.random_range(a..b);
                if rng.random::<f64>() > (-0.5 * z * z).exp() {
                    continue;
                }
                z
            }
        } else {
            let lambda = 0.5 * (a + (a * a + 4.0).sqrt());
            if b - a >= 1.0 / lambda {
                let u: f64 = rng.random();
                let z = a - (1.0 - u).ln() / lambda;
                if z > b || rng.random::<f64>() > (-0.5 * (z - lambda).powi(2)).exp() {
                    continue;
                }
                z
            } else {
                let z = rng.random_range(a..b);
                if rng.random::<f64>() > (0.5 * (a * a - z * z)).exp() {
                    continue;
                }
                z
            }
        };
        return Ok(z);
    }
    anyhow::bail!("truncated normal: no draw in [{a}, {b}] after {MAX_TRIES} proposals")
}

/// One draw of N(mu, s^2) truncated to [lo, hi] (`bound` None: untruncated).
pub fn truncated(rng: &mut Rng, mu: f64, s: f64, bound: Option<(f64, f64)>) -> anyhow::Result<f64> {
    match bound {
        None => {
            let z: f64 = StandardNormal.sample(rng);
            Ok(mu + s * z)
        }
        Some((lo, hi)) => {
            let z = std_truncated(rng, (lo - mu) / s, (hi - mu) / s)?;
            // Rounding at the edges: keep the draw inside the box.
            Ok((mu + s * z).clamp(lo, hi))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nsamp_core::numerics::rng::RngStreams;

    /// Mean and variance of N(0, 1) truncated to [a, b]:
    /// m = (phi(a) - phi(b)) / Z, v = 1 + (a phi(a) - b phi(b)) / Z - m^2, Z by quadrature.
    fn moments(a: f64, b: f64) -> (f64, f64) {
        let phi = |x: f64| (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
        let n = 200_000;
        let h = (b - a) / n as f64;
        let z: f64 = (0..n).map(|i| phi(a + (i as f64 + 0.5) * h) * h).sum();
        let m = (phi(a) - phi(b)) / z;
        (m, 1.0 + (a * phi(a) - b * phi(b)) / z - m * m)
    }

    #[test]
    fn every_branch_has_the_right_mean_and_variance() {
        let mut rng = RngStreams::new(5).stream("tn", 0);
        // Wide around 0, narrow around 0, upper tail (exponential), narrow upper tail
        // (uniform), lower tail (mirror).
        for (a, b) in [
            (-1.3, 2.0),
            (-0.4, 0.9),
            (2.0, 5.0),
            (4.0, 4.1),
            (-7.0, -3.0),
        ] {
            let n = 40_000;
            let v: Vec<f64> = (0..n)
                .map(|_| std_truncated(&mut rng, a, b).unwrap())
                .collect();
            assert!(v.iter().all(|&z| z >= a && z <= b));
            let mean = v.iter().sum::<f64>() / n as f64;
            let var = v.iter().map(|z| (z - mean).powi(2)).sum::<f64>() / n as f64;
            let (m, s2) = moments(a, b);
            let se = (s2 / n as f64).sqrt();
            assert!(
                (mean - m).abs() < 5.0 * se,
                "[{a}, {b}]: mean {mean} vs {m}"
            );
            assert!(
                (var - s2).abs() < 0.05 * s2,
                "[{a}, {b}]: variance {var} vs {s2}"
            );
        }
    }

    #[test]
    fn scaled_draws_stay_in_the_box() {
        let mut rng = RngStreams::new(6).stream("tn", 0);
        for _ in 0..1000 {
            let x = truncated(&mut rng, 3000.0, 1500.0, Some((-1000.0, 1000.0))).unwrap();
            assert!((-1000.0..=1000.0).contains(&x));
        }
        assert!(std_truncated(&mut rng, 1.0, 1.0).is_err());
    }
}
