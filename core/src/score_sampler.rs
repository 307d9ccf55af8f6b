//! Sampling with a learned score: the reverse SDE driven by s_theta (DEM, IW-SM and any other
//! score-based objective).

use crate::model::ScoreModel;
use crate::numerics::rng::RngStreams;
use crate::numerics::sde::ReverseSde;
use crate::sampler::{Progress, Sampler, Samples};
use candle_core::{Device, Tensor};

/// The reverse SDE driven by a score network, in chunks of `chunk` samples.
pub struct ScoreSdeSampler<'a> {
    /// The network.
    pub score: &'a dyn ScoreModel,
    /// The SDE.
    pub sde: ReverseSde,
    /// Length unit: outputs are multiplied by it (data units) unless `normalised`.
    pub scale: f32,
    /// Dimension.
    pub dim: usize,
    /// Device of the network.
    pub device: &'a Device,
    /// Samples integrated at once.
    pub chunk: usize,
    /// Return sampler units instead of data units (for the replay buffer).
    pub normalised: bool,
}

impl Sampler for ScoreSdeSampler<'_> {
    fn sample(
        &mut self,
        n: usize,
        streams: &RngStreams,
        progress: Progress<'_>,
    ) -> anyhow::Result<Samples> {
        let d = self.dim;
        let mut out = Vec::with_capacity(n * d);
        let chunks = n.div_ceil(self.chunk);
        let total = (chunks * self.sde.steps) as u64;
        for c in 0..chunks {
            let m = self.chunk.min(n - c * self.chunk);
            let mut x = self.sde.prior(m, d, streams, c as u64);
            let mut score = |t: f64, xs: &[f32], o: &mut [f32]| -> anyhow::Result<()> {
                let tt = Tensor::full(t as f32, m, self.device)?;
                let xx = Tensor::from_slice(xs, (m, d), self.device)?;
                let s = self
                    .score
                    .score(&tt, &xx)?
                    .flatten_all()?
                    .to_vec1::<f32>()?;
                o.copy_from_slice(&s);
                Ok(())
            };
            let done = (c * self.sde.steps) as u64;
            self.sde
                .integrate(&mut x, d, streams, c as u64, &mut score, &mut |i, _| {
                    progress(done + i, total)
                })?;
            out.extend_from_slice(&x);
        }
        if !self.normalised {
            out.iter_mut().for_each(|v| *v *= self.scale);
        }
        Ok(Samples::new(out, d))
    }
}
