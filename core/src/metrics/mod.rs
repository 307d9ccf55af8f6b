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
//! - `EnergyW2`, `DistanceW2`: 1-D W2 between energies / pooled interparticle distances
//!   ([`scalar_w2`]).
//! - `EqW2`: equivariant transport distance for particle targets ([`equivariant`]).
//!
//! `ETvd`, `DTvd`, `EnergyW2`, `DistanceW2` and `EqW2` take `protocol: Nsamp` (default, the
//! definitions above) or `protocol: Community` (the community's evaluation code number for
//! number, reported under `community/<name>`; see [`community`]). Every community figure
//! compares sets of equal size: the samples against the reference's first as many rows
//! ([`community::scored_input`]), as DEM scores `eval_batch_size` samples against
//! `eval_batch_size` test rows.
//!
//! The nsamp protocol's histogram TVDs (`E-TVD`, `S-TVD`, `D-TVD`) score `eval.tvd_samples`
//! rows (10,000 by default) against as many reference rows ([`Metric::wide_set`]), with
//! Freedman-Diaconis bins over the reference's range ([`histogram::freedman_diaconis_bins`]);
//! every other metric scores `eval.samples` rows.

pub mod assignment;
pub mod candidate_lap;
pub mod community;
pub mod density;
pub mod equivariant;
pub mod histogram;
pub mod mmd;
pub mod modes;
pub mod scalar_w2;
pub mod transport;

use community::{key, scored_input, Protocol, COMMUNITY_BINS};

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
    /// `ETvd(bins: None, protocol: Nsamp)`: energy-histogram total variation. Nsamp: edges over
    /// the reference range plus under/overflow bins, `bins` defaults to the Freedman-Diaconis
    /// rule on the reference energies (at most floor(sqrt(n_ref))), scored on the
    /// `eval.tvd_samples` set, key `E-TVD`. Community (DiKL's `eval.py`, DEM's histogram TVD):
    /// `bins` defaults to 200, out-of-range samples dropped, `eval.samples` rows against as many
    /// reference rows (the first), key `community/E-TVD`.
    pub struct ETvd {
        /// Number of bins (None: Freedman-Diaconis under Nsamp, 200 under Community).
        bins: Option<usize> = Default::default(),
        /// Which definition (default Nsamp).
        protocol: Protocol = Protocol::Nsamp,
    }
}

impl Metric for ETvd {
    fn wide_set(&self) -> bool {
        self.protocol == Protocol::Nsamp
    }
    fn compute(&self, i: &MetricInput<'_>) -> anyhow::Result<Vec<(String, f64)>> {
        let i = &scored_input(self.protocol, i);
        let v = match self.protocol {
            Protocol::Nsamp => {
                let bins = self.bins.unwrap_or_else(|| {
                    histogram::freedman_diaconis_bins(i.reference_energy.iter().copied())
                });
                histogram::tvd_1d(i.sample_energy, i.reference_energy, bins)?
            }
            Protocol::Community => histogram::tvd_1d_dropping(
                i.sample_energy,
                i.reference_energy,
                self.bins.unwrap_or(COMMUNITY_BINS),
            )?,
        };
        Ok(vec![(key(self.protocol, "E-TVD"), v)])
    }
}

crate::config! {
    /// `STvd(bins: None)`: 2-D sample-space histogram total variation (nsamp protocol: the
    /// `eval.tvd_samples` set, under/overflow bins); `bins` per axis defaults to the
    /// Freedman-Diaconis rule on that axis of the reference (at most floor(sqrt(n_ref))).
    pub struct STvd {
        /// Bins per axis (None: Freedman-Diaconis per axis).
        bins: Option<usize> = Default::default(),
    }
}

impl Metric for STvd {
    fn wide_set(&self) -> bool {
        true
    }
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
        let axis = |k: usize| {
            self.bins.unwrap_or_else(|| {
                histogram::freedman_diaconis_bins(i.reference.iter().skip(k).step_by(2).copied())
            })
        };
        let bins = (axis(0), axis(1));
        Ok(vec![(
            "S-TVD".into(),
            histogram::tvd_2d(i.samples, i.reference, bins)?,
        )])
    }
}

crate::config! {
    /// `DTvd(bins: None, protocol: Nsamp)`: total variation between histograms of all
    /// interparticle distances |x_i - x_j|, i < j, of samples and reference (particle targets).
    /// Nsamp: `bins` defaults to the Freedman-Diaconis rule on the pooled reference distances
    /// (at most the square root of their count), under/overflow bins, the `eval.tvd_samples`
    /// set, key `D-TVD`. Community (DEM's `dist_total_var`): 200 bins, out-of-range distances
    /// dropped, the `eval.samples` configurations against as many reference rows (the first),
    /// key `community/D-TVD`.
    pub struct DTvd {
        /// Number of bins over the reference's distance range (None: Freedman-Diaconis under
        /// Nsamp, 200 under Community).
        bins: Option<usize> = Default::default(),
        /// Which definition (default Nsamp).
        protocol: Protocol = Protocol::Nsamp,
    }
}

/// The interparticle distances |x_k - x_l|, k < l, of every sample configuration and of every
/// reference configuration, each pooled into one list (particle targets; `metric` names the
/// caller in the error).
pub(crate) fn pooled_distances(
    i: &MetricInput<'_>,
    metric: &str,
) -> anyhow::Result<(Vec<f32>, Vec<f32>)> {
    let p = i
        .target
        .particles()
        .ok_or_else(|| anyhow::anyhow!("{metric} needs a particle target"))?;
    let (mut ds, mut dr) = (Vec::new(), Vec::new());
    crate::numerics::pairwise::interparticle_distances(i.samples, p.n, p.spatial_dim, &mut ds);
    crate::numerics::pairwise::interparticle_distances(i.reference, p.n, p.spatial_dim, &mut dr);
    Ok((ds, dr))
}

impl Metric for DTvd {
    fn wide_set(&self) -> bool {
        self.protocol == Protocol::Nsamp
    }
    fn check(&self, target: &dyn Target) -> anyhow::Result<()> {
        anyhow::ensure!(
            target.particles().is_some(),
            "DTvd needs a particle target (DW-4, LJ-13, ...)"
        );
        Ok(())
    }
    fn compute(&self, i: &MetricInput<'_>) -> anyhow::Result<Vec<(String, f64)>> {
        let i = &scored_input(self.protocol, i);
        let (ds, dr) = pooled_distances(i, "DTvd")?;
        let v = match self.protocol {
            Protocol::Nsamp => {
                let bins = self
                    .bins
                    .unwrap_or_else(|| histogram::freedman_diaconis_bins(dr.iter().copied()));
                histogram::tvd_1d(&ds, &dr, bins)?
            }
            Protocol::Community => {
                histogram::tvd_1d_dropping(&ds, &dr, self.bins.unwrap_or(COMMUNITY_BINS))?
            }
        };
        Ok(vec![(key(self.protocol, "D-TVD"), v)])
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
    "total variation between energy histograms (edges from the reference, plus under/overflow bins; Community: 200 bins, out-of-range dropped)"
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
    "EnergyW2",
    scalar_w2::EnergyW2,
    "1-D W2 between sample and reference energies (Community: DEM's energy_w2, the squared W2)"
);
crate::register!(
    Metric,
    "DistanceW2",
    scalar_w2::DistanceW2,
    "1-D W2 between pooled interparticle distances (Community: DEM's dist_w2, the squared W2)"
);
crate::register!(
    Metric,
    "EqW2",
    equivariant::EqW2,
    "equivariant transport distance, particle targets: permutation + rigid alignment per pair (Community: DEM's Eq-EMD2)"
);
crate::register!(
    Metric,
    "Mmd",
    mmd::Mmd,
    "squared MMD as in DEM's evaluation code: MMD_linear, MMD_poly (linear-time), MMD_rbf (sum of RBFs, biased)"
);
