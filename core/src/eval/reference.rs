//! Where a run's reference set comes from: exact samples, an external file, or a long-MCMC set
//! that draws itself on first use and is cached.
//!
//! `Mcmc(n: 10000, sampler: Hmc(leapfrog: 10))` draws n states with the named training-free
//! sampler from `eval.reference_seed` and caches them under the cache directory
//! (`NSAMP_CACHE`, else `$XDG_CACHE_HOME/nsamp`, else `~/.cache/nsamp`) as
//! `references/<target>-<key>.npy` with its provenance in `<...>.npy.json`. The key is a hash of
//! the target's config, the sampler's resolved config (every default filled in), n, the seed and
//! nsamp's version, so any change draws a new set and the same recipe on the same machine
//! reuses it.

use super::load_rows;
use crate::experiment::observer::Observer;
use crate::io::{write_atomic, write_npy};
use crate::numerics::rng::{Rng, RngStreams};
use crate::registry::{families, Spec};
use crate::target::CountedTarget;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where the reference set comes from.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub enum Reference {
    /// Fresh exact samples of the target (needs an exact sampler), drawn from `reference_seed`.
    #[default]
    Exact,
    /// An `.npy` file (n x dim, data units), path relative to the working directory.
    File(String),
    /// `n` states of a training-free sampler (`Mala(...)`, `Hmc(...)`), drawn from
    /// `reference_seed` on first use and cached (module documentation).
    Mcmc {
        /// Number of reference states.
        n: usize,
        /// The sampler that draws them.
        sampler: Spec<families::Sampler>,
    },
}

/// A reference set and where it came from.
pub struct ReferenceSet {
    /// Rows, n x dim, data units.
    pub rows: Vec<f32>,
    /// One line describing the source (shown in metrics.json's `eval_protocol.reference`).
    pub description: String,
    /// Where the rows came from, as a JSON object with a `kind` (`exact`, `file` or `mcmc`):
    /// for exact sets the target, n and seed; for files the path; for MCMC sets the cached
    /// [`Provenance`] (sampler, report, cost) and the cache file.
    pub provenance: serde_json::Value,
}

/// The cache directory: `NSAMP_CACHE`, else `$XDG_CACHE_HOME/nsamp`, else `$HOME/.cache/nsamp`,
/// else `.nsamp-cache` in the working directory.
pub fn cache_dir() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("NSAMP_CACHE")
        .or_else(|| env("XDG_CACHE_HOME").map(|p| p.join("nsamp")))
        .or_else(|| env("HOME").map(|p| p.join(".cache").join("nsamp")))
        .unwrap_or_else(|| PathBuf::from(".nsamp-cache"))
}

pub use crate::numerics::rng::fnv1a64;

/// Provenance of a cached reference set, written beside it as JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Provenance {
    /// nsamp's version that drew it.
    pub nsamp_version: String,
    /// The cache key's text (hashed into the file name).
    pub key: String,
    /// The target's config (RON).
    pub target: String,
    /// The sampler's resolved config (RON).
    pub sampler: String,
    /// Rows.
    pub n: usize,
    /// Dimension of a row.
    pub dim: usize,
    /// Seed of the sampler's streams (`eval.reference_seed`).
    pub seed: u64,
    /// The sampler's report (acceptance, tau, ESS, energy mean and error, ...).
    pub report: BTreeMap<String, f64>,
    /// Energy evaluations spent drawing it.
    pub energy_evals: u64,
    /// Wall time in seconds.
    pub seconds: f64,
    /// When it was drawn (seconds since the Unix epoch).
    pub created_unix: u64,
}

/// The error of an `Exact` reference on a target without an exact sampler.
const NO_EXACT: &str = "this target has no exact sampler: set eval.reference to `Mcmc(n: 10000, \
                        sampler: Mala())` (drawn once and cached) or File(\"ref.npy\")";

/// An external reference file, with the way out named in its error.
fn load_file(p: &str, dim: usize) -> anyhow::Result<Vec<f32>> {
    load_rows(Path::new(p), dim).map_err(|e| {
        e.context(format!(
            "eval.reference (or let nsamp draw and cache one: `reference: Mcmc(n: 10000, \
             sampler: Mala())`; the file was {p})"
        ))
    })
}

impl Reference {
    /// Whether the set can be had without drawing (checked before training: a missing file or
    /// a target without an exact sampler fails early).
    pub fn check(&self, target: &CountedTarget) -> anyhow::Result<()> {
        match self {
            Reference::File(p) => load_file(p, target.dim()).map(|_| ()),
            Reference::Exact => {
                anyhow::ensure!(target.inner().exact().is_some(), NO_EXACT);
                Ok(())
            }
            Reference::Mcmc { n, .. } => {
                anyhow::ensure!(*n > 0, "`eval.reference`: Mcmc needs `n` >= 1, got 0");
                Ok(())
            }
        }
    }

    /// Loads, draws or reuses the set. `exact_n` is the size of an exact set; `target_ron` the
    /// target's config (part of the cache key); `obs` gets the log lines and the progress.
    pub fn load(
        &self,
        target: &CountedTarget,
        target_ron: &str,
        exact_n: usize,
        seed: u64,
        obs: &mut dyn Observer,
    ) -> anyhow::Result<ReferenceSet> {
        match self {
            Reference::Exact => {
                let mut rng: Rng = RngStreams::new(seed).stream("reference", 0);
                let rows = target
                    .inner()
                    .exact_sample(exact_n, &mut rng)
                    .ok_or_else(|| anyhow::anyhow!(NO_EXACT))?;
                Ok(ReferenceSet {
                    rows,
                    description: format!("{exact_n} exact samples, reference_seed {seed}"),
                    provenance: serde_json::json!({
                        "kind": "exact",
                        "nsamp_version": env!("CARGO_PKG_VERSION"),
                        "target": target_ron,
                        "n": exact_n,
                        "dim": target.dim(),
                        "seed": seed,
                        "stream": "RngStreams::new(seed).stream(\"reference\", 0)",
                    }),
                })
            }
            Reference::File(p) => Ok(ReferenceSet {
                rows: load_file(p, target.dim())?,
                description: format!("file {p}"),
                provenance: serde_json::json!({ "kind": "file", "path": p, "dim": target.dim() }),
            }),
            Reference::Mcmc { n, sampler } => {
                cached_mcmc(target, target_ron, *n, sampler, seed, &cache_dir(), obs)
            }
        }
    }
}

/// The rows of an exact reference beyond its first `eval.samples` (the wide set of the nsamp
/// protocol's TVDs): `n` exact samples from `RngStreams::new(seed).stream("reference", 1)`,
/// a stream apart from the first rows' so these do not change.
pub fn exact_extension(target: &CountedTarget, n: usize, seed: u64) -> anyhow::Result<Vec<f32>> {
    let mut rng: Rng = RngStreams::new(seed).stream("reference", 1);
    target
        .inner()
        .exact_sample(n, &mut rng)
        .ok_or_else(|| anyhow::anyhow!(NO_EXACT))
}

/// Where a cached set lives: its cache key's text and the .npy path (the .json beside it).
struct CacheEntry {
    key: String,
    npy: PathBuf,
    json: PathBuf,
}

impl CacheEntry {
    fn new(dir: &Path, target_ron: &str, sampler_ron: &str, n: usize, seed: u64) -> CacheEntry {
        let key = format!(
            "nsamp {} | target {target_ron} | sampler {sampler_ron} | n {n} | seed {seed}",
            env!("CARGO_PKG_VERSION")
        );
        let slug: String = target_ron
            .split('(')
            .next()
            .unwrap_or("target")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        let npy = dir
            .join("references")
            .join(format!("{slug}-{:016x}.npy", fnv1a64(&key)));
        let json = PathBuf::from(format!("{}.json", npy.display()));
        CacheEntry { key, npy, json }
    }

    /// The cached rows and their provenance, if present, whole and of this key.
    fn load(&self, n: usize, dim: usize) -> Option<(Vec<f32>, Provenance)> {
        let rows = load_rows(&self.npy, dim).ok()?;
        let text = std::fs::read_to_string(&self.json).ok()?;
        let p: Provenance = serde_json::from_str(&text).ok()?;
        (p.key == self.key && rows.len() == n * dim).then_some((rows, p))
    }

    /// Writes the rows, then the provenance (a set without provenance is never reused).
    fn store(&self, rows: &[f32], prov: &Provenance) -> anyhow::Result<()> {
        let dir = self.npy.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("creating the cache directory {}: {e}", dir.display()))?;
        write_npy(&self.npy, rows, prov.dim)?;
        write_atomic(&self.json, serde_json::to_string_pretty(prov)?.as_bytes())
    }
}

/// Draws `n` states with `sampler` from `seed` on a fresh counter of `target`.
fn draw(
    target: &CountedTarget,
    n: usize,
    sampler: &Spec<families::Sampler>,
    seed: u64,
    obs: &mut dyn Observer,
) -> anyhow::Result<(Vec<f32>, BTreeMap<String, f64>, u64)> {
    let counted = target.recount();
    let mut s = sampler.config.build(&counted)?;
    obs.phase("reference", 1);
    let drawn = s.sample(
        n,
        &RngStreams::new(seed).derive("reference"),
        &mut |d, t| obs.progress(d, t),
    );
    obs.phase_done();
    let drawn = drawn?;
    anyhow::ensure!(
        drawn.x.iter().all(|v| v.is_finite()),
        "reference: the {} sampler produced non-finite states",
        sampler.name
    );
    Ok((drawn.x, s.report().into_iter().collect(), counted.evals()))
}

/// The cached MCMC set: reused if present and whole, else drawn and written with its provenance.
pub fn cached_mcmc(
    target: &CountedTarget,
    target_ron: &str,
    n: usize,
    sampler: &Spec<families::Sampler>,
    seed: u64,
    dir: &Path,
    obs: &mut dyn Observer,
) -> anyhow::Result<ReferenceSet> {
    let sampler_ron = crate::registry::to_ron_compact(sampler)?;
    let entry = CacheEntry::new(dir, target_ron, &sampler_ron, n, seed);
    let what = format!("{n} x {} {} reference", target.dim(), sampler.name);
    let description = format!(
        "{n} {} states, reference_seed {seed}, cache entry {}",
        sampler.name,
        entry
            .npy
            .file_name()
            .map_or_else(String::new, |f| f.to_string_lossy().into_owned())
    );
    let provenance = |p: &Provenance| -> anyhow::Result<serde_json::Value> {
        let mut v = serde_json::to_value(p)?;
        v["kind"] = "mcmc".into();
        v["cache_file"] = entry.npy.display().to_string().into();
        Ok(v)
    };
    if let Some((rows, p)) = entry.load(n, target.dim()) {
        obs.log(&format!(
            "reference: reused the cached {what} {} (drawn in {:.1} s, {} energy evals)",
            entry.npy.display(),
            p.seconds,
            p.energy_evals
        ));
        let provenance = provenance(&p)?;
        return Ok(ReferenceSet {
            rows,
            description,
            provenance,
        });
    }
    obs.log(&format!(
        "reference: drawing the {what} (first use; it will be cached at {})",
        entry.npy.display()
    ));
    let started = Instant::now();
    let (rows, report, energy_evals) = draw(target, n, sampler, seed, obs)?;
    let prov = Provenance {
        nsamp_version: env!("CARGO_PKG_VERSION").into(),
        key: entry.key.clone(),
        target: target_ron.into(),
        sampler: sampler_ron,
        n,
        dim: target.dim(),
        seed,
        report,
        energy_evals,
        seconds: started.elapsed().as_secs_f64(),
        created_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    match entry.store(&rows, &prov) {
        Ok(()) => obs.log(&format!(
            "reference: drew the {what} in {:.1} s ({energy_evals} energy evals), cached at {}",
            prov.seconds,
            entry.npy.display()
        )),
        // A cache that cannot be written costs the next run a redraw, not this run its set.
        Err(e) => obs.log(&format!(
            "reference: drew the {what} in {:.1} s ({energy_evals} energy evals); warning: not \
             cached ({e:#}); set NSAMP_CACHE to a writable directory",
            prov.seconds
        )),
    }
    let provenance = provenance(&prov)?;
    Ok(ReferenceSet {
        rows,
        description,
        provenance,
    })
}
