//! Sampling with a learned score: the reverse SDE driven by s_theta (DEM, IW-SM and any other
//! score-based objective).

use crate::model::{ScoreInference, ScoreModel};
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
        // The weights are copied once per call: training between calls is seen by the next one.
        let mut net = score_inference(self.score, d, self.device)?;
        for c in 0..chunks {
            let m = self.chunk.min(n - c * self.chunk);
            let mut x = self.sde.prior(m, d, streams, c as u64);
            let mut score = |t: f64, xs: &[f32], o: &mut [f32]| net.score_into(t as f32, xs, o);
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

/// The fastest evaluator `score` offers: its own inference path ([`ScoreModel::inference`]) or,
/// for a model without one, [`TensorScore`] through candle.
pub fn score_inference<'a>(
    score: &'a dyn ScoreModel,
    dim: usize,
    device: &'a Device,
) -> anyhow::Result<Box<dyn ScoreInference + 'a>> {
    Ok(match score.inference()? {
        Some(net) => net,
        None => Box::new(TensorScore { score, dim, device }),
    })
}

/// Inference through [`ScoreModel::score`] on tensors (any model; one graph per call).
pub struct TensorScore<'a> {
    /// The network.
    pub score: &'a dyn ScoreModel,
    /// Dimension of a row.
    pub dim: usize,
    /// Device of the network.
    pub device: &'a Device,
}

impl ScoreInference for TensorScore<'_> {
    fn score_into(&mut self, t: f32, x: &[f32], out: &mut [f32]) -> anyhow::Result<()> {
        let d = self.dim;
        anyhow::ensure!(
            d > 0 && x.len().is_multiple_of(d) && out.len() == x.len(),
            "score_into: x has {} values, out {}, rows of {d}",
            x.len(),
            out.len()
        );
        let m = x.len() / d;
        let tt = Tensor::full(t, m, self.device)?;
        let xx = Tensor::from_slice(x, (m, d), self.device)?;
        let s = self
            .score
            .score(&tt, &xx)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        out.copy_from_slice(&s);
        Ok(())
    }
}
