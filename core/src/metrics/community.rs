//! The community's evaluation code, figure by figure, and the [`Protocol`] switch that makes a
//! metric compute either nsamp's definition or the community's.
//!
//! # Sources (read for facts; nsamp's code is its own)
//!
//! - DEM, jarridrb/DEM at commit 8e9531987b0bfe4e770d5009c10a56b8434c0f0a (19 Feb 2025):
//!   `dem/models/dem_module.py`, `dem/models/components/distribution_distances.py`,
//!   `dem/models/components/mmd.py`, `dem/models/components/optimal_transport.py`,
//!   `dem/energies/*.py`, `configs/experiment/*.yaml`.
//! - DiKL, jiajunhe98/DiKL at commit 11876a5bed4c03d2a7ffe1786fada9c5946a3a33 (4 Mar 2025):
//!   `DiKL/eval.py`, `DiKL/evaluation/metric.py` ("modified from iDEM's repo").
//!
//! # Which sets are compared (DEM, `dem_module.py`)
//!
//! - `eval_batch_size` = 1,000 in every GMM/DW-4/LJ-13 experiment config ("this has to be max
//!   1000 since test_set is 1000"; LJ-55: 128). At the end of validation/test (`eval_epoch_end`)
//!   `eval_batch_size` fresh samples are generated and compared with `eval_batch_size` rows of the
//!   test (or validation) set drawn without replacement (`sample_test_set`: a random permutation,
//!   first k rows). GMM's test set is fab's `gmm.test_set` (1,000 rows per that comment;
//!   fab-torch not read); DW-4's and LJ-13's the 1,000-row `data/test_split_*.npy` files,
//!   centred (`remove_mean`).
//! - `test/full_batch/*` (end of testing): `num_samples_to_save` (100,000 by default) samples,
//!   10,000 of them picked at random, against the *whole* test set (unequal sizes: POT's EMD
//!   with uniform weights 1/10,000 and 1/1,000; nsamp's W_p truncates to equal sizes instead).
//! - DiKL (`eval.py`): 2,000 samples against 2,000 reference rows, both drawn without
//!   replacement, repeated 10 times; the table shows the mean and standard deviation of the 10.
//!
//! # The figures
//!
//! With a the generated set (n rows) and b the reference set (m rows), flattened to vectors:
//!
//! - `1-Wasserstein`, `2-Wasserstein` (`optimal_transport.py::wasserstein`): POT's exact
//!   `emd2` with uniform weights on the cost `torch.cdist(a, b)` (Euclidean), squared for p = 2,
//!   and `sqrt` of the optimum for p = 2. For n = m the optimum is a permutation, so this is
//!   nsamp's [`W1`](super::W1) and [`W2`](super::W2) (nsamp's exact assignment solver,
//!   [`super::candidate_lap`], finds the same optimum as POT; checked against the dense `lsap`
//!   crate, a translation of scipy's `linear_sum_assignment`, on small sets). Particle targets get the same
//!   flattened figure (no symmetry taken into account). Differences: DEM's `cdist` is float32
//!   (and uses the |x|^2 - 2 x.y + |y|^2 expansion for large sets), nsamp's cost is f64.
//! - `Linear_MMD`, `Poly_MMD`, `RBF_MMD` (`mmd.py`): squared MMDs, see [`super::mmd`].
//! - `Mean_MSE`, `Mean_L2`, `Mean_L1`, `Median_*` (`compute_distances`): distances between the
//!   per-coordinate means (medians) of a and b; not implemented in nsamp.
//! - `Eq-EMD2` (particle targets, `distribution_distances.py::eot`): for every pair (a_i, b_j) of
//!   configurations, (1) the particles of b_j are permuted by `linear_sum_assignment` on the
//!   *Euclidean* (not squared) distances between the particles of a_i and b_j, uncentred and
//!   unrotated; (2) `find_rigid_alignment(a_i, P b_j)` (Kabsch) returns R = V U^T from the SVD
//!   H = U S V^T of H = (a_i - mean)^T (P b_j - mean): no determinant correction, so R may be a
//!   reflection; (3) the cost is M_ij = |a_i - (P b_j) R|, the Euclidean distance of the
//!   flattened configurations, with the rotation applied about the origin and no translation
//!   (DEM's sets are centred). Then `pot.emd2(M)` with uniform weights: the *mean* aligned
//!   distance under the optimal assignment, not a root-mean-square, despite the name. See
//!   [`super::equivariant`].
//! - `energy_w2` (`_log_energy_w2`): `pot.emd2_1d(E_ref, E_gen)` with POT's default metric
//!   `sqeuclidean`: the *squared* 1-D W2 between the two sets of energies (DEM passes
//!   log-densities, -E; the figure is the same), eval_batch_size values each. See
//!   [`super::scalar_w2`].
//! - `dist_w2` (`_log_dist_w2`, particle targets): the same squared 1-D W2 between all
//!   interatomic distances |x_k - x_l|, k < l, of all configurations, pooled.
//! - `dist_total_var` (`_compute_total_var`, particle targets): total variation between
//!   histograms of the pooled interatomic distances: `np.histogram(ref, bins=200)` (200
//!   equal-width bins spanning [min, max] of the reference values), the generated values
//!   histogrammed on the *same edges*, values outside [min, max] dropped (numpy drops them),
//!   each histogram normalised by its own count: TVD = 1/2 sum_k |p_k - q_k|. See
//!   [`super::histogram::tvd_1d_dropping`].
//! - Energy TVD (DiKL `eval.py`, `total_variation_distance(E_gen, E_ref, bins=200)`, "align
//!   with that used in iDEM"): the same 200-bin, reference-range, dropping TVD on energies.
//!   DiKL's distance TVD is the same on interatomic distances.
//!
//! nsamp's own definitions keep every sample in the count (under/overflow bins: mass outside
//! the reference range counts against the sampler) and report W2 rather than W2^2; a metric
//! with a `protocol` field computes either, and names the community's figure with the prefix
//! `community/` (so both can be reported side by side).

use crate::metric::MetricInput;
use serde::{Deserialize, Serialize};

/// Which definition a metric computes.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub enum Protocol {
    /// nsamp's strict definition (the default; every existing figure).
    #[default]
    Nsamp,
    /// The community's evaluation code, number for number (see the module doc).
    Community,
}

/// Number of histogram bins of the community's TVDs (`np.histogram(..., bins=200)`).
pub const COMMUNITY_BINS: usize = 200;

/// The name under which a figure is reported: `name` under nsamp's protocol,
/// `community/<name>` under the community's.
pub fn key(protocol: Protocol, name: &str) -> String {
    match protocol {
        Protocol::Nsamp => name.to_string(),
        Protocol::Community => format!("community/{name}"),
    }
}

/// What a metric under `protocol` scores: under the community's, the samples against as many
/// reference rows ([`MetricInput::equal_sizes`], as DEM scores `eval_batch_size` samples against
/// `eval_batch_size` test rows); under nsamp's, the input as given.
pub fn scored_input<'a>(protocol: Protocol, i: &MetricInput<'a>) -> MetricInput<'a> {
    match protocol {
        Protocol::Nsamp => *i,
        Protocol::Community => i.equal_sizes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{equivariant, histogram, mmd, transport};
    use crate::numerics::pairwise::interparticle_distances;

    /// `lcg` of tests/data/community_metrics.py: x_{t+1} = (mult x_t + inc) % m from x_0 = seed,
    /// value t = x_{t+1} / scale - shift (exact in f32), `len` values.
    fn lcg(len: u64, seed: u64, mult: u64, inc: u64, m: u64, scale: f64, shift: f64) -> Vec<f32> {
        let mut x = seed;
        (0..len)
            .map(|_| {
                x = (mult * x + inc) % m;
                (x as f64 / scale - shift) as f32
            })
            .collect()
    }

    fn close(got: f64, want: f64, rel: f64) {
        assert!(
            (got - want).abs() <= rel * want.abs().max(1.0),
            "got {got}, want {want}"
        );
    }

    /// Values printed by tests/data/community_metrics.py (numpy 2.4.6, scipy 1.17.1): the
    /// community's formulas (DEM 8e95319, DiKL 11876a5) on the same fixed inputs.
    #[test]
    fn reproduces_the_community_code_on_fixed_inputs() {
        let a2 = lcg(30 * 8, 1, 1103, 12345, 4093, 256.0, 8.0);
        let b2 = lcg(30 * 8, 2, 1229, 4321, 4091, 256.0, 7.5);
        let a3 = lcg(20 * 15, 3, 1301, 777, 4079, 512.0, 4.0);
        let b3 = lcg(20 * 15, 4, 1423, 999, 4073, 512.0, 3.5);
        let es = lcg(50, 5, 1021, 17, 1031, 64.0, 9.0);
        let er = lcg(40, 6, 1051, 29, 1033, 64.0, 7.0);

        // optimal_transport.py::wasserstein (POT emd2 on cdist, squared and sqrt for p = 2).
        close(
            transport::wasserstein(&a2, &b2, 8, 1).unwrap(),
            11.758384373340387,
            1e-12,
        );
        close(
            transport::wasserstein(&a2, &b2, 8, 2).unwrap(),
            12.008107646557058,
            1e-12,
        );
        // mmd.py, with distribution_distances.py's arguments.
        close(
            mmd::linear_mmd2(&a2, &b2, 8).unwrap(),
            12.210139307482489,
            1e-12,
        );
        close(
            mmd::poly_mmd2(&a2, &b2, 8, 2, 1.0, 2.0).unwrap(),
            2726.6112752656913,
            1e-12,
        );
        let sig = [0.01, 0.1, 1.0, 10.0, 100.0];
        close(
            mmd::mix_rbf_mmd2(&a2, &b2, 8, &sig, true).unwrap(),
            0.273816868314435,
            1e-10,
        );
        // DiKL total_variation_distance on energies (5 of the 50 samples are out of range).
        close(
            histogram::tvd_1d_dropping(&es, &er, 200).unwrap(),
            0.8222222222222222,
            1e-13,
        );
        close(
            histogram::tvd_1d_dropping(&es, &er, 10).unwrap(),
            0.16666666666666666,
            1e-15,
        );
        // DEM energy_w2: POT emd2_1d (sqeuclidean), 50 against 40 values (LP value, HiGHS).
        close(
            transport::wasserstein_1d_pow(&es, &er, 2).unwrap(),
            1.6482751464843755,
            1e-9,
        );
        // DEM dist_total_var and dist_w2 on the interatomic distances of 4 particles in 2-D.
        let (mut ds, mut dr) = (Vec::new(), Vec::new());
        interparticle_distances(&a2, 4, 2, &mut ds);
        interparticle_distances(&b2, 4, 2, &mut dr);
        close(
            histogram::tvd_1d_dropping(&ds, &dr, 200).unwrap(),
            0.5151685393258427,
            1e-15,
        );
        close(
            transport::wasserstein_1d_pow(&ds, &dr, 2).unwrap(),
            0.38187132903616416,
            1e-12,
        );
        // DEM eot (Eq-EMD2): 2-D, 4 particles; 3-D, 5 particles.
        let c = Protocol::Community;
        close(
            equivariant::equivariant_distance(&a2, &b2, 4, 2, c).unwrap(),
            6.461850227145303,
            1e-10,
        );
        close(
            equivariant::equivariant_distance(&a3, &b3, 5, 3, c).unwrap(),
            4.976203090913225,
            1e-10,
        );
    }
}
