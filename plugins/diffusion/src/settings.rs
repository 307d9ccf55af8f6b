//! The nested settings every member of the family shares, as a recipe writes them:
//! `schedule: (...)`, `mc: (...)`, `lambda: ...`, `buffer: (...)`, `sde: (...)`, `scale: ...`.
//! Every struct denies unknown fields and fills omitted ones with its defaults (the papers' GMM
//! settings, DESIGN.md "Settings per target").

use nsamp_core::numerics::mc_score::{McScore, ScoreClip};
use nsamp_core::numerics::schedule::GeometricSchedule;
use nsamp_core::numerics::sde::ReverseSde;
use nsamp_core::{CountedTarget, Particles};
use serde::{Deserialize, Serialize};

/// The geometric VE schedule in sampler units: sigma_d = sigma_max / sigma_min,
/// g(t) = sigma_min sigma_d^t sqrt(2 ln sigma_d), h(t) = sigma_min^2 (sigma_d^(2t) - 1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleSettings {
    /// Noise scale at t = 0.
    pub sigma_min: f64,
    /// Noise scale at t = 1.
    pub sigma_max: f64,
}

impl Default for ScheduleSettings {
    fn default() -> Self {
        ScheduleSettings {
            sigma_min: 1e-5,
            sigma_max: 1.0,
        }
    }
}

impl ScheduleSettings {
    /// The schedule; fails unless 0 < sigma_min < sigma_max.
    pub fn schedule(&self) -> anyhow::Result<GeometricSchedule> {
        GeometricSchedule::new(self.sigma_min, self.sigma_max)
    }
}

/// The Monte Carlo target score (IW-SM eq. 7): y_k = x + sqrt(h(t)) eps_k, k = 1..K,
/// S_K(x, t) = sum_k softmax_k(-E(s y_k)) (-s grad E(s y_k)), then clipped; for h(t) above
/// `tweedie_above`, S_K(x, t) = sum_k softmax_k(-E(s y_k)) (y_k - x) / h(t) instead.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct McSettings {
    /// K (L for DwES), Monte Carlo samples per point.
    pub samples: usize,
    /// Clip of S_K: whole-vector norm, or per particle for particle targets; None = no clip.
    pub clip: Option<f32>,
    /// Rows whose noise variance h(t) (sampler units) is above this use the posterior-mean form
    /// S_K = sum_k w_k (y_k - x) / h of the same K samples instead of the gradient form (same
    /// score, far lower variance at large h: on GMM-40 at h = 1 an RMS error of 0.24 instead of
    /// 19.7; see `nsamp_core::numerics::mc_score`). None (default) = the gradient form everywhere,
    /// as in DEM and IW-SM; GMMs: about a component's variance in sampler units (GMM-40: 1e-3).
    pub tweedie_above: Option<f32>,
}

impl Default for McSettings {
    fn default() -> Self {
        McSettings {
            samples: 500,
            clip: Some(70.0),
            tweedie_above: None,
        }
    }
}

impl McSettings {
    /// Range checks.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.samples > 0, "mc.samples must be at least 1");
        if let Some(c) = self.clip {
            anyhow::ensure!(c > 0.0, "mc.clip must be positive");
        }
        if let Some(h0) = self.tweedie_above {
            anyhow::ensure!(
                h0 > 0.0 && h0.is_finite(),
                "mc.tweedie_above must be a positive variance, got {h0}"
            );
        }
        Ok(())
    }

    /// The estimator for a target with this particle structure, in sampler units of `scale`.
    pub fn mc_score(&self, scale: f32, particles: Option<Particles>) -> McScore {
        let clip = match (self.clip, particles) {
            (None, _) => ScoreClip::None,
            (Some(c), Some(p)) => ScoreClip::PerParticle(p, c),
            (Some(c), None) => ScoreClip::Norm(c),
        };
        McScore {
            k: self.samples,
            scale,
            clip,
            com_free: particles,
            tweedie_above: self.tweedie_above,
        }
    }
}

/// The regression weight lambda(t).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub enum Lambda {
    /// lambda(t) = h(t) + eps (GMMs: eps = 1e-3).
    Variance(f32),
    /// lambda(t) = c (particle systems: 1).
    Constant(f32),
}

impl Default for Lambda {
    fn default() -> Self {
        Lambda::Variance(1e-3)
    }
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

/// How the initial buffer is filled.
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

/// The replay buffer and iDEM's outer loop: every `refill_every` steps, `refill_samples`
/// reverse-SDE samples of the current network enter a FIFO of `size` rows (sampled uniformly
/// with replacement). Unused by pDEM.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BufferSettings {
    /// Capacity (rows).
    pub size: usize,
    /// Rows of the initial buffer.
    pub initial: usize,
    /// How the initial buffer is filled.
    pub init: BufferInit,
    /// Refill every this many gradient steps.
    pub refill_every: u64,
    /// Samples generated per refill; also the trained sampler's chunk size.
    pub refill_samples: usize,
}

impl Default for BufferSettings {
    fn default() -> Self {
        BufferSettings {
            size: 10_000,
            initial: 1024,
            init: BufferInit::McScoreSde { steps: 1000 },
            refill_every: 100,
            refill_samples: 1000,
        }
    }
}

impl BufferSettings {
    /// Range checks.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.size > 0 && self.initial > 0,
            "buffer.size and buffer.initial must be at least 1"
        );
        anyhow::ensure!(
            self.refill_every > 0 && self.refill_samples > 0,
            "buffer.refill_every and buffer.refill_samples must be at least 1"
        );
        if let BufferInit::McScoreSde { steps } = self.init {
            anyhow::ensure!(steps > 0, "buffer.init McScoreSde needs steps >= 1");
        }
        Ok(())
    }
}

/// The reverse SDE by Euler-Maruyama, `steps` steps from t = 1 to 1/N:
/// x <- x + g(t)^2 s(t, x) dt + c g(t) sqrt(dt) z, prior N(0, h(1) I).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SdeSettings {
    /// N, Euler-Maruyama steps (refills and final sampling).
    pub steps: usize,
    /// c, the noise scale (1 = exact).
    pub noise_scale: f64,
}

impl Default for SdeSettings {
    fn default() -> Self {
        SdeSettings {
            steps: 1000,
            noise_scale: 1.0,
        }
    }
}

impl SdeSettings {
    /// Range checks.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.steps > 0, "sde.steps must be at least 1");
        anyhow::ensure!(self.noise_scale >= 0.0, "sde.noise_scale must be >= 0");
        Ok(())
    }

    /// The integrator over `schedule`, centre-of-mass free for particle systems.
    pub fn reverse_sde(
        &self,
        schedule: &ScheduleSettings,
        particles: Option<Particles>,
    ) -> anyhow::Result<ReverseSde> {
        Ok(ReverseSde {
            schedule: schedule.schedule()?,
            steps: self.steps,
            noise_scale: self.noise_scale,
            com_free: particles,
        })
    }
}

/// The sampler's length unit s (samplers work in x / s): `scale`, or the target's natural scale
/// (GMM-40: 50); fails unless positive and finite.
pub fn resolve_scale(scale: Option<f32>, target: &CountedTarget) -> anyhow::Result<f32> {
    if let Some(s) = scale {
        anyhow::ensure!(s > 0.0 && s.is_finite(), "scale must be positive");
    }
    Ok(scale.unwrap_or_else(|| target.inner().natural_scale()))
}

/// Declares a diffusion objective's config with [`nsamp_core::config!`]: the method's own fields
/// (`name: Type = default`), then the shared fields `schedule`, `mc`, `lambda`, `buffer`, `sde`,
/// `scale`, so that a recipe writes `IwSm(snis: 5, schedule: (...), ...)` as one list and a
/// misspelt field is still an error (serde's `flatten` would lose `deny_unknown_fields`).
/// Also generates `settings()`, the shared part as [`DiffusionSettings`].
macro_rules! diffusion_config {
    (
        $(#[doc = $doc:literal])*
        pub struct $name:ident {
            $( $(#[doc = $fdoc:literal])+ $field:ident: $ty:ty = $default:expr, )*
        }
    ) => {
        nsamp_core::config! {
            $(#[doc = $doc])*
            pub struct $name {
                $( $(#[doc = $fdoc])+ $field: $ty = $default, )*
                /// The geometric VE noise schedule (sampler units): sigma_min at t = 0, sigma_max
                /// at t = 1; h(t) = sigma_min^2 ((sigma_max / sigma_min)^(2t) - 1).
                schedule: $crate::settings::ScheduleSettings = Default::default(),
                /// The Monte Carlo target score S_K: `samples` K per point, `clip` of S_K
                /// (whole-vector norm, per particle for particle targets; None = no clip).
                mc: $crate::settings::McSettings = Default::default(),
                /// The regression weight lambda(t): Variance(eps) = h(t) + eps, or Constant(c).
                lambda: $crate::settings::Lambda = Default::default(),
                /// The replay buffer: capacity `size`, `initial` rows filled by `init` (Prior or
                /// McScoreSde(steps: N)); every `refill_every` steps `refill_samples` reverse-SDE
                /// samples are pushed (unused by pDEM).
                buffer: $crate::settings::BufferSettings = Default::default(),
                /// The reverse SDE: Euler-Maruyama `steps` and noise scale `noise_scale` c (1 = exact).
                sde: $crate::settings::SdeSettings = Default::default(),
                /// Sampler length unit; None = the target's natural scale (GMM-40: 50).
                scale: Option<f32> = None,
            }
        }

        impl $name {
            /// The shared diffusion settings of this config.
            pub fn settings(&self) -> $crate::settings::DiffusionSettings {
                $crate::settings::DiffusionSettings {
                    schedule: self.schedule,
                    mc: self.mc,
                    lambda: self.lambda,
                    buffer: self.buffer,
                    sde: self.sde,
                    scale: self.scale,
                }
            }
        }
    };
}
pub(crate) use diffusion_config;

diffusion_config! {
    /// Settings shared by the trained members (the fields of `Idem(...)` and `Pdem(...)`, and the
    /// shared fields of `IwSm(...)`).
    pub struct DiffusionSettings {}
}

impl DiffusionSettings {
    /// Range checks, with the recipe path of the offending field.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.schedule.schedule()?;
        self.mc.validate()?;
        self.buffer.validate()?;
        self.sde.validate()
    }
}
