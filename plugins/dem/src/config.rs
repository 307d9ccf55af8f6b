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

macro_rules! dem_entry {
    ($name:literal, $doc:literal, $source:expr) => {
        nsamp_core::inventory::submit! {
            nsamp_core::registry::Entry::<nsamp_core::registry::families::Objective> {
                name: $name,
                doc: $doc,
                fields: <DiffusionSettings as nsamp_core::registry::Documented>::FIELDS,
                example: nsamp_core::registry::render_example::<DiffusionSettings>,
                default: || Box::new(DemConfig { settings: DiffusionSettings::default(), source: $source }),
                deserialize: |d| with_source(d, $source),
            }
        }
    };
}
dem_entry!(
    "Idem",
    "iDEM: denoising energy matching on a replay buffer refilled from the reverse SDE",
    X0Source::Buffer
);
dem_entry!(
    "Pdem",
    "pDEM: denoising energy matching with x_0 from the prior (the buffer fields are unused)",
    X0Source::Prior
);
