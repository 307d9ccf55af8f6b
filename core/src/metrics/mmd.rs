//! Maximum mean discrepancy, as computed by the community evaluation code of DEM
//! (jarridrb/DEM, `dem/models/components/mmd.py`, called from
//! `dem/models/components/distribution_distances.py` as `linear_mmd2(a, b)`,
//! `poly_mmd2(a, b, d=2, alpha=1.0, c=2.0)` and
//! `mix_rbf_mmd2(a, b, sigma_list=[0.01, 0.1, 1, 10, 100])`, the last with its default
//! `biased=True`). All three figures are squared discrepancies (MMD^2), as there, although DEM
//! names them `Linear_MMD`, `Poly_MMD` and `RBF_MMD`.
//!
//! With x_1..x_n the samples and y_1..y_n the reference rows (both sets cut to their first
//! n = min(n_x, n_y) rows, as DEM needs equal sizes), flattened to vectors:
//!
//! - **linear** (`MMD_linear`), the *linear-time* estimator on consecutive pairs, with the linear
//!   kernel k(x, y) = x.y:
//!   MMD_linear = 1/(n-1) sum_{i=1}^{n-1} (x_i - y_i).(x_{i+1} - y_{i+1}).
//!   Unbiased for |E x - E y|^2; exactly |s|^2 when y_i = x_i - s for every i, and it can be
//!   negative.
//! - **poly** (`MMD_poly`), the same linear-time estimator with k(x, y) = (alpha x.y + c)^degree
//!   (DEM: degree 2, alpha 1, c 2):
//!   MMD_poly = 1/(n-1) sum_{i=1}^{n-1} [k(x_i, x_{i+1}) + k(y_i, y_{i+1}) - k(x_i, y_{i+1})
//!   - k(y_i, x_{i+1})].
//! - **rbf** (`MMD_rbf`), the quadratic-time estimator with a *sum* (not a mean) of Gaussian
//!   kernels k(x, y) = sum_s exp(-|x - y|^2 / (2 s^2)), s in `sigmas` (DEM: 0.01, 0.1, 1, 10,
//!   100), so k(x, x) = number of bandwidths. Biased (V-statistic, DEM's choice):
//!   MMD_rbf = 1/n^2 [sum_{i,j} k(x_i, x_j) + sum_{i,j} k(y_i, y_j) - 2 sum_{i,j} k(x_i, y_j)];
//!   unbiased (`biased: false`, DEM's `biased=False`): the first two sums skip i = j and are
//!   divided by n(n-1), the cross sum stays over all i, j divided by n^2.
//!
//! The linear-time figures pair row i with row i + 1, so they depend on row order and assume the
//! rows come in random order (i.i.d. draws); a reference in chain order (an MCMC file) makes
//! consecutive rows correlated. Differences from DEM's float32 torch code: every kernel is
//! evaluated in f64 from the f32 rows, and |x - y|^2 directly rather than as
//! |x|^2 - 2 x.y + |y|^2 (so k(x, x) is exactly the number of bandwidths). The quadratic sum is
//! O(n^2 d) time, parallel over rows, with O(n d) memory (no n x n matrix).

use rayon::prelude::*;

use crate::metric::{Metric, MetricConfig, MetricInput};

/// The largest set `Mmd` accepts: the RBF sum takes 3 n^2 kernel evaluations (n = 1,000 in 2-D
/// takes 0.1 s and n = 10,000 about 7.5 s on two cores; 20,000 four times that).
pub const MAX_POINTS: usize = 20_000;

crate::config! {
    /// `Mmd(...)`: squared maximum mean discrepancies of DEM's evaluation code, reported as
    /// `MMD_linear`, `MMD_poly` (linear-time estimators on consecutive pairs) and `MMD_rbf`
    /// (quadratic-time, mixture of Gaussian kernels); defaults are DEM's.
    pub struct Mmd {
        /// Bandwidths s of the Gaussian kernels summed in `MMD_rbf`, k = sum_s exp(-|x-y|^2/(2 s^2))
        /// (default [0.01, 0.1, 1, 10, 100], DEM's `sigma_list`).
        sigmas: Vec<f64> = vec![0.01, 0.1, 1.0, 10.0, 100.0],
        /// `MMD_rbf` estimator: true for the biased V-statistic (default true, as DEM calls it),
        /// false for the unbiased one (diagonal of the within-set sums left out).
        biased: bool = true,
        /// Degree of the polynomial kernel (alpha x.y + c)^degree of `MMD_poly` (default 2).
        degree: u32 = 2,
        /// alpha of the polynomial kernel (default 1.0).
        alpha: f64 = 1.0,
        /// c of the polynomial kernel (default 2.0).
        c: f64 = 2.0,
    }
}

impl MetricConfig for Mmd {
    fn build(&self) -> anyhow::Result<Box<dyn Metric>> {
        anyhow::ensure!(
            !self.sigmas.is_empty(),
            "Mmd needs at least one RBF bandwidth in `sigmas`"
        );
        anyhow::ensure!(
            self.sigmas.iter().all(|s| s.is_finite() && *s > 0.0),
            "Mmd `sigmas` must be positive and finite, got {:?}",
            self.sigmas
        );
        anyhow::ensure!(
            self.alpha.is_finite() && self.c.is_finite(),
            "Mmd `alpha` and `c` must be finite"
        );
        anyhow::ensure!(self.degree <= 64, "Mmd `degree` must be at most 64");
        Ok(Box::new(self.clone()))
    }
}

impl Metric for Mmd {
    fn max_samples(&self) -> Option<usize> {
        Some(MAX_POINTS)
    }
    fn compute(&self, i: &MetricInput<'_>) -> anyhow::Result<Vec<(String, f64)>> {
        Ok(vec![
            (
                "MMD_linear".into(),
                linear_mmd2(i.samples, i.reference, i.dim)?,
            ),
            (
                "MMD_poly".into(),
                poly_mmd2(
                    i.samples,
                    i.reference,
                    i.dim,
                    self.degree,
                    self.alpha,
                    self.c,
                )?,
            ),
            (
                "MMD_rbf".into(),
                mix_rbf_mmd2(i.samples, i.reference, i.dim, &self.sigmas, self.biased)?,
            ),
        ])
    }
}

/// The common row count n = min(n_x, n_y), checked against `min` and [`MAX_POINTS`].
fn rows(x: &[f32], y: &[f32], dim: usize, min: usize, what: &str) -> anyhow::Result<usize> {
    anyhow::ensure!(dim > 0, "{what} needs rows of dimension at least 1");
    let n = (x.len() / dim).min(y.len() / dim);
    anyhow::ensure!(
        n >= min,
        "{what} needs at least {min} samples and {min} reference rows, got {n}"
    );
    anyhow::ensure!(
        n <= MAX_POINTS,
        "{what} sums over all n^2 pairs (time about n^2 d): n = {n} is above its limit of \
         {MAX_POINTS}; evaluate fewer samples or leave Mmd out of eval.metrics"
    );
    Ok(n)
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(p, q)| *p as f64 * *q as f64).sum()
}

/// DEM's `linear_mmd2`: 1/(n-1) sum_i (x_i - y_i).(x_{i+1} - y_{i+1}) over the first
/// n = min(n_x, n_y) rows (n >= 2).
pub fn linear_mmd2(x: &[f32], y: &[f32], dim: usize) -> anyhow::Result<f64> {
    let n = rows(x, y, dim, 2, "MMD_linear")?;
    let mut sum = 0f64;
    for i in 0..n - 1 {
        let (a, b) = (i * dim, (i + 1) * dim);
        for k in 0..dim {
            let d0 = x[a + k] as f64 - y[a + k] as f64;
            let d1 = x[b + k] as f64 - y[b + k] as f64;
            sum += d0 * d1;
        }
    }
    Ok(sum / (n - 1) as f64)
}

/// DEM's `poly_mmd2`: the linear-time estimator with k(x, y) = (alpha x.y + c)^degree,
/// mean k(x_i, x_{i+1}) + mean k(y_i, y_{i+1}) - mean k(x_i, y_{i+1}) - mean k(y_i, x_{i+1}).
pub fn poly_mmd2(
    x: &[f32],
    y: &[f32],
    dim: usize,
    degree: u32,
    alpha: f64,
    c: f64,
) -> anyhow::Result<f64> {
    let n = rows(x, y, dim, 2, "MMD_poly")?;
    let k = |a: &[f32], b: &[f32]| (alpha * dot(a, b) + c).powi(degree as i32);
    let (mut xx, mut yy, mut xy, mut yx) = (0f64, 0f64, 0f64, 0f64);
    for i in 0..n - 1 {
        let (a, b) = (i * dim..(i + 1) * dim, (i + 1) * dim..(i + 2) * dim);
        xx += k(&x[a.clone()], &x[b.clone()]);
        yy += k(&y[a.clone()], &y[b.clone()]);
        xy += k(&x[a.clone()], &y[b.clone()]);
        yx += k(&y[a], &x[b]);
    }
    let m = (n - 1) as f64;
    Ok(xx / m + yy / m - xy / m - yx / m)
}

/// DEM's `mix_rbf_mmd2`: the quadratic-time estimator with k = sum_s exp(-|x-y|^2 / (2 s^2)),
/// biased (V-statistic) or unbiased (within-set diagonals left out), over the first
/// n = min(n_x, n_y) rows.
pub fn mix_rbf_mmd2(
    x: &[f32],
    y: &[f32],
    dim: usize,
    sigmas: &[f64],
    biased: bool,
) -> anyhow::Result<f64> {
    let n = rows(x, y, dim, if biased { 1 } else { 2 }, "MMD_rbf")?;
    anyhow::ensure!(!sigmas.is_empty(), "MMD_rbf needs at least one bandwidth");
    let x: Vec<f64> = x[..n * dim].iter().map(|v| *v as f64).collect();
    let y: Vec<f64> = y[..n * dim].iter().map(|v| *v as f64).collect();
    let neg_gamma: Vec<f64> = sigmas.iter().map(|s| -1.0 / (2.0 * s * s)).collect();
    let kernel = |a: &[f64], b: &[f64]| -> f64 {
        let d2: f64 = a
            .iter()
            .zip(b)
            .map(|(p, q)| {
                let d = p - q;
                d * d
            })
            .sum();
        let mut s = 0.0;
        for g in &neg_gamma {
            let e = g * d2;
            // exp underflows to 0 below about -745.1: skip it (the sum is unchanged).
            if e > -746.0 {
                s += e.exp();
            }
        }
        s
    };
    // Per-row sums of K_XX, K_YY and K_XY over all j (each row's in a fixed order), then a
    // sequential total: the result does not depend on the thread count, and identical sets give
    // bit-identical sums, hence exactly 0 (biased).
    let per_row: Vec<[f64; 3]> = (0..n)
        .into_par_iter()
        .map(|i| {
            let (xi, yi) = (&x[i * dim..(i + 1) * dim], &y[i * dim..(i + 1) * dim]);
            let mut r = [0f64; 3];
            for (xj, yj) in x.chunks_exact(dim).zip(y.chunks_exact(dim)) {
                r[0] += kernel(xi, xj);
                r[1] += kernel(yi, yj);
                r[2] += kernel(xi, yj);
            }
            r
        })
        .collect();
    let (mut sxx, mut syy, mut sxy) = (0f64, 0f64, 0f64);
    for r in &per_row {
        sxx += r[0];
        syy += r[1];
        sxy += r[2];
    }
    let nf = n as f64;
    Ok(if biased {
        sxx / (nf * nf) + syy / (nf * nf) - 2.0 * sxy / (nf * nf)
    } else {
        // k(x, x) = exp(0) summed over the bandwidths, exactly.
        let diag = nf * sigmas.len() as f64;
        (sxx - diag) / (nf * (nf - 1.0)) + (syy - diag) / (nf * (nf - 1.0)) - 2.0 * sxy / (nf * nf)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numerics::rng::{fill_normal, RngStreams};

    const DEM_SIGMAS: [f64; 5] = [0.01, 0.1, 1.0, 10.0, 100.0];

    fn all(x: &[f32], y: &[f32], dim: usize) -> [f64; 3] {
        [
            linear_mmd2(x, y, dim).unwrap(),
            poly_mmd2(x, y, dim, 2, 1.0, 2.0).unwrap(),
            mix_rbf_mmd2(x, y, dim, &DEM_SIGMAS, true).unwrap(),
        ]
    }

    fn gaussian(seed: u64, n: usize, dim: usize, shift: f32) -> Vec<f32> {
        let mut rng = RngStreams::new(seed).stream("mmd", 0);
        let mut v = vec![0f32; n * dim];
        fill_normal(&mut rng, &mut v);
        for r in v.chunks_mut(dim) {
            r[0] += shift;
        }
        v
    }

    #[test]
    fn identical_sets_give_exactly_zero() {
        let a = gaussian(1, 300, 3, 0.0);
        assert_eq!(all(&a, &a, 3), [0.0; 3]);
        let b = [0.5f32, -1.0, 2.0, 3.0];
        assert_eq!(all(&b, &b, 1), [0.0; 3]);
        assert_eq!(all(&b, &b, 2), [0.0; 3]);
    }

    #[test]
    fn unbiased_rbf_of_identical_sets_is_near_zero() {
        // Not 0: (sum_{i!=j} k)(2/(n(n-1)) - 2/n^2) - 2 K/n with K = k(x, x) = 5; |.| <= 2K/n.
        let a = gaussian(2, 1000, 2, 0.0);
        let v = mix_rbf_mmd2(&a, &a, 2, &DEM_SIGMAS, false).unwrap();
        assert!(v.abs() < 0.01, "{v}");
    }

    #[test]
    fn linear_gives_the_squared_shift() {
        // y_i = x_i + s for every row (dyadic values: exact in f32 and f64).
        let x = [0.0f32, 1.0, 2.5, -3.0, 4.0, 0.25, -1.5, 2.0];
        let s = [3.0f32, -4.0];
        let y: Vec<f32> = x
            .chunks(2)
            .flat_map(|r| [r[0] + s[0], r[1] + s[1]])
            .collect();
        assert_eq!(linear_mmd2(&x, &y, 2).unwrap(), 25.0);
        assert_eq!(linear_mmd2(&y, &x, 2).unwrap(), 25.0);
        // Non-constant differences x_i - y_i = 1, 2, 3 (1-D): (1*2 + 2*3) / 2 = 4.
        assert_eq!(linear_mmd2(&[1.0, 2.0, 3.0], &[0.0; 3], 1).unwrap(), 4.0);
    }

    #[test]
    fn poly_by_hand() {
        // x = 0, 1, 2; y = 2, 2, 2; k(a, b) = (ab + 2)^2:
        // k(x_i, x_i+1) = 4, 16; k(y, y) = 36, 36; k(x_i, y_i+1) = 4, 16; k(y_i, x_i+1) = 16, 36
        // -> 10 + 36 - 10 - 26 = 10.
        let v = poly_mmd2(&[0.0, 1.0, 2.0], &[2.0; 3], 1, 2, 1.0, 2.0).unwrap();
        assert_eq!(v, 10.0);
        // alpha = 0.5, c = 1, degree 3 on x = 0, 2; y = 2, 0: k(0,2) = 1, k(2,0) = 1, k(0,0) = 1,
        // k(2,2) = 27 -> 1 + 1 - 1 - 27 = -26.
        let v = poly_mmd2(&[0.0, 2.0], &[2.0, 0.0], 1, 3, 0.5, 1.0).unwrap();
        assert_eq!(v, -26.0);
    }

    #[test]
    fn rbf_by_hand() {
        // x = 0, 1; y = 0, 2 (1-D); squared distances: xx 1, yy 4, xy 0, 4, 1, 1.
        let (x, y) = ([0.0f32, 1.0], [0.0f32, 2.0]);
        let e = |v: f64| v.exp();
        // s = 1 (k = exp(-d2/2)): [2 + 2e^-1/2 + 2 + 2e^-2 - 2(1 + e^-2 + 2e^-1/2)] / 4.
        let want = (1.0 - e(-0.5)) / 2.0;
        let got = mix_rbf_mmd2(&x, &y, 1, &[1.0], true).unwrap();
        assert!((got - want).abs() < 1e-15, "{got} {want}");
        // s = 1 and 2 summed: + (1 - e^-1/8) / 2.
        let want2 = want + (1.0 - e(-0.125)) / 2.0;
        let got2 = mix_rbf_mmd2(&x, &y, 1, &[1.0, 2.0], true).unwrap();
        assert!((got2 - want2).abs() < 1e-15, "{got2} {want2}");
        // Unbiased, s = 1: 2e^-1/2 / 2 + 2e^-2 / 2 - 2(1 + e^-2 + 2e^-1/2) / 4 = (e^-2 - 1) / 2.
        let want_u = (e(-2.0) - 1.0) / 2.0;
        let got_u = mix_rbf_mmd2(&x, &y, 1, &[1.0], false).unwrap();
        assert!((got_u - want_u).abs() < 1e-15, "{got_u} {want_u}");
    }

    #[test]
    fn symmetric_in_its_arguments() {
        let a = gaussian(3, 400, 2, 0.0);
        let b = gaussian(4, 400, 2, 0.7);
        let (ab, ba) = (all(&a, &b, 2), all(&b, &a, 2));
        for k in 0..3 {
            assert!(
                (ab[k] - ba[k]).abs() <= 1e-12 * ab[k].abs().max(1.0),
                "{ab:?} {ba:?}"
            );
        }
        let (u, v) = (
            mix_rbf_mmd2(&a, &b, 2, &DEM_SIGMAS, false).unwrap(),
            mix_rbf_mmd2(&b, &a, 2, &DEM_SIGMAS, false).unwrap(),
        );
        assert!((u - v).abs() < 1e-12, "{u} {v}");
    }

    #[test]
    fn same_gaussian_small_shifted_gaussian_large() {
        // N(0, I) vs N(mu, I) in 2-D with |mu| = 1: population MMD^2 with the DEM kernel sum is
        // sum_s 2 s^2/(s^2+2) (1 - exp(-1/(2(s^2+2)))) = 0.11425; the biased estimator adds
        // about 2/n (5 - sum_s s^2/(s^2+2)) = 5.36/n. The linear one estimates |mu|^2 = 1.
        let n = 1000;
        let a = gaussian(5, n, 2, 0.0);
        let same = all(&a, &gaussian(6, n, 2, 0.0), 2);
        let shifted = all(&a, &gaussian(7, n, 2, 1.0), 2);
        let pop: f64 = DEM_SIGMAS
            .iter()
            .map(|s| 2.0 * s * s / (s * s + 2.0) * (1.0 - (-1.0 / (2.0 * (s * s + 2.0))).exp()))
            .sum();
        assert!((pop - 0.11425).abs() < 1e-5, "{pop}");
        let bias = 2.0 / n as f64
            * (5.0
                - DEM_SIGMAS
                    .iter()
                    .map(|s| s * s / (s * s + 2.0))
                    .sum::<f64>());
        assert!(same[2] > 0.0 && same[2] < 3.0 * bias, "{same:?} {bias}");
        assert!(
            (shifted[2] - pop - bias).abs() < 0.02,
            "{shifted:?} {pop} {bias}"
        );
        assert!(same[0].abs() < 0.3, "{same:?}");
        assert!((shifted[0] - 1.0).abs() < 0.3, "{shifted:?}");
        assert!(same[1].abs() < shifted[1].abs(), "{same:?} {shifted:?}");
    }

    #[test]
    fn unequal_sizes_use_the_first_rows_and_limits_are_clear() {
        let a = gaussian(8, 50, 2, 0.0);
        let b = gaussian(9, 80, 2, 0.5);
        assert_eq!(all(&a, &b, 2), all(&a, &b[..100], 2));
        let e = linear_mmd2(&[1.0], &[2.0], 1).unwrap_err().to_string();
        assert!(e.contains("at least 2"), "{e}");
        let big = vec![0f32; MAX_POINTS + 1];
        let e = mix_rbf_mmd2(&big, &big, 1, &[1.0], true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("limit of 20000"), "{e}");
        assert!(Mmd {
            sigmas: vec![],
            ..Default::default()
        }
        .build()
        .is_err());
        assert!(Mmd {
            sigmas: vec![1.0, -1.0],
            ..Default::default()
        }
        .build()
        .is_err());
    }

    /// Timing at n = 1,000 and 10,000 in 2-D: `cargo test -p nsamp-core --lib mmd -- --ignored
    /// --nocapture`.
    #[test]
    #[ignore]
    fn timing() {
        for n in [1000, 10_000] {
            let (a, b) = (gaussian(10, n, 2, 0.0), gaussian(11, n, 2, 0.5));
            let t = std::time::Instant::now();
            let v = all(&a, &b, 2);
            println!("n = {n}: {:.3} s, {v:?}", t.elapsed().as_secs_f64());
        }
    }
}
