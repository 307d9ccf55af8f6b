//! The reference MCMC kernels as training-free samplers: `sampler: Mala(...)` and
//! `sampler: Hmc(leapfrog: 10, ...)` in a recipe, or inside `eval.reference: Mcmc(...)`.
//!
//! Both run [`run_mcmc`](super::run_mcmc): many independent chains, step-size adaptation during
//! burn-in, a pilot that measures the autocorrelation time tau and thinning by ceil(tau). Their
//! report (acceptance, step size, tau, ESS, energy mean and error) stands beside the metrics.

use super::{run_mcmc, McmcReport, McmcSettings, Method};
use crate::numerics::rng::RngStreams;
use crate::sampler::{Progress, Sampler, SamplerConfig, Samples};
use crate::target::CountedTarget;
use serde::{Deserialize, Serialize};

/// Declares the config of one MCMC sampler: the kernel-specific fields, then the shared ones.
macro_rules! mcmc_config {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident: $ty:ty = $default:expr,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
        #[serde(deny_unknown_fields, default)]
        pub struct $name {
            $($(#[$fdoc])* pub $field: $ty,)*
            /// Independent chains advanced together.
            pub chains: usize,
            /// Adaptation steps (discarded).
            pub burn_in: usize,
            /// Steps at the adapted step size that measure tau (discarded).
            pub pilot: usize,
            /// Steps between recorded states (None: ceil(tau) from the pilot).
            pub thin: Option<usize>,
            /// Target acceptance rate (None: 0.574 for MALA, 0.8 for HMC).
            pub target_accept: Option<f64>,
            /// Initial step size in natural units (None: 1e-3 MALA, 0.05 HMC).
            pub init_step: Option<f32>,
            /// Standard deviation of the starting points (None: the target's natural scale).
            pub init_scale: Option<f32>,
            /// Clipped gradient-descent steps before burn-in.
            pub descent_steps: usize,
            /// Add the exact sign-flip move x -> -x (targets with E(-x) = E(x), e.g. phi^4).
            pub sign_flip: bool,
        }

        impl Default for $name {
            fn default() -> Self {
                let d = McmcSettings::default();
                $name {
                    $($field: $default,)*
                    chains: d.chains,
                    burn_in: d.burn_in,
                    pilot: d.pilot,
                    thin: d.thin,
                    target_accept: d.target_accept,
                    init_step: d.init_step,
                    init_scale: d.init_scale,
                    descent_steps: d.descent_steps,
                    sign_flip: d.sign_flip,
                }
            }
        }

        impl $name {
            fn settings_with(&self, method: Method) -> McmcSettings {
                McmcSettings {
                    method,
                    chains: self.chains,
                    burn_in: self.burn_in,
                    pilot: self.pilot,
                    thin: self.thin,
                    target_accept: self.target_accept,
                    init_step: self.init_step,
                    init_scale: self.init_scale,
                    descent_steps: self.descent_steps,
                    sign_flip: self.sign_flip,
                }
            }
        }
    };
}

mcmc_config!(
    /// `Mala(...)`: Metropolis-adjusted Langevin chains (one energy+gradient per chain and step).
    MalaConfig {}
);

mcmc_config!(
    /// `Hmc(leapfrog: L, ...)`: Hamiltonian Monte Carlo chains (L energy+gradients per step).
    HmcConfig {
        /// Leapfrog steps per trajectory.
        leapfrog: usize = 10,
    }
);

impl MalaConfig {
    /// The reference-MCMC settings this config selects.
    pub fn settings(&self) -> McmcSettings {
        self.settings_with(Method::Mala)
    }
}

impl HmcConfig {
    /// The reference-MCMC settings this config selects.
    pub fn settings(&self) -> McmcSettings {
        self.settings_with(Method::Hmc(self.leapfrog))
    }
}

impl SamplerConfig for MalaConfig {
    fn build(&self, target: &CountedTarget) -> anyhow::Result<Box<dyn Sampler>> {
        Ok(Box::new(McmcSampler::new(self.settings(), target)?))
    }
}

impl SamplerConfig for HmcConfig {
    fn build(&self, target: &CountedTarget) -> anyhow::Result<Box<dyn Sampler>> {
        anyhow::ensure!(self.leapfrog > 0, "Hmc: leapfrog must be at least 1");
        Ok(Box::new(McmcSampler::new(self.settings(), target)?))
    }
}

/// Many MALA or HMC chains; `sample(n)` runs the whole protocol (descent, burn-in, pilot,
/// production) and returns n thinned states.
pub struct McmcSampler {
    settings: McmcSettings,
    target: CountedTarget,
    last: Option<McmcReport>,
}

impl McmcSampler {
    /// A sampler with these settings over `target`.
    pub fn new(settings: McmcSettings, target: &CountedTarget) -> anyhow::Result<Self> {
        anyhow::ensure!(settings.chains > 0, "MCMC: chains must be at least 1");
        Ok(McmcSampler {
            settings,
            target: target.clone(),
            last: None,
        })
    }
}

impl Sampler for McmcSampler {
    fn sample(
        &mut self,
        n: usize,
        streams: &RngStreams,
        progress: Progress<'_>,
    ) -> anyhow::Result<Samples> {
        let s = &self.settings;
        // One bar over all phases: descent, burn-in, pilot, then production (its length is
        // known after the pilot; until then it is counted as one step per recorded state).
        let before = (s.descent_steps + s.burn_in + s.pilot) as u64;
        let mut production = n.div_ceil(s.chains) as u64;
        let (x, report) = run_mcmc(&self.target, s, n, streams, &mut |phase, done, total| {
            let offset = match phase {
                "descent" => 0,
                "burn-in" => s.descent_steps as u64,
                "pilot" => (s.descent_steps + s.burn_in) as u64,
                _ => {
                    production = total;
                    before
                }
            };
            progress(offset + done, before + production);
        })?;
        self.last = Some(report);
        Ok(Samples::new(x, self.target.dim()))
    }

    fn report(&self) -> Vec<(String, f64)> {
        let Some(r) = &self.last else {
            return Vec::new();
        };
        vec![
            ("acceptance".into(), r.acceptance),
            ("step_size".into(), r.step_size),
            ("tau_steps".into(), r.tau_steps),
            ("thin".into(), r.thin as f64),
            ("tau_samples".into(), r.tau_samples),
            ("ess".into(), r.ess),
            ("energy_mean".into(), r.energy_mean),
            ("energy_mean_err".into(), r.energy_mean_err),
            ("energy_std".into(), r.energy_std),
        ]
    }
}

crate::register!(
    Sampler,
    "Mala",
    MalaConfig,
    "many independent MALA chains with step-size adaptation, thinned by the measured autocorrelation time",
    r#"Mala(
    // Independent chains advanced together.
    chains: 256,
    // Adaptation steps (discarded), then pilot steps that measure tau (discarded).
    burn_in: 2000,
    pilot: 1000,
    // Steps between recorded states; None = ceil(tau) from the pilot.
    thin: None,
    // Target acceptance rate; None = 0.574.
    target_accept: None,
    // Initial step size in natural units; None = 1e-3.
    init_step: None,
    // Standard deviation of the starting points; None = the target's natural scale.
    init_scale: None,
    // Clipped gradient-descent steps before burn-in.
    descent_steps: 500,
    // Exact sign-flip move x -> -x (targets with E(-x) = E(x), e.g. phi^4).
    sign_flip: false,
)"#
);

crate::register!(
    Sampler,
    "Hmc",
    HmcConfig,
    "many independent HMC chains with step-size adaptation, thinned by the measured autocorrelation time",
    r#"Hmc(
    // Leapfrog steps per trajectory.
    leapfrog: 10,
    // Independent chains advanced together.
    chains: 256,
    // Adaptation steps (discarded), then pilot steps that measure tau (discarded).
    burn_in: 2000,
    pilot: 1000,
    // Steps between recorded states; None = ceil(tau) from the pilot.
    thin: None,
    // Target acceptance rate; None = 0.8.
    target_accept: None,
    // Initial step size in natural units; None = 0.05.
    init_step: None,
    // Standard deviation of the starting points; None = the target's natural scale.
    init_scale: None,
    // Clipped gradient-descent steps before burn-in.
    descent_steps: 500,
    // Exact sign-flip move x -> -x (targets with E(-x) = E(x), e.g. phi^4).
    sign_flip: false,
)"#
);
