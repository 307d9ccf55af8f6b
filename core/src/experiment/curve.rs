//! Metrics against the training budget: the weights a run keeps every `train.snapshot_every`
//! steps (`snapshots/` in its directory) are sampled and scored exactly as the final
//! evaluation is (same sample count, same sampling stream, same reference and metrics), so the
//! point at the last step reproduces the run's own metrics.

use super::{Experiment, Figures};
use crate::eval::EvalContext;
use crate::io::{write_atomic, write_weights};
use crate::Observer;
use anyhow::Context as _;
use candle_core::Tensor;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The folder of a run directory that holds the kept weights and their index.
pub const SNAPSHOT_DIR: &str = "snapshots";
const INDEX: &str = "index.csv";
const INDEX_HEADER: &str = "step,energy_evals,training_seconds,file";

/// One kept set of weights: after `step` training steps, `energy_evals` target evaluations
/// (initialisation included) and `training_seconds` of training.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Training steps completed.
    pub step: u64,
    /// Energy evaluations spent so far.
    pub energy_evals: u64,
    /// Training wall time so far, seconds.
    pub training_seconds: f64,
    /// The weights (safetensors), absolute or relative to the working directory.
    pub file: PathBuf,
}

/// The weights a sampler uses after `step` steps (see
/// [`super::Checkpoint::sampling_weights`]), saved as `snapshots/step-NNNNNNNN.safetensors`
/// of `run_dir` and listed in `snapshots/index.csv` (a row for the same step is replaced, so a
/// resumed run that passes a step again keeps one row).
pub fn write_snapshot(
    run_dir: &Path,
    weights: &HashMap<String, Tensor>,
    step: u64,
    energy_evals: u64,
    training_seconds: f64,
) -> anyhow::Result<()> {
    let dir = run_dir.join(SNAPSHOT_DIR);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let name = format!("step-{step:08}.safetensors");
    let path = dir.join(&name);
    write_weights(&path, weights)?;
    let mut rows: Vec<Snapshot> = read_snapshots(run_dir)?
        .into_iter()
        .filter(|s| s.step != step)
        .collect();
    rows.push(Snapshot {
        step,
        energy_evals,
        training_seconds,
        file: path,
    });
    rows.sort_by_key(|s| s.step);
    let mut csv = format!("{INDEX_HEADER}\n");
    for s in &rows {
        let file = s
            .file
            .file_name()
            .map(|f| f.to_string_lossy())
            .unwrap_or_default();
        csv.push_str(&format!(
            "{},{},{:.3},{file}\n",
            s.step, s.energy_evals, s.training_seconds
        ));
    }
    write_atomic(&dir.join(INDEX), csv.as_bytes())
}

/// The kept weights of a run directory, by step (empty when the run kept none).
pub fn read_snapshots(run_dir: &Path) -> anyhow::Result<Vec<Snapshot>> {
    let dir = run_dir.join(SNAPSHOT_DIR);
    let index = dir.join(INDEX);
    if !index.is_file() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(&index)
        .with_context(|| format!("cannot read {}", index.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let bad = || {
            format!(
                "{} line {}: expected {INDEX_HEADER}",
                index.display(),
                i + 1
            )
        };
        let f: Vec<&str> = line.split(',').collect();
        anyhow::ensure!(f.len() == 4, "{}", bad());
        out.push(Snapshot {
            step: f[0].parse().with_context(bad)?,
            energy_evals: f[1].parse().with_context(bad)?,
            training_seconds: f[2].parse().with_context(bad)?,
            file: dir.join(f[3]),
        });
    }
    out.sort_by_key(|s| s.step);
    Ok(out)
}

/// One point of a curve: a snapshot and the metrics of its samples.
#[derive(Debug, Clone)]
pub struct CurvePoint {
    /// The kept weights scored.
    pub snapshot: Snapshot,
    /// The recipe's metrics of eval.samples fresh samples (after the corrector, if any).
    pub metrics: Figures,
}

impl Experiment {
    /// Loads each snapshot into the model and scores eval.samples samples (the TVDs
    /// eval.tvd_samples) drawn from it with the final evaluation's streams, against `cx` (built
    /// once for the recipe: one reference).
    pub fn score_snapshots(
        &mut self,
        snapshots: &[Snapshot],
        cx: &EvalContext,
        obs: &mut dyn Observer,
    ) -> anyhow::Result<Vec<CurvePoint>> {
        anyhow::ensure!(
            self.parts.varmap.is_some(),
            "this recipe has no model: there are no weights to score"
        );
        let mut out = Vec::with_capacity(snapshots.len());
        for s in snapshots {
            self.parts.load_checkpoint(&s.file)?;
            obs.log(&format!("scoring the weights after step {}", s.step));
            let evals = self.parts.target.evals();
            let drawn = self.sample_and_correct(evals, self.wide_rows(cx), obs)?;
            let density = self.density(cx, &drawn)?;
            let metrics = cx.score_with(drawn.narrow(), None, drawn.wide(), density.as_ref())?;
            out.push(CurvePoint {
                snapshot: s.clone(),
                metrics,
            });
        }
        Ok(out)
    }
}
