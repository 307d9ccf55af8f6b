//! Seed sweeps and result tables: one row per method (recipe name), mean +- sample standard
//! deviation over its runs of every metric, wall time and energy evaluations, with the exact floor
//! of each target as its own row. Written as markdown and JSON.

use anyhow::Context as _;
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

fn read_metrics(dir: &Path) -> anyhow::Result<Value> {
    let p = dir.join("metrics.json");
    let text = std::fs::read_to_string(&p).with_context(|| {
        format!(
            "{} has no metrics.json (not a finished run?)",
            dir.display()
        )
    })?;
    Ok(serde_json::from_str(&text)?)
}

/// A finished table: markdown and JSON.
pub struct Table {
    /// Markdown text.
    pub markdown: String,
    /// JSON value.
    pub json: Value,
}

/// Builds the table from finished run directories.
pub fn build(runs: &[PathBuf]) -> anyhow::Result<Table> {
    anyhow::ensure!(!runs.is_empty(), "no run directories given");
    // method -> list of metrics.json
    let mut groups: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut floors: BTreeMap<String, Value> = BTreeMap::new();
    for r in runs {
        let m = read_metrics(r)?;
        let name = m["recipe"].as_str().unwrap_or("?").to_string();
        let target = m["target"].as_str().unwrap_or("?").to_string();
        if m["exact_floor"].is_object() {
            floors
                .entry(target)
                .or_insert_with(|| m["exact_floor"].clone());
        }
        groups.entry(name).or_default().push(m);
    }
    let preferred = ["W1", "W2", "E-TVD", "S-TVD", "mode_coverage", "mode_tvd"];
    let mut names: Vec<String> = preferred.iter().map(|s| s.to_string()).collect();
    for ms in groups.values() {
        for m in ms {
            if let Some(o) = m["metrics"].as_object() {
                for k in o.keys() {
                    if !names.contains(k) && k != "mean_energy" && k != "modes_covered" {
                        names.push(k.clone());
                    }
                }
            }
        }
    }
    names.retain(|n| {
        groups
            .values()
            .flatten()
            .any(|m| m["metrics"][n].is_number())
    });
    let mut md = format!(
        "| method | target | seeds | {} | wall time (s) | energy evals |\n|{}\n",
        names.join(" | "),
        "---|".repeat(names.len() + 5)
    );
    let mut rows = Vec::new();
    for (method, ms) in &groups {
        let col =
            |f: &dyn Fn(&Value) -> Option<f64>| -> Vec<f64> { ms.iter().filter_map(f).collect() };
        let mut cells = Vec::new();
        let mut metrics = serde_json::Map::new();
        for n in &names {
            let v = col(&|m: &Value| m["metrics"][n].as_f64());
            if v.is_empty() {
                cells.push("-".to_string());
                continue;
            }
            let (mu, sd) = mean_std(&v);
            cells.push(format!("{mu:.3} ± {sd:.3}"));
            metrics.insert(n.clone(), json!({"mean": mu, "std": sd}));
        }
        let wall = col(&|m: &Value| {
            Some(m["wall_time_s"]["training"].as_f64()? + m["wall_time_s"]["sampling"].as_f64()?)
        });
        let evals = col(&|m: &Value| {
            Some(
                (m["energy_evals"]["training"].as_u64()?
                    + m["energy_evals"]["sampling"].as_u64()?) as f64,
            )
        });
        let (wm, ws) = mean_std(&wall);
        let (em, _) = mean_std(&evals);
        let target = ms[0]["target"].as_str().unwrap_or("?");
        md.push_str(&format!(
            "| {method} | {target} | {} | {} | {wm:.1} ± {ws:.1} | {em:.3e} |\n",
            ms.len(),
            cells.join(" | ")
        ));
        let seeds: Vec<Value> = ms.iter().map(|m| m["seed"].clone()).collect();
        rows.push(json!({
            "method": method, "target": target, "seeds": seeds, "metrics": metrics,
            "wall_time_s": {"mean": wm, "std": ws}, "energy_evals": {"mean": em},
        }));
    }
    for (target, f) in &floors {
        let cells: Vec<String> = names
            .iter()
            .map(|n| {
                f[n].as_f64()
                    .map(|v| format!("{v:.3}"))
                    .unwrap_or_else(|| "-".into())
            })
            .collect();
        md.push_str(&format!(
            "| exact floor | {target} | - | {} | - | - |\n",
            cells.join(" | ")
        ));
    }
    Ok(Table {
        markdown: md,
        json: json!({"rows": rows, "exact_floor": floors}),
    })
}

/// Writes `table.md` and `table.json` into `dir`.
pub fn write(dir: &Path, t: &Table) -> anyhow::Result<()> {
    nsamp_core::io::write_atomic(&dir.join("table.md"), t.markdown.as_bytes())?;
    nsamp_core::io::write_atomic(
        &dir.join("table.json"),
        serde_json::to_string_pretty(&t.json)?.as_bytes(),
    )
}
