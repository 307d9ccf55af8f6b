//! The evaluation context is built once per run: a flow + IMH run scores the samples after the
//! corrector, the flow's own samples before it and the exact floor against one reference whose
//! energies are computed once. Counted on the target itself, independently of nsamp's counters.

use nsamp as _;
use nsamp_core::experiment::Silent;
use nsamp_core::registry::{families, Spec};
use nsamp_core::{ExactSampler, Experiment, Recipe, Target, TargetConfig, TargetStructure};
use std::sync::atomic::{AtomicU64, Ordering};

/// Every configuration whose energy `CountingMog4` evaluated, by anyone.
static ROWS: AtomicU64 = AtomicU64::new(0);

/// MOG-4 that counts its energy evaluations in [`ROWS`].
struct CountingMog4(Box<dyn Target>);

impl Target for CountingMog4 {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn energy(&self, x: &[f32], e: &mut [f32]) -> anyhow::Result<()> {
        ROWS.fetch_add(e.len() as u64, Ordering::Relaxed);
        self.0.energy(x, e)
    }
    fn energy_and_grad(&self, x: &[f32], e: &mut [f32], g: &mut [f32]) -> anyhow::Result<()> {
        ROWS.fetch_add(e.len() as u64, Ordering::Relaxed);
        self.0.energy_and_grad(x, e, g)
    }
    fn structure(&self) -> TargetStructure {
        self.0.structure()
    }
    fn exact(&self) -> Option<&dyn ExactSampler> {
        self.0.exact()
    }
    fn natural_scale(&self) -> f32 {
        self.0.natural_scale()
    }
}

nsamp_core::config! {
    /// `CountingMog4()`.
    pub struct CountingMog4Config {}
}

impl TargetConfig for CountingMog4Config {
    fn build(&self) -> anyhow::Result<Box<dyn Target>> {
        let inner = Spec::<families::Target>::from_ron("Mog4()")?
            .config
            .build()?;
        Ok(Box::new(CountingMog4(inner)))
    }
}

nsamp_core::register!(
    Target,
    "CountingMog4",
    CountingMog4Config,
    "test only: MOG-4 counting its energy evaluations"
);

#[test]
fn flow_imh_evaluation_computes_the_reference_energies_once() {
    let n = 400u64;
    let recipe = Recipe::parse(
        r#"Recipe(
            name: "count-eval",
            seed: 7,
            target: CountingMog4(),
            model: RealNvp(layers: 2, hidden: 16, scale: 3.0),
            objective: Rkl(),
            corrector: Imh(),
            train: (steps: 5, batch: 64, lr: 1e-3),
            eval: (samples: 400, metrics: [W2(), ModeCoverage(), Nll(), Ess()]),
        )"#,
        "count-eval",
    )
    .unwrap();
    let report = Experiment::from_recipe(recipe)
        .unwrap()
        .run(&mut Silent)
        .unwrap();
    let e = report.energy_evals;
    let budget = e.training + e.sampling + e.correction;
    // Evaluation: the reference once, then the corrected samples, the flow's own samples (once:
    // their energies serve the density metrics and the metrics before the corrector alike), the
    // exact floor.
    let reference = n;
    let scored = n + n + n;
    assert_eq!(report.evaluation_energy_evals, reference + scored);
    assert_eq!(ROWS.load(Ordering::Relaxed), budget + reference + scored);
    assert!(report.metrics_before_corrector.is_some() && report.exact_floor.is_some());
    assert_eq!(report.eval_protocol.n_reference, n as usize);
}
