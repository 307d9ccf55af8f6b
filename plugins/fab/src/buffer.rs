//! FAB's prioritised replay buffer (Midgley et al. 2023, Sec. 3.3 and Algorithm 2;
//! fab-torch `fab/utils/prioritised_replay_buffer.py` @ b1586a9).
//!
//! A FIFO ring of rows (x, log w, log q_old): AIS batches are added whole, the oldest rows are
//! overwritten once `max_len` is reached, and sampling starts once `min_len` rows are held.
//! Rows are drawn WITHOUT replacement with probability proportional to w by the Gumbel top-k
//! trick (keys log w_i + G_i, G_i ~ Gumbel(0, 1), the k largest, then shuffled). After a
//! gradient step on a row, its weight is re-weighted to the current flow:
//! log w += log w_adj with log w_adj = (1 - alpha)(log q(x) - log q_old), log q_old = log q(x);
//! a row whose adjustment or log q is not finite gets log w = -inf (never drawn again before
//! the -inf rows, in practice never).

use nsamp_core::numerics::rng::Rng;
use nsamp_core::rand::Rng as _;
use nsamp_core::ObjectiveState;

/// The largest buffer: row indices travel through checkpoints as f32, exact below 2^24.
pub const MAX_ROWS: usize = 1 << 24;

/// The prioritised replay buffer.
#[derive(Debug, Clone, PartialEq)]
pub struct PrioritisedBuffer {
    dim: usize,
    max_len: usize,
    min_len: usize,
    /// Rows, `max_len x dim` (slots beyond `len` unused).
    x: Vec<f32>,
    log_w: Vec<f64>,
    log_q_old: Vec<f64>,
    /// Next slot to write.
    head: usize,
    /// Rows held (at most `max_len`).
    len: usize,
}

impl PrioritisedBuffer {
    /// An empty buffer of `max_len` rows of dimension `dim`, sampleable from `min_len` rows on
    /// (fab-torch requires min_len < max_len).
    pub fn new(dim: usize, max_len: usize, min_len: usize) -> anyhow::Result<Self> {
        anyhow::ensure!(dim > 0, "FAB buffer: dimension must be positive");
        anyhow::ensure!(
            min_len >= 1 && min_len < max_len && max_len <= MAX_ROWS,
            "FAB buffer: need 1 <= buffer_min < buffer_max <= {MAX_ROWS}, got min {min_len}, \
             max {max_len}"
        );
        Ok(PrioritisedBuffer {
            dim,
            max_len,
            min_len,
            x: vec![0.0; max_len * dim],
            log_w: vec![0.0; max_len],
            log_q_old: vec![0.0; max_len],
            head: 0,
            len: 0,
        })
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether no row is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Whether `min_len` rows are held (sampling allowed).
    pub fn can_sample(&self) -> bool {
        self.len >= self.min_len
    }
    /// The minimum length.
    pub fn min_len(&self) -> usize {
        self.min_len
    }
    /// Log weight of slot `i`.
    pub fn log_w(&self, i: usize) -> f64 {
        self.log_w[i]
    }
    /// log q_old of slot `i`.
    pub fn log_q_old(&self, i: usize) -> f64 {
        self.log_q_old[i]
    }
    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.x[i * self.dim..(i + 1) * self.dim]
    }

    /// Adds a batch (n rows, n log weights, n log q) at the head, FIFO: once full, the oldest
    /// rows are overwritten.
    pub fn add(&mut self, x: &[f32], log_w: &[f64], log_q: &[f64]) {
        let d = self.dim;
        assert!(
            x.len() == log_w.len() * d && log_w.len() == log_q.len(),
            "FAB buffer: batch is not n x dim"
        );
        for (i, (&lw, &lq)) in log_w.iter().zip(log_q).enumerate() {
            let s = self.head;
            self.x[s * d..(s + 1) * d].copy_from_slice(&x[i * d..(i + 1) * d]);
            self.log_w[s] = lw;
            self.log_q_old[s] = lq;
            self.head = (self.head + 1) % self.max_len;
            self.len = (self.len + 1).min(self.max_len);
        }
    }

    /// `n` distinct slots drawn without replacement with probability proportional to w
    /// (Gumbel top-k: the n largest log w_i + G_i, then shuffled, as fab-torch permutes its
    /// unsorted top-k).
    pub fn sample_indices(&self, n: usize, rng: &mut Rng) -> anyhow::Result<Vec<usize>> {
        anyhow::ensure!(
            self.can_sample(),
            "FAB buffer: {} rows held, sampling needs {}",
            self.len,
            self.min_len
        );
        anyhow::ensure!(
            n <= self.len,
            "FAB buffer: cannot draw {n} distinct rows from {}",
            self.len
        );
        let mut keyed: Vec<(f64, usize)> = (0..self.len)
            .map(|i| {
                let u: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
                (self.log_w[i] - (-u.ln()).ln(), i)
            })
            .collect();
        // Largest keys first; ties (only -inf rows in practice) by slot.
        let order = |a: &(f64, usize), b: &(f64, usize)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        if n < keyed.len() && n > 0 {
            keyed.select_nth_unstable_by(n - 1, order);
        }
        keyed.truncate(n);
        keyed.sort_unstable_by(order);
        let mut idx: Vec<usize> = keyed.into_iter().map(|(_, i)| i).collect();
        for i in (1..idx.len()).rev() {
            let j = rng.random_range(0..=i);
            idx.swap(i, j);
        }
        Ok(idx)
    }

    /// The rows and log q_old of slots `idx`.
    pub fn gather(&self, idx: &[usize]) -> (Vec<f32>, Vec<f64>) {
        let mut x = Vec::with_capacity(idx.len() * self.dim);
        for &i in idx {
            x.extend_from_slice(self.row(i));
        }
        (x, idx.iter().map(|&i| self.log_q_old[i]).collect())
    }

    /// After a step on slots `idx`: log w += log_w_adj and log q_old = log_q where both are
    /// finite, log w = -inf otherwise (fab-torch `adjust`).
    pub fn adjust(&mut self, idx: &[usize], log_w_adj: &[f64], log_q: &[f64]) {
        for ((&i, &a), &lq) in idx.iter().zip(log_w_adj).zip(log_q) {
            if a.is_finite() && lq.is_finite() {
                self.log_w[i] += a;
                self.log_q_old[i] = lq;
            } else {
                self.log_w[i] = f64::NEG_INFINITY;
            }
        }
    }

    /// Writes the buffer into an objective state: `buffer_x` (f32), `buffer_log_w` and
    /// `buffer_log_q_old` (f64 arrays), counters `buffer_head`, `buffer_len`.
    pub fn save(&self, st: &mut ObjectiveState) {
        st.arrays
            .insert("buffer_x".into(), self.x[..self.len * self.dim].to_vec());
        st.arrays_f64
            .insert("buffer_log_w".into(), self.log_w[..self.len].to_vec());
        st.arrays_f64.insert(
            "buffer_log_q_old".into(),
            self.log_q_old[..self.len].to_vec(),
        );
        st.counters.insert("buffer_head".into(), self.head as u64);
        st.counters.insert("buffer_len".into(), self.len as u64);
    }

    /// Restores what [`Self::save`] wrote (same dim and max_len).
    pub fn restore(&mut self, st: &mut ObjectiveState) -> anyhow::Result<()> {
        let len = st.counter("buffer_len")? as usize;
        let head = st.counter("buffer_head")? as usize;
        let x = st.take_array("buffer_x")?;
        let lw = st.take_array_f64("buffer_log_w")?;
        let lq = st.take_array_f64("buffer_log_q_old")?;
        anyhow::ensure!(
            len <= self.max_len
                && head < self.max_len
                && x.len() == len * self.dim
                && lw.len() == len
                && lq.len() == len,
            "FAB buffer: the checkpoint's buffer ({len} rows, head {head}) does not fit \
             buffer_max {} and dimension {}",
            self.max_len,
            self.dim
        );
        self.x[..x.len()].copy_from_slice(&x);
        self.log_w[..len].copy_from_slice(&lw);
        self.log_q_old[..len].copy_from_slice(&lq);
        self.len = len;
        self.head = head;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nsamp_core::numerics::rng::RngStreams;

    fn filled(n: usize, max: usize) -> PrioritisedBuffer {
        let mut b = PrioritisedBuffer::new(2, max, 2).unwrap();
        let x: Vec<f32> = (0..2 * n).map(|v| v as f32).collect();
        let lw: Vec<f64> = (0..n).map(|i| -(i as f64) * 0.1).collect();
        let lq: Vec<f64> = (0..n).map(|i| i as f64).collect();
        b.add(&x, &lw, &lq);
        b
    }

    #[test]
    fn sampling_without_replacement_gives_distinct_indices() {
        let b = filled(50, 64);
        for call in 0..20 {
            let idx = b
                .sample_indices(40, &mut RngStreams::new(1).stream("t", call))
                .unwrap();
            let mut s = idx.clone();
            s.sort_unstable();
            s.dedup();
            assert_eq!(s.len(), 40, "{idx:?}");
            assert!(idx.iter().all(|&i| i < 50));
        }
        // All of them: a permutation.
        let mut all = b
            .sample_indices(50, &mut RngStreams::new(1).stream("t", 99))
            .unwrap();
        all.sort_unstable();
        assert_eq!(all, (0..50).collect::<Vec<_>>());
        assert!(b
            .sample_indices(51, &mut RngStreams::new(1).stream("t", 0))
            .is_err());
    }

    #[test]
    fn single_draws_follow_the_weights() {
        // Weights 1 : 2 : 4 : 8 (log w = k ln 2): one draw picks k with probability 2^k / 15.
        let mut b = PrioritisedBuffer::new(1, 8, 1).unwrap();
        let lw: Vec<f64> = (0..4).map(|k| k as f64 * 2f64.ln()).collect();
        b.add(&[0.0; 4], &lw, &[0.0; 4]);
        let n = 30_000;
        let mut counts = [0usize; 4];
        for c in 0..n {
            let i = b
                .sample_indices(1, &mut RngStreams::new(5).stream("g", c))
                .unwrap()[0];
            counts[i] += 1;
        }
        for (k, &c) in counts.iter().enumerate() {
            let p = 2f64.powi(k as i32) / 15.0;
            let se = (p * (1.0 - p) / n as f64).sqrt();
            let f = c as f64 / n as f64;
            assert!((f - p).abs() < 5.0 * se, "slot {k}: {f} vs {p}");
        }
        // A -inf row is never drawn while finite rows remain.
        b.adjust(&[3], &[f64::NAN], &[0.0]);
        for c in 0..200 {
            let idx = b
                .sample_indices(3, &mut RngStreams::new(6).stream("g", c))
                .unwrap();
            assert!(!idx.contains(&3));
        }
    }

    #[test]
    fn adjustment_formula_and_non_finite_rows() {
        let mut b = filled(4, 8);
        let alpha = 2.0;
        let log_q_new = [0.5, 1.5, f64::NEG_INFINITY, 3.0];
        let adj: Vec<f64> = (0..4)
            .map(|i| (1.0 - alpha) * (log_q_new[i] - b.log_q_old(i)))
            .collect();
        b.adjust(&[0, 1, 2, 3], &adj, &log_q_new);
        // log w_0 = 0 + (1 - 2)(0.5 - 0) = -0.5; log w_1 = -0.1 - (1.5 - 1) = -0.6.
        assert!((b.log_w(0) + 0.5).abs() < 1e-12);
        assert!((b.log_w(1) + 0.6).abs() < 1e-12);
        assert_eq!(b.log_q_old(1), 1.5);
        assert_eq!(b.log_w(2), f64::NEG_INFINITY);
        assert_eq!(
            b.log_q_old(2),
            2.0,
            "log q_old kept where the adjustment failed"
        );
        assert!((b.log_w(3) + 0.3).abs() < 1e-12);
        // A NaN adjustment also kills the row.
        b.adjust(&[0], &[f64::NAN], &[0.0]);
        assert_eq!(b.log_w(0), f64::NEG_INFINITY);
    }

    #[test]
    fn fifo_eviction_overwrites_the_oldest_rows() {
        let mut b = PrioritisedBuffer::new(1, 5, 2).unwrap();
        b.add(&[0.0, 1.0, 2.0], &[0.0; 3], &[0.0; 3]);
        assert_eq!(b.len(), 3);
        b.add(&[3.0, 4.0, 5.0, 6.0], &[1.0; 4], &[0.0; 4]);
        assert_eq!(b.len(), 5);
        // Slots 0 and 1 (rows 0, 1) were overwritten by rows 5 and 6.
        let rows: Vec<f32> = (0..5).map(|i| b.row(i)[0]).collect();
        assert_eq!(rows, vec![5.0, 6.0, 2.0, 3.0, 4.0]);
        assert_eq!(b.log_w(2), 0.0);
        assert_eq!(b.log_w(0), 1.0);
    }

    #[test]
    fn state_round_trip_is_exact() {
        let mut b = filled(7, 10);
        b.adjust(&[1, 2], &[0.1234567890123, f64::INFINITY], &[1e-300, 0.0]);
        let mut st = ObjectiveState::default();
        b.save(&mut st);
        let mut c = PrioritisedBuffer::new(2, 10, 2).unwrap();
        c.restore(&mut st).unwrap();
        assert_eq!(b, c);
        assert!(PrioritisedBuffer::new(2, 4, 4).is_err());
    }
}
