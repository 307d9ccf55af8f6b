//! `nsamp curve`: metrics against the training budget, from the weights runs kept every
//! `train.snapshot_every` steps; writes each run's `curve.csv` and `curve.json` and one plot.

use super::setup_threads;
use crate::ui::{curve_plot, Console};
use anyhow::Context as _;
use nsamp_core::eval::{EvalContext, Floor};
use nsamp_core::experiment::curve::{read_snapshots, CurvePoint};
use nsamp_core::{Experiment, Recipe};
use serde_json::json;
use std::path::{Path, PathBuf};

/// One run's curve: its label (recipe name and seed), points and exact floor.
pub struct Curve {
    /// `<recipe name> seed <seed>`.
    pub label: String,
    /// One point per kept set of weights, by step.
    pub points: Vec<CurvePoint>,
    /// The floor of the same sample counts: exact samples where the target has a sampler,
    /// else the reference's split halves.
    pub floor: Option<Floor>,
}

/// Scores every snapshot of each run in `dirs` (the recipe's evaluation, with `sets` applied)
/// and plots `metrics` against steps and energy evaluations into `out` (default: the first
/// run's `curve.png`).
pub fn curve(
    dirs: &[PathBuf],
    out: Option<PathBuf>,
    metrics: &[String],
    sets: &[String],
    threads_flag: Option<usize>,
) -> anyhow::Result<()> {
    anyhow::ensure!(!dirs.is_empty(), "give at least one run directory");
    let out = out.unwrap_or_else(|| dirs[0].join("curve.png"));
    crate::ui::rundir::check_parent(&out)?;
    let mut curves = Vec::with_capacity(dirs.len());
    for (i, dir) in dirs.iter().enumerate() {
        let recipe = Recipe::from_file(&dir.join("recipe.ron"))
            .with_context(|| format!("{} is not a run directory", dir.display()))?
            .with_overrides(sets)?;
        if i == 0 {
            setup_threads(threads_flag, &recipe)?;
        }
        let c = run_curve(dir, recipe)?;
        write_curve(dir, &c)?;
        print_curve(dir, &c);
        curves.push(c);
    }
    let names = chosen_metrics(&curves, metrics)?;
    curve_plot::metric_curves(&out, &curves, &names)?;
    println!("wrote {}", out.display());
    Ok(())
}

fn run_curve(dir: &Path, recipe: Recipe) -> anyhow::Result<Curve> {
    let snapshots = read_snapshots(dir)?;
    anyhow::ensure!(
        !snapshots.is_empty(),
        "{} kept no weights: run its recipe with train.snapshot_every (a multiple of \
         train.checkpoint_every) to score it against the budget",
        dir.display()
    );
    let label = format!("{} seed {}", recipe.name, recipe.seed);
    let mut exp = Experiment::from_recipe(recipe)?;
    let mut console = Console::default();
    let ron = exp.target_ron()?;
    let cx = EvalContext::new(
        &exp.parts.target,
        &ron,
        &exp.parts.recipe.eval,
        &mut console,
    )?;
    let floor = if exp.parts.recipe.eval.exact_floor {
        let streams = exp.parts.streams.derive("exact-floor");
        cx.floor(exp.parts.recipe.eval.samples, cx.wide_rows(), &streams)?
    } else {
        None
    };
    let points = exp.score_snapshots(&snapshots, &cx, &mut console)?;
    Ok(Curve {
        label,
        points,
        floor,
    })
}

/// `curve.csv` (step, energy_evals, training_seconds, one column per metric) and `curve.json`
/// (the same with the floor and the run's label).
fn write_curve(dir: &Path, c: &Curve) -> anyhow::Result<()> {
    let names: Vec<&String> = c
        .points
        .first()
        .map(|p| p.metrics.keys().collect())
        .unwrap_or_default();
    let mut csv = String::from("step,energy_evals,training_seconds");
    for n in &names {
        csv.push(',');
        csv.push_str(n);
    }
    csv.push('\n');
    for p in &c.points {
        let s = &p.snapshot;
        csv.push_str(&format!(
            "{},{},{:.3}",
            s.step, s.energy_evals, s.training_seconds
        ));
        for n in &names {
            csv.push_str(&format!(
                ",{:.6}",
                p.metrics.get(*n).copied().unwrap_or(f64::NAN)
            ));
        }
        csv.push('\n');
    }
    nsamp_core::io::write_atomic(&dir.join("curve.csv"), csv.as_bytes())?;
    let points: Vec<_> = c
        .points
        .iter()
        .map(|p| {
            json!({
                "step": p.snapshot.step,
                "energy_evals": p.snapshot.energy_evals,
                "training_seconds": p.snapshot.training_seconds,
                "metrics": p.metrics,
            })
        })
        .collect();
    let (exact, split) = Floor::into_fields(c.floor.clone());
    let v = json!({
        "run": c.label,
        "points": points,
        "exact_floor": exact,
        "split_half_floor": split,
    });
    nsamp_core::io::write_atomic(
        &dir.join("curve.json"),
        serde_json::to_string_pretty(&v)?.as_bytes(),
    )
}

fn print_curve(dir: &Path, c: &Curve) {
    println!("{} ({}):", c.label, dir.display());
    for p in &c.points {
        let figures: Vec<String> = p
            .metrics
            .iter()
            .map(|(k, v)| format!("{k} {v:.4}"))
            .collect();
        println!(
            "  step {:>8}  evals {:.3e}  {}",
            p.snapshot.step,
            p.snapshot.energy_evals as f64,
            figures.join("  ")
        );
    }
}

/// The metrics to plot: those asked for, else W2, E-TVD and modes_covered where present, else
/// the first three.
fn chosen_metrics(curves: &[Curve], asked: &[String]) -> anyhow::Result<Vec<String>> {
    let have: Vec<String> = curves[0]
        .points
        .first()
        .map(|p| p.metrics.keys().cloned().collect())
        .unwrap_or_default();
    if !asked.is_empty() {
        for a in asked {
            anyhow::ensure!(
                have.contains(a),
                "metric {a} is not among this run's metrics ({})",
                have.join(", ")
            );
        }
        return Ok(asked.to_vec());
    }
    let preferred: Vec<String> = ["W2", "E-TVD", "modes_covered"]
        .iter()
        .filter(|m| have.iter().any(|h| h == *m))
        .map(|m| m.to_string())
        .collect();
    Ok(if preferred.is_empty() {
        have.into_iter().take(3).collect()
    } else {
        preferred
    })
}
