//! Parallel tempering end to end: a short deterministic GMM-40 run through the experiment
//! pipeline, pinned by an insta snapshot (metrics and the sampler's report rounded to 3
//! decimals, energy evaluations exact: every replica counted).

use nsamp as _;

mod common;
use common::round;

const PT: &str = r#"Recipe(
    name: "snapshot-pt",
    seed: 9,
    threads: 2,
    target: Gmm40(),
    sampler: ParallelTempering(replicas: 4, beta_min: 0.05, kernel: Mala, chains: 16, burn_in: 200, pilot: 100, descent_steps: 50),
    eval: (samples: 400, metrics: [W2(), ETvd(), ModeCoverage()]),
)"#;

#[test]
fn short_parallel_tempering_run_snapshot() {
    let recipe = nsamp_core::Recipe::parse(PT, "pt").unwrap();
    let mut exp = nsamp_core::Experiment::from_recipe(recipe).unwrap();
    let report = exp.run(&mut nsamp_core::experiment::Silent).unwrap();
    let v = serde_json::to_value(&report).unwrap();
    let thin = report.sampler_report["thin"] as u64;
    // descent + initial evaluation + burn-in + pilot + production, 4 x 16 rows each.
    let steps = 50 + 1 + 200 + 100 + 400u64.div_ceil(16) * thin;
    assert_eq!(report.energy_evals.sampling, 4 * 16 * steps);
    insta::assert_json_snapshot!(
        "short_parallel_tempering",
        serde_json::json!({
            "metrics": round(&v["metrics"], 3),
            "sampler_report": round(&v["sampler_report"], 3),
            "energy_evals": v["energy_evals"],
        })
    );
}
