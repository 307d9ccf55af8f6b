//! `nsamp sweep`: a recipe for several seeds, then one table. A sweep directory holds
//! `sweep.json` (the recipe's name, the seeds, the Slurm job id if submitted), `recipe.ron` (the
//! recipe with its overrides) and one run directory `seed-<seed>` per seed; `nsamp table SWEEP`
//! reads it.

use super::{load_recipe, table};
use crate::ui::rundir;
use nsamp_core::io::write_atomic;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// `sweep.json`: what a sweep directory should hold.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// The recipe's name.
    pub recipe: String,
    /// The seeds, one run directory `seed-<seed>` each.
    pub seeds: Vec<u64>,
    /// The Slurm job id of the array, if submitted.
    #[serde(default)]
    pub slurm_job: Option<String>,
}

impl Manifest {
    /// The run directory of `seed`.
    pub fn run_dir(sweep: &Path, seed: u64) -> PathBuf {
        sweep.join(format!("seed-{seed}"))
    }
    /// Reads `dir/sweep.json`, if `dir` is a sweep directory.
    pub fn read(dir: &Path) -> anyhow::Result<Option<Manifest>> {
        let p = dir.join("sweep.json");
        if !p.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&p)?;
        Ok(Some(serde_json::from_str(&text).map_err(|e| {
            anyhow::anyhow!("{}: not a sweep manifest: {e}", p.display())
        })?))
    }
    /// Writes `dir/sweep.json`.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        write_atomic(
            &dir.join("sweep.json"),
            serde_json::to_string_pretty(self)?.as_bytes(),
        )
    }
}

/// The seeds of a sweep: the recipe's seed, seed + 1, ...
pub fn seeds_of(first: u64, n: u64) -> Vec<u64> {
    (0..n).map(|i| first.wrapping_add(i)).collect()
}

/// Creates the sweep directory with its manifest and recipe; returns it and the manifest.
pub fn prepare(
    path: &Path,
    seeds: u64,
    out: Option<PathBuf>,
    sets: &[String],
) -> anyhow::Result<(PathBuf, Manifest)> {
    anyhow::ensure!(seeds >= 1, "--seeds must be at least 1");
    let recipe = load_recipe(path, sets)?;
    let dir = match out {
        Some(p) => rundir::create(Some(&p), &recipe.name)?,
        None => rundir::create(None, &format!("{}-sweep", recipe.name))?,
    };
    write_atomic(&dir.join("recipe.ron"), recipe.to_ron()?.as_bytes())?;
    let manifest = Manifest {
        recipe: recipe.name.clone(),
        seeds: seeds_of(recipe.seed, seeds),
        slurm_job: None,
    };
    manifest.write(&dir)?;
    Ok((dir, manifest))
}

/// Runs the recipe for `seeds` seeds here, one after another, and writes table.md/table.json.
pub fn sweep(
    path: &Path,
    seeds: u64,
    out: Option<PathBuf>,
    sets: &[String],
    threads_flag: Option<usize>,
) -> anyhow::Result<()> {
    let (dir, manifest) = prepare(path, seeds, out, sets)?;
    let stored = dir.join("recipe.ron");
    let mut runs = Vec::new();
    for (i, &seed) in manifest.seeds.iter().enumerate() {
        let run_dir = Manifest::run_dir(&dir, seed);
        eprintln!("sweep: seed {seed} ({}/{seeds})", i + 1);
        super::run::run(
            &stored,
            Some(&run_dir),
            &[format!("seed={seed}")],
            threads_flag,
        )?;
        runs.push(run_dir);
    }
    let t = table::build(&runs)?;
    table::write(&dir, &t)?;
    print!("{}", t.markdown);
    println!(
        "table: {}/table.md, {}/table.json",
        dir.display(),
        dir.display()
    );
    Ok(())
}
