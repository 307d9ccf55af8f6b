//! A square linear-sum-assignment solver that reuses its buffers across calls, for the many
//! small assignments of [`super::equivariant`] (one or more per pair of configurations).
//!
//! The algorithm is scipy's `linear_sum_assignment` (the shortest augmenting path method of
//! D. F. Crouse, "On implementing 2D rectangular assignment algorithms", IEEE TAES 52(4), 2016,
//! as in scipy's `rectangular_lsap.cpp` and the `lsap` crate that translates it), step for step,
//! including its tie-breaking (columns scanned in reverse order, a free column preferred among
//! equal reduced costs), so that equal costs give scipy's permutation.

/// Reusable state of the solver for n x n problems.
#[derive(Debug, Default)]
pub struct Lsap {
    u: Vec<f64>,
    v: Vec<f64>,
    spc: Vec<f64>,
    path: Vec<usize>,
    col4row: Vec<usize>,
    row4col: Vec<usize>,
    sr: Vec<bool>,
    sc: Vec<bool>,
    remaining: Vec<usize>,
}

const NONE: usize = usize::MAX;

impl Lsap {
    /// The optimal assignment of the n x n cost `c(i, j)`: entry i of the result is the column
    /// assigned to row i, minimising sum_i c(i, result[i]). Costs must be finite (checked:
    /// an error names the first non-finite entry met).
    pub fn solve(&mut self, n: usize, c: impl Fn(usize, usize) -> f64) -> anyhow::Result<&[usize]> {
        self.u.clear();
        self.u.resize(n, 0.0);
        self.v.clear();
        self.v.resize(n, 0.0);
        self.spc.resize(n, f64::INFINITY);
        self.path.clear();
        self.path.resize(n, NONE);
        self.col4row.clear();
        self.col4row.resize(n, NONE);
        self.row4col.clear();
        self.row4col.resize(n, NONE);
        self.sr.resize(n, false);
        self.sc.resize(n, false);
        self.remaining.resize(n, 0);
        for cur_row in 0..n {
            let (sink, min_val) = self.augmenting_path(n, &c, cur_row)?;
            // Update the dual variables.
            self.u[cur_row] += min_val;
            for i in 0..n {
                if self.sr[i] && i != cur_row {
                    self.u[i] += min_val - self.spc[self.col4row[i]];
                }
            }
            for j in 0..n {
                if self.sc[j] {
                    self.v[j] -= min_val - self.spc[j];
                }
            }
            // Augment the previous solution along the path.
            let mut j = sink;
            loop {
                let i = self.path[j];
                self.row4col[j] = i;
                std::mem::swap(&mut self.col4row[i], &mut j);
                if i == cur_row {
                    break;
                }
            }
        }
        Ok(&self.col4row)
    }

    fn augmenting_path(
        &mut self,
        n: usize,
        c: &impl Fn(usize, usize) -> f64,
        mut i: usize,
    ) -> anyhow::Result<(usize, f64)> {
        let mut min_val = 0.0;
        let mut num_remaining = n;
        for it in 0..n {
            // Reverse order: a constant cost matrix gives the identity (scipy #11602).
            self.remaining[it] = n - it - 1;
        }
        self.sr.fill(false);
        self.sc.fill(false);
        self.spc.fill(f64::INFINITY);
        let mut sink = NONE;
        while sink == NONE {
            let mut index = NONE;
            let mut lowest = f64::INFINITY;
            self.sr[i] = true;
            for it in 0..num_remaining {
                let j = self.remaining[it];
                let cij = c(i, j);
                anyhow::ensure!(
                    cij.is_finite(),
                    "assignment cost ({i}, {j}) is not finite: {cij}"
                );
                let r = min_val + cij - self.u[i] - self.v[j];
                if r < self.spc[j] {
                    self.path[j] = i;
                    self.spc[j] = r;
                }
                if self.spc[j] < lowest || (self.spc[j] == lowest && self.row4col[j] == NONE) {
                    lowest = self.spc[j];
                    index = it;
                }
            }
            min_val = lowest;
            anyhow::ensure!(min_val.is_finite(), "assignment problem is infeasible");
            let j = self.remaining[index];
            if self.row4col[j] == NONE {
                sink = j;
            } else {
                i = self.row4col[j];
            }
            self.sc[j] = true;
            num_remaining -= 1;
            self.remaining[index] = self.remaining[num_remaining];
        }
        Ok((sink, min_val))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numerics::rng::{fill_normal, RngStreams};

    #[test]
    fn matches_the_lsap_crate_on_random_and_tied_costs() {
        let mut rng = RngStreams::new(9).stream("lsap", 0);
        let mut solver = Lsap::default();
        for n in [1usize, 2, 3, 7, 13, 40] {
            let mut c = vec![0f32; n * n];
            fill_normal(&mut rng, &mut c);
            for cost in [
                c.iter().map(|v| *v as f64).collect::<Vec<f64>>(),
                // Heavy ties: small integers.
                c.iter().map(|v| (v * 2.0).round().abs() as f64).collect(),
            ] {
                let (_, want) = lsap::solve(n, n, &cost, false).unwrap();
                let got = solver.solve(n, |i, j| cost[i * n + j]).unwrap();
                assert_eq!(got, &want[..], "n = {n}");
            }
        }
        assert!(solver.solve(2, |_, _| f64::NAN).is_err());
    }
}
