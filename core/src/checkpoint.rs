//! Complete training checkpoints: everything a run needs to go on exactly as if never stopped.
//!
//! A checkpoint is a directory `checkpoint/` inside the run directory:
//! - `tensors.safetensors`: the parameters (`param/<name>`), Adam's moments (`adam.m/<name>`,
//!   `adam.v/<name>`), the objective's arrays (`objective/<name>`) and the step history
//!   (`history/step`, `history/loss`, `history/grad_norm`, `history/energy_evals`,
//!   `history/diagnostics`, f64 and i64: exact, NaN included);
//! - `state.json`: the steps done, the energy-evaluation count, Adam's step count, the
//!   objective's counters, the history's diagnostic names, the thread count, the training wall
//!   time so far and the version.
//!
//! Random numbers are not saved: every stream is derived from the seed and the step (the
//! minibatch `dem-batch`/step, the Monte Carlo score `mc-score`/step, a refill
//! `dem-refill`/step, a flow's base noise `flow-rkl`/step, ...), so a resumed step draws what
//! the uninterrupted one drew.
//!
//! Written atomically: into `checkpoint.tmp-<pid>/`, then the old `checkpoint/` is renamed to
//! `checkpoint.old/`, the new one into place, and the old one removed; [`read`] falls back to
//! `checkpoint.old/` if a kill came between the two renames.

use crate::objective::{Context, Objective, ObjectiveState};
use crate::train::{Moments, StepRecord, TrainView, Trainer};
use anyhow::{bail, Context as _};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The checkpoint directory's name inside a run directory.
pub const DIR: &str = "checkpoint";
const FORMAT: u32 = 1;

/// The JSON half of a checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateJson {
    format: u32,
    nsamp_version: String,
    steps_done: u64,
    energy_evals: u64,
    threads: usize,
    training_seconds: f64,
    adam_steps: Option<u64>,
    objective_counters: BTreeMap<String, u64>,
    diagnostic_names: Vec<String>,
}

/// A checkpoint read back.
pub struct Saved {
    /// Training steps completed.
    pub steps_done: u64,
    /// Energy evaluations spent so far.
    pub energy_evals: u64,
    /// Worker threads of the run that wrote it.
    pub threads: usize,
    /// Wall time spent training so far (all earlier segments of the run).
    pub training_seconds: f64,
    /// Every step record so far.
    pub history: Vec<StepRecord>,
    params: HashMap<String, Tensor>,
    ema: HashMap<String, Tensor>,
    adam: Option<(u64, Moments)>,
    objective: ObjectiveState,
}

/// Whether `run_dir` holds a readable checkpoint (or the previous one, kept while a new one
/// was being written).
pub fn exists(run_dir: &Path) -> bool {
    find(run_dir).is_some()
}

fn find(run_dir: &Path) -> Option<PathBuf> {
    [DIR.to_string(), format!("{DIR}.old")]
        .into_iter()
        .map(|d| run_dir.join(d))
        .find(|d| complete(d))
}

/// Whether `dir` holds both files of a checkpoint.
fn complete(dir: &Path) -> bool {
    dir.join("state.json").is_file() && dir.join("tensors.safetensors").is_file()
}

/// Writes a complete checkpoint of the state `view` describes into `run_dir/checkpoint/`.
pub fn write(
    run_dir: &Path,
    varmap: Option<&VarMap>,
    view: &TrainView<'_>,
    history: &[StepRecord],
    threads: usize,
    training_seconds: f64,
) -> anyhow::Result<()> {
    let mut tensors: HashMap<String, Tensor> = HashMap::new();
    if let Some(vm) = varmap {
        let data = vm
            .data()
            .lock()
            .map_err(|_| anyhow::anyhow!("parameter map poisoned"))?;
        for (k, v) in data.iter() {
            tensors.insert(format!("param/{k}"), v.as_tensor().clone());
        }
    }
    if let Some(avg) = view.trainer.and_then(|t| t.ema()) {
        for (name, a) in avg {
            tensors.insert(format!("ema/{name}"), a.clone());
        }
    }
    let adam_steps = view.trainer.map(|t| {
        for (name, m, v) in t.optimizer().moments() {
            tensors.insert(format!("adam.m/{name}"), m.clone());
            tensors.insert(format!("adam.v/{name}"), v.clone());
        }
        t.optimizer().steps()
    });
    let objective = view.objective.state()?;
    for (k, v) in &objective.arrays {
        tensors.insert(
            format!("objective/{k}"),
            Tensor::from_slice(v, v.len(), &Device::Cpu)?,
        );
    }
    for (k, v) in &objective.arrays_f64 {
        tensors.insert(
            format!("objective64/{k}"),
            Tensor::from_slice(v, v.len(), &Device::Cpu)?,
        );
    }
    let names = history_tensors(history, &mut tensors)?;
    let state = StateJson {
        format: FORMAT,
        nsamp_version: env!("CARGO_PKG_VERSION").into(),
        steps_done: view.steps_done,
        energy_evals: view.energy_evals,
        threads,
        training_seconds,
        adam_steps,
        objective_counters: objective.counters,
        diagnostic_names: names,
    };
    let (cur, old) = (run_dir.join(DIR), run_dir.join(format!("{DIR}.old")));
    // A kill between the two renames below left only the previous checkpoint: put it back in
    // place first, so that there is a complete checkpoint at every moment of this write.
    if !complete(&cur) && complete(&old) {
        if cur.exists() {
            std::fs::remove_dir_all(&cur)?;
        }
        std::fs::rename(&old, &cur)?;
    }
    // Temporary directories of writes that were killed.
    for e in std::fs::read_dir(run_dir)?.flatten() {
        if e.file_name()
            .to_string_lossy()
            .starts_with(&format!("{DIR}.tmp-"))
        {
            std::fs::remove_dir_all(e.path())?;
        }
    }
    let tmp = run_dir.join(format!("{DIR}.tmp-{}", std::process::id()));
    std::fs::create_dir(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let st = tmp.join("tensors.safetensors");
    candle_core::safetensors::save(&tensors, &st)
        .with_context(|| format!("cannot write {}", st.display()))?;
    std::fs::File::open(&st)?.sync_all()?;
    crate::io::write_atomic(
        &tmp.join("state.json"),
        serde_json::to_string_pretty(&state)?.as_bytes(),
    )?;
    // `cur` is complete here (or absent): the stale `old` can go, then `cur` becomes `old`.
    if old.exists() {
        std::fs::remove_dir_all(&old)?;
    }
    if cur.exists() {
        std::fs::rename(&cur, &old)?;
    }
    std::fs::rename(&tmp, &cur).with_context(|| format!("cannot write {}", cur.display()))?;
    if old.exists() {
        std::fs::remove_dir_all(&old)?;
    }
    Ok(())
}

/// The history as tensors; returns the diagnostic names (those of the first record).
fn history_tensors(
    history: &[StepRecord],
    out: &mut HashMap<String, Tensor>,
) -> anyhow::Result<Vec<String>> {
    let names: Vec<String> = history
        .first()
        .map(|r| r.diagnostics.iter().map(|(k, _)| k.clone()).collect())
        .unwrap_or_default();
    let n = history.len();
    if n == 0 {
        return Ok(names);
    }
    let k = names.len();
    let dev = &Device::Cpu;
    let col_i64 = |f: &dyn Fn(&StepRecord) -> u64| -> Vec<i64> {
        history.iter().map(|r| f(r) as i64).collect()
    };
    let col_f64 = |f: &dyn Fn(&StepRecord) -> f64| -> Vec<f64> { history.iter().map(f).collect() };
    out.insert(
        "history/step".into(),
        Tensor::from_vec(col_i64(&|r| r.step), n, dev)?,
    );
    out.insert(
        "history/energy_evals".into(),
        Tensor::from_vec(col_i64(&|r| r.energy_evals), n, dev)?,
    );
    out.insert(
        "history/loss".into(),
        Tensor::from_vec(col_f64(&|r| r.loss), n, dev)?,
    );
    out.insert(
        "history/grad_norm".into(),
        Tensor::from_vec(col_f64(&|r| r.grad_norm), n, dev)?,
    );
    if k > 0 {
        let mut d = Vec::with_capacity(n * k);
        for r in history {
            anyhow::ensure!(
                r.diagnostics.len() == k
                    && r.diagnostics.iter().zip(&names).all(|((a, _), b)| a == b),
                "step {}: the objective's diagnostics changed names during the run",
                r.step
            );
            d.extend(r.diagnostics.iter().map(|(_, v)| *v));
        }
        out.insert(
            "history/diagnostics".into(),
            Tensor::from_vec(d, (n, k), dev)?,
        );
    }
    Ok(names)
}

/// Reads the checkpoint of `run_dir` (or the previous one if a kill interrupted its
/// replacement).
pub fn read(run_dir: &Path) -> anyhow::Result<Saved> {
    let Some(dir) = find(run_dir) else {
        bail!(
            "{} holds no checkpoint ({}/state.json and tensors.safetensors); a run writes one \
             every train.checkpoint_every steps",
            run_dir.display(),
            DIR
        );
    };
    let text = std::fs::read_to_string(dir.join("state.json"))?;
    let state: StateJson = serde_json::from_str(&text)
        .with_context(|| format!("{}/state.json is not a checkpoint state", dir.display()))?;
    anyhow::ensure!(
        state.format == FORMAT,
        "checkpoint format {} (this nsamp reads format {FORMAT})",
        state.format
    );
    let st = dir.join("tensors.safetensors");
    let mut tensors = candle_core::safetensors::load(&st, &Device::Cpu)
        .with_context(|| format!("cannot read {}", st.display()))?;
    let history = read_history(&mut tensors, &state.diagnostic_names)?;
    anyhow::ensure!(
        history.len() as u64 == state.steps_done,
        "the checkpoint's history has {} steps, its state says {}",
        history.len(),
        state.steps_done
    );
    let mut params = HashMap::new();
    let mut ema = HashMap::new();
    let mut m = HashMap::new();
    let mut v = HashMap::new();
    let mut objective = ObjectiveState {
        counters: state.objective_counters,
        ..Default::default()
    };
    for (k, t) in tensors {
        if let Some(name) = k.strip_prefix("param/") {
            params.insert(name.to_string(), t);
        } else if let Some(name) = k.strip_prefix("ema/") {
            ema.insert(name.to_string(), t);
        } else if let Some(name) = k.strip_prefix("adam.m/") {
            m.insert(name.to_string(), t);
        } else if let Some(name) = k.strip_prefix("adam.v/") {
            v.insert(name.to_string(), t);
        } else if let Some(name) = k.strip_prefix("objective/") {
            objective
                .arrays
                .insert(name.to_string(), t.to_dtype(DType::F32)?.to_vec1::<f32>()?);
        } else if let Some(name) = k.strip_prefix("objective64/") {
            objective
                .arrays_f64
                .insert(name.to_string(), t.to_dtype(DType::F64)?.to_vec1::<f64>()?);
        } else {
            bail!("unexpected tensor `{k}` in {}", st.display());
        }
    }
    let adam = match state.adam_steps {
        Some(steps) => {
            let mut moments = HashMap::new();
            for (name, mt) in m {
                let vt = v
                    .remove(&name)
                    .ok_or_else(|| anyhow::anyhow!("no second moment for `{name}`"))?;
                moments.insert(name, (mt, vt));
            }
            Some((steps, moments))
        }
        None => None,
    };
    Ok(Saved {
        steps_done: state.steps_done,
        energy_evals: state.energy_evals,
        threads: state.threads,
        training_seconds: state.training_seconds,
        history,
        params,
        ema,
        adam,
        objective,
    })
}

fn read_history(
    tensors: &mut HashMap<String, Tensor>,
    names: &[String],
) -> anyhow::Result<Vec<StepRecord>> {
    let Some(step) = tensors.remove("history/step") else {
        return Ok(Vec::new());
    };
    let mut take = |k: &str| {
        tensors
            .remove(k)
            .ok_or_else(|| anyhow::anyhow!("the checkpoint has no `{k}`"))
    };
    let step = step.to_vec1::<i64>()?;
    let evals = take("history/energy_evals")?.to_vec1::<i64>()?;
    let loss = take("history/loss")?.to_vec1::<f64>()?;
    let norm = take("history/grad_norm")?.to_vec1::<f64>()?;
    let diag = if names.is_empty() {
        vec![Vec::new(); step.len()]
    } else {
        take("history/diagnostics")?.to_vec2::<f64>()?
    };
    anyhow::ensure!(
        [evals.len(), loss.len(), norm.len(), diag.len()]
            .iter()
            .all(|&l| l == step.len()),
        "the checkpoint's history columns differ in length"
    );
    Ok((0..step.len())
        .map(|i| StepRecord {
            step: step[i] as u64,
            loss: loss[i],
            grad_norm: norm[i],
            energy_evals: evals[i] as u64,
            diagnostics: names.iter().cloned().zip(diag[i].iter().copied()).collect(),
        })
        .collect())
}

impl Saved {
    /// Puts the saved state into a freshly assembled run: the parameters into `varmap`, the
    /// moments into `trainer`, the objective's state (in place of its `init`) and the energy
    /// counter. Fails, naming what differs, if the recipe's components do not match.
    pub fn restore(
        self,
        varmap: Option<&VarMap>,
        trainer: Option<&mut Trainer>,
        objective: &mut dyn Objective,
        cx: &Context<'_>,
    ) -> anyhow::Result<Vec<StepRecord>> {
        match varmap {
            Some(vm) => {
                let data = vm
                    .data()
                    .lock()
                    .map_err(|_| anyhow::anyhow!("parameter map poisoned"))?;
                anyhow::ensure!(
                    data.len() == self.params.len(),
                    "the checkpoint holds {} parameters, the recipe's model has {}",
                    self.params.len(),
                    data.len()
                );
                for (k, var) in data.iter() {
                    let t = self
                        .params
                        .get(k)
                        .ok_or_else(|| anyhow::anyhow!("the checkpoint has no parameter `{k}`"))?;
                    anyhow::ensure!(
                        t.shape() == var.shape(),
                        "parameter `{k}`: shape {:?} in the checkpoint, {:?} in the model",
                        t.shape(),
                        var.shape()
                    );
                    var.set(t)?;
                }
            }
            None => anyhow::ensure!(
                self.params.is_empty(),
                "the checkpoint holds parameters but the recipe has no model"
            ),
        }
        match (trainer, &self.adam) {
            (Some(t), Some((steps, moments))) => {
                t.optimizer_mut().restore(*steps, moments)?;
                t.restore_ema(&self.ema)?;
            }
            (None, None) => {}
            _ => bail!("the checkpoint's optimiser state does not match the recipe's model"),
        }
        objective.restore(self.objective, cx)?;
        cx.target.set_evals(self.energy_evals);
        Ok(self.history)
    }
}
