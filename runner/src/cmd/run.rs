//! `nsamp run`: one experiment, written to a run directory.

use super::{load_recipe, metrics_table, setup_threads};
use crate::ui::{self, Console, LogFile, Plots, RunDir};
use nsamp_core::experiment::Fanout;
use nsamp_core::io::write_atomic;
use nsamp_core::{Experiment, NsampError, Observer, RunReport};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a finished run reports.
pub struct RunOutcome {
    /// The run directory.
    pub dir: PathBuf,
    /// The report (metrics.json is its serialisation).
    pub report: RunReport,
}

/// Trains, samples, evaluates and writes the run directory (`out`, or `runs/<name>`).
pub fn run(
    path: &Path,
    out: Option<&Path>,
    sets: &[String],
    threads_flag: Option<usize>,
) -> anyhow::Result<RunOutcome> {
    let recipe = load_recipe(path, sets)?;
    let threads = setup_threads(threads_flag, &recipe)?;
    let (exp, dir) = prepare(recipe, out, threads)?;
    execute(exp, dir, &format!("recipe file: {}", path.display()))
}

/// Assembles `recipe` (the rayon pool already configured with `threads`), checks that its
/// reference can be had, creates the run directory (`out`, or `runs/<name>`) and writes
/// recipe.ron there.
pub fn prepare(
    recipe: nsamp_core::Recipe,
    out: Option<&Path>,
    threads: usize,
) -> anyhow::Result<(Experiment, PathBuf)> {
    let exp = Experiment::from_recipe(recipe)?.with_threads(threads);
    exp.recipe().eval.reference.check(&exp.parts.target)?;
    let dir = ui::rundir::create(out, &exp.recipe().name)?;
    write_atomic(&dir.join("recipe.ron"), exp.recipe().to_ron()?.as_bytes())?;
    Ok((exp, dir))
}

/// `nsamp resume RUN_DIR`: goes on from the run directory's last checkpoint with the recipe
/// stored there (and, unless `--threads` says otherwise, the thread count it ran with), so the
/// run ends with the metrics, samples and loss.csv of the same run never interrupted.
pub fn resume(dir: &Path, threads_flag: Option<usize>) -> anyhow::Result<RunOutcome> {
    let (exp, line) = prepare_resume(dir, threads_flag)?;
    execute(exp, dir.to_path_buf(), &line)
}

/// The experiment that goes on from `dir`'s last checkpoint (the rayon pool configured with
/// `threads_flag`, else the saved run's thread count), and the log line that says so.
pub fn prepare_resume(
    dir: &Path,
    threads_flag: Option<usize>,
) -> anyhow::Result<(Experiment, String)> {
    let recipe_path = dir.join("recipe.ron");
    anyhow::ensure!(
        recipe_path.is_file(),
        "{} is not a run directory (no recipe.ron)",
        dir.display()
    );
    anyhow::ensure!(
        !dir.join("metrics.json").exists(),
        "the run in {} has already finished (metrics.json exists)",
        dir.display()
    );
    let recipe = nsamp_core::Recipe::from_file(&recipe_path)?;
    let saved = nsamp_core::checkpoint::read(dir)?;
    let threads = setup_threads(threads_flag.or(Some(saved.threads)), &recipe)?;
    let line = format!(
        "resuming {} from its checkpoint after step {} of {}",
        dir.display(),
        saved.steps_done,
        recipe.train.steps
    );
    let exp = Experiment::from_recipe(recipe)?
        .with_threads(threads)
        .resuming(saved)?;
    Ok((exp, line))
}

/// Runs `exp` into `dir` with the log, the run files and the plots as observers, and `screen`
/// (the terminal, or Python's progress line) beside them. A failure is written to the log; a
/// stop on request (training interrupted after a checkpoint) gets `stopped(steps_done)`.
pub fn run_observed(
    exp: &mut Experiment,
    dir: &Path,
    first_line: &str,
    screen: &mut dyn Observer,
    stopped: &dyn Fn(u64) -> String,
) -> anyhow::Result<RunReport> {
    let mut log = LogFile::open(dir)?;
    let mut files = RunDir::new(dir).with_snapshots(exp.recipe().train.snapshot_every);
    let mut plots = Plots::new(dir)?;
    let result = {
        let mut obs = Fanout(vec![&mut log, screen, &mut files, &mut plots]);
        obs.log(first_line);
        obs.log(&format!("run directory: {}", dir.display()));
        exp.run(&mut obs)
    };
    if let Err(e) = &result {
        match e.downcast_ref::<NsampError>() {
            Some(NsampError::Interrupted { steps_done }) => log.line(&stopped(*steps_done)),
            _ => log.line(&format!("FAILED: {e:#}")),
        }
    }
    result
}

/// Runs `exp` into `dir` with the console beside the run's files; SIGINT/SIGTERM stop training
/// with a checkpoint, and exit at once outside training ([`crate::signals`]).
fn execute(exp: Experiment, dir: PathBuf, first_line: &str) -> anyhow::Result<RunOutcome> {
    let signal = crate::signals::install()?;
    let mut exp = exp.with_flags(Arc::clone(&signal.stop), Arc::clone(&signal.training));
    signal.set_run_dir(Some(dir.clone()));
    let stopped = |steps_done: u64| {
        format!(
            "stopped by {} after step {steps_done}: checkpoint written; continue with `nsamp \
             resume {}`",
            signal.name(),
            dir.display()
        )
    };
    let result = run_observed(
        &mut exp,
        &dir,
        first_line,
        &mut Console::default(),
        &stopped,
    );
    signal.set_run_dir(None);
    match result {
        Ok(report) => {
            print!("{}", summary(&report, &dir));
            Ok(RunOutcome { dir, report })
        }
        Err(e) => {
            if let Some(NsampError::Interrupted { steps_done }) = e.downcast_ref::<NsampError>() {
                return Err(crate::signals::Stopped {
                    message: stopped(*steps_done),
                    code: signal.exit_code(),
                }
                .into());
            }
            anyhow::bail!("{}", failure_message(&e, &dir))
        }
    }
}

/// The message of a failed run: the error and where its partial output is.
pub fn failure_message(e: &anyhow::Error, dir: &Path) -> String {
    format!(
        "{e:#}\n(run directory {} keeps the log and what was written before the failure: for a \
         trained method loss.csv and the last checkpoint)",
        dir.display()
    )
}

/// What `nsamp run` prints on stdout: the metrics beside the floor, the metrics before the
/// corrector, the corrector's and the sampler's reports, the energy budget.
pub fn summary(r: &RunReport, dir: &Path) -> String {
    let mut s = metrics_table(&r.metrics, r.floor(), &r.eval_protocol);
    let mut block = |title: &str, figures: &nsamp_core::experiment::Figures| {
        if !figures.is_empty() {
            s.push_str(title);
            for (k, v) in figures {
                s.push_str(&format!("  {k:<20} {v:>12.4}\n"));
            }
        }
    };
    if let Some(b) = &r.metrics_before_corrector {
        block("before the corrector (the sampler's own output):\n", b);
    }
    block("the corrector's report:\n", &r.corrector);
    block("the sampler's report:\n", &r.sampler_report);
    let e = &r.energy_evals;
    s.push_str(&format!(
        "energy evaluations: training {}, sampling {}, correction {}\nrun directory: {}\n",
        e.training,
        e.sampling,
        e.correction,
        dir.display()
    ));
    s
}
