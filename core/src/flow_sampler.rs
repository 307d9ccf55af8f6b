//! Sampling a normalising flow: z ~ N(0, I) from the run's seeded `flow-sample` stream, pushed
//! through x = T(z) in chunks, with log q(x) for correctors (IMH, SNIS) and density metrics.
//! Generic over [`FlowModel`]: any flow objective's trained sampler.

use crate::model::FlowModel;
use crate::numerics::rng::{fill_normal, RngStreams};
use crate::sampler::{Progress, Sampler, Samples};
use candle_core::{Device, Tensor};

/// Samples of a flow with their log q(x): z ~ N(0, I) from the `flow-sample` stream, x = T(z).
pub struct FlowSampler<'a> {
    /// The flow.
    pub flow: &'a dyn FlowModel,
    /// Dimension.
    pub dim: usize,
    /// Device of the flow's tensors.
    pub device: &'a Device,
    /// Samples pushed through at once.
    pub chunk: usize,
}

impl Sampler for FlowSampler<'_> {
    fn sample(
        &mut self,
        n: usize,
        streams: &RngStreams,
        progress: Progress<'_>,
    ) -> anyhow::Result<Samples> {
        let d = self.dim;
        let mut x = Vec::with_capacity(n * d);
        let mut lq = Vec::with_capacity(n);
        let chunks = n.div_ceil(self.chunk);
        for c in 0..chunks {
            let m = self.chunk.min(n - c * self.chunk);
            let mut z = vec![0f32; m * d];
            fill_normal(&mut streams.stream("flow-sample", c as u64), &mut z);
            let z = Tensor::from_vec(z, (m, d), self.device)?;
            let (xs, l) = self.flow.sample_with_log_prob(&z)?;
            x.extend(xs.flatten_all()?.to_vec1::<f32>()?);
            lq.extend(l.to_vec1::<f32>()?);
            progress(c as u64 + 1, chunks as u64);
        }
        let mut s = Samples::new(x, d);
        s.log_q = Some(lq);
        Ok(s)
    }
}
