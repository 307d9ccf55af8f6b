//! The one sampling interface: a trained model, a network-free SDE or an MCMC chain all answer
//! `Sampler::sample`.

use crate::numerics::rng::RngStreams;

/// A batch of samples in data units, row-major `n x dim`, with optional per-sample log q(x)
/// (for samplers with a tractable density) and log importance weights.
#[derive(Debug, Clone)]
pub struct Samples {
    /// Row-major samples.
    pub x: Vec<f32>,
    /// Dimension of one sample.
    pub dim: usize,
    /// log q(x) of the sampler, where it has one.
    pub log_q: Option<Vec<f32>>,
}

impl Samples {
    /// Samples without a density.
    pub fn new(x: Vec<f32>, dim: usize) -> Self {
        assert!(
            dim > 0 && x.len().is_multiple_of(dim),
            "sample buffer is not n x dim"
        );
        Samples {
            x,
            dim,
            log_q: None,
        }
    }
    /// Number of samples.
    pub fn n(&self) -> usize {
        self.x.len() / self.dim
    }
}

/// Progress callback: (done, total).
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// Anything that produces samples of the target.
pub trait Sampler {
    /// Draws `n` samples. Randomness comes from `streams` (so results are reproducible), and
    /// energy evaluations go through the counted target the sampler was built with.
    fn sample(
        &mut self,
        n: usize,
        streams: &RngStreams,
        progress: Progress<'_>,
    ) -> anyhow::Result<Samples>;
}
