//! Training behaviour: a short deterministic run's metrics are pinned (insta snapshot), and a
//! target whose energy is not finite stops training with a diagnostic instead of NaN.

use nsamp as _;

mod common;
use common::round;
use nsamp_core::{NsampError, Recipe, Target, TargetConfig};

const SHORT: &str = r#"Recipe(
    name: "snapshot-idem",
    seed: 2024,
    threads: 2,
    target: Gmm40(),
    model: ScoreMlp(hidden: 64, blocks: 2, embedding: 32),
    objective: Idem(mc: (samples: 64), buffer: (initial: 512, init: McScoreSde(steps: 20), refill_every: 10, refill_samples: 200), sde: (steps: 50)),
    train: (steps: 400, batch: 128, lr: 1e-3, grad_clip: 0.5, log_every: 100),
    eval: (samples: 300, metrics: [W1(), W2(), ETvd(), STvd(), ModeCoverage()]),
)"#;

/// Metrics of a 400-step iDEM run on GMM-40, rounded to 3 decimals (same machine, same seed:
/// same numbers; the rounding absorbs nothing else).
#[test]
fn short_idem_run_metrics_snapshot() {
    let dir = std::env::temp_dir().join(format!("nsamp-snap-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let recipe = dir.with_extension("ron");
    std::fs::write(&recipe, SHORT).unwrap();
    let out = nsamp::cmd::run::run(&recipe, Some(&dir), &[], None).unwrap();
    let m = &serde_json::to_value(&out.report).unwrap();
    let pinned = serde_json::json!({
        "metrics": round(&m["metrics"], 3),
        "exact_floor": round(&m["exact_floor"], 3),
        "energy_evals": m["energy_evals"],
        "tvd_set": [m["eval_protocol"]["tvd_samples"], m["eval_protocol"]["tvd_reference"]],
    });
    insta::assert_json_snapshot!("short_idem_run", pinned);
    std::fs::remove_dir_all(&dir).ok();
    std::fs::remove_file(&recipe).ok();
}

/// Metrics of a 200-step IW-SM run (J = 3) on GMM-40, rounded to 3 decimals, and its SNIS
/// diagnostics in the run's metrics and plots.
#[test]
fn short_iwsm_run_metrics_snapshot() {
    let dir = std::env::temp_dir().join(format!("nsamp-snap-iwsm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let recipe = dir.with_extension("ron");
    let text = SHORT
        .replace("Idem(", "IwSm(snis: 3, ")
        .replace("steps: 400, batch: 128", "steps: 200, batch: 128")
        .replace("snapshot-idem", "snapshot-iwsm");
    std::fs::write(&recipe, text).unwrap();
    let out = nsamp::cmd::run::run(&recipe, Some(&dir), &[], None).unwrap();
    let m = &serde_json::to_value(&out.report).unwrap();
    let ess = m["train_diagnostics"]["snis_ess"].as_f64().unwrap();
    assert!(
        ess > 1.0 / 3.0 - 1e-9 && ess <= 1.0 + 1e-9,
        "ESS fraction {ess}"
    );
    assert!(dir.join("diagnostics.png").is_file());
    let pinned = serde_json::json!({
        "metrics": round(&m["metrics"], 3),
        "train_diagnostics": round(&m["train_diagnostics"], 3),
        "energy_evals": m["energy_evals"],
    });
    insta::assert_json_snapshot!("short_iwsm_run", pinned);
    std::fs::remove_dir_all(&dir).ok();
    std::fs::remove_file(&recipe).ok();
}

nsamp_core::config! {
    /// `TestBroken()`: a target whose energy is NaN far from the origin.
    pub struct Broken {}
}
struct BrokenTarget;
impl Target for BrokenTarget {
    fn dim(&self) -> usize {
        2
    }
    fn energy(&self, _x: &[f32], e: &mut [f32]) -> anyhow::Result<()> {
        e.iter_mut().for_each(|v| *v = f32::NAN);
        Ok(())
    }
    fn energy_and_grad(&self, x: &[f32], e: &mut [f32], g: &mut [f32]) -> anyhow::Result<()> {
        self.energy(x, e).unwrap();
        g.iter_mut().for_each(|v| *v = f32::NAN);
        Ok(())
    }
}
impl TargetConfig for Broken {
    fn build(&self) -> anyhow::Result<Box<dyn Target>> {
        Ok(Box::new(BrokenTarget))
    }
}
nsamp_core::register!(Target, "TestBroken", Broken, "test only: NaN energies");

#[test]
fn non_finite_energies_stop_training_with_a_diagnostic() {
    let text = SHORT
        .replace("Gmm40()", "TestBroken()")
        .replace("init: McScoreSde(steps: 20)", "init: Prior")
        .replace("STvd(), ModeCoverage()", "STvd()");
    let r = Recipe::parse(&text, "broken").unwrap();
    let mut asm = nsamp::Assembled::new(r).unwrap();
    let (settings, varmap) = (asm.recipe.train.clone(), asm.varmap.clone());
    let (objective, cx) = asm.split();
    let objective = objective.unwrap();
    objective.init(&cx).unwrap();
    struct Quiet;
    impl nsamp_core::train::TrainObserver for Quiet {
        fn on_step(
            &mut self,
            _: &nsamp_core::train::StepRecord,
            _: &nsamp_core::train::TrainView<'_>,
        ) -> anyhow::Result<()> {
            Ok(())
        }
    }
    let mut trainer =
        nsamp_core::train::Trainer::new(varmap.as_ref().unwrap(), settings.lr, settings.grad_clip)
            .unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let err = nsamp_core::train::train(
        objective,
        Some(&mut trainer),
        &cx,
        &settings,
        0,
        &stop,
        &mut Quiet,
    )
    .unwrap_err();
    match err.downcast_ref::<NsampError>() {
        Some(NsampError::NonFinite { step: 0, what, .. }) => assert!(what.contains("target score")),
        _ => panic!("expected a NonFinite diagnostic, got: {err:#}"),
    }
}

/// A target whose evaluation fails (as a lost GPU would).
struct FailingTarget;
impl Target for FailingTarget {
    fn dim(&self) -> usize {
        2
    }
    fn energy(&self, _x: &[f32], _e: &mut [f32]) -> anyhow::Result<()> {
        anyhow::bail!("device lost")
    }
    fn energy_and_grad(&self, x: &[f32], e: &mut [f32], _g: &mut [f32]) -> anyhow::Result<()> {
        self.energy(x, e)
    }
}
nsamp_core::config! {
    /// `TestFailing()`: a target whose energy evaluation returns an error.
    pub struct Failing {}
}
impl TargetConfig for Failing {
    fn build(&self) -> anyhow::Result<Box<dyn Target>> {
        Ok(Box::new(FailingTarget))
    }
}
nsamp_core::register!(
    Target,
    "TestFailing",
    Failing,
    "test only: failing energies"
);

/// A failing energy evaluation ends the run with its message, in a training step and in a
/// training-free sampler alike: an error, never a panic.
#[test]
fn failing_energy_evaluation_is_an_error_not_a_panic() {
    let trained = SHORT
        .replace("Gmm40()", "TestFailing()")
        .replace("init: McScoreSde(steps: 20)", "init: Prior")
        .replace("STvd(), ModeCoverage()", "STvd()");
    let mut asm = nsamp::Assembled::new(Recipe::parse(&trained, "failing").unwrap()).unwrap();
    let (objective, cx) = asm.split();
    let objective = objective.unwrap();
    let step = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        objective.init(&cx).unwrap();
        objective.loss(0, &cx).map(|_| ())
    }));
    let err = step.expect("no panic").expect_err("an error");
    assert!(format!("{err:#}").contains("device lost"), "{err:#}");

    let free = r#"Recipe(name: "f", seed: 1, target: TestFailing(), sampler: Mala(chains: 4),
        eval: (samples: 10, metrics: [W2()]))"#;
    let mut asm = nsamp::Assembled::new(Recipe::parse(free, "failing").unwrap()).unwrap();
    let streams = asm.streams;
    let draw = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        asm.draw(10, &streams, &mut |_, _| {}).map(|_| ())
    }));
    let err = draw.expect("no panic").expect_err("an error");
    assert!(format!("{err:#}").contains("device lost"), "{err:#}");
}
