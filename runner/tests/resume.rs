//! Runs that survive a kill: a run killed (SIGKILL) at a random step after a checkpoint and
//! continued with `nsamp resume` ends with the loss.csv, samples.npy and metrics of the same run
//! never interrupted (the wall times, which differ between any two runs, aside); SIGTERM stops a
//! run with a checkpoint, exit status 143 and a log line that says how to resume.

mod common;
use common::{nsamp, scratch};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

fn spawn(args: &[&str], cwd: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_nsamp"))
        .args(args)
        .current_dir(cwd)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

const IDEM: &str = r#"Recipe(
    name: "resume-idem",
    seed: 5,
    threads: 2,
    target: Gmm40(),
    model: ScoreMlp(hidden: 32, blocks: 1, embedding: 16),
    objective: Idem(mc: (samples: 64), buffer: (size: 2000, initial: 256, init: Prior, refill_every: 25, refill_samples: 100), sde: (steps: 20)),
    train: (steps: 400, batch: 64, lr: 1e-3, grad_clip: 0.5, log_every: 50, checkpoint_every: 20),
    eval: (samples: 300, metrics: [W2(), ETvd(), ModeCoverage()]),
)"#;

const IWSM: &str = r#"Recipe(
    name: "resume-iwsm",
    seed: 6,
    threads: 2,
    target: Gmm40(),
    model: ScoreMlp(hidden: 32, blocks: 1, embedding: 16),
    objective: IwSm(snis: 3, mc: (samples: 32), buffer: (size: 2000, initial: 256, init: Prior, refill_every: 25, refill_samples: 100), sde: (steps: 20)),
    train: (steps: 300, batch: 32, lr: 1e-3, grad_clip: 0.5, log_every: 50, checkpoint_every: 20, snapshot_every: Some(60), ema: Some(0.9)),
    eval: (samples: 300, metrics: [W2(), ETvd(), ModeCoverage()]),
)"#;

const FLOW: &str = r#"Recipe(
    name: "resume-flow",
    seed: 7,
    threads: 2,
    target: Mog4(),
    model: RealNvp(layers: 4, hidden: 32, scale_bound: 2.0, scale: 3.0),
    objective: ScoreNf(rkl: 1.0, sm: 1.0, ensemble: Mcmc(size: 200, sampler: Hmc(leapfrog: 5, chains: 20, burn_in: 100, pilot: 50))),
    corrector: Imh(),
    train: (steps: 400, batch: 128, lr: 1e-3, grad_clip: 10.0, log_every: 50, checkpoint_every: 20),
    eval: (samples: 400, metrics: [W2(), ModeCoverage(), Nll(), Ess()]),
)"#;

/// FAB: the prioritised buffer's f64 log weights and an iteration's pending draws (checkpoints
/// every 10 steps fall inside the 4-step iterations) go through the checkpoint.
const FAB: &str = r#"Recipe(
    name: "resume-fab",
    seed: 5,
    threads: 2,
    target: Gmm40(),
    model: RealNvp(layers: 4, hidden: 32, scale_bound: 2.0, scale: 1.0),
    objective: Fab(buffer_max: 512, buffer_min: 256, minibatches: 4),
    train: (steps: 400, batch: 64, lr: 1e-3, grad_clip: 100.0, log_every: 50, checkpoint_every: 10),
    eval: (samples: 300, metrics: [W2(), ModeCoverage()]),
)"#;

/// DiKL: the auxiliary score network's parameters and Adam moments go through the checkpoint.
const DIKL: &str = r#"Recipe(
    name: "resume-dikl",
    seed: 7,
    threads: 2,
    target: Gmm40(),
    model: GeneratorMlp(hidden: [64, 64]),
    objective: Dikl(score_net: DiklScoreMlp(hidden: [64, 64]), dsm_steps: 3, posterior: (n_is: 4, ais_intermediates: 3, mala_steps: 2)),
    train: (steps: 120, batch: 128, lr: 1e-3, grad_clip: 10.0, log_every: 20, checkpoint_every: 5),
    eval: (samples: 300, metrics: [W2(), ModeCoverage()]),
)"#;

/// The steps done by the run directory's checkpoint, if one is complete.
fn checkpoint_step(dir: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(dir.join("checkpoint/state.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["steps_done"].as_u64()
}

/// A step threshold that differs from run to run (a multiple of `every` in [every, max]).
fn random_threshold(every: u64, max: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    every * (1 + nanos % (max / every))
}

/// Waits until the run's checkpoint is at `step` or later; returns the step seen.
fn wait_for_checkpoint(child: &mut Child, dir: &Path, step: u64) -> u64 {
    let started = Instant::now();
    loop {
        if let Some(s) = checkpoint_step(dir).filter(|&s| s >= step) {
            return s;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the run ended ({status}) before its checkpoint reached step {step}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no checkpoint"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// metrics.json without the wall times.
fn metrics_without_times(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("metrics.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v.as_object_mut().unwrap().remove("wall_time_s").unwrap();
    v
}

fn assert_same_run(full: &Path, resumed: &Path, what: &str) {
    for f in ["loss.csv", "samples.npy"] {
        let (a, b) = (
            std::fs::read(full.join(f)).unwrap(),
            std::fs::read(resumed.join(f)).unwrap(),
        );
        assert!(a == b, "{what}: {f} differs from the uninterrupted run's");
    }
    assert_eq!(
        metrics_without_times(full),
        metrics_without_times(resumed),
        "{what}: metrics.json differs from the uninterrupted run's"
    );
    // The weights sampled from (the moving average under train.ema) and the kept snapshots.
    let mut files = vec!["model.safetensors".to_string()];
    if let Ok(entries) = std::fs::read_dir(full.join("snapshots")) {
        let mut names: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".safetensors"))
            .map(|n| format!("snapshots/{n}"))
            .collect();
        assert!(!names.is_empty(), "{what}: no snapshots kept");
        names.sort();
        files.extend(names);
    }
    for f in files {
        let (a, b) = (
            std::fs::read(full.join(&f)).unwrap(),
            std::fs::read(resumed.join(&f)).unwrap(),
        );
        assert!(a == b, "{what}: {f} differs from the uninterrupted run's");
    }
}

/// Runs `recipe` uninterrupted, then again killed by `signal` once its checkpoint passes a
/// random step, resumes it, and compares.
fn kill_and_resume(name: &str, recipe: &str, steps: u64, signal: &str) {
    let dir = scratch(name);
    std::fs::write(dir.join("r.ron"), recipe).unwrap();
    let full = nsamp(&["run", "r.ron", "--out", "full"], &dir);
    assert!(
        full.status.success(),
        "{}",
        String::from_utf8_lossy(&full.stderr)
    );
    let threshold = random_threshold(20, steps / 2);
    let mut child = spawn(&["run", "r.ron", "--out", "cut"], &dir);
    let seen = wait_for_checkpoint(&mut child, &dir.join("cut"), threshold);
    Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let what = format!("{name}: {signal} once the checkpoint passed step {threshold} (saw {seen})");
    if signal == "TERM" {
        assert_eq!(out.status.code(), Some(143), "{what}: {stderr}");
        assert!(stderr.contains("nsamp resume cut"), "{what}: {stderr}");
        let log = std::fs::read_to_string(dir.join("cut/log.txt")).unwrap();
        assert!(
            log.contains("stopped by SIGTERM after step"),
            "{what}: {log}"
        );
    } else {
        assert_eq!(out.status.code(), None, "{what}: killed by a signal");
    }
    assert!(
        !dir.join("cut/metrics.json").exists(),
        "{what}: the run finished before the kill"
    );
    let at = checkpoint_step(&dir.join("cut")).unwrap();
    assert!(at >= seen && at < steps, "{what}: checkpoint at {at}");
    let resumed = nsamp(&["resume", "cut"], &dir);
    assert!(
        resumed.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let log = std::fs::read_to_string(dir.join("cut/log.txt")).unwrap();
    assert!(
        log.contains(&format!("resumed from the checkpoint after step {at}")),
        "{what}: {log}"
    );
    assert_same_run(&dir.join("full"), &dir.join("cut"), &what);
    // A finished run is not resumed again.
    let again = nsamp(&["resume", "cut"], &dir);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already finished"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn idem_killed_at_a_random_step_resumes_to_the_uninterrupted_run() {
    kill_and_resume("idem", IDEM, 400, "KILL");
}

#[test]
fn iwsm_killed_at_a_random_step_resumes_to_the_uninterrupted_run() {
    kill_and_resume("iwsm", IWSM, 300, "KILL");
}

#[test]
fn flow_with_an_mcmc_ensemble_killed_at_a_random_step_resumes_to_the_uninterrupted_run() {
    kill_and_resume("flow", FLOW, 400, "KILL");
}

#[test]
fn fab_killed_at_a_random_step_resumes_to_the_uninterrupted_run() {
    kill_and_resume("fab", FAB, 400, "KILL");
}

#[test]
fn dikl_killed_at_a_random_step_resumes_to_the_uninterrupted_run() {
    kill_and_resume("dikl", DIKL, 120, "KILL");
}

#[test]
fn sigterm_stops_with_a_checkpoint_and_the_run_resumes() {
    kill_and_resume("term", IDEM, 400, "TERM");
}

#[test]
fn resume_names_what_is_missing() {
    let dir = scratch("bad");
    let o = nsamp(&["resume", "nowhere"], &dir);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a run directory"));
    std::fs::create_dir(dir.join("r")).unwrap();
    std::fs::write(dir.join("r/recipe.ron"), IDEM).unwrap();
    let o = nsamp(&["resume", "r"], &dir);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("holds no checkpoint"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Outside the training loop (here a training-free sampler's long burn-in) there is nothing to
/// checkpoint: SIGTERM exits at once with status 143 and a line saying so.
#[test]
fn sigterm_outside_training_exits_at_once() {
    let dir = scratch("term-sampler");
    let recipe = r#"Recipe(
    name: "term-pt",
    seed: 1,
    threads: 1,
    target: Gmm40(),
    sampler: ParallelTempering(replicas: 4, chains: 8, burn_in: 100000000, pilot: 10, descent_steps: 10),
    eval: (samples: 100, metrics: [W2()]),
)"#;
    std::fs::write(dir.join("r.ron"), recipe).unwrap();
    let child = spawn(&["run", "r.ron", "--out", "pt"], &dir);
    // Wait until the run has started (its log exists), then stop it.
    let started = Instant::now();
    while !dir.join("pt/log.txt").exists() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the run did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let sent = Instant::now();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "took {:?}",
        sent.elapsed()
    );
    assert!(
        stderr.contains("stopped by SIGTERM outside training"),
        "{stderr}"
    );
    let log = std::fs::read_to_string(dir.join("pt/log.txt")).unwrap();
    assert!(log.contains("stopped by SIGTERM outside training"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}
