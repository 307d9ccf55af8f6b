//! `nsamp sample`: more samples from a finished run's sampler (and its corrector).

use super::setup_threads;
use anyhow::Context as _;
use nsamp_core::io::write_npy;
use nsamp_core::numerics::rng::RngStreams;
use nsamp_core::{Experiment, Recipe};
use std::path::{Path, PathBuf};

/// Rebuilds a run from its directory: the resolved recipe and the checkpoint.
pub fn rebuild_from_run(run_dir: &Path) -> anyhow::Result<Experiment> {
    let recipe_path = run_dir.join("recipe.ron");
    anyhow::ensure!(
        recipe_path.is_file(),
        "{} is not a run directory (no recipe.ron)",
        run_dir.display()
    );
    let mut exp = Experiment::from_recipe(Recipe::from_file(&recipe_path)?)?;
    if exp.parts.varmap.is_some() {
        exp.parts
            .load_checkpoint(&run_dir.join("model.safetensors"))?;
    }
    Ok(exp)
}

/// Draws `n` samples (through the corrector unless `raw`) and writes them as .npy.
pub fn sample(
    run_dir: &Path,
    n: usize,
    out: Option<PathBuf>,
    seed: Option<u64>,
    raw: bool,
    threads_flag: Option<usize>,
) -> anyhow::Result<()> {
    anyhow::ensure!(n > 0, "-n must be at least 1");
    let out = out.unwrap_or_else(|| run_dir.join(format!("samples-{n}.npy")));
    crate::ui::rundir::check_parent(&out)?;
    let recipe = Recipe::from_file(&run_dir.join("recipe.ron"))
        .with_context(|| format!("{} is not a run directory", run_dir.display()))?;
    setup_threads(threads_flag, &recipe)?;
    let mut exp = rebuild_from_run(run_dir)?;
    let parts = &mut exp.parts;
    let seed = seed.unwrap_or(parts.recipe.seed.wrapping_add(1));
    let streams = RngStreams::new(seed).derive("sample-command");
    let per_sample = match (&parts.corrector, raw) {
        (Some(c), false) => c.proposals_per_sample(),
        _ => 1,
    };
    let pb = crate::ui::progress_bar(1, "sampling");
    if !crate::ui::interactive() {
        pb.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut s = parts
        .draw(n * per_sample, &streams, &mut |d, t| {
            pb.set_length(t);
            pb.set_position(d);
        })?
        .samples;
    pb.finish_and_clear();
    if let (false, Some(c)) = (raw, parts.corrector.as_mut()) {
        let corrected = c.correct(s, &parts.target, &streams.derive("corrector"))?;
        for (k, v) in &corrected.report {
            println!("corrector {k}: {v:.4}");
        }
        s = corrected.samples;
    }
    write_npy(&out, &s.x, s.dim)?;
    println!(
        "wrote {n} samples ({} x {}) to {} ({} energy evaluations)",
        n,
        s.dim,
        out.display(),
        parts.target.evals()
    );
    Ok(())
}
