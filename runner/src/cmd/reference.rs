//! `nsamp reference`: a long-MCMC reference set for a recipe's target, with its provenance.
//!
//! Writes OUT (.npy, float32, n x dim) and OUT.json: the target spec, the seed, the sampler
//! settings, acceptance, tau, ESS, energy mean +- error, std and the energy-evaluation cost.

use super::load_recipe;
use crate::ui::{interactive, progress_bar};
use anyhow::Context;
use nsamp_core::io::{write_atomic, write_npy};
use nsamp_core::mcmc::{run_mcmc, McmcReport, McmcSettings, Method};
use nsamp_core::numerics::rng::RngStreams;
use nsamp_core::threads;
use std::path::{Path, PathBuf};

/// Command-line choices of the reference sampler (None: McmcSettings' default).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ReferenceArgs {
    /// Kernel: `mala` or `hmc:L` (L leapfrog steps).
    #[arg(long, value_parser = parse_method)]
    pub method: Option<Method>,
    /// Independent chains.
    #[arg(long)]
    pub chains: Option<usize>,
    /// Adaptation steps.
    #[arg(long)]
    pub burn_in: Option<usize>,
    /// Pilot steps that measure tau.
    #[arg(long)]
    pub pilot: Option<usize>,
    /// Thinning (default: ceil(tau) from the pilot).
    #[arg(long)]
    pub thin: Option<usize>,
    /// Standard deviation of the starting points (default: the target's natural scale).
    #[arg(long)]
    pub init_scale: Option<f32>,
    /// Add the exact sign-flip move x -> -x (targets with E(-x) = E(x), e.g. phi^4).
    #[arg(long)]
    pub sign_flip: bool,
}

fn parse_method(s: &str) -> Result<Method, String> {
    match s.split_once(':') {
        None if s.eq_ignore_ascii_case("mala") => Ok(Method::Mala),
        Some((h, l)) if h.eq_ignore_ascii_case("hmc") => l
            .parse::<usize>()
            .ok()
            .filter(|&l| l > 0)
            .map(Method::Hmc)
            .ok_or_else(|| format!("`{l}` is not a positive number of leapfrog steps")),
        _ => Err(format!("unknown method `{s}`: use `mala` or `hmc:L`")),
    }
}

impl ReferenceArgs {
    /// The settings these flags select.
    pub fn settings(&self) -> McmcSettings {
        let d = McmcSettings::default();
        McmcSettings {
            method: self.method.unwrap_or(d.method),
            chains: self.chains.unwrap_or(d.chains),
            burn_in: self.burn_in.unwrap_or(d.burn_in),
            pilot: self.pilot.unwrap_or(d.pilot),
            thin: self.thin.or(d.thin),
            init_scale: self.init_scale.or(d.init_scale),
            sign_flip: self.sign_flip,
            ..d
        }
    }
}

/// Provenance written next to a reference set.
#[derive(Debug, serde::Serialize)]
struct Provenance<'a> {
    nsamp_version: &'a str,
    recipe: String,
    target: String,
    dim: usize,
    mcmc: &'a McmcReport,
    command: String,
}

/// Runs the reference sampler on `recipe`'s target and writes `n` rows to `out`.
pub fn reference(
    recipe_path: &Path,
    sets: &[String],
    n: usize,
    out: Option<PathBuf>,
    seed: Option<u64>,
    args: &ReferenceArgs,
    threads_flag: Option<usize>,
) -> anyhow::Result<McmcReport> {
    anyhow::ensure!(n > 0, "-n must be at least 1");
    let recipe = load_recipe(recipe_path, sets)?;
    threads::configure(
        threads_flag
            .or(recipe.threads)
            .unwrap_or_else(threads::default_threads),
    )?;
    nsamp_core::experiment::ensure_registry()?;
    let target = nsamp_core::experiment::build_target(&recipe)?;
    let out = match out {
        Some(p) => {
            crate::ui::rundir::check_parent(&p)?;
            p
        }
        None => {
            std::fs::create_dir_all("references").context("creating references/")?;
            PathBuf::from(format!("references/{}-mcmc.npy", recipe.name))
        }
    };
    let settings = args.settings();
    let seed = seed.unwrap_or(recipe.seed);
    let streams = RngStreams::new(seed);
    let pb = if interactive() {
        progress_bar(1, "mcmc")
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut last_phase = String::new();
    let (x, report) = run_mcmc(
        &target,
        &settings,
        n,
        &streams,
        &mut |phase, done, total| {
            if phase != last_phase {
                pb.set_prefix(phase.to_string());
                pb.set_length(total);
                if !interactive() {
                    eprintln!("mcmc: {phase} ({total} steps)");
                }
                last_phase = phase.to_string();
            }
            pb.set_position(done);
        },
    )?;
    pb.finish_and_clear();
    write_npy(&out, &x, target.dim())?;
    let target_ron = nsamp_core::recipe::ron_options().to_string_pretty(
        &recipe.target,
        ron::ser::PrettyConfig::new()
            .struct_names(false)
            .compact_structs(true),
    )?;
    let prov = Provenance {
        nsamp_version: env!("CARGO_PKG_VERSION"),
        recipe: recipe_path.display().to_string(),
        target: target_ron,
        dim: target.dim(),
        mcmc: &report,
        command: std::env::args().collect::<Vec<_>>().join(" "),
    };
    let json_path = PathBuf::from(format!("{}.json", out.display()));
    write_atomic(&json_path, serde_json::to_string_pretty(&prov)?.as_bytes())?;
    println!(
        "wrote {n} x {} reference samples to {} (provenance: {})",
        target.dim(),
        out.display(),
        json_path.display()
    );
    println!("{}", summary(&report));
    Ok(report)
}

/// One paragraph: acceptance, tau, ESS, energy, cost.
pub fn summary(r: &McmcReport) -> String {
    format!(
        "{:?}, {} chains, step {:.3e}: acceptance {:.3}, tau {:.1} steps -> thin {}, \
         tau over samples {:.2}, ESS {:.0}\nenergy mean {:.3} +- {:.3}, std {:.3}; \
         {} energy+gradient evaluations, {:.1} s",
        r.settings.method,
        r.settings.chains,
        r.step_size,
        r.acceptance,
        r.tau_steps,
        r.thin,
        r.tau_samples,
        r.ess,
        r.energy_mean,
        r.energy_mean_err,
        r.energy_std,
        r.energy_evals,
        r.seconds
    )
}
