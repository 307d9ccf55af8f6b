//! Helpers shared by the CLI tests: run the `nsamp` binary, make a scratch directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `nsamp ARGS` in `cwd` and waits for it.
pub fn nsamp(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nsamp"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

/// An empty directory of this test process: `$TMP/nsamp-<name>-<pid>`.
pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nsamp-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
