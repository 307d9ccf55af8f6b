//! The subcommands, one file each; [`dispatch`] routes the parsed command line to them.

pub mod bench;
pub mod check;
pub mod curve;
pub mod eval;
pub mod list;
pub mod reference;
pub mod run;
pub mod sample;
pub mod schema;
pub mod slurm;
pub mod sweep;
pub mod table;

use crate::cli::{Cli, Command};
use nsamp_core::{threads, Recipe};
use std::path::Path;

/// Runs one subcommand.
pub fn dispatch(cli: Cli) -> anyhow::Result<()> {
    let t = cli.threads;
    match cli.command {
        Command::Run { recipe, out, sets } => run::run(&recipe, out.as_deref(), &sets, t).map(drop),
        Command::Check { recipe, sets } => check::check(&recipe, &sets),
        Command::Sweep {
            recipe,
            seeds,
            out,
            sets,
            slurm,
        } => {
            if slurm.slurm {
                slurm::submit(&recipe, seeds, out, &sets, &slurm)
            } else {
                anyhow::ensure!(
                    !slurm.dry_run,
                    "--dry-run prints a Slurm job script: give --slurm too"
                );
                sweep::sweep(&recipe, seeds, out, &sets, t)
            }
        }
        Command::Table {
            runs,
            out,
            json,
            budget,
        } => table::command(&runs, out.as_deref(), json, budget),
        Command::List { full } => list::command(full),
        Command::Sample {
            run_dir,
            n,
            out,
            seed,
            raw,
        } => sample::sample(&run_dir, n, out, seed, raw, t),
        Command::Resume { run_dir } => run::resume(&run_dir, t).map(drop),
        Command::Curve {
            runs,
            out,
            metrics,
            sets,
        } => curve::curve(&runs, out, &metrics, &sets, t),
        Command::Eval {
            source,
            samples,
            reference,
            json,
            sets,
        } => eval::evaluate(&source, samples, reference, &sets, json, t),
        Command::Reference {
            recipe,
            n,
            out,
            seed,
            mcmc,
            sets,
        } => reference::reference(&recipe, &sets, n, out, seed, &mcmc, t).map(drop),
        Command::Schema { out } => schema::command(out.as_deref()),
        Command::Bench { iters, only } => {
            threads::configure(t.unwrap_or_else(threads::default_threads))?;
            bench::run(iters, only.as_deref())
        }
    }
}

/// Reads a recipe and applies `--set` overrides.
pub fn load_recipe(path: &Path, sets: &[String]) -> anyhow::Result<Recipe> {
    Recipe::from_file(path)?.with_overrides(sets)
}

/// Configures the worker threads: the flag, else the recipe's `threads`, else the default.
pub fn setup_threads(flag: Option<usize>, recipe: &Recipe) -> anyhow::Result<usize> {
    let n = flag
        .or(recipe.threads)
        .unwrap_or_else(threads::default_threads);
    threads::configure(n)?;
    Ok(n)
}

/// A metrics table with the floor (named: "exact floor" or "split-half floor") beside each
/// value.
pub fn metrics_table(
    metrics: &nsamp_core::eval::Metrics,
    floor: Option<(&str, &nsamp_core::eval::Metrics)>,
    protocol: &nsamp_core::experiment::EvalProtocol,
) -> String {
    let mut s = format!(
        "metrics ({} samples vs {} reference: {}):\n",
        protocol.samples, protocol.n_reference, protocol.reference
    );
    if protocol.tvd_samples > protocol.samples {
        s.push_str(&format!(
            "  (nsamp-protocol TVDs: {} samples vs {} reference rows)\n",
            protocol.tvd_samples, protocol.tvd_reference
        ));
    }
    if protocol.floor_tvd_rows > 0 && protocol.floor_tvd_rows < protocol.tvd_samples {
        s.push_str(&format!(
            "  (the floor's TVDs: {r} rows against {r}, at most half the reference; they sit above \
             what {} against {} rows would score)\n",
            protocol.tvd_samples,
            protocol.tvd_reference,
            r = protocol.floor_tvd_rows
        ));
    }
    let (label, floor) = match floor {
        Some((l, f)) => (l, Some(f)),
        None => ("floor", None),
    };
    s.push_str(&format!("  {:<20} {:>12} {label:>16}\n", "metric", "value"));
    for (k, v) in metrics {
        let floor = floor
            .and_then(|f| f.get(k))
            .map(|f| format!("{f:>16.4}"))
            .unwrap_or_else(|| format!("{:>16}", "-"));
        s.push_str(&format!("  {k:<20} {v:>12.4} {floor}\n"));
    }
    s
}
