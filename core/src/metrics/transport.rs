//! Exact optimal transport between two equal-size empirical measures (an assignment problem).

/// The largest set W_p accepts. The exact solver ([`super::candidate_lap`]) keeps O(n) memory
/// (a few MB at this size) and its time grows a little faster than n^2: about 3 s at
/// n = 10,000 in 2-D on one core (`nsamp bench --only w2`), 10 to 80 s at 20,000, longer in
/// high dimension (dim 165: about 7 s at n = 2,000).
pub const MAX_POINTS: usize = 20_000;

/// W_p between the rows of `a` and `b` (dim columns each) with uniform weights, p = 1 or 2:
/// the optimal assignment pi minimises sum_i |a_i - b_pi(i)|^p, and
/// W_p = (mean_i |a_i - b_pi(i)|^p)^(1/p), exact (to float rounding; costs in f64) by
/// [`super::candidate_lap::solve`]. If the sets differ in size, the larger one is truncated to
/// the first n rows of the smaller (the evaluation protocol draws equal counts).
pub fn wasserstein(a: &[f32], b: &[f32], dim: usize, p: u32) -> anyhow::Result<f64> {
    anyhow::ensure!(p == 1 || p == 2, "W_p supports p = 1 or 2");
    anyhow::ensure!(dim > 0, "W{p} needs dim >= 1");
    let n = (a.len() / dim).min(b.len() / dim);
    anyhow::ensure!(
        n > 0,
        "W{p} needs at least one sample and one reference row"
    );
    anyhow::ensure!(
        n <= MAX_POINTS,
        "W{p} solves an exact n x n assignment (time about n^2): n = {n} is above its limit of \
         {MAX_POINTS}; evaluate fewer samples or leave W{p} out of eval.metrics"
    );
    let wide = |x: &[f32]| -> Vec<f64> { x[..n * dim].iter().map(|&t| t as f64).collect() };
    let sol = super::candidate_lap::solve(&wide(a), &wide(b), dim, p)
        .map_err(|e| anyhow::anyhow!("W{p}: {e}"))?;
    let mean = sol.total / n as f64;
    Ok(if p == 2 { mean.sqrt() } else { mean })
}

/// The mean cost (1/n) sum_i c(i, pi(i)) of the optimal assignment pi of an n x n cost matrix
/// (row-major), i.e. POT's `emd2(unif(n), unif(n), cost)` (an optimal plan between equal uniform
/// weights is a permutation).
pub fn assignment_mean(cost: &[f64], n: usize) -> anyhow::Result<f64> {
    anyhow::ensure!(n > 0, "an assignment needs at least one row");
    anyhow::ensure!(
        cost.len() == n * n,
        "cost matrix has {} entries, expected {n} x {n}",
        cost.len()
    );
    let cost = cost.to_vec();
    let (rows, cols) = lsap::solve(n, n, &cost, false)
        .map_err(|e| anyhow::anyhow!("optimal assignment failed: {e}"))?;
    let total: f64 = rows.iter().zip(&cols).map(|(&i, &j)| cost[i * n + j]).sum();
    Ok(total / n as f64)
}

/// W_p^p between two 1-D empirical measures with uniform weights 1/n and 1/m (sizes may
/// differ): the monotone (quantile) coupling of the sorted values, computed as POT's
/// `emd_1d_sorted` does (walk both sorted lists, moving the smaller remaining weight), so
/// p = 2 gives POT's `emd2_1d(a, b)` with its default metric `sqeuclidean`: the *squared* W2.
/// Non-finite values are an error.
pub fn wasserstein_1d_pow(a: &[f32], b: &[f32], p: u32) -> anyhow::Result<f64> {
    anyhow::ensure!(p >= 1, "W_p needs p >= 1");
    anyhow::ensure!(
        !a.is_empty() && !b.is_empty(),
        "1-D W{p} needs at least one value on each side"
    );
    let sorted = |v: &[f32]| -> anyhow::Result<Vec<f64>> {
        anyhow::ensure!(
            v.iter().all(|x| x.is_finite()),
            "1-D W{p}: non-finite value in the input"
        );
        let mut s: Vec<f64> = v.iter().map(|&x| x as f64).collect();
        s.sort_by(|x, y| x.total_cmp(y));
        Ok(s)
    };
    let (u, v) = (sorted(a)?, sorted(b)?);
    let (wu, wv) = (1.0 / u.len() as f64, 1.0 / v.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let (mut w_i, mut w_j) = (wu, wv);
    let mut cost = 0f64;
    loop {
        let m = (u[i] - v[j]).abs().powi(p as i32);
        if w_i < w_j || j == v.len() - 1 {
            cost += m * w_i;
            w_j -= w_i;
            i += 1;
            if i == u.len() {
                break;
            }
            w_i = wu;
        } else {
            cost += m * w_j;
            w_i -= w_j;
            j += 1;
            if j == v.len() {
                break;
            }
            w_j = wv;
        }
    }
    Ok(cost)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numerics::rng::{fill_normal, RngStreams};

    #[test]
    fn identical_sets_give_zero() {
        let a = [0.0, 1.0, 2.0, 5.0, -3.0, 4.0];
        assert_eq!(wasserstein(&a, &a, 2, 1).unwrap(), 0.0);
        assert_eq!(wasserstein(&a, &a, 2, 2).unwrap(), 0.0);
    }

    #[test]
    fn too_many_points_is_a_clear_error() {
        let a = vec![0f32; MAX_POINTS + 1];
        let e = wasserstein(&a, &a, 1, 2).unwrap_err().to_string();
        assert!(e.contains("limit of 20000"), "{e}");
    }

    #[test]
    fn shifted_set_gives_the_shift() {
        // A translated copy (in shuffled order): the optimal plan is the translation.
        let mut rng = RngStreams::new(3).stream("t", 0);
        let mut a = vec![0f32; 400];
        fill_normal(&mut rng, &mut a);
        let shift = [3.0f32, 4.0];
        let mut b: Vec<f32> = a
            .chunks(2)
            .rev()
            .flat_map(|r| [r[0] + shift[0], r[1] + shift[1]])
            .collect();
        b.rotate_left(2);
        assert!((wasserstein(&a, &b, 2, 2).unwrap() - 5.0).abs() < 1e-5);
        assert!((wasserstein(&a, &b, 2, 1).unwrap() - 5.0).abs() < 1e-5);
    }

    #[test]
    fn assignment_mean_matches_wasserstein() {
        let mut rng = RngStreams::new(4).stream("t", 0);
        let (mut a, mut b) = (vec![0f32; 60], vec![0f32; 60]);
        fill_normal(&mut rng, &mut a);
        fill_normal(&mut rng, &mut b);
        let n = 20;
        let cost: Vec<f64> = a
            .chunks(3)
            .flat_map(|p| {
                b.chunks(3).map(move |q| {
                    p.iter()
                        .zip(q)
                        .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
                        .sum::<f64>()
                })
            })
            .collect();
        let w2 = wasserstein(&a, &b, 3, 2).unwrap();
        assert!((assignment_mean(&cost, n).unwrap().sqrt() - w2).abs() < 1e-12);
        assert!(assignment_mean(&cost, n + 1).is_err());
    }

    #[test]
    fn permutation_is_found() {
        // 1-D: the optimal plan matches sorted order; W1 = mean |sorted differences|.
        let a = [0.0f32, 10.0, 20.0];
        let b = [21.0f32, 1.0, 12.0];
        let w1 = wasserstein(&a, &b, 1, 1).unwrap();
        assert!((w1 - (1.0 + 2.0 + 1.0) / 3.0).abs() < 1e-12);
    }

    #[test]
    fn one_dimensional_sets_match_the_sorted_coupling() {
        // In 1-D the monotone (sorted) coupling is optimal for p = 1 and 2.
        let mut rng = RngStreams::new(5).stream("t", 0);
        let (mut a, mut b) = (vec![0f32; 700], vec![0f32; 700]);
        fill_normal(&mut rng, &mut a);
        fill_normal(&mut rng, &mut b);
        b.iter_mut().for_each(|x| *x = 0.5 * *x + 0.3);
        for p in [1, 2] {
            let w = wasserstein(&a, &b, 1, p).unwrap();
            let want = wasserstein_1d_pow(&a, &b, p).unwrap();
            let want = if p == 2 { want.sqrt() } else { want };
            assert!((w - want).abs() <= 1e-12 * want, "p {p}: {w} vs {want}");
        }
    }

    #[test]
    fn matches_dense_lsap_on_small_sets() {
        // The value of the dense scipy-style solver used before (an n x n f64 cost matrix).
        let mut rng = RngStreams::new(6).stream("t", 0);
        for (n, dim) in [(1, 2), (5, 1), (40, 2), (90, 3), (200, 2)] {
            let (mut a, mut b) = (vec![0f32; n * dim], vec![0f32; n * dim]);
            fill_normal(&mut rng, &mut a);
            fill_normal(&mut rng, &mut b);
            for p in [1, 2] {
                let cost: Vec<f64> = a
                    .chunks(dim)
                    .flat_map(|x| {
                        b.chunks(dim).map(move |y| {
                            let d2: f64 = x
                                .iter()
                                .zip(y)
                                .map(|(s, t)| (*s as f64 - *t as f64).powi(2))
                                .sum();
                            if p == 2 {
                                d2
                            } else {
                                d2.sqrt()
                            }
                        })
                    })
                    .collect();
                let mean = assignment_mean(&cost, n).unwrap();
                let want = if p == 2 { mean.sqrt() } else { mean };
                let w = wasserstein(&a, &b, dim, p).unwrap();
                assert!(
                    (w - want).abs() <= 1e-12 * want,
                    "n {n} p {p}: {w} vs {want}"
                );
            }
        }
    }
}
