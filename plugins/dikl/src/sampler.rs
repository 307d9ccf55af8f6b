//! Sampling a trained generator: z ~ N(0, I) from the run's stream "dikl-sample" (one stream per
//! chunk; centre-of-mass free for particles), x = g(z) (re-centred for particles, as the official
//! `get_sample`), in chunks. A generator has no density: no log q.

use nsamp_core::candle::{Device, Tensor};
use nsamp_core::numerics::rng::RngStreams;
use nsamp_core::sampler::{Progress, Sampler, Samples};
use nsamp_core::{GeneratorModel, Particles};

/// Standard normals (n, d) from stream (`purpose`, `index`), centre-of-mass free for particles.
pub fn base_noise(
    streams: &RngStreams,
    purpose: &str,
    index: u64,
    n: usize,
    d: usize,
    particles: Option<Particles>,
) -> Vec<f32> {
    let mut z = vec![0f32; n * d];
    nsamp_core::numerics::rng::fill_normal(&mut streams.stream(purpose, index), &mut z);
    if let Some(p) = particles {
        for row in z.chunks_mut(d) {
            nsamp_core::numerics::pairwise::remove_mean(row, p.n, p.spatial_dim);
        }
    }
    z
}

/// g(z) for a batch, with the centre of mass removed for particles (differentiable).
pub fn generate(
    g: &dyn GeneratorModel,
    z: Vec<f32>,
    n: usize,
    d: usize,
    particles: Option<Particles>,
    device: &Device,
) -> anyhow::Result<Tensor> {
    let z = Tensor::from_vec(z, (n, d), device)?;
    let x = g.generate(&z)?;
    Ok(match particles {
        Some(p) => {
            let x = x.reshape((n, p.n, p.spatial_dim))?;
            x.broadcast_sub(&x.mean_keepdim(1)?)?.reshape((n, d))?
        }
        None => x,
    })
}

/// The trained generator as a sampler.
pub struct GeneratorSampler<'a> {
    /// The generator.
    pub generator: &'a dyn GeneratorModel,
    /// Dimension.
    pub dim: usize,
    /// Particle layout of the target, if any.
    pub particles: Option<Particles>,
    /// Device of the network.
    pub device: &'a Device,
    /// Samples generated at once.
    pub chunk: usize,
}

impl Sampler for GeneratorSampler<'_> {
    fn sample(
        &mut self,
        n: usize,
        streams: &RngStreams,
        progress: Progress<'_>,
    ) -> anyhow::Result<Samples> {
        let d = self.dim;
        let chunk = self.chunk.max(1);
        let chunks = n.div_ceil(chunk);
        let mut out = Vec::with_capacity(n * d);
        for c in 0..chunks {
            let m = chunk.min(n - c * chunk);
            let z = base_noise(streams, "dikl-sample", c as u64, m, d, self.particles);
            let x = generate(self.generator, z, m, d, self.particles, self.device)?;
            out.extend(x.flatten_all()?.to_vec1::<f32>()?);
            progress(c as u64 + 1, chunks as u64);
        }
        Ok(Samples::new(out, d))
    }
}
