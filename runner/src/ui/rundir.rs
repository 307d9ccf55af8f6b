//! The run directory: the choice of its path, and the files a run writes into it.

use anyhow::{bail, Context as _};
use nsamp_core::experiment::curve::write_snapshot;
use nsamp_core::experiment::{Checkpoint, SampleSet};
use nsamp_core::io::{write_atomic, write_npy, write_weights};
use nsamp_core::train::StepRecord;
use nsamp_core::{Observer, RunReport};
use std::path::{Path, PathBuf};

/// The rule of every command that writes to a path the user names (`run`/`sweep`/`table --out
/// DIR`, `sample`/`reference`/`schema --out FILE`): the path's parent directory must exist;
/// the path itself is created. (Default locations, `runs/` and `references/`, are created.)
pub fn check_parent(p: &Path) -> anyhow::Result<()> {
    let parent = p
        .parent()
        .filter(|q| !q.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        bail!(
            "output path {}: parent directory {} does not exist",
            p.display(),
            parent.display()
        );
    }
    Ok(())
}

/// An output directory the user named: its parent must exist ([`check_parent`]); it is created
/// if absent (an existing directory is used as it is).
pub fn output_dir(p: &Path) -> anyhow::Result<()> {
    check_parent(p)?;
    if p.exists() && !p.is_dir() {
        bail!("output path {} exists and is not a directory", p.display());
    }
    if !p.exists() {
        std::fs::create_dir(p).with_context(|| format!("cannot create {}", p.display()))?;
    }
    Ok(())
}

/// `name` with every character other than ASCII letters, digits, `-` and `_` replaced by `_`
/// (run directory names, Slurm job names).
pub fn safe_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Creates the run directory. With `out`, its parent must exist and it must be empty or absent;
/// without, `runs/<name>` (or `runs/<name>.N` if taken) is created.
pub fn create(out: Option<&Path>, name: &str) -> anyhow::Result<PathBuf> {
    match out {
        Some(p) => {
            check_parent(p)?;
            if p.exists() {
                if !p.is_dir() {
                    bail!("output path {} exists and is not a directory", p.display());
                }
                if std::fs::read_dir(p)?.next().is_some() {
                    bail!(
                        "output directory {} is not empty; choose another --out",
                        p.display()
                    );
                }
            } else {
                std::fs::create_dir(p).with_context(|| format!("cannot create {}", p.display()))?;
            }
            Ok(p.to_path_buf())
        }
        None => {
            let safe = safe_name(name);
            std::fs::create_dir_all("runs").context("cannot create runs/")?;
            let mut p = PathBuf::from("runs").join(&safe);
            let mut i = 1;
            while p.exists() {
                i += 1;
                p = PathBuf::from("runs").join(format!("{safe}.{i}"));
            }
            std::fs::create_dir(&p).with_context(|| format!("cannot create {}", p.display()))?;
            Ok(p)
        }
    }
}

/// Writes a run's files as the run goes on: `model.safetensors`, `loss.csv` and the complete
/// checkpoint (`checkpoint/`, what `nsamp resume` reads) at every checkpoint (and the weights
/// in `snapshots/` every `train.snapshot_every` steps), `samples.npy` once sampled, `metrics.json` and `metrics.ron` at the end. Every
/// write is atomic (temporary file + rename), so a killed run keeps its last checkpoint.
pub struct RunDir {
    dir: PathBuf,
    snapshot_every: Option<u64>,
}

impl RunDir {
    /// Files go into `dir`.
    pub fn new(dir: &Path) -> Self {
        RunDir {
            dir: dir.to_path_buf(),
            snapshot_every: None,
        }
    }

    /// Also keeps the weights every `every` steps (`train.snapshot_every`) in `snapshots/`.
    pub fn with_snapshots(mut self, every: Option<u64>) -> Self {
        self.snapshot_every = every;
        self
    }
}

/// `loss.csv`: step, loss, gradient norm, energy evaluations and the objective's diagnostics.
pub fn loss_csv(h: &[StepRecord]) -> String {
    let names: Vec<&str> = h
        .first()
        .map(|r| r.diagnostics.iter().map(|(k, _)| k.as_str()).collect())
        .unwrap_or_default();
    let mut s = String::from("step,loss,grad_norm,energy_evals");
    for n in &names {
        s.push(',');
        s.push_str(n);
    }
    s.push('\n');
    for r in h {
        s.push_str(&format!(
            "{},{:.6e},{:.6e},{}",
            r.step, r.loss, r.grad_norm, r.energy_evals
        ));
        for (_, v) in &r.diagnostics {
            s.push_str(&format!(",{v:.6e}"));
        }
        s.push('\n');
    }
    s
}

impl Observer for RunDir {
    fn checkpoint(&mut self, cp: &Checkpoint<'_>) -> anyhow::Result<()> {
        let weights = cp.sampling_weights()?;
        if let Some(w) = &weights {
            write_weights(&self.dir.join("model.safetensors"), w)?;
        }
        write_atomic(&self.dir.join("loss.csv"), loss_csv(cp.history).as_bytes())?;
        if let Some(state) = cp.state {
            nsamp_core::checkpoint::write(
                &self.dir, cp.varmap, state, cp.history, cp.threads, cp.seconds,
            )?;
            let step = state.steps_done;
            if let (Some(every), Some(w)) = (self.snapshot_every, &weights) {
                if step > 0 && step.is_multiple_of(every) {
                    write_snapshot(&self.dir, w, step, state.energy_evals, cp.seconds)?;
                }
            }
        }
        Ok(())
    }
    fn trace(&mut self, trace: &nsamp_core::Trace) -> anyhow::Result<()> {
        write_atomic(&self.dir.join("trace.csv"), trace.to_csv().as_bytes())
    }
    fn samples(&mut self, set: &SampleSet<'_>) -> anyhow::Result<()> {
        write_npy(
            &self.dir.join("samples.npy"),
            &set.samples.x,
            set.samples.dim,
        )
    }
    fn finished(&mut self, report: &RunReport) -> anyhow::Result<()> {
        write_atomic(
            &self.dir.join("metrics.json"),
            serde_json::to_string_pretty(report)?.as_bytes(),
        )?;
        let pretty = ron::ser::PrettyConfig::new();
        write_atomic(
            &self.dir.join("metrics.ron"),
            ron::ser::to_string_pretty(report, pretty)?.as_bytes(),
        )
    }
}
