//! Histogram total variation distances. Bin edges come from the reference set's range; values
//! outside it fall into one underflow and one overflow bin per axis, so mass a sampler puts
//! outside the reference range counts fully against it. TVD = 1/2 sum_bins |p_b - q_b| with
//! p, q the normalised counts, in [0, 1].

/// Default bin count for a 1-D histogram of n reference values: floor(sqrt(n)), at least 1.
pub fn default_bins_1d(n: usize) -> usize {
    ((n as f64).sqrt().floor() as usize).max(1)
}

/// Default bins per axis for a 2-D histogram: round(n^(1/4)), at least 1 (about sqrt(n) cells).
pub fn default_bins_2d(n: usize) -> usize {
    ((n as f64).powf(0.25).round() as usize).max(1)
}

/// Equal-width bins over [lo, hi] with an underflow (index 0) and overflow (index bins+1) bin.
#[derive(Debug, Clone, Copy)]
pub struct Axis {
    lo: f64,
    width: f64,
    bins: usize,
}

impl Axis {
    /// The axis spanning the range of `reference` (widened by 0.5 each side if degenerate).
    pub fn from_reference(
        reference: impl Iterator<Item = f32>,
        bins: usize,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(bins > 0, "histogram needs at least one bin");
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in reference {
            let v = v as f64;
            if v.is_finite() {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
        anyhow::ensure!(lo.is_finite(), "reference set has no finite values");
        if hi <= lo {
            lo -= 0.5;
            hi += 0.5;
        }
        Ok(Axis {
            lo,
            width: (hi - lo) / bins as f64,
            bins,
        })
    }
    /// Number of slots including under/overflow.
    pub fn slots(&self) -> usize {
        self.bins + 2
    }
    /// Slot of a value (non-finite values go to the overflow slot).
    pub fn slot(&self, v: f32) -> usize {
        let v = v as f64;
        if !v.is_finite() {
            return self.bins + 1;
        }
        let f = (v - self.lo) / self.width;
        if f < 0.0 {
            0
        } else if f > self.bins as f64 {
            self.bins + 1
        } else {
            // The reference maximum (f == bins) belongs to the last regular bin.
            (f as usize).min(self.bins - 1) + 1
        }
    }
}

fn tvd_counts(p: &[u64], q: &[u64]) -> f64 {
    let np: u64 = p.iter().sum();
    let nq: u64 = q.iter().sum();
    if np == 0 || nq == 0 {
        return 1.0;
    }
    0.5 * p
        .iter()
        .zip(q)
        .map(|(&a, &b)| (a as f64 / np as f64 - b as f64 / nq as f64).abs())
        .sum::<f64>()
}

/// TVD between 1-D histograms of `samples` and `reference` with `bins` bins over the reference range.
pub fn tvd_1d(samples: &[f32], reference: &[f32], bins: usize) -> anyhow::Result<f64> {
    let axis = Axis::from_reference(reference.iter().copied(), bins)?;
    let mut p = vec![0u64; axis.slots()];
    let mut q = vec![0u64; axis.slots()];
    samples.iter().for_each(|&v| p[axis.slot(v)] += 1);
    reference.iter().for_each(|&v| q[axis.slot(v)] += 1);
    Ok(tvd_counts(&p, &q))
}

/// TVD between 2-D histograms of rows (x, y) of `samples` and `reference`, `bins` per axis.
pub fn tvd_2d(samples: &[f32], reference: &[f32], bins: usize) -> anyhow::Result<f64> {
    let ax = Axis::from_reference(reference.iter().step_by(2).copied(), bins)?;
    let ay = Axis::from_reference(reference.iter().skip(1).step_by(2).copied(), bins)?;
    let cell = |r: &[f32]| ax.slot(r[0]) * ay.slots() + ay.slot(r[1]);
    let mut p = vec![0u64; ax.slots() * ay.slots()];
    let mut q = vec![0u64; ax.slots() * ay.slots()];
    samples.chunks_exact(2).for_each(|r| p[cell(r)] += 1);
    reference.chunks_exact(2).for_each(|r| q[cell(r)] += 1);
    Ok(tvd_counts(&p, &q))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_sets_give_zero_and_disjoint_give_one() {
        let a: Vec<f32> = (0..100).map(|i| i as f32).collect();
        assert_eq!(tvd_1d(&a, &a, 10).unwrap(), 0.0);
        let far: Vec<f32> = a.iter().map(|v| v + 1000.0).collect();
        assert!((tvd_1d(&far, &a, 10).unwrap() - 1.0).abs() < 1e-12);
        let a2: Vec<f32> = (0..200).map(|i| (i % 17) as f32 * 0.3).collect();
        assert_eq!(tvd_2d(&a2, &a2, 4).unwrap(), 0.0);
    }

    #[test]
    fn half_shifted_mass_gives_half() {
        // Reference uniform on 10 bins; samples: half identical, half in the overflow bin.
        let r: Vec<f32> = (0..10).map(|i| i as f32 + 0.5).collect();
        let mut s = r.clone();
        for v in s.iter_mut().take(5) {
            *v = 1e6;
        }
        assert!((tvd_1d(&s, &r, 10).unwrap() - 0.5).abs() < 1e-12);
    }

    #[test]
    fn slots_cover_edges() {
        let ax = Axis::from_reference([0.0f32, 10.0].into_iter(), 5).unwrap();
        assert_eq!(ax.slot(-1.0), 0);
        assert_eq!(ax.slot(0.0), 1);
        assert_eq!(ax.slot(10.0), 5);
        assert_eq!(ax.slot(10.5), 6);
        assert_eq!(ax.slot(f32::NAN), 6);
    }
}
