//! Runs from Python: `run`, `resume`, the command line, and the progress observer that writes
//! to Python's `sys.stderr` (a terminal or a notebook) and turns Ctrl-C into a checkpointed stop.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nsamp_core::anyhow;
use nsamp_core::train::StepRecord;
use nsamp_core::{Experiment, NsampError, Observer, RunReport};
use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::convert::{guarded, json_to_py, recipe_from, value_err};

/// How often the progress line is redrawn (and Python's signals are checked).
const REFRESH: Duration = Duration::from_millis(400);

/// Writes log lines and a `\r`-redrawn progress line to Python's `sys.stderr` (so they show in a
/// notebook as in a terminal), and checks Python's signals: a pending Ctrl-C sets `stop`, which
/// ends training at the next step with a checkpoint.
pub struct PyConsole {
    show: bool,
    phase: String,
    loss: Option<f64>,
    last: Option<Instant>,
    line_open: bool,
    stop: Arc<AtomicBool>,
    /// A KeyboardInterrupt (or other error a signal handler raised) seen while running.
    pub interrupt: Option<PyErr>,
}

impl PyConsole {
    /// A console that shows progress.
    pub fn new() -> Self {
        PyConsole {
            show: true,
            phase: String::new(),
            loss: None,
            last: None,
            line_open: false,
            stop: Arc::new(AtomicBool::new(false)),
            interrupt: None,
        }
    }

    fn write(&self, text: &str) {
        if !self.show {
            return;
        }
        Python::attach(|py| {
            if let Ok(err) = py.import("sys").and_then(|s| s.getattr("stderr")) {
                let _ = err.call_method1("write", (text,));
                let _ = err.call_method0("flush");
            }
        });
    }

    fn check_signals(&mut self) {
        if self.interrupt.is_some() {
            return;
        }
        if let Err(e) = Python::attach(|py| py.check_signals()) {
            self.interrupt = Some(e);
            self.stop.store(true, Ordering::SeqCst);
        }
    }
}

impl Observer for PyConsole {
    fn log(&mut self, line: &str) {
        let lead = if self.line_open { "\n" } else { "" };
        self.line_open = false;
        self.write(&format!("{lead}{line}\n"));
    }
    fn phase(&mut self, name: &str, _total: u64) {
        self.phase = name.to_string();
        self.last = None;
    }
    fn progress(&mut self, done: u64, total: u64) {
        if self.last.is_some_and(|t| t.elapsed() < REFRESH) && done < total {
            return;
        }
        self.last = Some(Instant::now());
        self.check_signals();
        let pct = 100.0 * done as f64 / total.max(1) as f64;
        let loss = match (self.phase.as_str(), self.loss) {
            ("training", Some(l)) => format!("  loss {l:.3e}"),
            _ => String::new(),
        };
        self.write(&format!(
            "\r{}: {done}/{total} ({pct:.0}%){loss}   ",
            self.phase
        ));
        self.line_open = true;
    }
    fn phase_done(&mut self) {
        if self.line_open {
            self.write("\n");
        }
        self.line_open = false;
        self.check_signals();
    }
    fn step(&mut self, r: &StepRecord) -> anyhow::Result<()> {
        self.loss = Some(r.loss);
        Ok(())
    }
}

/// Configures the worker threads (`threads`, else the recipe's, else 2) and warns through
/// Python's `warnings` if the process's pool already has another size (it is built once).
fn setup_threads(
    py: Python<'_>,
    threads: Option<usize>,
    recipe: &nsamp_core::Recipe,
) -> PyResult<usize> {
    let want = nsamp::cmd::setup_threads(threads, recipe).map_err(value_err)?;
    let have = nsamp::threads::current();
    if have != want {
        let msg = format!(
            "nsamp uses {have} worker threads in this process (the pool is built once, at its first \
             use); {want} were asked for. Call nsamp.run with threads= in a fresh process to change it."
        );
        py.import("warnings")?.call_method1("warn", (msg,))?;
    }
    Ok(have)
}

/// Makes the experiment with `make` (it returns the experiment, its run directory and the log's
/// first line) and runs it with the run's files and the Python console, the GIL released; the
/// report as a dict (metrics.json's content plus ``run_dir``), or the exception that says what
/// stopped it.
fn execute<'py, F>(py: Python<'py>, make: F, progress: bool) -> PyResult<Bound<'py, PyAny>>
where
    F: FnOnce() -> anyhow::Result<(Experiment, PathBuf, String)> + Send,
{
    let mut console = PyConsole::new();
    console.show = progress;
    let stop = Arc::clone(&console.stop);
    let resume_hint = |dir: &Path, steps: u64| {
        format!(
            "stopped by KeyboardInterrupt after step {steps}: checkpoint written; continue with \
             nsamp.resume({:?})",
            dir.display().to_string()
        )
    };
    let outcome = py.detach(|| {
        guarded("run", || {
            let (exp, dir, first_line) = make()?;
            let mut exp = exp.with_flags(stop, Arc::new(AtomicBool::new(false)));
            let hint = |steps: u64| resume_hint(&dir, steps);
            let result =
                nsamp::cmd::run::run_observed(&mut exp, &dir, &first_line, &mut console, &hint);
            Ok((dir, result))
        })
    })?;
    let (dir, result) = outcome.map_err(value_err)?;
    let report: RunReport = match result {
        Ok(r) => r,
        Err(e) => {
            if let Some(NsampError::Interrupted { steps_done }) = e.downcast_ref::<NsampError>() {
                return Err(PyKeyboardInterrupt::new_err(resume_hint(&dir, *steps_done)));
            }
            return Err(PyRuntimeError::new_err(nsamp::cmd::run::failure_message(
                &e, &dir,
            )));
        }
    };
    if let Some(e) = console.interrupt.take() {
        // Ctrl-C outside training: the run finished its phase and wrote its files.
        if e.is_instance_of::<PyKeyboardInterrupt>(py) {
            return Err(PyKeyboardInterrupt::new_err(format!(
                "interrupted outside training; the run finished anyway and its files are in {}",
                dir.display()
            )));
        }
        return Err(e);
    }
    let mut v = serde_json::to_value(&report).map_err(|e| value_err(e.into()))?;
    if let Some(o) = v.as_object_mut() {
        o.insert("run_dir".into(), dir.display().to_string().into());
    }
    json_to_py(py, &v)
}

/// Trains, samples and evaluates `recipe` (a path or RON text, with `overrides` applied as
/// `--set` would) into the run directory `out` (default ``runs/<name>``), exactly as ``nsamp
/// run`` does; returns the report (metrics.json's content plus ``run_dir``). The GIL is released;
/// progress goes to ``sys.stderr``; Ctrl-C stops training at the next step with a checkpoint
/// (``resume`` goes on) and raises KeyboardInterrupt.
#[pyfunction]
#[pyo3(signature = (recipe, overrides = None, out = None, threads = None, progress = true))]
pub fn run<'py>(
    py: Python<'py>,
    recipe: &Bound<'py, PyAny>,
    overrides: Option<&Bound<'py, PyDict>>,
    out: Option<PathBuf>,
    threads: Option<usize>,
    progress: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let recipe = recipe_from(recipe, overrides)?;
    let threads = setup_threads(py, threads, &recipe)?;
    let first = format!("recipe: {} (from Python)", recipe.name);
    execute(
        py,
        move || {
            let (exp, dir) = nsamp::cmd::run::prepare(recipe, out.as_deref(), threads)?;
            Ok((exp, dir, first))
        },
        progress,
    )
}

/// Goes on from the last checkpoint of the interrupted run in `run_dir`, as ``nsamp resume``.
#[pyfunction]
#[pyo3(signature = (run_dir, threads = None, progress = true))]
pub fn resume<'py>(
    py: Python<'py>,
    run_dir: PathBuf,
    threads: Option<usize>,
    progress: bool,
) -> PyResult<Bound<'py, PyAny>> {
    execute(
        py,
        move || {
            let (exp, line) = nsamp::cmd::run::prepare_resume(&run_dir, threads)?;
            Ok((exp, run_dir, line))
        },
        progress,
    )
}

/// The ``nsamp`` command line in this process (``python -m nsamp ARGS``): `argv` without the
/// program name; returns the exit code. It installs nsamp's SIGINT/SIGTERM handlers, as the
/// binary does: meant for the ``nsamp`` entry point, not for a notebook.
#[pyfunction]
pub fn cli(py: Python<'_>, argv: &Bound<'_, PyList>) -> PyResult<u8> {
    let mut args: Vec<String> = vec!["nsamp".into()];
    for a in argv.iter() {
        args.push(a.extract()?);
    }
    py.detach(|| guarded("cli", || Ok(nsamp::run_cli(args))))?
        .map_err(value_err)
}
