use nsamp_core::numerics::mc_score::{integrate_with_mc_score, McScore, ScoreClip};
use nsamp_core::numerics::rng::RngStreams;
use nsamp_core::numerics::schedule::GeometricSchedule;
use nsamp_core::numerics::sde::ReverseSde;
use nsamp_core::registry::{families, Spec};
use nsamp_core::CountedTarget;
use nsamp_plugin_gmm as _;
fn main() {
    let t = CountedTarget::new(
        Spec::<families::Target>::from_ron("Gmm40()")
            .unwrap()
            .config
            .build()
            .unwrap(),
    );
    let steps: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(200);
    let sde = ReverseSde {
        schedule: GeometricSchedule::new(1e-5, 1.0).unwrap(),
        steps,
        noise_scale: 1.0,
        com_free: None,
    };
    let mc = McScore {
        k: 500,
        scale: 50.0,
        clip: ScoreClip::Norm(70.0),
        com_free: None,
    };
    let s = RngStreams::new(1);
    let mut x = sde.prior(1000, 2, &s, 0);
    integrate_with_mc_score(&t, &mc, &sde, &mut x, &s, 0, &mut |_, _| {}).unwrap();
    let x: Vec<f32> = x.iter().map(|v| v * 50.0).collect();
    let ev = nsamp_core::eval::EvalSettings {
        samples: 1000,
        reference: Default::default(),
        reference_seed: 0,
        metrics: vec![
            Spec::from_ron("W2()").unwrap(),
            Spec::from_ron("ETvd()").unwrap(),
            Spec::from_ron("ModeCoverage()").unwrap(),
        ],
        exact_floor: true,
    };
    let e = nsamp_core::eval::evaluate(t.inner(), &x, &ev, &s).unwrap();
    println!("{:?}\nfloor {:?}", e.metrics, e.exact_floor);
}
