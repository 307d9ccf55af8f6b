//! 1-D Wasserstein-2 distances between scalar features of the samples and of the reference:
//! energies (`EnergyW2`) and pooled interparticle distances (`DistanceW2`), as DEM logs them
//! (`energy_w2`, `dist_w2` in `dem/models/dem_module.py`, commit 8e95319).
//!
//! With u_1 <= ... <= u_n and v_1 <= ... <= v_m the sorted values and uniform weights, the
//! optimal plan is the monotone (quantile) coupling, W2^2 = int_0^1 |F_u^-1(t) - F_v^-1(t)|^2 dt
//! ([`super::transport::wasserstein_1d_pow`]); sizes may differ.
//!
//! - `Nsamp`: reports W2 itself (`E-W2`, `D-W2`), in the feature's units.
//! - `Community`: reports DEM's figure, `pot.emd2_1d(ref, gen)` with POT's default metric
//!   `sqeuclidean`, i.e. **W2^2** (`community/E-W2`, `community/D-W2`), against as many reference
//!   rows as there are samples (the first: DEM draws `eval_batch_size` test rows). DEM evaluates it on
//!   log-densities (-E), which gives the same value.

use super::community::{key, scored_input, Protocol};
use super::transport::wasserstein_1d_pow;
use crate::metric::{Metric, MetricConfig, MetricInput};
use crate::target::Target;

crate::config! {
    /// `EnergyW2(protocol: Nsamp)`: 1-D W2 between the energies of samples and reference
    /// (`E-W2`); `Community` reports DEM's `energy_w2`, the squared W2 (`community/E-W2`).
    pub struct EnergyW2 {
        /// Which definition (default Nsamp: W2; Community: W2^2 as DEM logs it).
        protocol: Protocol = Protocol::Nsamp,
    }
}

crate::config! {
    /// `DistanceW2(protocol: Nsamp)`: 1-D W2 between all interparticle distances |x_k - x_l|,
    /// k < l, of samples and of reference, pooled over configurations (`D-W2`); `Community`
    /// reports DEM's `dist_w2`, the squared W2 (`community/D-W2`).
    pub struct DistanceW2 {
        /// Which definition (default Nsamp: W2; Community: W2^2 as DEM logs it).
        protocol: Protocol = Protocol::Nsamp,
    }
}

fn figure(protocol: Protocol, w2_squared: f64) -> f64 {
    match protocol {
        Protocol::Nsamp => w2_squared.max(0.0).sqrt(),
        Protocol::Community => w2_squared,
    }
}

impl Metric for EnergyW2 {
    fn compute(&self, i: &MetricInput<'_>) -> anyhow::Result<Vec<(String, f64)>> {
        let i = &scored_input(self.protocol, i);
        let w = wasserstein_1d_pow(i.sample_energy, i.reference_energy, 2)?;
        Ok(vec![(key(self.protocol, "E-W2"), figure(self.protocol, w))])
    }
}

impl Metric for DistanceW2 {
    fn check(&self, target: &dyn Target) -> anyhow::Result<()> {
        anyhow::ensure!(
            target.particles().is_some(),
            "DistanceW2 needs a particle target (DW-4, LJ-13, ...)"
        );
        Ok(())
    }
    fn compute(&self, i: &MetricInput<'_>) -> anyhow::Result<Vec<(String, f64)>> {
        let i = &scored_input(self.protocol, i);
        let (ds, dr) = super::pooled_distances(i, "DistanceW2")?;
        let w = wasserstein_1d_pow(&ds, &dr, 2)?;
        Ok(vec![(key(self.protocol, "D-W2"), figure(self.protocol, w))])
    }
}

impl MetricConfig for EnergyW2 {
    fn build(&self) -> anyhow::Result<Box<dyn Metric>> {
        Ok(Box::new(self.clone()))
    }
}

impl MetricConfig for DistanceW2 {
    fn build(&self) -> anyhow::Result<Box<dyn Metric>> {
        Ok(Box::new(self.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_sets_give_zero_and_a_shift_gives_the_shift() {
        let a: Vec<f32> = (0..101)
            .map(|i| ((i * 37) % 101) as f32 * 0.25 - 3.0)
            .collect();
        assert_eq!(wasserstein_1d_pow(&a, &a, 2).unwrap(), 0.0);
        let b: Vec<f32> = a.iter().rev().map(|v| v + 1.5).collect();
        let w2sq = wasserstein_1d_pow(&a, &b, 2).unwrap();
        assert!((w2sq - 2.25).abs() < 1e-12, "{w2sq}");
        assert!((figure(Protocol::Nsamp, w2sq) - 1.5).abs() < 1e-12);
        assert_eq!(figure(Protocol::Community, w2sq), w2sq);
        let w1 = wasserstein_1d_pow(&a, &b, 1).unwrap();
        assert!((w1 - 1.5).abs() < 1e-12, "{w1}");
    }

    #[test]
    fn unequal_sizes_follow_the_quantile_coupling() {
        // u = {0, 1} (weights 1/2), v = {0, 1/2, 1} (weights 1/3): the quantile functions differ
        // on [1/3, 2/3) by 1/2, so W2^2 = (1/3)(1/4) = 1/12 and W1 = (1/3)(1/2) = 1/6.
        let (u, v) = ([1.0f32, 0.0], [0.5f32, 1.0, 0.0]);
        let w2sq = wasserstein_1d_pow(&u, &v, 2).unwrap();
        assert!((w2sq - 1.0 / 12.0).abs() < 1e-15, "{w2sq}");
        assert!((wasserstein_1d_pow(&v, &u, 2).unwrap() - 1.0 / 12.0).abs() < 1e-15);
        assert!((wasserstein_1d_pow(&u, &v, 1).unwrap() - 1.0 / 6.0).abs() < 1e-15);
        // Equal sizes: the mean squared difference of the sorted values.
        let (x, y) = ([3.0f32, 1.0, 2.0], [10.0f32, 0.0, 1.0]);
        let want =
            ((1.0 - 0.0f64).powi(2) + (2.0 - 1.0f64).powi(2) + (3.0 - 10.0f64).powi(2)) / 3.0;
        assert!((wasserstein_1d_pow(&x, &y, 2).unwrap() - want).abs() < 1e-12);
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        assert!(wasserstein_1d_pow(&[], &[1.0], 2).is_err());
        let e = wasserstein_1d_pow(&[f32::NAN], &[1.0], 2)
            .unwrap_err()
            .to_string();
        assert!(e.contains("non-finite"), "{e}");
    }
}
