//! The built-in metrics (registered in the `metric` family) and the functions behind them.
//!
//! Definitions (also in the README):
//! - `W1`, `W2`: exact optimal transport between n samples and n reference rows with uniform
//!   weights, Euclidean cost on flattened vectors in data units; W2 = sqrt(mean squared cost).
//! - `ETvd`: total variation between histograms of E(x) of samples and reference.
//! - `STvd`: total variation between 2-D histograms in sample space (2-D targets).
//! - `DTvd`: total variation between histograms of all interparticle distances (particles).
//! - `ModeCoverage`: share of mixture components holding at least a set share of the samples,
//!   and the TVD between component occupancies and the true weights.
//! - `Nll`, `Rnll`, `Ess`: density metrics of flows ([`density`]).
//! - `Mmd`: squared maximum mean discrepancies of DEM's evaluation code, linear, polynomial and
//!   mixture-of-RBF kernels ([`mmd`]).

pub mod density;
pub mod histogram;
pub mod mmd;
pub mod modes;
pub mod transport;

use crate::metric::{Metric, MetricConfig, MetricInput};
use crate::target::Target;

crate::config! {
    /// `W1()`: exact 1-Wasserstein distance (Euclidean cost), data units.
    pub struct W1 {}
}

crate::config! {
    /// `W2()`: exact 2-Wasserstein distance, data units.
    pub struct W2 {}
}

impl Metric for W1 {
    fn max_samples(&self) -> Option<usize> {
        Some(transport::MAX_POINTS)
    }
    fn compute(&self, i: &MetricInput<'_>) -> anyhow::Result<Vec<(String, f64)>> {
        Ok(vec![(
            "W1".into(),
            transport::wasserstein(i.samples, i.reference, i.dim, 1)?,
        )])
    }
}
impl Metric for W2 {
    fn max_samples(&self) -> Option<usize> {
        Some(transport::MAX_POINTS)
    }
    fn compute(&self, i: &MetricInput<'_>) -> anyhow::Result<Vec<(String, f64)>> {
        Ok(vec![(
            "W2".into(),
            transport::wasserstein(i.samples, i.reference, i.dim, 2)?,
        )])
    }
}

crate::config! {
    /// `ETvd(bins: None)`: energy-histogram total variation; `bins` defaults to floor(sqrt(n_ref)).
    pub struct ETvd {
        /// Number of bins (None: floor(sqrt(n_ref))).
        bins: Option<usize> = Default::default(),
    }
}

impl Metric for ETvd {
    fn compute(&self, i: &MetricInput<'_>) -> anyhow::Result<Vec<(String, f64)>> {
        let bins = self
            .bins
            .unwrap_or_else(|| histogram::default_bins_1d(i.reference_energy.len()));
        Ok(vec![(
            "E-TVD".into(),
            histogram::tvd_1d(i.sample_energy, i.reference_energy, bins)?,
        )])
    }
}

crate::config! {
    /// `STvd(bins: None)`: 2-D sample-space histogram total variation; `bins` per axis defaults to
    /// round(n_ref^(1/4)), so that the number of cells is about sqrt(n_ref).
    pub struct STvd {
        /// Bins per axis (None: round(n_ref^(1/4))).
        bins: Option<usize> = Default::default(),
    }
}

impl Metric for STvd {
    fn check(&self, target: &dyn Target) -> anyhow::Result<()> {
        anyhow::ensure!(
            target.dim() == 2,
            "STvd needs a 2-D target; this target has dimension {}",
            target.dim()
        );
        Ok(())
    }
    fn compute(&self, i: &MetricInput<'_>) -> anyhow::Result<Vec<(String, f64)>> {
        anyhow::ensure!(
            i.dim == 2,
            "STvd needs 2-D samples, got dimension {}",
            i.dim
        );
        let n_ref = i.reference.len() / 2;
        let bins = self
            .bins
            .unwrap_or_else(|| histogram::default_bins_2d(n_ref));
        Ok(vec![(
            "S-TVD".into(),
            histogram::tvd_2d(i.samples, i.reference, bins)?,
        )])
    }
}

crate::config! {
    /// `DTvd(bins: None)`: total variation between histograms of all interparticle distances
    /// |x_i - x_j|, i < j, of samples and reference (particle targets); `bins` defaults to
    /// floor(sqrt(n_ref)) with n_ref the number of reference configurations.
    pub struct DTvd {
        /// Number of bins over the reference's distance range (None: floor(sqrt(n_ref))).
        bins: Option<usize> = Default::default(),
    }
}

impl Metric for DTvd {
    fn check(&self, target: &dyn Target) -> anyhow::Result<()> {
        anyhow::ensure!(
            target.particles().is_some(),
            "DTvd needs a particle target (DW-4, LJ-13, ...)"
        );
        Ok(())
    }
    fn compute(&self, i: &MetricInput<'_>) -> anyhow::Result<Vec<(String, f64)>> {
        let p = i
            .target
            .particles()
            .ok_or_else(|| anyhow::anyhow!("DTvd needs a particle target"))?;
        let (mut ds, mut dr) = (Vec::new(), Vec::new());
        crate::numerics::pairwise::interparticle_distances(i.samples, p.n, p.spatial_dim, &mut ds);
        crate::numerics::pairwise::interparticle_distances(
            i.reference,
            p.n,
            p.spatial_dim,
            &mut dr,
        );
        let bins = self
            .bins
            .unwrap_or_else(|| histogram::default_bins_1d(i.reference.len() / i.dim));
        Ok(vec![("D-TVD".into(), histogram::tvd_1d(&ds, &dr, bins)?)])
    }
}

crate::config! {
    /// `ModeCoverage(min_share: None)`: covered components, occupancy TVD, the worst component's
    /// occupancy over its weight, and the share between modes (mixture targets). A component is
    /// covered when it holds at least `min_share` of the samples (None: 1/(4K)).
    pub struct ModeCoverage {
        /// Minimum share of samples for a component to count as covered (None: 1/(4K)).
        min_share: Option<f64> = Default::default(),
    }
}

impl Metric for ModeCoverage {
    fn check(&self, target: &dyn Target) -> anyhow::Result<()> {
        anyhow::ensure!(
            target.mixture().is_some(),
            "ModeCoverage needs a mixture target (one with known components)"
        );
        Ok(())
    }
    fn compute(&self, i: &MetricInput<'_>) -> anyhow::Result<Vec<(String, f64)>> {
        let mix = i
            .target
            .mixture()
            .ok_or_else(|| anyhow::anyhow!("ModeCoverage needs a mixture target"))?;
        let c = modes::mode_coverage(mix, i.samples, self.min_share);
        Ok(vec![
            ("mode_coverage".into(), c.coverage),
            ("modes_covered".into(), c.covered as f64),
            ("mode_tvd".into(), c.occupancy_tvd),
            ("min_occupancy_ratio".into(), c.min_occupancy_ratio),
            ("between_modes".into(), c.between_modes),
        ])
    }
}

macro_rules! metric_config {
    ($($t:ty),*) => {$(
        impl MetricConfig for $t {
            fn build(&self) -> anyhow::Result<Box<dyn Metric>> {
                Ok(Box::new(self.clone()))
            }
        }
    )*};
}
metric_config!(W1, W2, ETvd, STvd, DTvd, ModeCoverage);

crate::register!(
    Metric,
    "W1",
    W1,
    "exact 1-Wasserstein distance (Euclidean cost, optimal assignment), data units"
);
crate::register!(
    Metric,
    "W2",
    W2,
    "exact 2-Wasserstein distance: sqrt(mean squared cost of the optimal assignment), data units"
);
crate::register!(
    Metric,
    "ETvd",
    ETvd,
    "total variation between energy histograms (edges from the reference, plus under/overflow bins)"
);
crate::register!(
    Metric,
    "STvd",
    STvd,
    "total variation between 2-D sample-space histograms (2-D targets)"
);
crate::register!(
    Metric,
    "DTvd",
    DTvd,
    "total variation between histograms of all interparticle distances (particle targets)"
);
crate::register!(
    Metric,
    "ModeCoverage",
    ModeCoverage,
    "share of mixture components holding >= min_share of the samples, and occupancy TVD to the weights"
);
crate::register!(
    Metric,
    "Mmd",
    mmd::Mmd,
    "squared MMD as in DEM's evaluation code: MMD_linear, MMD_poly (linear-time), MMD_rbf (sum of RBFs, biased)"
);
