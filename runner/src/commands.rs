//! The subcommands.

use crate::assemble::{ensure_registry, Assembled};
use crate::cli::{Cli, Command};
use crate::rundir::{self, Log};
use crate::{plots, threads};
use anyhow::{bail, Context as _};
use indicatif::{ProgressBar, ProgressStyle};
use nsamp_core::eval::{self, Evaluation, Reference};
use nsamp_core::io::{write_atomic, write_npy};
use nsamp_core::registry::{self, Listing};
use nsamp_core::train::{self, StepRecord, TrainObserver};
use nsamp_core::{Recipe, Samples};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Runs one subcommand.
pub fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run { recipe, out, sets } => {
            run(&recipe, out.as_deref(), &sets, cli.threads).map(|_| ())
        }
        Command::Check { recipe, sets } => check(&recipe, &sets),
        Command::Sweep {
            recipe,
            seeds,
            out,
            sets,
        } => sweep(&recipe, seeds, out, &sets, cli.threads),
        Command::Table { runs, out, json } => {
            let t = crate::table::build(&runs)?;
            if let Some(dir) = out {
                crate::table::write(&dir, &t)?;
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&t.json)?);
            } else {
                print!("{}", t.markdown);
            }
            Ok(())
        }
        Command::List { full } => {
            ensure_registry()?;
            print!("{}", list_text(full));
            Ok(())
        }
        Command::Sample {
            run_dir,
            n,
            out,
            seed,
            raw,
        } => sample(&run_dir, n, out, seed, raw, cli.threads),
        Command::Eval {
            source,
            samples,
            reference,
            json,
        } => evaluate(&source, samples, reference, json, cli.threads),
        Command::Reference {
            recipe,
            n,
            out,
            seed,
            mcmc,
            sets,
        } => crate::reference::reference(&recipe, &sets, n, out, seed, &mcmc, cli.threads)
            .map(|_| ()),
        Command::Schema { out } => {
            let text = schema_markdown();
            match out {
                Some(p) => write_atomic(&p, text.as_bytes()),
                None => {
                    print!("{text}");
                    Ok(())
                }
            }
        }
        Command::Bench { iters, only } => {
            threads::configure(cli.threads.unwrap_or_else(threads::default_threads))?;
            crate::bench::run(iters, only.as_deref())
        }
    }
}

pub(crate) fn load_recipe(path: &Path, sets: &[String]) -> anyhow::Result<Recipe> {
    Recipe::from_file(path)?.with_overrides(sets)
}

fn setup_threads(flag: Option<usize>, recipe: &Recipe) -> anyhow::Result<usize> {
    let n = flag
        .or(recipe.threads)
        .unwrap_or_else(threads::default_threads);
    threads::configure(n)?;
    Ok(n)
}

/// `nsamp sweep`: the recipe for `seeds` seeds, then the table.
pub fn sweep(
    path: &Path,
    seeds: u64,
    out: Option<PathBuf>,
    sets: &[String],
    threads_flag: Option<usize>,
) -> anyhow::Result<()> {
    anyhow::ensure!(seeds >= 1, "--seeds must be at least 1");
    let recipe = load_recipe(path, sets)?;
    let dir = match out {
        Some(p) => rundir::create(Some(&p), &recipe.name)?,
        None => rundir::create(None, &format!("{}-sweep", recipe.name))?,
    };
    let mut runs = Vec::new();
    for i in 0..seeds {
        let seed = recipe.seed.wrapping_add(i);
        let mut s = sets.to_vec();
        s.push(format!("seed={seed}"));
        let run_dir = dir.join(format!("seed-{seed}"));
        eprintln!("sweep: seed {seed} ({}/{seeds})", i + 1);
        run(path, Some(&run_dir), &s, threads_flag)?;
        runs.push(run_dir);
    }
    let t = crate::table::build(&runs)?;
    crate::table::write(&dir, &t)?;
    print!("{}", t.markdown);
    println!(
        "table: {}/table.md, {}/table.json",
        dir.display(),
        dir.display()
    );
    Ok(())
}

/// `nsamp check`.
pub fn check(path: &Path, sets: &[String]) -> anyhow::Result<()> {
    let recipe = load_recipe(path, sets)?;
    let asm = Assembled::new(recipe)?;
    asm.recipe.eval.check_reference(asm.target.inner())?;
    let r = &asm.recipe;
    println!(
        "ok: {} — target {} (dim {}), {}, objective {}, {} steps, {} metrics",
        r.name,
        r.target.name,
        asm.target.dim(),
        asm.describe_model(),
        r.objective.name,
        r.train.steps,
        r.eval.metrics.len()
    );
    Ok(())
}

/// Config field names of a component, read from its example.
pub fn example_fields(example: &str) -> Vec<String> {
    example
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("//"))
        .filter_map(|l| l.split_once(':').map(|(k, _)| k.trim()))
        .filter(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .map(str::to_string)
        .collect()
}

/// The text of `nsamp list`.
pub fn list_text(full: bool) -> String {
    let mut s = String::new();
    let mut last = "";
    for Listing {
        kind,
        name,
        doc,
        example,
    } in registry::list_all()
    {
        if kind != last {
            s.push_str(&format!("\n{}s:\n", kind));
            last = kind;
        }
        s.push_str(&format!("  {name:<14} {doc}\n"));
        if full {
            for l in example.lines() {
                s.push_str(&format!("      {l}\n"));
            }
        } else {
            let f = example_fields(example);
            s.push_str(&format!(
                "  {:<14} fields: {}\n",
                "",
                if f.is_empty() {
                    "(none)".into()
                } else {
                    f.join(", ")
                }
            ));
        }
    }
    s
}

/// The schema documentation generated from the registry (committed as schemas/components.md).
pub fn schema_markdown() -> String {
    let mut s = String::from(
        "# nsamp component schemas\n\nGenerated by `nsamp schema --out schemas/components.md` from the \
         registry: every registered component with its full config, every field commented, at its \
         default. A test parses every example and checks this file is current.\n",
    );
    let mut last = "";
    for l in registry::list_all() {
        if l.kind != last {
            s.push_str(&format!("\n## {}s\n", l.kind));
            last = l.kind;
        }
        s.push_str(&format!(
            "\n### `{}`\n\n{}.\n\n```ron\n{}\n```\n",
            l.name, l.doc, l.example
        ));
    }
    s
}

pub(crate) fn progress_bar(len: u64, prefix: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template(
            "{prefix:>9} [{bar:30}] {pos}/{len} {msg} [{elapsed_precise} < {eta_precise}]",
        )
        .unwrap()
        .progress_chars("=> "),
    );
    pb.set_prefix(prefix.to_string());
    pb
}

/// Whether progress output goes to a terminal (else the bar is hidden and log lines are printed).
pub(crate) fn interactive() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal()
}

struct Watch<'a> {
    pb: ProgressBar,
    log: &'a mut Log,
    history: Vec<StepRecord>,
    dir: &'a Path,
    varmap: Option<&'a nsamp_core::candle_nn::VarMap>,
    settings: &'a nsamp_core::train::TrainSettings,
    started: Instant,
}

impl Watch<'_> {
    fn save(&self) -> anyhow::Result<()> {
        if let Some(vm) = self.varmap {
            let path = self.dir.join("model.safetensors");
            let tmp = nsamp_core::io::tmp_sibling(&path);
            vm.save(&tmp)?;
            std::fs::rename(&tmp, &path)?;
        }
        write_atomic(
            &self.dir.join("loss.csv"),
            loss_csv(&self.history).as_bytes(),
        )
    }
}

fn loss_csv(h: &[StepRecord]) -> String {
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

impl TrainObserver for Watch<'_> {
    fn on_step(&mut self, r: &StepRecord) -> anyhow::Result<()> {
        self.pb.inc(1);
        self.pb.set_message(format!("loss {:.3e}", r.loss));
        self.history.push(r.clone());
        let step = r.step + 1;
        if step.is_multiple_of(self.settings.log_every) || step == self.settings.steps {
            let line = format!(
                "step {step}/{} loss {:.4e} grad_norm {:.3e} energy_evals {} elapsed {:.1}s",
                self.settings.steps,
                r.loss,
                r.grad_norm,
                r.energy_evals,
                self.started.elapsed().as_secs_f64()
            );
            let echo = !interactive();
            self.log.line(&line, echo);
            if !echo {
                self.pb.println(&line);
            }
        }
        if step.is_multiple_of(self.settings.checkpoint_every) {
            self.save()?;
        }
        Ok(())
    }
}

/// What a finished run reports.
pub struct RunOutcome {
    /// The run directory.
    pub dir: PathBuf,
    /// The evaluation.
    pub evaluation: Evaluation,
    /// The metrics.json content.
    pub report: serde_json::Value,
}

/// `nsamp run`: train, sample, correct, evaluate, write.
pub fn run(
    path: &Path,
    out: Option<&Path>,
    sets: &[String],
    threads_flag: Option<usize>,
) -> anyhow::Result<RunOutcome> {
    let recipe = load_recipe(path, sets)?;
    let n_threads = setup_threads(threads_flag, &recipe)?;
    let mut asm = Assembled::new(recipe)?;
    asm.recipe.eval.check_reference(asm.target.inner())?;
    let dir = rundir::create(out, &asm.recipe.name)?;
    write_atomic(&dir.join("recipe.ron"), asm.recipe.to_ron()?.as_bytes())?;
    let mut log = Log::open(&dir)?;
    let r = asm.recipe.clone();
    log.line(
        &format!(
            "nsamp {} | recipe {} ({}) | seed {} | threads {} | target {} | {} | objective {}",
            env!("CARGO_PKG_VERSION"),
            r.name,
            path.display(),
            r.seed,
            n_threads,
            r.target.name,
            asm.describe_model(),
            r.objective.name
        ),
        true,
    );
    log.line(&format!("run directory: {}", dir.display()), true);

    let started = Instant::now();
    let result = train_phase(&mut asm, &dir, &mut log, started);
    let train_time = started.elapsed().as_secs_f64();
    let train_evals = asm.target.evals();
    let history = match result {
        Ok(h) => h,
        Err(e) => {
            log.line(&format!("FAILED: {e:#}"), false);
            bail!(
                "{e:#}\n(run directory {} keeps the log, loss.csv and the last checkpoint)",
                dir.display()
            );
        }
    };

    let t1 = Instant::now();
    // A thinning corrector (Imh(thin: k)) consumes k proposals per returned sample.
    let per_sample = asm
        .corrector
        .as_ref()
        .map_or(1, |c| c.proposals_per_sample());
    let samples = sample_phase(
        &asm,
        r.eval.samples * per_sample,
        &asm.streams.derive("final-sample"),
    )?;
    let sample_time = t1.elapsed().as_secs_f64();
    let sample_evals = asm.target.evals() - train_evals;

    // The sampler's own output (its first eval.samples rows, one copy), kept for the density
    // metrics of a flow (NLL, RNLL, ESS) and, with a corrector, for the metrics before it.
    let has_corrector = asm.corrector.is_some();
    let n_raw = r.eval.samples * samples.dim;
    let raw = (has_corrector || samples.log_q.is_some()).then(|| {
        (
            samples.x[..n_raw].to_vec(),
            samples.log_q.as_ref().map(|l| l[..r.eval.samples].to_vec()),
        )
    });
    let (samples, corrector_report) = match asm.corrector.as_mut() {
        Some(c) => {
            let corrected = c.correct(samples, &asm.target, &asm.streams.derive("corrector"))?;
            (corrected.samples, corrected.report)
        }
        None => (samples, Vec::new()),
    };
    let correct_evals = asm.target.evals() - train_evals - sample_evals;
    write_npy(&dir.join("samples.npy"), &samples.x, samples.dim)?;

    let t2 = Instant::now();
    let flow = asm.model.as_deref().and_then(|m| m.as_flow());
    let log_prob = |rows: &[f32]| -> anyhow::Result<Vec<f32>> {
        let f = flow.ok_or_else(|| anyhow::anyhow!("no flow"))?;
        let d = asm.target.dim();
        let mut out = Vec::with_capacity(rows.len() / d);
        for c in rows.chunks(4096 * d) {
            let x = nsamp_core::candle::Tensor::from_slice(c, (c.len() / d, d), &asm.device)?;
            out.extend(f.log_prob(&x)?.to_vec1::<f32>()?);
        }
        Ok(out)
    };
    let model = || match (&raw, flow) {
        (Some((x, Some(lq))), Some(_)) => Some(eval::ModelSamples {
            x,
            log_q: lq,
            log_prob: &log_prob,
        }),
        _ => None,
    };
    let evaluation = eval::evaluate(
        asm.target.inner(),
        &samples.x,
        &r.eval,
        &asm.streams.derive("exact-floor"),
        model(),
    )?;
    // With a corrector, the same metrics of the sampler's own output, to show what it changed.
    let uncorrected = match (&raw, has_corrector) {
        (Some((raw, _)), true) => {
            let mut settings = r.eval.clone();
            settings.exact_floor = false;
            let streams = asm.streams.derive("exact-floor");
            Some(eval::evaluate(asm.target.inner(), raw, &settings, &streams, model())?.metrics)
        }
        _ => None,
    };
    let eval_time = t2.elapsed().as_secs_f64();
    // Mixture targets: every component's share of the samples, after and before the corrector.
    let occupancy = asm.target.inner().mixture().map(|mix| {
        let share = |x: &[f32]| nsamp_core::metrics::modes::mode_coverage(mix, x, None).occupancy;
        let before = match (&raw, has_corrector) {
            (Some((x, _)), true) => Some(share(x)),
            _ => None,
        };
        (mix.weights.clone(), share(&samples.x), before)
    });

    let report = json!({
        "recipe": r.name,
        "seed": r.seed,
        "threads": n_threads,
        "nsamp_version": env!("CARGO_PKG_VERSION"),
        "target": r.target.name,
        "model": asm.describe_model(),
        "parameters": asm.parameters(),
        "objective": r.objective.name,
        "train_steps": r.train.steps,
        "train_diagnostics": final_diagnostics(&history),
        "metrics": evaluation.metrics,
        "exact_floor": evaluation.exact_floor,
        "metrics_before_corrector": uncorrected,
        "mode_occupancy": occupancy.as_ref().map(|(w, after, before)| json!({
            "weights": w,
            "samples": after,
            "before_corrector": before,
        })),
        "corrector": corrector_report.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
        "energy_evals": {
            "training": train_evals,
            "sampling": sample_evals,
            "correction": correct_evals,
        },
        "wall_time_s": {
            "training": train_time,
            "sampling": sample_time,
            "evaluation": eval_time,
        },
        "eval_protocol": {
            "samples": evaluation.n_samples,
            "reference": evaluation.reference,
            "n_reference": evaluation.n_reference,
        },
    });
    write_atomic(
        &dir.join("metrics.json"),
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )?;
    let pretty = ron::ser::PrettyConfig::new();
    write_atomic(
        &dir.join("metrics.ron"),
        ron::ser::to_string_pretty(&report, pretty)?.as_bytes(),
    )?;

    plots::write_all(
        &dir,
        asm.target.inner(),
        &samples.x,
        &evaluation.reference_rows,
    )
    .unwrap_or_else(|e| log.line(&format!("warning: plots not written: {e:#}"), true));
    if let Some((w, after, before)) = &occupancy {
        let fmt = |v: &[f64]| {
            v.iter()
                .map(|o| format!("{o:.3}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        log.line(&format!("share per component: {}", fmt(after)), true);
        if let Some(b) = before {
            log.line(&format!("  before the corrector: {}", fmt(b)), true);
        }
        plots::occupancy(&dir.join("occupancy.png"), w, after, before.as_deref())
            .unwrap_or_else(|e| log.line(&format!("warning: occupancy plot: {e:#}"), true));
    }

    log.line(
        &format!(
            "done: training {train_time:.1}s ({train_evals} energy evals), sampling {sample_time:.1}s ({sample_evals}), evaluation {eval_time:.1}s"
        ),
        true,
    );
    print!("{}", metrics_table(&evaluation));
    if let Some(u) = &uncorrected {
        println!("before the corrector (the sampler's own output):");
        for (k, v) in u {
            println!("  {k:<20} {v:>12.4}");
        }
    }
    if !corrector_report.is_empty() {
        println!("the corrector's report:");
    }
    for (k, v) in &corrector_report {
        println!("  {k:<20} {v:>12.4}");
    }
    println!(
        "energy evaluations: training {train_evals}, sampling {sample_evals}, correction \
         {correct_evals}\nrun directory: {}",
        dir.display()
    );
    Ok(RunOutcome {
        dir,
        evaluation,
        report,
    })
}

fn train_phase(
    asm: &mut Assembled,
    dir: &Path,
    log: &mut Log,
    started: Instant,
) -> anyhow::Result<Vec<StepRecord>> {
    let steps = asm.recipe.train.steps;
    let settings = asm.recipe.train.clone();
    let varmap = asm.varmap.clone();
    let (objective, cx) = asm.split();
    log.line(
        "initialising the objective (e.g. the initial replay buffer)...",
        true,
    );
    objective.init(&cx)?;
    log.line(
        &format!(
            "initialised in {:.1}s ({} energy evals); training {} steps",
            started.elapsed().as_secs_f64(),
            cx.target.evals(),
            steps
        ),
        true,
    );
    let pb = if interactive() {
        progress_bar(steps, "training")
    } else {
        ProgressBar::hidden()
    };
    let mut watch = Watch {
        pb,
        log,
        history: Vec::with_capacity(steps as usize),
        dir,
        varmap: varmap.as_ref(),
        settings: &settings,
        started,
    };
    let res = train::train(objective, varmap.as_ref(), &cx, &settings, &mut watch);
    watch.pb.finish_and_clear();
    watch.save()?;
    if watch.history.iter().any(|r| !r.diagnostics.is_empty()) {
        plots::diagnostics(&dir.join("diagnostics.png"), &watch.history).unwrap_or_else(|e| {
            watch.log.line(
                &format!("warning: diagnostics plot not written: {e:#}"),
                true,
            )
        });
    }
    if !watch.history.is_empty() {
        plots::loss_curve(&dir.join("loss.png"), &watch.history).unwrap_or_else(|e| {
            watch
                .log
                .line(&format!("warning: loss plot not written: {e:#}"), true)
        });
    }
    res.map(|()| watch.history)
}

fn sample_phase(
    asm: &Assembled,
    n: usize,
    streams: &nsamp_core::numerics::rng::RngStreams,
) -> anyhow::Result<Samples> {
    let mut sampler = asm
        .objective
        .sampler(asm.model.as_deref(), &asm.target, &asm.device)?;
    let pb = if interactive() {
        progress_bar(1, "sampling")
    } else {
        ProgressBar::hidden()
    };
    let s = sampler.sample(n, streams, &mut |done, total| {
        pb.set_length(total);
        pb.set_position(done);
    })?;
    pb.finish_and_clear();
    anyhow::ensure!(
        s.x.iter().all(|v| v.is_finite()),
        "the sampler produced non-finite samples"
    );
    Ok(s)
}

/// Means of the loss, gradient norm and the objective's diagnostics over the last 10% of steps.
pub fn final_diagnostics(history: &[StepRecord]) -> std::collections::BTreeMap<String, f64> {
    let mut out = std::collections::BTreeMap::new();
    if history.is_empty() {
        return out;
    }
    let tail = &history[history.len() - (history.len() / 10).max(1)..];
    let n = tail.len() as f64;
    out.insert("loss".into(), tail.iter().map(|r| r.loss).sum::<f64>() / n);
    out.insert(
        "grad_norm".into(),
        tail.iter().map(|r| r.grad_norm).sum::<f64>() / n,
    );
    for (i, (k, _)) in tail[0].diagnostics.iter().enumerate() {
        out.insert(
            k.clone(),
            tail.iter().map(|r| r.diagnostics[i].1).sum::<f64>() / n,
        );
    }
    out
}

/// A metrics table with the exact floor beside each value.
pub fn metrics_table(e: &Evaluation) -> String {
    let mut s = format!(
        "metrics ({} samples vs {} reference: {}):\n",
        e.n_samples, e.n_reference, e.reference
    );
    s.push_str(&format!(
        "  {:<20} {:>12} {:>12}\n",
        "metric", "value", "exact floor"
    ));
    for (k, v) in &e.metrics {
        let floor = e
            .exact_floor
            .as_ref()
            .and_then(|f| f.get(k))
            .map(|f| format!("{f:>12.4}"))
            .unwrap_or_else(|| format!("{:>12}", "-"));
        s.push_str(&format!("  {k:<20} {v:>12.4} {floor}\n"));
    }
    s
}

fn rebuild_from_run(run_dir: &Path) -> anyhow::Result<Assembled> {
    let recipe_path = run_dir.join("recipe.ron");
    anyhow::ensure!(
        recipe_path.is_file(),
        "{} is not a run directory (no recipe.ron)",
        run_dir.display()
    );
    let recipe = Recipe::from_file(&recipe_path)?;
    let mut asm = Assembled::new(recipe)?;
    if asm.varmap.is_some() {
        asm.load_checkpoint(&run_dir.join("model.safetensors"))?;
    }
    Ok(asm)
}

/// `nsamp sample`.
pub fn sample(
    run_dir: &Path,
    n: usize,
    out: Option<PathBuf>,
    seed: Option<u64>,
    raw: bool,
    threads_flag: Option<usize>,
) -> anyhow::Result<()> {
    anyhow::ensure!(n > 0, "-n must be at least 1");
    let recipe = Recipe::from_file(&run_dir.join("recipe.ron"))
        .with_context(|| format!("{} is not a run directory", run_dir.display()))?;
    setup_threads(threads_flag, &recipe)?;
    let mut asm = rebuild_from_run(run_dir)?;
    let seed = seed.unwrap_or(asm.recipe.seed.wrapping_add(1));
    let streams = nsamp_core::numerics::rng::RngStreams::new(seed).derive("sample-command");
    let per_sample = match (&asm.corrector, raw) {
        (Some(c), false) => c.proposals_per_sample(),
        _ => 1,
    };
    let mut s = sample_phase(&asm, n * per_sample, &streams)?;
    if !raw {
        if let Some(c) = asm.corrector.as_mut() {
            let corrected = c.correct(s, &asm.target, &streams.derive("corrector"))?;
            for (k, v) in &corrected.report {
                println!("corrector {k}: {v:.4}");
            }
            s = corrected.samples;
        }
    }
    let out = out.unwrap_or_else(|| run_dir.join(format!("samples-{n}.npy")));
    write_npy(&out, &s.x, s.dim)?;
    println!(
        "wrote {n} samples ({} x {}) to {} ({} energy evaluations)",
        n,
        s.dim,
        out.display(),
        asm.target.evals()
    );
    Ok(())
}

/// `nsamp eval`.
pub fn evaluate(
    source: &Path,
    samples: Option<PathBuf>,
    reference: Option<PathBuf>,
    as_json: bool,
    threads_flag: Option<usize>,
) -> anyhow::Result<()> {
    let (mut recipe, default_samples) = if source.is_dir() {
        (
            Recipe::from_file(&source.join("recipe.ron"))
                .with_context(|| format!("{} is not a run directory", source.display()))?,
            Some(source.join("samples.npy")),
        )
    } else {
        (Recipe::from_file(source)?, None)
    };
    setup_threads(threads_flag, &recipe)?;
    if let Some(r) = reference {
        recipe.eval.reference = Reference::File(r.display().to_string());
    }
    let samples_path = samples.or(default_samples).ok_or_else(|| {
        anyhow::anyhow!("give --samples FILE.npy (or a run directory that holds samples.npy)")
    })?;
    ensure_registry()?;
    let target = recipe.target.config.build()?;
    let x = eval::load_rows(&samples_path, target.dim())?;
    let streams = nsamp_core::numerics::rng::RngStreams::new(recipe.seed).derive("exact-floor");
    let e = eval::evaluate(&*target, &x, &recipe.eval, &streams, None)?;
    if as_json {
        let v = json!({
            "samples": samples_path.display().to_string(),
            "metrics": e.metrics,
            "exact_floor": e.exact_floor,
            "n_samples": e.n_samples,
            "n_reference": e.n_reference,
            "reference": e.reference,
        });
        println!("{}", serde_json::to_string(&v)?);
    } else {
        print!("{}", metrics_table(&e));
    }
    Ok(())
}
