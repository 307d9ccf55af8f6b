//! Seed sweeps and result tables: one row per method (recipe name), mean +- sample standard
//! deviation over its runs of every metric, wall time and energy evaluations, with the floor of
//! each target (mean over the seeds) as its own row and the evaluation protocol named above the
//! table. Written as markdown and JSON.

use anyhow::Context as _;
use nsamp_core::experiment::Figures;
use nsamp_core::RunReport;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Mean and sample standard deviation (0 for one value).
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let s = if v.len() > 1 {
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    (m, s)
}

/// Reads a finished run's report (metrics.json).
pub fn read_report(dir: &Path) -> anyhow::Result<RunReport> {
    let p = dir.join("metrics.json");
    let text = std::fs::read_to_string(&p).with_context(|| {
        format!(
            "{} has no metrics.json (not a finished run?)",
            dir.display()
        )
    })?;
    serde_json::from_str(&text).with_context(|| format!("{}: not a run report", p.display()))
}

/// What an unfinished run directory shows.
fn status(dir: &Path) -> String {
    if !dir.is_dir() {
        return "not started".into();
    }
    let log = std::fs::read_to_string(dir.join("log.txt")).unwrap_or_default();
    // The last segment's outcome: the last FAILED or stopped line, whichever came last.
    let last = log.lines().rev().find(|l| {
        l.starts_with("FAILED:") || l.starts_with("stopped by") || l.starts_with("resumed from")
    });
    if let Some(l) = last.filter(|l| l.starts_with("FAILED:")) {
        return format!("failed ({})", l.trim_start_matches("FAILED:").trim());
    }
    let at = nsamp_core::checkpoint::exists(dir)
        .then(|| nsamp_core::checkpoint::read(dir).ok().map(|s| s.steps_done))
        .flatten();
    let stopped = last.filter(|l| l.starts_with("stopped by"));
    match (at, stopped) {
        (Some(k), Some(_)) => format!(
            "stopped after step {k}: continue with `nsamp resume {}`",
            dir.display()
        ),
        (Some(k), None) => format!("running or killed; checkpoint after step {k}"),
        (None, _) => "running or killed before its first checkpoint".into(),
    }
}

/// The run directories the arguments stand for: a sweep directory (with `sweep.json`) stands
/// for its seeds' runs. Returns the finished runs and a line for each seed not finished.
pub fn expand(args: &[PathBuf]) -> anyhow::Result<(Vec<PathBuf>, Vec<String>)> {
    let (mut runs, mut missing) = (Vec::new(), Vec::new());
    for a in args {
        match super::sweep::Manifest::read(a)? {
            Some(m) => {
                for &seed in &m.seeds {
                    let d = super::sweep::Manifest::run_dir(a, seed);
                    if d.join("metrics.json").is_file() {
                        runs.push(d);
                    } else {
                        missing.push(format!("{} seed {seed}: {}", m.recipe, status(&d)));
                    }
                }
            }
            None => runs.push(a.clone()),
        }
    }
    Ok((runs, missing))
}

/// `nsamp table`: prints the table (markdown or JSON), and writes it into `out` if given.
/// Seeds of a sweep directory that have not finished are listed (on stderr and under the
/// markdown table).
pub fn command(
    runs: &[PathBuf],
    out: Option<&Path>,
    json: bool,
    budget: Option<f64>,
) -> anyhow::Result<()> {
    let (runs, missing) = expand(runs)?;
    if runs.is_empty() {
        anyhow::bail!("no finished run yet:\n  {}", missing.join("\n  "));
    }
    // The budget plot shows every finished run (each method at every size it was run at).
    let all_runs = runs.clone();
    let (runs, over) = match budget {
        Some(n) => {
            anyhow::ensure!(
                n.is_finite() && n > 0.0,
                "--budget must be a positive number of energy evaluations, got {n}"
            );
            within_budget(&runs, n)?
        }
        None => (runs, Vec::new()),
    };
    if runs.is_empty() {
        anyhow::bail!("no run within the budget:\n  {}", over.join("\n  "));
    }
    let runs = &runs[..];
    let mut t = build(runs)?;
    if let Some(n) = budget {
        let mut note = format!(
            "\nAt an equal budget: every run above spent at most {n:.3e} energy evaluations \
             (training + sampling + correction), the most of its method's runs for that seed.\n"
        );
        if !over.is_empty() {
            note.push_str(&format!(
                "Over the budget (no run within {n:.3e}):\n{}",
                over.iter().map(|m| format!("- {m}\n")).collect::<String>()
            ));
        }
        t.markdown.push_str(&note);
        t.json["budget"] = json!({"energy_evals": n, "over": over});
    }
    if !missing.is_empty() {
        let note = format!(
            "\nNot in the table ({} seeds):\n{}\n",
            missing.len(),
            missing
                .iter()
                .map(|m| format!("- {m}\n"))
                .collect::<String>()
        );
        eprint!("{note}");
        t.markdown.push_str(&note);
        t.json["missing"] = json!(missing);
    }
    if let Some(dir) = out {
        crate::ui::rundir::output_dir(dir)?;
        write(dir, &t)?;
        write_traces(dir, runs)?;
        write_budget_plot(dir, &all_runs)?;
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&t.json)?);
    } else {
        print!("{}", t.markdown);
    }
    Ok(())
}

/// The runs an equal-budget table keeps: for every (method, seed), the run with the most energy
/// evaluations not above `budget`; and a line for every method none of whose runs fits, with the
/// least any of them spent.
pub fn within_budget(runs: &[PathBuf], budget: f64) -> anyhow::Result<(Vec<PathBuf>, Vec<String>)> {
    let mut best: BTreeMap<(String, u64), (u64, PathBuf)> = BTreeMap::new();
    let mut least: BTreeMap<String, u64> = BTreeMap::new();
    for r in runs {
        let m = read_report(r)?;
        let spent = m.energy_evals.total();
        let low = least.entry(m.recipe.clone()).or_insert(spent);
        *low = (*low).min(spent);
        if spent as f64 <= budget {
            let e = best
                .entry((m.recipe.clone(), m.seed))
                .or_insert((spent, r.clone()));
            if spent > e.0 {
                *e = (spent, r.clone());
            }
        }
    }
    let kept: Vec<PathBuf> = best.values().map(|(_, p)| p.clone()).collect();
    let over = least
        .iter()
        .filter(|(method, _)| !best.keys().any(|(m, _)| m == *method))
        .map(|(method, low)| format!("{method}: its runs spent {:.3e} or more", *low as f64))
        .collect();
    Ok((kept, over))
}

/// A finished table: markdown and JSON.
pub struct Table {
    /// Markdown text.
    pub markdown: String,
    /// JSON value.
    pub json: Value,
}

/// Metric columns: the usual ones first, then any other a run reports (finite somewhere).
fn columns(groups: &BTreeMap<String, Vec<RunReport>>) -> Vec<String> {
    let preferred = ["W1", "W2", "E-TVD", "S-TVD", "mode_coverage", "mode_tvd"];
    let mut names: Vec<String> = preferred.iter().map(|s| s.to_string()).collect();
    for m in groups.values().flatten() {
        for k in m.metrics.keys() {
            if !names.contains(k) && k != "mean_energy" && k != "modes_covered" {
                names.push(k.clone());
            }
        }
    }
    names.retain(|n| {
        groups
            .values()
            .flatten()
            .any(|m| m.metrics.get(n).is_some_and(|v| v.is_finite()))
    });
    names
}

/// One method's row: markdown and JSON.
fn row(method: &str, ms: &[RunReport], names: &[String]) -> (String, Value) {
    let mut cells = Vec::new();
    let mut metrics = serde_json::Map::new();
    for n in names {
        let v: Vec<f64> = ms
            .iter()
            .filter_map(|m| m.metrics.get(n).copied().filter(|v| v.is_finite()))
            .collect();
        if v.is_empty() {
            cells.push("-".to_string());
            continue;
        }
        let (mu, sd) = mean_std(&v);
        cells.push(format!("{mu:.3} ± {sd:.3}"));
        metrics.insert(n.clone(), json!({"mean": mu, "std": sd}));
    }
    let wall: Vec<f64> = ms
        .iter()
        .map(|m| m.wall_time_s.training + m.wall_time_s.sampling)
        .collect();
    let evals: Vec<f64> = ms.iter().map(|m| m.energy_evals.total() as f64).collect();
    let (wm, ws) = mean_std(&wall);
    let (em, _) = mean_std(&evals);
    let target = &ms[0].target;
    let md = format!(
        "| {method} | {target} | {} | {} | {wm:.1} ± {ws:.1} | {em:.3e} |\n",
        ms.len(),
        cells.join(" | ")
    );
    let seeds: Vec<u64> = ms.iter().map(|m| m.seed).collect();
    let json = json!({
        "method": method, "target": target, "seeds": seeds, "metrics": metrics,
        "wall_time_s": {"mean": wm, "std": ws}, "energy_evals": {"mean": em},
    });
    (md, json)
}

/// The evaluation protocol of the runs, as the line above the table: sample and reference sizes
/// of the metrics, of the nsamp protocol's TVDs, and what the `community/` columns are. Runs
/// scored under different protocols are listed apart (their columns do not compare).
fn protocol_note(reports: &[&RunReport]) -> (String, Value) {
    let mut kinds: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in reports {
        let p = &m.eval_protocol;
        let tvd = if p.tvd_samples == 0 {
            // Reports written before `eval.tvd_samples` existed: the TVD set and the
            // Freedman-Diaconis bins came in the same change.
            "the same samples, with the former bins (floor(sqrt(n)) for E-TVD and D-TVD, \
             round(n^(1/4)) per axis for S-TVD)"
                .to_string()
        } else {
            format!("{} samples against {} rows", p.tvd_samples, p.tvd_reference)
        };
        let line = format!(
            "W1, W2 and the other metrics on {} samples against {} reference rows ({}); the nsamp \
             protocol's TVDs (E-TVD, S-TVD, D-TVD) on {tvd}",
            p.samples, p.n_reference, p.reference
        );
        kinds
            .entry(line)
            .or_default()
            .push(format!("{} seed {}", m.recipe, m.seed));
    }
    let community = "columns named `community/...` are the community protocol (DEM's evaluation \
                     code, README \"The community protocol\") on the first set's samples; the \
                     others nsamp's (README \"Evaluation protocol\")";
    let md = if kinds.len() == 1 {
        let line = kinds.keys().next().map(String::as_str).unwrap_or_default();
        format!("Protocol: {line}; {community}.\n\n")
    } else {
        let mut s = format!(
            "Protocol: the runs were scored under {} different protocols (their columns do not \
             compare; {community}):\n",
            kinds.len()
        );
        for (line, runs) in &kinds {
            s.push_str(&format!("- {line}: {}\n", runs.join(", ")));
        }
        s.push('\n');
        s
    };
    let json = json!(kinds
        .iter()
        .map(|(line, runs)| json!({"protocol": line, "runs": runs}))
        .collect::<Vec<_>>());
    (md, json)
}

/// Builds the table from finished run directories: one row per recipe name (trained and
/// training-free methods alike), then the floor of each target (exact or split-half), mean ±
/// standard deviation over the seeds it was drawn for (an exact floor depends on the seed), and
/// above the table the protocol the runs were scored under.
pub fn build(runs: &[PathBuf]) -> anyhow::Result<Table> {
    anyhow::ensure!(!runs.is_empty(), "no run directories given");
    let mut groups: BTreeMap<String, Vec<RunReport>> = BTreeMap::new();
    // (floor kind, target) -> seed -> the floor's figures.
    let mut floors: BTreeMap<(String, String), BTreeMap<u64, Figures>> = BTreeMap::new();
    for r in runs {
        let m = read_report(r)?;
        if let Some((kind, f)) = m.floor() {
            floors
                .entry((kind.to_string(), m.target.clone()))
                .or_default()
                .entry(m.seed)
                .or_insert_with(|| f.clone());
        }
        groups.entry(m.recipe.clone()).or_default().push(m);
    }
    let names = columns(&groups);
    let reports: Vec<&RunReport> = groups.values().flatten().collect();
    let (mut md, protocol) = protocol_note(&reports);
    md.push_str(&format!(
        "| method | target | seeds | {} | wall time (s) | energy evals |\n|{}\n",
        names.join(" | "),
        "---|".repeat(names.len() + 5)
    ));
    let mut rows = Vec::new();
    for (method, ms) in &groups {
        let (line, json) = row(method, ms, &names);
        md.push_str(&line);
        rows.push(json);
    }
    let mut floor_json = Vec::new();
    for ((kind, target), by_seed) in &floors {
        let mut metrics = serde_json::Map::new();
        let cells: Vec<String> = names
            .iter()
            .map(|n| {
                let v: Vec<f64> = by_seed
                    .values()
                    .filter_map(|f| f.get(n).copied().filter(|v| v.is_finite()))
                    .collect();
                if v.is_empty() {
                    return "-".into();
                }
                let (mu, sd) = mean_std(&v);
                metrics.insert(n.clone(), json!({"mean": mu, "std": sd}));
                if v.len() > 1 {
                    format!("{mu:.3} ± {sd:.3}")
                } else {
                    format!("{mu:.3}")
                }
            })
            .collect();
        md.push_str(&format!(
            "| {kind} | {target} | {} | {} | - | - |\n",
            by_seed.len(),
            cells.join(" | ")
        ));
        let seeds: Vec<u64> = by_seed.keys().copied().collect();
        floor_json
            .push(json!({"kind": kind, "target": target, "seeds": seeds, "metrics": metrics}));
    }
    Ok(Table {
        markdown: md,
        json: json!({"protocol": protocol, "rows": rows, "floors": floor_json}),
    })
}

/// Reads a run's trace.csv (particle samplers), if it has one.
pub fn read_trace(dir: &Path) -> anyhow::Result<Option<nsamp_core::Trace>> {
    let p = dir.join("trace.csv");
    let Ok(text) = std::fs::read_to_string(&p) else {
        return Ok(None);
    };
    let mut lines = text.lines();
    let columns: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .map(|l| {
            l.split(',')
                .map(|v| v.parse::<f64>())
                .collect::<Result<Vec<f64>, _>>()
        })
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{}: not a trace", p.display()))?;
    Ok(Some(nsamp_core::Trace {
        columns,
        rows,
        paths: Vec::new(),
    }))
}

/// `traces.png` in `dir`: the traces of every run that has one, on one figure (SBTM beside ULA
/// and the exact flow). Nothing when no run has a trace.
pub fn write_traces(dir: &Path, runs: &[PathBuf]) -> anyhow::Result<()> {
    let mut traces = Vec::new();
    for r in runs {
        if let Some(t) = read_trace(r)? {
            traces.push((read_report(r)?.recipe, t));
        }
    }
    if traces.is_empty() {
        return Ok(());
    }
    crate::ui::plots::traces_plot(&dir.join("traces.png"), &traces)
}

/// `budget.png`: every metric of every run against its energy evaluations (the sum of training,
/// sampling and correction; log axis), one colour per method, the exact floor as a dashed line:
/// methods compared at the budget each spent.
pub fn write_budget_plot(dir: &Path, runs: &[PathBuf]) -> anyhow::Result<()> {
    let reports = runs
        .iter()
        .map(|r| read_report(r))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if reports.iter().all(|r| r.energy_evals.total() == 0) {
        return Ok(());
    }
    crate::ui::plots::budget_plot(&dir.join("budget.png"), &reports)
}

/// Writes `table.md` and `table.json` into `dir`.
pub fn write(dir: &Path, t: &Table) -> anyhow::Result<()> {
    nsamp_core::io::write_atomic(&dir.join("table.md"), t.markdown.as_bytes())?;
    nsamp_core::io::write_atomic(
        &dir.join("table.json"),
        serde_json::to_string_pretty(&t.json)?.as_bytes(),
    )
}
