//! Recipes: one RON file = one experiment.
//!
//! ```ron
//! Recipe(
//!     name: "gmm40-idem",
//!     seed: 12345,
//!     target: Gmm40(),
//!     model: ScoreMlp(hidden: 128, blocks: 3, embedding: 128),
//!     objective: Idem(mc: (samples: 500)),
//!     corrector: None,
//!     train: (steps: 1000, batch: 512, lr: 5e-4, grad_clip: 0.5),
//!     eval: (samples: 1000, metrics: [W2(), ETvd(), STvd(), ModeCoverage()]),
//! )
//! ```
//! Components are written `Name(field: value, ...)`; `nsamp list` shows every registered name and
//! its fields. Parse errors name `file:line:column` and what was expected.

use crate::error::NsampError;
use crate::eval::EvalSettings;
use crate::registry::{families, Spec};
use crate::target::Device;
use crate::train::TrainSettings;
use anyhow::{anyhow, bail, Context as _};
use ron::extensions::Extensions;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The RON dialect of recipes: `Some(..)` may be omitted, and a component's fields are written
/// directly inside its name's parentheses.
pub fn ron_options() -> ron::Options {
    ron::Options::default()
        .with_default_extension(Extensions::IMPLICIT_SOME | Extensions::UNWRAP_VARIANT_NEWTYPES)
}

/// One experiment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// Name of the experiment (names the default run directory).
    pub name: String,
    /// Master seed: every random stream of the run derives from it.
    pub seed: u64,
    /// Worker threads for tensor and estimator work (None: 2, or the machine's cores if fewer).
    #[serde(default)]
    pub threads: Option<usize>,
    /// Where the target's energies are evaluated: `Cpu` (default) or `Cuda(0)`.
    #[serde(default, skip_serializing_if = "Device::is_cpu")]
    pub device: Device,
    /// The target density.
    pub target: Spec<families::Target>,
    /// The learnable model (trained methods).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<Spec<families::Model>>,
    /// The training objective (trained methods: `model` + `objective` + `train`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective: Option<Spec<families::Objective>>,
    /// A training-free sampler (`sampler: Mala(...)`), in place of `model` + `objective` + `train`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampler: Option<Spec<families::Sampler>>,
    /// An optional corrector applied to the sampler's output.
    #[serde(default)]
    pub corrector: Option<Spec<families::Corrector>>,
    /// Training settings (may be omitted for network-free samplers: 0 steps).
    #[serde(default)]
    pub train: TrainSettings,
    /// Evaluation protocol.
    pub eval: EvalSettings,
}

fn spanned(origin: &str, e: ron::error::SpannedError) -> anyhow::Error {
    anyhow!(
        "{origin}:{}:{}: {}",
        e.span.start.line,
        e.span.start.col,
        e.code
    )
}

impl Recipe {
    /// Parses recipe text; `origin` names it in errors (a file path).
    pub fn parse(text: &str, origin: &str) -> anyhow::Result<Recipe> {
        let r: Recipe = ron_options()
            .from_str(text)
            .map_err(|e| spanned(origin, e))?;
        r.validate().with_context(|| origin.to_string())?;
        Ok(r)
    }

    /// Reads and parses a recipe file.
    pub fn from_file(path: &Path) -> anyhow::Result<Recipe> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read recipe {}", path.display()))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Checks value ranges that the types cannot express.
    pub fn validate(&self) -> Result<(), NsampError> {
        let bad = |m: String| Err(NsampError::InvalidRecipe(m));
        if self.name.trim().is_empty() {
            return bad("`name` must not be empty".into());
        }
        if self.threads == Some(0) {
            return bad("`threads` must be at least 1".into());
        }
        self.train.validate().map_err(NsampError::InvalidRecipe)?;
        self.eval.validate().map_err(NsampError::InvalidRecipe)?;
        match (&self.objective, &self.sampler) {
            (Some(o), None) => {
                if o.config.needs_model() && self.model.is_none() {
                    return bad(format!(
                        "objective `{}` trains a network: the recipe needs a `model`",
                        o.name
                    ));
                }
            }
            (None, Some(s)) => {
                if self.model.is_some() || self.train.steps > 0 {
                    return bad(format!(
                        "sampler `{}` is training-free: leave out `model` and `train` (or name \
                         a `model` + `objective` + `train` instead of `sampler`)",
                        s.name
                    ));
                }
            }
            (Some(_), Some(_)) => {
                return bad(
                    "name either `objective` (with `model` and `train`) or `sampler`, \
                            not both"
                        .into(),
                )
            }
            (None, None) => {
                return bad(
                    "the recipe needs a method: `model` + `objective` + `train`, or \
                            `sampler: Name(...)` (`nsamp list` shows both families)"
                        .into(),
                )
            }
        }
        Ok(())
    }

    /// The method's registered name: the objective's or the training-free sampler's.
    pub fn method_name(&self) -> &'static str {
        match (&self.objective, &self.sampler) {
            (Some(o), _) => o.name,
            (None, Some(s)) => s.name,
            (None, None) => "none",
        }
    }

    /// The recipe as RON text, re-readable by [`Recipe::parse`].
    pub fn to_ron(&self) -> anyhow::Result<String> {
        let pretty = ron::ser::PrettyConfig::new().struct_names(false);
        Ok(ron_options().to_string_pretty(self, pretty)?)
    }

    /// Applies `key.path=value` overrides (`train.steps=500`, `objective.mc.samples=100`,
    /// `seed=7`). A component's fields are addressed directly after the slot's name. Values are
    /// RON literals, components included (`eval.metrics=[W1(), ETvd(protocol: Community)]`,
    /// `target=Gmm40(std: 2.0)`); anything that does not parse as one is taken as a string.
    pub fn with_overrides(&self, sets: &[String]) -> anyhow::Result<Recipe> {
        if sets.is_empty() {
            return Ok(self.clone());
        }
        let mut tree = serde_json::to_value(self)?;
        for set in sets {
            let (path, value) = set
                .split_once('=')
                .ok_or_else(|| anyhow!("--set `{set}`: expected key.path=value"))?;
            let raw = value.trim();
            // A bare identifier (`Conv`, `PerSample`) is a unit enum variant: serde's JSON form
            // of one is its name as a string (RON would read it as a unit value).
            let is_ident = !raw.is_empty()
                && raw.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !matches!(raw, "true" | "false" | "None");
            let value: serde_json::Value = if is_ident {
                serde_json::Value::String(raw.to_string())
            } else {
                crate::override_value::parse(raw)
                    .unwrap_or_else(|| serde_json::Value::String(raw.to_string()))
            };
            set_path(&mut tree, path.trim(), value).with_context(|| format!("--set `{set}`"))?;
        }
        let r: Recipe = serde_json::from_value(tree).map_err(|e| anyhow!("--set: {e}"))?;
        r.validate()?;
        Ok(r)
    }
}

fn set_path(
    tree: &mut serde_json::Value,
    path: &str,
    value: serde_json::Value,
) -> anyhow::Result<()> {
    let mut node = tree;
    let segs: Vec<&str> = path.split('.').collect();
    for (i, seg) in segs.iter().enumerate() {
        let obj = node
            .as_object_mut()
            .ok_or_else(|| anyhow!("`{}` is not a table of fields", segs[..i].join(".")))?;
        // A component slot is {"Name": {fields}}: step through the name transparently.
        let key_here = obj.contains_key(*seg);
        let node_next = if key_here {
            obj.get_mut(*seg).unwrap()
        } else if obj.len() == 1 && obj.values().next().is_some_and(|v| v.is_object()) {
            let inner = obj.values_mut().next().unwrap().as_object_mut().unwrap();
            if !inner.contains_key(*seg) {
                let mut keys: Vec<&String> = inner.keys().collect();
                keys.sort();
                bail!("no field `{seg}`; fields here: {keys:?}");
            }
            inner.get_mut(*seg).unwrap()
        } else {
            let mut keys: Vec<&String> = obj.keys().collect();
            keys.sort();
            bail!("no field `{seg}`; fields here: {keys:?}");
        };
        if i + 1 == segs.len() {
            *node_next = value;
            return Ok(());
        }
        node = node_next;
    }
    bail!("empty key path")
}
