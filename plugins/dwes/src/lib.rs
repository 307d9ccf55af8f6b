//! `Dwes`: direct sampling with estimated scores (IW-SM appendix H): the reverse SDE driven by the
//! Monte Carlo score S_L with L samples and no network: a training-free sampler (`sampler: Dwes(...)`); every sample costs
//! L x sde_steps energy evaluations, reported as sampling cost. This is the baseline that shows
//! what amortising the score into a network buys.

use nsamp_core::diffusion::{DiffusionSettings, DiffusionState, X0Source};
use nsamp_core::numerics::mc_score::integrate_with_mc_score;
use nsamp_core::numerics::rng::RngStreams;
use nsamp_core::sampler::Progress;
use nsamp_core::{CountedTarget, Sampler, SamplerConfig, Samples};

nsamp_core::config! {
    /// `Dwes(...)` config.
    pub struct DwesConfig {
        /// L, Monte Carlo samples of the score per point and step.
        mc_samples: usize = 500,
        /// Noise scale at t = 0 (sampler units).
        sigma_min: f64 = 1e-5,
        /// Noise scale at t = 1 (sampler units).
        sigma_max: f64 = 1.0,
        /// Clip of the estimated score (whole vector, or per particle).
        score_clip: Option<f32> = Some(70.0),
        /// Euler-Maruyama steps.
        sde_steps: usize = 1000,
        /// Reverse-SDE noise scale c.
        noise_scale: f64 = 1.0,
        /// Samples integrated at once.
        chunk: usize = 1000,
        /// Sampler length unit (None: the target's natural scale).
        scale: Option<f32> = None,
    }
}

/// The sampler: the reverse SDE driven by S_L (nothing to train).
pub struct Dwes {
    state: DiffusionState,
    chunk: usize,
    target: CountedTarget,
}

impl SamplerConfig for DwesConfig {
    fn build(&self, target: &CountedTarget) -> anyhow::Result<Box<dyn Sampler>> {
        anyhow::ensure!(self.chunk > 0, "Dwes: chunk must be at least 1");
        let settings = DiffusionSettings {
            sigma_min: self.sigma_min,
            sigma_max: self.sigma_max,
            mc_samples: self.mc_samples,
            score_clip: self.score_clip,
            sde_steps: self.sde_steps,
            noise_scale: self.noise_scale,
            scale: self.scale,
            ..DiffusionSettings::default()
        };
        Ok(Box::new(Dwes {
            state: DiffusionState::new(settings, X0Source::Prior, target)?,
            chunk: self.chunk,
            target: target.clone(),
        }))
    }
}

impl Sampler for Dwes {
    fn sample(
        &mut self,
        n: usize,
        streams: &RngStreams,
        progress: Progress<'_>,
    ) -> anyhow::Result<Samples> {
        let st = &self.state;
        let d = st.dim;
        let chunk = self.chunk;
        let chunks = n.div_ceil(chunk);
        let total = (chunks * st.sde.steps) as u64;
        let mut out = Vec::with_capacity(n * d);
        for c in 0..chunks {
            let m = chunk.min(n - c * chunk);
            let mut x = st.sde.prior(m, d, streams, c as u64);
            let done = (c * st.sde.steps) as u64;
            integrate_with_mc_score(
                &self.target,
                &st.mc,
                &st.sde,
                &mut x,
                streams,
                c as u64,
                &mut |i, _| progress(done + i, total),
            )?;
            out.extend(x.iter().map(|v| v * st.mc.scale));
        }
        Ok(Samples::new(out, d))
    }
}

nsamp_core::register!(
    Sampler,
    "Dwes",
    DwesConfig,
    "direct sampling with estimated scores: reverse SDE driven by the Monte Carlo score, no network (IW-SM app. H)"
);
