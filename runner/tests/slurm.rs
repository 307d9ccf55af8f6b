//! `nsamp sweep --slurm` on a real single-node Slurm cluster (`scripts/slurm-test.sh`): a 3-seed
//! job array, one task stopped by `scancel --signal=TERM` and re-queued, and `nsamp table` with
//! all 3 seeds equal to an uninterrupted local sweep. Runs when slurm-wlm is installed and the
//! test runs as root; says SKIPPED otherwise.

use std::path::Path;
use std::process::Command;

fn installed(cmd: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {cmd} || test -x /usr/sbin/{cmd}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn slurm_job_array_survives_sigterm_and_requeue() {
    let missing: Vec<&str> = ["sbatch", "slurmctld", "slurmd", "munged"]
        .into_iter()
        .filter(|c| !installed(c))
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "SKIPPED: Slurm is not installed ({} missing; apt-get install slurm-wlm munge)",
            missing.join(", ")
        );
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/slurm-test.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(env!("CARGO_BIN_EXE_nsamp"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.code() == Some(77) {
        eprintln!("SKIPPED: {}", text.trim());
        return;
    }
    assert!(
        out.status.success(),
        "scripts/slurm-test.sh failed:\n{text}"
    );
    assert!(text.contains("PASSED"), "{text}");
    eprintln!("{text}");
}
