//! DEM's config: the recipe's `Idem(...)` / `Pdem(...)`, whose fields are
//! [`DiffusionSettings`]; the registered name fixes where x_0 comes from.

use crate::Dem;
use nsamp_core::diffusion::{DiffusionSettings, X0Source};
use nsamp_core::{CountedTarget, Objective, ObjectiveConfig};
use serde::{Serialize, Serializer};

/// iDEM / pDEM settings.
#[derive(Debug, Clone, Default)]
pub struct DemConfig {
    /// The diffusion settings (the recipe's fields).
    pub settings: DiffusionSettings,
    /// Buffer (iDEM) or prior (pDEM).
    pub source: X0Source,
}

impl Serialize for DemConfig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.settings.serialize(s)
    }
}

impl ObjectiveConfig for DemConfig {
    fn build(&self, target: &CountedTarget) -> anyhow::Result<Box<dyn Objective>> {
        Ok(Box::new(Dem::new(self.clone(), target)?))
    }
}

fn with_source(
    d: &mut dyn nsamp_core::erased_serde::Deserializer,
    source: X0Source,
) -> Result<Box<dyn ObjectiveConfig>, nsamp_core::erased_serde::Error> {
    let settings: DiffusionSettings = nsamp_core::erased_serde::deserialize(d)?;
    Ok(Box::new(DemConfig { settings, source }))
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
        deserialize: |d| with_source(d, X0Source::Buffer),
    }
}
nsamp_core::inventory::submit! {
    nsamp_core::registry::Entry::<nsamp_core::registry::families::Objective> {
        name: "Pdem",
        doc: "pDEM: denoising energy matching with x_0 from the prior (the buffer fields are unused)",
        example: concat!("Pdem(\n    // The same fields as Idem; the buffer fields are unused.", dem_fields!(), "\n)"),
        deserialize: |d| with_source(d, X0Source::Prior),
    }
}
