//! The run directory: where a run writes, and the choice of its path.

use anyhow::{bail, Context as _};
use std::path::{Path, PathBuf};

/// Creates the run directory. With `out`, its parent must exist and it must be empty or absent;
/// without, `runs/<name>` (or `runs/<name>.N` if taken) is created.
pub fn create(out: Option<&Path>, name: &str) -> anyhow::Result<PathBuf> {
    match out {
        Some(p) => {
            let parent = p
                .parent()
                .filter(|q| !q.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            if !parent.is_dir() {
                bail!(
                    "output path {}: parent directory {} does not exist",
                    p.display(),
                    parent.display()
                );
            }
            if p.exists() {
                if !p.is_dir() {
                    bail!("output path {} exists and is not a directory", p.display());
                }
                if std::fs::read_dir(p)?.next().is_some() {
                    bail!(
                        "output directory {} is not empty; choose another --out",
                        p.display()
                    );
                }
            } else {
                std::fs::create_dir(p).with_context(|| format!("cannot create {}", p.display()))?;
            }
            Ok(p.to_path_buf())
        }
        None => {
            let safe: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            std::fs::create_dir_all("runs").context("cannot create runs/")?;
            let mut p = PathBuf::from("runs").join(&safe);
            let mut i = 1;
            while p.exists() {
                i += 1;
                p = PathBuf::from("runs").join(format!("{safe}.{i}"));
            }
            std::fs::create_dir(&p).with_context(|| format!("cannot create {}", p.display()))?;
            Ok(p)
        }
    }
}

/// Appends lines to the run's log file and echoes them to stderr.
pub struct Log {
    file: std::fs::File,
}

impl Log {
    /// Opens `dir/log.txt` for appending.
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("log.txt"))?;
        Ok(Log { file })
    }
    /// Writes one line to the log (and stderr unless `quiet_stderr`).
    pub fn line(&mut self, msg: &str, echo: bool) {
        use std::io::Write;
        let _ = writeln!(self.file, "{msg}");
        let _ = self.file.flush();
        if echo {
            eprintln!("{msg}");
        }
    }
}
