//! FAB end to end: a short deterministic GMM-40 run through the experiment pipeline (RealNvp
//! trained by FAB with AIS and the prioritised buffer), pinned by an insta snapshot (metrics,
//! the last step's diagnostics and the sampler's report rounded to 3 decimals; energy
//! evaluations exact). Run twice: the same numbers.

use nsamp as _;

mod common;
use common::round;

const FAB: &str = r#"Recipe(
    name: "snapshot-fab",
    seed: 3,
    threads: 2,
    target: Gmm40(),
    model: RealNvp(layers: 4, hidden: 32, scale_bound: 2.0, scale: 1.0),
    objective: Fab(alpha: 2.0, intermediates: 1, kernel: Metropolis(step: 5.0), moves: 1, buffer_max: 512, buffer_min: 256, minibatches: 4),
    train: (steps: 24, batch: 64, lr: 1e-3, grad_clip: 100.0, log_every: 8, checkpoint_every: 24),
    eval: (samples: 400, metrics: [W2(), ETvd(), ModeCoverage()]),
)"#;

fn run() -> serde_json::Value {
    let recipe = nsamp_core::Recipe::parse(FAB, "fab").unwrap();
    let mut exp = nsamp_core::Experiment::from_recipe(recipe).unwrap();
    let report = exp.run(&mut nsamp_core::experiment::Silent).unwrap();
    let v = serde_json::to_value(&report).unwrap();
    // Metropolis AIS with one intermediate costs 2 B evaluations (the start and one proposal):
    // 4 batches fill the buffer to 256 rows, then one batch every 4 steps; the report's AIS runs
    // once over the 400 samples.
    assert_eq!(report.energy_evals.training, (4 + 24 / 4) * 2 * 64);
    assert_eq!(report.energy_evals.sampling, 2 * 400);
    serde_json::json!({
        "metrics": round(&v["metrics"], 3),
        "train_diagnostics": round(&v["train_diagnostics"], 3),
        "sampler_report": round(&v["sampler_report"], 3),
        "energy_evals": v["energy_evals"],
    })
}

#[test]
fn short_fab_run_snapshot() {
    let first = run();
    assert_eq!(first, run(), "two runs of the same recipe differ");
    insta::assert_json_snapshot!("short_gmm40_fab", first);
}
