//! DiKL end to end: a short deterministic GMM-40 run through the experiment pipeline (a small
//! generator and score network, few steps, few DSM updates), pinned by an insta snapshot
//! (metrics and training diagnostics rounded to 3 decimals, energy evaluations exact), run twice
//! to check it is deterministic.

use nsamp as _;

mod common;
use common::round;

const DIKL: &str = r#"Recipe(
    name: "snapshot-dikl",
    seed: 7,
    threads: 2,
    target: Gmm40(),
    model: GeneratorMlp(hidden: [64, 64]),
    objective: Dikl(
        score_net: DiklScoreMlp(hidden: [64, 64]),
        dsm_steps: 3,
        posterior: (n_is: 4, ais_intermediates: 3, mala_steps: 2),
    ),
    train: (steps: 20, batch: 128, lr: 1e-3, grad_clip: 10.0, log_every: 5),
    eval: (samples: 400, metrics: [W2(), ETvd(), ModeCoverage()]),
)"#;

fn run_once() -> serde_json::Value {
    let recipe = nsamp_core::Recipe::parse(DIKL, "dikl").unwrap();
    let mut exp = nsamp_core::Experiment::from_recipe(recipe).unwrap();
    let report = exp.run(&mut nsamp_core::experiment::Silent).unwrap();
    let v = serde_json::to_value(&report).unwrap();
    serde_json::json!({
        "metrics": round(&v["metrics"], 3),
        "train_diagnostics": round(&v["train_diagnostics"], 3),
        "energy_evals": v["energy_evals"],
    })
}

#[test]
fn short_dikl_run_snapshot() {
    let first = run_once();
    // Per step: 128 rows x 4 proposals x (1 start + 3 AIS levels) + 128 x (1 + 2) MALA
    // evaluations.
    assert_eq!(
        first["energy_evals"]["training"].as_u64().unwrap(),
        20 * (128 * 4 * 4 + 128 * 3)
    );
    assert_eq!(first, run_once(), "two runs of the same recipe differ");
    insta::assert_json_snapshot!("short_dikl_run", first);
}

/// The particle path: DiKL with EGNN generator and score network on DW-4 (tiny networks, a few
/// steps): centre-of-mass-free samples, the MALA step adapted between steps, every posterior
/// evaluation counted; the Egnn generator is the network's output at t = 1.
#[test]
fn short_dw4_run_uses_the_egnn_generator() {
    const DW4: &str = r#"Recipe(
        name: "dikl-dw4",
        seed: 3,
        threads: 2,
        target: Dw4(),
        model: Egnn(layers: 2, hidden: 16),
        objective: Dikl(
            score_net: Egnn(layers: 2, hidden: 16),
            schedule: (steps: 30, beta_start: 1e-6, beta_end: 0.05),
            dsm_steps: 2,
            weight: Uniform,
            posterior: (n_is: 5, ais_intermediates: 2, ais_kernel: Mala(step: 0.01), mala_steps: 4, mala_adapt: true),
        ),
        train: (steps: 3, batch: 32, lr: 5e-4, grad_clip: 10.0, log_every: 1),
        eval: (samples: 200, metrics: []),
    )"#;
    let recipe = nsamp_core::Recipe::parse(DW4, "dw4").unwrap();
    let mut asm = nsamp_core::experiment::Assembled::new(recipe).unwrap();
    let model = asm.model.as_ref().unwrap();
    let (g, s) = (model.as_generator().unwrap(), model.as_score().unwrap());
    let dev = nsamp_core::candle::Device::Cpu;
    let z = nsamp_core::candle::Tensor::from_vec(
        (0..16).map(|i| (i as f32 * 0.37).sin()).collect::<Vec<_>>(),
        (2, 8),
        &dev,
    )
    .unwrap();
    let t = nsamp_core::candle::Tensor::ones(2, nsamp_core::candle::DType::F32, &dev).unwrap();
    let a = g
        .generate(&z)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let b = s
        .score(&t, &z)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert_eq!(a, b);
    let vm = asm.varmap.clone().unwrap();
    let mut trainer = nsamp_core::train::Trainer::new(&vm, 5e-4, Some(10.0)).unwrap();
    let (objective, cx) = asm.split();
    let objective = objective.unwrap();
    objective.init(&cx).unwrap();
    let mut steps = Vec::new();
    for step in 0..3 {
        let out = objective.loss(step, &cx).unwrap();
        assert!(out.loss.to_scalar::<f32>().unwrap().is_finite());
        trainer.step(&out.loss).unwrap();
        let get = |k: &str| out.diagnostics.iter().find(|d| d.0 == k).unwrap().1;
        steps.push((get("mala_acceptance"), get("mala_step")));
    }
    // Per step: 32 x 5 proposals x (1 start + 2 levels) + 32 x (1 + 4) MALA evaluations.
    assert_eq!(cx.target.evals(), 3 * (32 * 5 * 3 + 32 * 5));
    // The step follows DiKL's rule: x 1.5 above acceptance 0.6, / 1.5 below 0.5.
    let mut eps = 0.01;
    for (acc, step) in steps {
        eps *= if acc > 0.6 {
            1.5
        } else if acc < 0.5 {
            1.0 / 1.5
        } else {
            1.0
        };
        assert!((step - eps).abs() < 1e-12, "{step} vs {eps}");
    }
    let x = asm
        .draw(
            200,
            &nsamp_core::numerics::rng::RngStreams::new(1),
            &mut |_, _| {},
        )
        .unwrap()
        .samples
        .x;
    for row in x.chunks(8) {
        let (cx, cy) = (
            row.iter().step_by(2).sum::<f32>() / 4.0,
            row.iter().skip(1).step_by(2).sum::<f32>() / 4.0,
        );
        assert!(
            cx.abs() < 1e-4 && cy.abs() < 1e-4,
            "centre of mass ({cx}, {cy})"
        );
    }
}
