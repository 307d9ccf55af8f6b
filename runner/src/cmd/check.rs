//! `nsamp check`: parse, assemble and validate a recipe without running it.

use super::load_recipe;
use nsamp_core::Experiment;
use std::path::Path;

/// Assembles every component and checks the reference can be had.
pub fn check(path: &Path, sets: &[String]) -> anyhow::Result<()> {
    let exp = Experiment::from_recipe(load_recipe(path, sets)?)?;
    let r = exp.recipe();
    r.eval.reference.check(&exp.parts.target)?;
    let method = match &r.sampler {
        Some(s) => format!("training-free sampler {}", s.name),
        None => format!(
            "{}, objective {}, {} steps",
            exp.parts.describe_model(),
            r.method_name(),
            r.train.steps
        ),
    };
    println!(
        "ok: {} — target {} (dim {}), {method}, {} metrics",
        r.name,
        r.target.name,
        exp.parts.target.dim(),
        r.eval.metrics.len()
    );
    Ok(())
}
