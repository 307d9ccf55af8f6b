//! DEM's config: the recipe's `Idem(...)` / `Pdem(...)`.

use crate::Dem;
use nsamp_core::numerics::schedule::GeometricSchedule;
use nsamp_core::numerics::sde::ReverseSde;
use nsamp_core::target::Particles;
use nsamp_core::{CountedTarget, Objective, ObjectiveConfig};
use serde::{Deserialize, Serialize};

/// Where x_0 comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Variant {
    /// iDEM: a replay buffer of the sampler's own output.
    #[default]
    Buffer,
    /// pDEM: the prior N(0, h(1) I).
    Prior,
}

/// The regression weight lambda(t).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub enum Lambda {
    /// lambda(t) = h(t) + eps (GMMs: eps = 1e-3).
    Variance(f32),
    /// lambda(t) = c (particle systems: 1).
    Constant(f32),
}

impl Lambda {
    /// lambda at variance h = h(t).
    pub fn weight(&self, h: f32) -> f32 {
        match *self {
            Lambda::Variance(eps) => h + eps,
            Lambda::Constant(c) => c,
        }
    }
}

/// How the initial buffer is filled (iDEM).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub enum BufferInit {
    /// Draws from the prior N(0, h(1) I).
    Prior,
    /// The reverse SDE driven by the Monte Carlo score itself, with this many steps.
    McScoreSde {
        /// Euler-Maruyama steps.
        steps: usize,
    },
}

/// DEM settings (both variants). Sampler units are x / `scale`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DemConfig {
    /// Noise scale at t = 0 (sampler units).
    pub sigma_min: f64,
    /// Noise scale at t = 1 (sampler units).
    pub sigma_max: f64,
    /// K, Monte Carlo samples of the target score.
    pub mc_samples: usize,
    /// Clip of the target score: whole-vector norm, or per particle for particle targets.
    pub score_clip: Option<f32>,
    /// Regression weight lambda(t).
    pub lambda: Lambda,
    /// Replay buffer capacity (iDEM).
    pub buffer: usize,
    /// Initial buffer size (iDEM).
    pub initial_buffer: usize,
    /// How the initial buffer is filled (iDEM).
    pub init: BufferInit,
    /// Refill the buffer every this many steps (iDEM).
    pub refill_every: u64,
    /// Samples generated per refill (iDEM); also the sampler's chunk size.
    pub refill_samples: usize,
    /// Euler-Maruyama steps of the reverse SDE (refills and final sampling).
    pub sde_steps: usize,
    /// Noise scale c of the reverse SDE (1 = exact).
    pub noise_scale: f64,
    /// Length unit of the sampler (None: the target's natural scale, e.g. 50 for GMM-40).
    pub scale: Option<f32>,
    /// iDEM or pDEM (fixed by the registered name).
    #[serde(skip)]
    pub variant: Variant,
}

impl Default for DemConfig {
    fn default() -> Self {
        DemConfig {
            sigma_min: 1e-5,
            sigma_max: 1.0,
            mc_samples: 500,
            score_clip: Some(70.0),
            lambda: Lambda::Variance(1e-3),
            buffer: 10_000,
            initial_buffer: 1024,
            init: BufferInit::McScoreSde { steps: 1000 },
            refill_every: 100,
            refill_samples: 1000,
            sde_steps: 1000,
            noise_scale: 1.0,
            scale: None,
            variant: Variant::Buffer,
        }
    }
}

impl DemConfig {
    /// Range checks.
    pub fn validate(&self) -> anyhow::Result<()> {
        GeometricSchedule::new(self.sigma_min, self.sigma_max)?;
        anyhow::ensure!(self.mc_samples > 0, "mc_samples must be at least 1");
        anyhow::ensure!(
            self.buffer > 0 && self.initial_buffer > 0,
            "buffer sizes must be at least 1"
        );
        anyhow::ensure!(
            self.refill_every > 0 && self.refill_samples > 0,
            "refill_every and refill_samples must be at least 1"
        );
        anyhow::ensure!(self.sde_steps > 0, "sde_steps must be at least 1");
        anyhow::ensure!(self.noise_scale >= 0.0, "noise_scale must be >= 0");
        if let BufferInit::McScoreSde { steps } = self.init {
            anyhow::ensure!(steps > 0, "init McScoreSde needs steps >= 1");
        }
        if let Some(c) = self.score_clip {
            anyhow::ensure!(c > 0.0, "score_clip must be positive");
        }
        if let Some(s) = self.scale {
            anyhow::ensure!(s > 0.0 && s.is_finite(), "scale must be positive");
        }
        Ok(())
    }

    /// The reverse SDE of these settings.
    pub fn reverse_sde(&self, particles: Option<Particles>) -> anyhow::Result<ReverseSde> {
        Ok(ReverseSde {
            schedule: GeometricSchedule::new(self.sigma_min, self.sigma_max)?,
            steps: self.sde_steps,
            noise_scale: self.noise_scale,
            com_free: particles,
        })
    }
}

impl ObjectiveConfig for DemConfig {
    fn build(&self, target: &CountedTarget) -> anyhow::Result<Box<dyn Objective>> {
        Ok(Box::new(Dem::new(self.clone(), target)?))
    }
}

fn with_variant(
    d: &mut dyn nsamp_core::erased_serde::Deserializer,
    v: Variant,
) -> Result<Box<dyn ObjectiveConfig>, nsamp_core::erased_serde::Error> {
    let mut c: DemConfig = nsamp_core::erased_serde::deserialize(d)?;
    c.variant = v;
    Ok(Box::new(c))
}

macro_rules! dem_fields {
    () => {
        r#"
    // Geometric VE schedule, sampler units: h(t) = sigma_min^2 ((sigma_max/sigma_min)^(2t) - 1).
    sigma_min: 1e-5,
    sigma_max: 1.0,
    // K, Monte Carlo samples of the target score S_K.
    mc_samples: 500,
    // Clip of S_K: whole-vector norm (per particle for particle targets); None = no clip.
    score_clip: Some(70.0),
    // lambda(t): Variance(eps) = h(t) + eps, or Constant(c).
    lambda: Variance(1e-3),
    // Replay buffer capacity, initial size and how it is filled: Prior or McScoreSde(steps: N).
    buffer: 10000,
    initial_buffer: 1024,
    init: McScoreSde(steps: 1000),
    // Outer loop: every refill_every steps push refill_samples reverse-SDE samples.
    refill_every: 100,
    refill_samples: 1000,
    // Reverse SDE: Euler-Maruyama steps and noise scale c (1 = exact).
    sde_steps: 1000,
    noise_scale: 1.0,
    // Sampler length unit; None = the target's natural scale (GMM-40: 50).
    scale: None,
"#
    };
}

nsamp_core::inventory::submit! {
    nsamp_core::registry::Entry::<nsamp_core::registry::families::Objective> {
        name: "Idem",
        doc: "iDEM: denoising energy matching on a replay buffer refilled from the reverse SDE",
        example: concat!("Idem(", dem_fields!(), "\n)"),
        deserialize: |d| with_variant(d, Variant::Buffer),
    }
}
nsamp_core::inventory::submit! {
    nsamp_core::registry::Entry::<nsamp_core::registry::families::Objective> {
        name: "Pdem",
        doc: "pDEM: denoising energy matching with x_0 from the prior (the buffer fields are unused)",
        example: concat!("Pdem(\n    // The same fields as Idem; the buffer fields are unused.", dem_fields!(), "\n)"),
        deserialize: |d| with_variant(d, Variant::Prior),
    }
}
