//! `nsamp eval`: score a sample file against a recipe's reference with its metrics.

use super::{metrics_table, setup_threads};
use crate::ui::Console;
use anyhow::Context as _;
use nsamp_core::eval::{self, Evaluation, Reference};
use nsamp_core::experiment::{build_target, ensure_registry, target_ron, EvalProtocol};
use nsamp_core::numerics::rng::RngStreams;
use nsamp_core::Observer;
use nsamp_core::Recipe;
use serde_json::json;
use std::path::{Path, PathBuf};

/// Scores `samples` (default: a run directory's samples.npy) under the recipe's protocol.
pub fn evaluate(
    source: &Path,
    samples: Option<PathBuf>,
    reference: Option<PathBuf>,
    sets: &[String],
    as_json: bool,
    threads_flag: Option<usize>,
) -> anyhow::Result<()> {
    let (recipe, default_samples) = if source.is_dir() {
        (
            Recipe::from_file(&source.join("recipe.ron"))
                .with_context(|| format!("{} is not a run directory", source.display()))?,
            Some(source.join("samples.npy")),
        )
    } else {
        (Recipe::from_file(source)?, None)
    };
    let mut recipe = recipe.with_overrides(sets)?;
    setup_threads(threads_flag, &recipe)?;
    if let Some(r) = reference {
        recipe.eval.reference = Reference::File(r.display().to_string());
    }
    let samples_path = samples.or(default_samples).ok_or_else(|| {
        anyhow::anyhow!("give --samples FILE.npy (or a run directory that holds samples.npy)")
    })?;
    let e = score_rows(
        &recipe,
        |dim| eval::load_rows(&samples_path, dim),
        &mut Console::default(),
    )?;
    if as_json {
        let v = evaluation_json(&e, &samples_path.display().to_string());
        println!("{}", serde_json::to_string(&v)?);
    } else {
        let protocol = EvalProtocol {
            samples: e.n_samples,
            reference: e.reference.clone(),
            n_reference: e.n_reference,
            tvd_samples: e.tvd_samples,
            tvd_reference: e.tvd_reference,
            tvd_sampling_energy_evals: 0,
            floor_tvd_rows: e.floor_tvd_rows,
        };
        print!("{}", metrics_table(&e.metrics, e.floor(), &protocol));
    }
    Ok(())
}

/// Scores the rows that `load` returns (given the target's dimension; n x dim, data units)
/// under `recipe`'s protocol, with the exact floor where the recipe asks for it: what `nsamp
/// eval` prints and `nsamp.evaluate` returns in Python.
pub fn score_rows(
    recipe: &Recipe,
    load: impl FnOnce(usize) -> anyhow::Result<Vec<f32>>,
    obs: &mut dyn Observer,
) -> anyhow::Result<Evaluation> {
    ensure_registry()?;
    let target = build_target(recipe)?;
    let x = load(target.dim())?;
    anyhow::ensure!(
        !x.is_empty() && x.len().is_multiple_of(target.dim()),
        "the samples must be whole rows of the target's dimension {}",
        target.dim()
    );
    let streams = RngStreams::new(recipe.seed).derive("exact-floor");
    let ron = target_ron(recipe)?;
    eval::evaluate(&target, &ron, &x, &recipe.eval, &streams, obs)
}

/// The JSON object `nsamp eval --json` prints; `samples` names where the rows came from.
pub fn evaluation_json(e: &Evaluation, samples: &str) -> serde_json::Value {
    json!({
        "samples": samples,
        "metrics": e.metrics,
        "exact_floor": e.exact_floor,
        "split_half_floor": e.split_half_floor,
        "n_samples": e.n_samples,
        "n_reference": e.n_reference,
        "tvd_samples": e.tvd_samples,
        "tvd_reference": e.tvd_reference,
        "reference": e.reference,
    })
}
