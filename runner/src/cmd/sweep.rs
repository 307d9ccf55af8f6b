//! `nsamp sweep`: a recipe for several seeds, then one table.

use super::{load_recipe, table};
use crate::ui::rundir;
use std::path::{Path, PathBuf};

/// Runs the recipe for `seeds` seeds (its seed, seed + 1, ...) and writes table.md/table.json.
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
        super::run::run(path, Some(&run_dir), &s, threads_flag)?;
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
