//! PIS end to end: a short deterministic GMM-40 run through the experiment pipeline, pinned by
//! an insta snapshot (metrics, the sampler's report (path-weight ESS and log Z) and the last
//! training step's diagnostics rounded to 3 decimals; energy evaluations exact).

use nsamp as _;

mod common;
use common::round;

const PIS: &str = r#"Recipe(
    name: "snapshot-pis",
    seed: 21,
    threads: 2,
    target: Gmm40(),
    model: PisNet(channels: 32, layers: 2, t_channels: 32, t_layers: 3),
    objective: Pis(sigma: 1.0, steps: 20),
    train: (steps: 30, batch: 64, lr: 1e-3, grad_clip: 1.5, log_every: 10),
    eval: (samples: 400, metrics: [W2(), ETvd(), ModeCoverage()]),
)"#;

#[test]
fn short_pis_run_snapshot() {
    let recipe = nsamp_core::Recipe::parse(PIS, "pis").unwrap();
    let mut exp = nsamp_core::Experiment::from_recipe(recipe).unwrap();
    let report = exp.run(&mut nsamp_core::experiment::Silent).unwrap();
    let v = serde_json::to_value(&report).unwrap();
    // Every path costs steps + 1 energy+gradient evaluations (20 scores, 1 terminal).
    assert_eq!(report.energy_evals.training, 30 * 64 * 21);
    assert_eq!(report.energy_evals.sampling, 400 * 21);
    let ess = report.sampler_report["ess"];
    assert!(ess > 0.0 && ess <= 1.0, "ESS {ess}");
    insta::assert_json_snapshot!(
        "short_pis_run",
        serde_json::json!({
            "metrics": round(&v["metrics"], 3),
            "sampler_report": round(&v["sampler_report"], 3),
            "train_diagnostics": round(&v["train_diagnostics"], 3),
            "energy_evals": v["energy_evals"],
        })
    );
}
