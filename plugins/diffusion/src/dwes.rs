//! `Dwes`: direct sampling with estimated scores (IW-SM appendix H): the reverse SDE driven by the
//! Monte Carlo score S_L with L samples and no network, a training-free sampler
//! (`sampler: Dwes(...)`). Every sample costs L x `sde.steps` energy evaluations, reported as
//! sampling cost. This is the baseline that shows what amortising the score into a network buys.
//!
//! Chunk c (`chunk` samples) starts from the prior N(0, h(1) I) drawn from stream c and is
//! integrated with S_L from the same stream index; outputs are returned in data units.

use crate::settings::{resolve_scale, McSettings, ScheduleSettings, SdeSettings};
use nsamp_core::numerics::mc_score::{integrate_with_mc_score, McScore};
use nsamp_core::numerics::rng::RngStreams;
use nsamp_core::numerics::sde::ReverseSde;
use nsamp_core::sampler::Progress;
use nsamp_core::{CountedTarget, Sampler, SamplerConfig, Samples};

nsamp_core::config! {
    /// `Dwes(...)` config: the schedule, Monte Carlo and SDE settings of the trained members,
    /// without the network's (lambda, buffer).
    pub struct DwesConfig {
        /// The geometric VE noise schedule (sampler units): sigma_min at t = 0, sigma_max at t = 1.
        schedule: ScheduleSettings = ScheduleSettings::default(),
        /// The Monte Carlo score S_L: `samples` L per point and step (the paper: 500, 1000, 2000),
        /// `clip` of S_L (whole-vector norm, per particle for particle targets; None = no clip).
        mc: McSettings = McSettings::default(),
        /// The reverse SDE: Euler-Maruyama `steps` and noise scale `noise_scale` c (1 = exact).
        sde: SdeSettings = SdeSettings::default(),
        /// Samples integrated at once.
        chunk: usize = 1000,
        /// Sampler length unit; None = the target's natural scale (GMM-40: 50).
        scale: Option<f32> = None,
    }
}

impl DwesConfig {
    /// Range checks.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.chunk > 0, "Dwes: chunk must be at least 1");
        self.schedule.schedule()?;
        self.mc.validate()?;
        self.sde.validate()
    }
}

/// The sampler: the reverse SDE driven by S_L (nothing to train).
pub struct Dwes {
    sde: ReverseSde,
    mc: McScore,
    dim: usize,
    chunk: usize,
    target: CountedTarget,
}

impl SamplerConfig for DwesConfig {
    fn build(&self, target: &CountedTarget) -> anyhow::Result<Box<dyn Sampler>> {
        self.validate()?;
        let particles = target.inner().particles();
        let scale = resolve_scale(self.scale, target)?;
        Ok(Box::new(Dwes {
            sde: self.sde.reverse_sde(&self.schedule, particles)?,
            mc: self.mc.mc_score(scale, particles),
            dim: target.dim(),
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
        let d = self.dim;
        let chunk = self.chunk;
        let chunks = n.div_ceil(chunk);
        let total = (chunks * self.sde.steps) as u64;
        let mut out = Vec::with_capacity(n * d);
        for c in 0..chunks {
            let m = chunk.min(n - c * chunk);
            let mut x = self.sde.prior(m, d, streams, c as u64);
            let done = (c * self.sde.steps) as u64;
            integrate_with_mc_score(
                &self.target,
                &self.mc,
                &self.sde,
                &mut x,
                streams,
                c as u64,
                &mut |i, _| progress(done + i, total),
            )?;
            out.extend(x.iter().map(|v| v * self.mc.scale));
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
