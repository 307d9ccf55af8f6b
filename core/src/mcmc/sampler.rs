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

/// Declares an MCMC sampler's config with [`config!`](crate::config): its kernel's own fields,
/// then the chain settings every kernel shares (`chains`, `burn_in`, `pilot`, `thin`, ...).
macro_rules! mcmc_config {
    (
        $(#[doc = $doc:literal])*
        pub struct $name:ident {
            $( $(#[doc = $fdoc:literal])+ $field:ident: $ty:ty = $default:expr, )*
        }
    ) => {
        crate::config! {
            $(#[doc = $doc])*
            pub struct $name {
                $( $(#[doc = $fdoc])+ $field: $ty = $default, )*
                /// Independent chains advanced together.
                chains: usize = 256,
                /// Adaptation steps (discarded).
                burn_in: usize = 2000,
                /// Steps at the adapted step size that measure tau (discarded).
                pilot: usize = 1000,
                /// Steps between recorded states; None = ceil(tau) from the pilot.
                thin: Option<usize> = None,
                /// Target acceptance rate; None = the kernel's (MALA 0.574, HMC 0.8).
                target_accept: Option<f64> = None,
                /// Initial step size in natural units; None = the kernel's (MALA eps 1e-3, HMC 0.05).
                init_step: Option<f32> = None,
                /// Standard deviation of the starting points; None = the target's natural scale.
                init_scale: Option<f32> = None,
                /// Clipped gradient-descent steps before burn-in.
                descent_steps: usize = 500,
                /// Exact sign-flip move x -> -x (targets with E(-x) = E(x), e.g. phi^4).
                sign_flip: bool = false,
            }
        }
    };
}

pub(crate) use mcmc_config;

mcmc_config! {
    /// `Mala(...)`: Metropolis-adjusted Langevin chains (one energy+gradient per chain and step).
    pub struct MalaConfig {}
}

mcmc_config! {
    /// `Hmc(leapfrog: L, ...)`: Hamiltonian Monte Carlo chains (L energy+gradients per step).
    pub struct HmcConfig {
        /// Leapfrog steps per trajectory.
        leapfrog: usize = 10,
    }
}

/// The reference-MCMC settings of a config's shared fields.
macro_rules! settings_with {
    ($c:expr, $method:expr) => {
        McmcSettings {
            method: $method,
            chains: $c.chains,
            burn_in: $c.burn_in,
            pilot: $c.pilot,
            thin: $c.thin,
            target_accept: $c.target_accept,
            init_step: $c.init_step,
            init_scale: $c.init_scale,
            descent_steps: $c.descent_steps,
            sign_flip: $c.sign_flip,
        }
    };
}

impl MalaConfig {
    /// The reference-MCMC settings this config selects.
    pub fn settings(&self) -> McmcSettings {
        settings_with!(self, Method::Mala)
    }
}

impl HmcConfig {
    /// The reference-MCMC settings this config selects.
    pub fn settings(&self) -> McmcSettings {
        settings_with!(self, Method::Hmc(self.leapfrog))
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
    "many independent MALA chains with step-size adaptation, thinned by the measured autocorrelation time"
);
crate::register!(
    Sampler,
    "Hmc",
    HmcConfig,
    "many independent HMC chains with step-size adaptation, thinned by the measured autocorrelation time"
);
