//! Mode coverage for mixture targets.

use crate::target::MixtureView;

/// Occupancy of a mixture's components by a sample set.
#[derive(Debug, Clone)]
pub struct Coverage {
    /// Share of samples assigned to each component (most responsible component).
    pub occupancy: Vec<f64>,
    /// Number of components holding at least the threshold share.
    pub covered: usize,
    /// covered / K.
    pub coverage: f64,
    /// 1/2 sum_c |occupancy_c - w_c|.
    pub occupancy_tvd: f64,
    /// min_c occupancy_c / w_c: 1 when every component holds its weight's share, 0 when one is
    /// dropped (the worst-served component, which `covered` hides above the threshold).
    pub min_occupancy_ratio: f64,
    /// Share of samples between modes: squared standardised distance to their assigned
    /// component above d + 8 sqrt(2 d) (about 4 standard deviations of a chi^2_d; exact samples
    /// of a 2-D mixture land there with probability about 1e-4).
    pub between_modes: f64,
}

/// Assigns each sample to its most responsible component and reports coverage with threshold
/// `min_share` (None: 1/(4K)) and the occupancy TVD against the component weights.
pub fn mode_coverage(mix: &MixtureView, samples: &[f32], min_share: Option<f64>) -> Coverage {
    let k = mix.len();
    let dim = mix.means.len() / k;
    let n = samples.len() / dim;
    let mut idx = vec![0usize; n];
    mix.assign(samples, &mut idx);
    let mut occ = vec![0f64; k];
    for &c in &idx {
        occ[c] += 1.0;
    }
    occ.iter_mut().for_each(|o| *o /= n.max(1) as f64);
    let cut = dim as f64 + 8.0 * (2.0 * dim as f64).sqrt();
    let between = samples
        .chunks_exact(dim)
        .zip(&idx)
        .filter(|(x, &c)| {
            let z2: f64 = (0..dim)
                .map(|j| ((x[j] - mix.means[c * dim + j]) / mix.stds[c * dim + j]) as f64)
                .map(|z| z * z)
                .sum();
            z2 > cut
        })
        .count();
    let thr = min_share.unwrap_or(1.0 / (4.0 * k as f64));
    let covered = occ.iter().filter(|&&o| o >= thr && o > 0.0).count();
    let tvd = 0.5
        * occ
            .iter()
            .zip(&mix.weights)
            .map(|(o, &w)| (o - w as f64).abs())
            .sum::<f64>();
    let min_ratio = occ
        .iter()
        .zip(&mix.weights)
        .filter(|(_, &w)| w > 0.0)
        .map(|(o, &w)| o / w as f64)
        .fold(f64::INFINITY, f64::min);
    Coverage {
        min_occupancy_ratio: if min_ratio.is_finite() {
            min_ratio
        } else {
            0.0
        },
        occupancy: occ,
        covered,
        coverage: covered as f64 / k as f64,
        occupancy_tvd: tvd,
        between_modes: between as f64 / n.max(1) as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn four() -> MixtureView {
        MixtureView {
            means: vec![-10.0, 0.0, 10.0, 0.0, 0.0, 10.0, 0.0, -10.0],
            weights: vec![0.25; 4],
            stds: vec![1.0; 8],
        }
    }

    #[test]
    fn one_mode_only() {
        let s: Vec<f32> = (0..100)
            .flat_map(|i| [10.0 + i as f32 * 0.01, 0.0])
            .collect();
        let c = mode_coverage(&four(), &s, None);
        assert_eq!(c.covered, 1);
        assert!((c.coverage - 0.25).abs() < 1e-12);
        assert!((c.occupancy_tvd - 0.75).abs() < 1e-12);
        assert_eq!(c.between_modes, 0.0);
        assert_eq!(c.min_occupancy_ratio, 0.0);
    }

    /// Points halfway between two components (7 sigma from each) count as between modes.
    #[test]
    fn midpoints_are_between_modes() {
        let s = [5.0f32, 5.0, 10.0, 0.0, -5.0, 5.0, 0.0, -10.0];
        let c = mode_coverage(&four(), &s, None);
        assert!((c.between_modes - 0.5).abs() < 1e-12, "{}", c.between_modes);
    }

    /// Shares 0.4, 0.3, 0.2, 0.1 of weights 1/4 each: the worst component holds 0.1 / 0.25.
    #[test]
    fn min_occupancy_ratio_is_the_worst_share_over_its_weight() {
        let m = four();
        let s: Vec<f32> = (0..100)
            .flat_map(|i| {
                let c = match i {
                    0..40 => 0,
                    40..70 => 1,
                    70..90 => 2,
                    _ => 3,
                };
                [m.means[2 * c], m.means[2 * c + 1]]
            })
            .collect();
        let c = mode_coverage(&m, &s, None);
        assert_eq!(c.occupancy, vec![0.4, 0.3, 0.2, 0.1]);
        assert!((c.min_occupancy_ratio - 0.4).abs() < 1e-12);
        assert_eq!(c.covered, 4);
    }

    #[test]
    fn balanced_samples_cover_all() {
        let m = four();
        let s: Vec<f32> = (0..400)
            .flat_map(|i| {
                let c = i % 4;
                [m.means[2 * c], m.means[2 * c + 1]]
            })
            .collect();
        let c = mode_coverage(&m, &s, None);
        assert_eq!(c.covered, 4);
        assert!(c.occupancy_tvd.abs() < 1e-12);
        assert!((c.min_occupancy_ratio - 1.0).abs() < 1e-12);
    }
}
