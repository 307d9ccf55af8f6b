//! `nsamp sweep --slurm`: the seeds of a sweep as one Slurm job array. Each array task runs one
//! seed into `SWEEP/seed-<seed>` with `--threads` from its allocation. SIGTERM (120 s before the
//! time limit, or `scancel --signal=TERM`) makes nsamp write a checkpoint and exit 143, and the
//! task re-queues itself; a task that finds its run's checkpoint (re-queued, or pre-empted and
//! re-queued by Slurm) resumes it, and a finished seed is not run again.
//! `nsamp table SWEEP` gathers the results and lists the seeds not done.

use super::load_recipe;
use super::sweep::{prepare, seeds_of};
use anyhow::Context as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Slurm options of `nsamp sweep`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SlurmArgs {
    /// Submit a Slurm job array (one task per seed) with sbatch instead of running here.
    #[arg(long)]
    pub slurm: bool,
    /// Slurm partition (sbatch --partition).
    #[arg(long, requires = "slurm")]
    pub partition: Option<String>,
    /// Time limit per task (sbatch --time, e.g. 02:00:00). nsamp is sent SIGTERM 120 s before
    /// it and writes a checkpoint.
    #[arg(long, requires = "slurm")]
    pub time: Option<String>,
    /// CPUs per task (sbatch --cpus-per-task; the run's --threads).
    #[arg(long, default_value_t = 2, requires = "slurm")]
    pub cpus: usize,
    /// Print the job script and submit nothing (creates nothing).
    #[arg(long)]
    pub dry_run: bool,
}

/// Quotes `s` for a POSIX shell.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// An absolute form of `p` (without resolving links).
fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    Ok(std::path::absolute(p)?)
}

/// The job script of a sweep in `sweep` over `seeds` (consecutive from the first).
pub fn script(
    name: &str,
    sweep: &Path,
    seeds: &[u64],
    args: &SlurmArgs,
    nsamp: &Path,
) -> anyhow::Result<String> {
    anyhow::ensure!(args.cpus >= 1, "--cpus must be at least 1");
    let sweep = absolute(sweep)?;
    let q = |p: &Path| sh_quote(&p.display().to_string());
    let mut s = String::from("#!/bin/bash\n");
    s.push_str(&format!(
        "# nsamp sweep: one array task per seed ({} seeds).\n",
        seeds.len()
    ));
    s.push_str(&format!(
        "#SBATCH --job-name=nsamp-{}\n",
        crate::ui::rundir::safe_name(name)
    ));
    s.push_str(&format!("#SBATCH --array=0-{}\n", seeds.len() - 1));
    s.push_str(&format!("#SBATCH --cpus-per-task={}\n", args.cpus));
    s.push_str("#SBATCH --ntasks=1\n");
    if let Some(p) = &args.partition {
        s.push_str(&format!("#SBATCH --partition={p}\n"));
    }
    if let Some(t) = &args.time {
        s.push_str(&format!("#SBATCH --time={t}\n"));
    }
    s.push_str("#SBATCH --requeue\n#SBATCH --open-mode=append\n");
    // SIGTERM to nsamp (the batch shell execs it) 120 s before the time limit: a checkpoint.
    s.push_str("#SBATCH --signal=B:TERM@120\n");
    s.push_str(&format!(
        "#SBATCH --output={}/slurm-logs/%A_%a.out\n",
        sweep.display()
    ));
    let seeds_list: Vec<String> = seeds.iter().map(|s| s.to_string()).collect();
    s.push_str(&format!(
        r#"set -uo pipefail
NSAMP={nsamp}
SWEEP={sweep}
SEEDS=({seeds})
SEED="${{SEEDS[$SLURM_ARRAY_TASK_ID]}}"
DIR="$SWEEP/seed-$SEED"
THREADS="${{SLURM_CPUS_PER_TASK:-{cpus}}}"
TASK="${{SLURM_ARRAY_JOB_ID:-0}}_${{SLURM_ARRAY_TASK_ID}}"
echo "nsamp sweep task $TASK: seed $SEED on $(hostname)"
if [ -f "$DIR/metrics.json" ]; then
    echo "seed $SEED has finished already"
    exit 0
fi
complete() {{ [ -f "$1/state.json" ] && [ -f "$1/tensors.safetensors" ]; }}
if complete "$DIR/checkpoint" || complete "$DIR/checkpoint.old"; then
    CMD=("$NSAMP" --threads "$THREADS" resume "$DIR")
else
    # No checkpoint yet: start afresh (a task killed before its first checkpoint left a log).
    rm -rf "$DIR"
    CMD=("$NSAMP" --threads "$THREADS" run "$SWEEP/recipe.ron" --out "$DIR" --set "seed=$SEED")
fi
# nsamp runs as a child so that SIGTERM (scancel --signal=TERM, or --signal=B:TERM before the
# time limit) reaches it through this shell; it then writes a checkpoint and exits 143, and the
# task re-queues itself to resume.
STOPPING=0
"${{CMD[@]}}" &
CHILD=$!
trap 'STOPPING=1; kill -TERM "$CHILD" 2>/dev/null' TERM INT
wait "$CHILD"
STATUS=$?
if [ "$STOPPING" = 1 ]; then
    wait "$CHILD"
    STATUS=$?
fi
if [ "$STATUS" = 143 ] || [ "$STATUS" = 130 ]; then
    echo "seed $SEED stopped with a checkpoint; re-queueing $TASK"
    scontrol requeue "$TASK"
fi
exit "$STATUS"
"#,
        nsamp = q(nsamp),
        sweep = q(&sweep),
        seeds = seeds_list.join(" "),
        cpus = args.cpus,
    ));
    Ok(s)
}

/// Writes the sweep directory and its job script and submits it (or prints it, `--dry-run`).
pub fn submit(
    path: &Path,
    seeds: u64,
    out: Option<PathBuf>,
    sets: &[String],
    args: &SlurmArgs,
) -> anyhow::Result<()> {
    anyhow::ensure!(seeds >= 1, "--seeds must be at least 1");
    let nsamp = std::env::current_exe().context("cannot find the nsamp executable")?;
    if args.dry_run {
        let recipe = load_recipe(path, sets)?;
        let dir = out.unwrap_or_else(|| PathBuf::from(format!("runs/{}-sweep", recipe.name)));
        print!(
            "{}",
            script(
                &recipe.name,
                &dir,
                &seeds_of(recipe.seed, seeds),
                args,
                &nsamp
            )?
        );
        return Ok(());
    }
    let (dir, mut manifest) = prepare(path, seeds, out, sets)?;
    std::fs::create_dir_all(dir.join("slurm-logs"))?;
    let job = dir.join("sweep.sh");
    nsamp_core::io::write_atomic(
        &job,
        script(&manifest.recipe, &dir, &manifest.seeds, args, &nsamp)?.as_bytes(),
    )?;
    let o = Command::new("sbatch")
        .arg("--parsable")
        .arg(&job)
        .output()
        .context("cannot run sbatch (is Slurm installed and on PATH?)")?;
    anyhow::ensure!(
        o.status.success(),
        "sbatch failed ({}): {}",
        o.status,
        String::from_utf8_lossy(&o.stderr).trim()
    );
    let id = String::from_utf8_lossy(&o.stdout)
        .trim()
        .split(';')
        .next()
        .unwrap_or_default()
        .to_string();
    manifest.slurm_job = Some(id.clone());
    manifest.write(&dir)?;
    println!(
        "submitted job array {id} ({seeds} seeds) from {}",
        job.display()
    );
    println!(
        "when done: nsamp table {}   (squeue -j {id} shows its tasks)",
        dir.display()
    );
    Ok(())
}
