//! Command-line interface.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// nsamp: train and evaluate neural samplers of unnormalised densities from RON recipes.
#[derive(Debug, Parser)]
#[command(name = "nsamp", version, about)]
pub struct Cli {
    /// Worker threads (default: the recipe's `threads`, else 2).
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train, sample and evaluate a recipe; writes a run directory.
    Run {
        /// The recipe (.ron).
        recipe: PathBuf,
        /// Run directory (default: runs/<name>, or runs/<name>.N if taken). Its parent must exist.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Override a recipe value: --set train.steps=500 --set objective.mc.samples=100.
        #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
        sets: Vec<String>,
    },
    /// Run a recipe for several seeds (its seed, seed + 1, ...) and write one table of mean ± std.
    Sweep {
        /// The recipe (.ron).
        recipe: PathBuf,
        /// Number of seeds.
        #[arg(long, default_value_t = 3)]
        seeds: u64,
        /// Directory for the runs and the table (default: runs/<name>-sweep). Its parent must exist.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Overrides, as for `run`.
        #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
        sets: Vec<String>,
        /// Submit the seeds as a Slurm job array (one task per seed, each resuming from its
        /// checkpoint when re-queued) instead of running them here; prints the job id.
        #[command(flatten)]
        slurm: crate::cmd::slurm::SlurmArgs,
    },
    /// Build a table (markdown and JSON) from finished runs: one row per method. A sweep
    /// directory stands for its seeds' runs (missing or failed seeds are listed).
    Table {
        /// Run directories, or sweep directories.
        #[arg(required = true)]
        runs: Vec<PathBuf>,
        /// Also write table.md and table.json into this directory.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print the JSON instead of the markdown.
        #[arg(long)]
        json: bool,
        /// Compare at an equal energy budget: of each method's runs of one seed, keep the one
        /// that spent the most energy evaluations (training + sampling + correction) without
        /// exceeding N; methods with no run within N are listed below the table.
        #[arg(long, value_name = "N")]
        budget: Option<f64>,
    },
    /// Validate a recipe without running it.
    Check {
        /// The recipe (.ron).
        recipe: PathBuf,
        /// Overrides, as for `run`.
        #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
        sets: Vec<String>,
    },
    /// List every registered component, its kind and its config fields.
    List {
        /// Print the full commented example config of each component.
        #[arg(long)]
        full: bool,
    },
    /// Draw samples from a finished run's trained sampler.
    Sample {
        /// The run directory.
        run_dir: PathBuf,
        /// Number of samples.
        #[arg(short = 'n', long)]
        n: usize,
        /// Output .npy file (default: RUN_DIR/samples-N.npy).
        #[arg(short, long)]
        out: Option<PathBuf>,
        /// Seed of the sampling streams (default: the recipe's seed + 1).
        #[arg(long)]
        seed: Option<u64>,
        /// Skip the recipe's corrector (IMH, SNIS): the sampler's own output.
        #[arg(long)]
        raw: bool,
    },
    /// Continue a run from its last checkpoint (written every train.checkpoint_every steps and
    /// when stopped by SIGINT/SIGTERM), with the recipe and thread count stored in the run
    /// directory: it ends as the uninterrupted run would have.
    Resume {
        /// The run directory (holds recipe.ron and checkpoint/).
        run_dir: PathBuf,
    },
    /// Metrics against the training budget: sample and score the weights each run kept every
    /// train.snapshot_every steps, as its final evaluation does; writes RUN_DIR/curve.csv and
    /// curve.json and a plot against steps and energy evaluations.
    Curve {
        /// Run directories (recipes with train.snapshot_every).
        #[arg(required = true)]
        runs: Vec<PathBuf>,
        /// The plot (default: the first run's curve.png). Its parent must exist.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Metrics to plot, comma-separated (default: W2, E-TVD, modes_covered where present).
        #[arg(long, value_delimiter = ',')]
        metrics: Vec<String>,
        /// Overrides of the runs' recipes, e.g. --set eval.samples=2000 (the evaluation only).
        #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
        sets: Vec<String>,
    },
    /// Score samples against the target's reference with the recipe's metrics.
    Eval {
        /// A recipe (.ron) or a run directory.
        source: PathBuf,
        /// Samples to score (.npy, n x d, data units, float32/float64; as a run: the first
        /// eval.samples rows, the TVDs the first eval.tvd_samples). Default: RUN_DIR/samples.npy.
        #[arg(long)]
        samples: Option<PathBuf>,
        /// Reference set (.npy) instead of the recipe's.
        #[arg(long)]
        reference: Option<PathBuf>,
        /// Print one JSON object on stdout.
        #[arg(long)]
        json: bool,
        /// Overrides of the recipe (e.g. `--set eval.samples=2000`), as for `run`.
        #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
        sets: Vec<String>,
    },
    /// Draw a long-MCMC reference set for a recipe's target (MALA or HMC, many chains, thinned by
    /// the measured autocorrelation time); writes OUT.npy and OUT.npy.json (provenance, cost).
    Reference {
        /// The recipe whose target is sampled (.ron).
        recipe: PathBuf,
        /// Number of samples.
        #[arg(short = 'n', long)]
        n: usize,
        /// Output .npy file (default: references/<recipe name>-mcmc.npy).
        #[arg(short, long)]
        out: Option<PathBuf>,
        /// Seed of the chains (default: the recipe's seed).
        #[arg(long)]
        seed: Option<u64>,
        /// Sampler settings.
        #[command(flatten)]
        mcmc: crate::cmd::reference::ReferenceArgs,
        /// Overrides, as for `run`.
        #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
        sets: Vec<String>,
    },
    /// Write the schema documentation (schemas/components.md) from the registry.
    Schema {
        /// Output file (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Time the hot paths: LJ-55 energies (512 x 100 configurations), the Monte Carlo score
    /// (GMM-40, B = 512, K = 500) and the iDEM, IW-SM, DwES, FAB, PIS and DiKL steps.
    Bench {
        /// Timed iterations per figure (median reported).
        #[arg(long, default_value_t = 30)]
        iters: usize,
        /// Only one group: `gmm` (MC score, iDEM/IW-SM/DwES/FAB steps), `lj55` (LJ-55 energies),
        /// `flow` (RealNVP training steps), `sbtm` (SBTM time steps), `pis` (a PIS step),
        /// `dikl` (a DiKL step with its DSM steps), `refill` (a GMM-40 iDEM refill: 1,000
        /// samples x 1,000 reverse-SDE steps, and 20 steps of a DW-4 EGNN refill, the inference
        /// path against candle's tensors), `w2` (exact W2 at n = 2,000 to 10,000 on GMM-40
        /// sets, good and bad) or `dw4` (the DW-4 iDEM and IW-SM training steps, EGNN).
        #[arg(long)]
        only: Option<String>,
    },
}
