//! A user starts a plugin by copying this example out of the workspace: the copy, with path
//! dependencies on nsamp and no workspace inheritance, must build on its own.

use std::path::{Path, PathBuf};
use std::process::Command;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

/// The example's Cargo.toml with every `workspace = true` replaced by a path or a version,
/// standing as its own workspace, with the repository's build profiles (so the compiled
/// dependencies of the repository's target directory are reused).
fn standalone_manifest(root: &Path) -> String {
    let ws = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let profiles = &ws[ws.find("[profile").unwrap()..];
    // The workspace also holds the Python crate (python/): its pyo3 and numpy turn on features of
    // shared dependencies (syn's `visit-mut` for every proc-macro, num-complex's `std` under
    // candle's gemm). Naming the same two dependencies here makes this copy resolve the same
    // features, so it reuses the compiled dependencies instead of rebuilding nearly all of them.
    let python = std::fs::read_to_string(root.join("python/Cargo.toml")).unwrap();
    let python_deps: String = python
        .lines()
        .filter(|l| l.starts_with("pyo3 =") || l.starts_with("numpy ="))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        python_deps.lines().count(),
        2,
        "python/Cargo.toml names pyo3 and numpy"
    );
    let r = root.display();
    format!(
        r#"[package]
name = "custom-objective"
version = "0.1.0"
edition = "2021"
publish = false

[workspace]

[dependencies]
nsamp-core = {{ path = "{r}/core" }}
nsamp = {{ path = "{r}/runner" }}
serde = {{ version = "1", features = ["derive"] }}
anyhow = "1"
{python_deps}
[dev-dependencies]
serde_json = "1"

{profiles}"#
    )
}

#[test]
fn the_example_builds_outside_the_workspace() {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .canonicalize()
        .unwrap();
    // Under target/, so the repository's .cargo/config.toml (build flags) applies to the copy.
    let dir = root.join("target").join("outside-example");
    let _ = std::fs::remove_dir_all(&dir);
    for d in ["src", "tests"] {
        copy_dir(
            &root.join("examples/custom-objective").join(d),
            &dir.join(d),
        );
    }
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    std::fs::write(dir.join("Cargo.toml"), standalone_manifest(&root)).unwrap();
    // The repository's target directory: its compiled dependencies are reused.
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let out = Command::new(env!("CARGO"))
        .args(["build", "--offline", "--bins"])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", target_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(&dir).ok();
}
