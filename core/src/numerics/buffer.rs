//! FIFO ring replay buffer with uniform sampling with replacement (iDEM's buffer).

use super::rng::Rng;
use rand::Rng as _;

/// A fixed-capacity FIFO of row vectors.
#[derive(Debug, Clone)]
pub struct ReplayBuffer {
    data: Vec<f32>,
    dim: usize,
    capacity: usize,
    len: usize,
    head: usize,
}

impl ReplayBuffer {
    /// An empty buffer of `capacity` rows of `dim` values.
    pub fn new(capacity: usize, dim: usize) -> Self {
        assert!(capacity > 0 && dim > 0);
        ReplayBuffer {
            data: vec![0.0; capacity * dim],
            dim,
            capacity,
            len: 0,
            head: 0,
        }
    }
    /// Rows held.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Appends rows, overwriting the oldest once full.
    pub fn push(&mut self, rows: &[f32]) {
        for row in rows.chunks_exact(self.dim) {
            let at = self.head * self.dim;
            self.data[at..at + self.dim].copy_from_slice(row);
            self.head = (self.head + 1) % self.capacity;
            self.len = (self.len + 1).min(self.capacity);
        }
    }
    /// Fills `out` (n x dim) with rows drawn uniformly with replacement.
    pub fn sample_into(&self, rng: &mut Rng, out: &mut [f32]) {
        assert!(self.len > 0, "sampling from an empty replay buffer");
        for row in out.chunks_exact_mut(self.dim) {
            let i = rng.random_range(0..self.len);
            row.copy_from_slice(&self.data[i * self.dim..(i + 1) * self.dim]);
        }
    }
    /// The rows held, in storage order.
    pub fn rows(&self) -> &[f32] {
        &self.data[..self.len * self.dim]
    }
    /// The storage slot the next row goes to.
    pub fn head(&self) -> usize {
        self.head
    }
    /// A buffer holding `rows` in storage order with the next row going to slot `head`: the
    /// inverse of ([`Self::rows`], [`Self::head`]), for checkpoints.
    pub fn from_rows(
        capacity: usize,
        dim: usize,
        rows: &[f32],
        head: usize,
    ) -> anyhow::Result<Self> {
        let mut b = ReplayBuffer::new(capacity, dim);
        anyhow::ensure!(
            rows.len().is_multiple_of(dim) && rows.len() / dim <= capacity && head < capacity,
            "a replay buffer of {capacity} rows of {dim} cannot hold {} values with head {head}",
            rows.len()
        );
        b.data[..rows.len()].copy_from_slice(rows);
        b.len = rows.len() / dim;
        b.head = head;
        anyhow::ensure!(
            b.len == capacity || b.head == b.len,
            "a replay buffer that is not full writes after its last row (head {head}, {} rows)",
            b.len
        );
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn fifo_overwrites_oldest() {
        let mut b = ReplayBuffer::new(3, 1);
        b.push(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(b.len(), 3);
        let mut r = b.rows().to_vec();
        r.sort_by(f32::total_cmp);
        assert_eq!(r, vec![2.0, 3.0, 4.0]);
        let mut rng = Rng::seed_from_u64(1);
        let mut out = [0f32; 100];
        b.sample_into(&mut rng, &mut out);
        assert!(out.iter().all(|v| [2.0, 3.0, 4.0].contains(v)));
        assert!(out.contains(&2.0) && out.contains(&4.0));
    }

    #[test]
    fn from_rows_restores_what_rows_and_head_saved() {
        for pushed in [2usize, 3, 5] {
            let mut b = ReplayBuffer::new(3, 2);
            let rows: Vec<f32> = (0..pushed * 2).map(|v| v as f32).collect();
            b.push(&rows);
            let mut c = ReplayBuffer::from_rows(3, 2, b.rows(), b.head()).unwrap();
            b.push(&[100.0, 101.0]);
            c.push(&[100.0, 101.0]);
            assert_eq!(b.rows(), c.rows());
            assert_eq!(b.head(), c.head());
        }
        assert!(ReplayBuffer::from_rows(3, 2, &[0.0; 4], 0).is_err());
        assert!(ReplayBuffer::from_rows(3, 2, &[0.0; 8], 0).is_err());
    }
}
