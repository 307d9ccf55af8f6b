//! DiKL's networks and objective: the time embedding is fixed across builds; DSM fits the
//! closed-form diffused score of a Gaussian; generator steps move a generator towards a Gaussian
//! target; the objective's state (score network, its Adam moments, the MALA step) round-trips and
//! a restored objective continues exactly.

mod common;

use common::Mix;
use nsamp_core::candle::{DType, Device, Tensor};
use nsamp_core::candle_nn::VarMap;
use nsamp_core::mcmc::ais::AisKernel;
use nsamp_core::numerics::rng::{fill_normal, RngStreams};
use nsamp_core::params::seeded_var_builder;
use nsamp_core::registry::{families, Spec};
use nsamp_core::train::Trainer;
use nsamp_core::{
    Context, CountedTarget, Model, ModelConfig, ModelShape, ObjectiveConfig, ScoreModel,
};
use nsamp_plugin_dikl::aux_net::AuxScore;
use nsamp_plugin_dikl::schedule::{VpSchedule, VpScheduleConfig};
use nsamp_plugin_dikl::score_net::{embedding_frequencies, DiklScoreMlp};
use nsamp_plugin_dikl::{DiklConfig, DiklScoreMlpConfig, GeneratorMlpConfig, PosteriorConfig};

fn gaussian(mu: [f64; 2]) -> Mix {
    Mix {
        means: vec![mu.to_vec()],
        stds: vec![vec![1.0, 1.0]],
        weights: vec![1.0],
    }
}

#[test]
fn the_time_embedding_is_fixed_across_builds() {
    let cfg = DiklScoreMlpConfig {
        hidden: vec![8, 6],
        ..Default::default()
    };
    let build = |seed: u64| -> DiklScoreMlp {
        let vm = VarMap::new();
        let vb = seeded_var_builder(&vm, RngStreams::new(seed), DType::F32, &Device::Cpu);
        cfg.build_net(2, vb).unwrap()
    };
    // Two runs with different seeds: different weights, the same embedding.
    let (m1, m2) = (build(1), build(2));
    let t = Tensor::from_vec(vec![1f32, 7.0, 29.0, 7.0], 4, &Device::Cpu).unwrap();
    let emb = |net: &DiklScoreMlp| -> Vec<Vec<f32>> {
        net.embed(&t)
            .unwrap()
            .iter()
            .map(|e| e.flatten_all().unwrap().to_vec1::<f32>().unwrap())
            .collect()
    };
    let (e1, e2) = (emb(&m1), emb(&m2));
    assert_eq!(e1, e2);
    assert_eq!(e1[0].len(), 4 * 8);
    // Rows with equal t embed alike; sin^2 + cos^2 = 1.
    assert_eq!(e1[0][8..16], e1[0][24..32]);
    for k in 0..4 {
        let v = e1[0][8 + k].powi(2) + e1[0][8 + 4 + k].powi(2);
        assert!((v - 1.0).abs() < 1e-5);
    }
    // w = 30 N(0, 1): deterministic, per layer, with the right scale.
    let w = embedding_frequencies(0, 0, 20_000, 30.0);
    assert_eq!(w, embedding_frequencies(0, 0, 20_000, 30.0));
    assert_ne!(w[..10], embedding_frequencies(0, 1, 10, 30.0)[..]);
    let sd = (w.iter().map(|v| v * v).sum::<f64>() / w.len() as f64).sqrt();
    assert!((sd - 30.0).abs() < 1.0, "sd {sd}");
    // Different outputs for different run seeds (the weights are the run's).
    let x = Tensor::from_vec(vec![0.5f32; 8], (4, 2), &Device::Cpu).unwrap();
    let o1 = m1
        .score(&t, &x)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let o2 = m2
        .score(&t, &x)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert_ne!(o1, o2);
}

fn small_score_net() -> Spec<families::Model> {
    Spec::from_ron("DiklScoreMlp(hidden: [64, 64], embedding_scale: 1.0)").unwrap()
}

#[test]
fn dsm_fits_the_diffused_score_of_a_gaussian() {
    // Data N(mu, I): the diffused score is -(x_t - a mu) / (a^2 + sigma^2) = -(x_t - a mu).
    let sched = VpSchedule::new(&VpScheduleConfig::default()).unwrap();
    let streams = RngStreams::new(4);
    let mut aux = AuxScore::new(
        &small_score_net(),
        &ModelShape::flat(2),
        &streams,
        &Device::Cpu,
        3e-3,
        None,
        1.0,
    )
    .unwrap();
    let mu = [3.0f32, -2.0];
    let b = 256;
    let mut first = 0.0;
    let mut last = 0.0;
    for step in 0..600u64 {
        let mut rng = streams.stream("data", step);
        let mut x = vec![0f32; b * 2];
        fill_normal(&mut rng, &mut x);
        for r in 0..b {
            x[2 * r] += mu[0];
            x[2 * r + 1] += mu[1];
        }
        let t = sched.draw_steps(&mut rng, b);
        let mut eps = vec![0f32; b * 2];
        fill_normal(&mut rng, &mut eps);
        let l = aux.dsm_step(&sched, &x, &t, &eps, &Device::Cpu).unwrap();
        if step < 20 {
            first += l / 20.0;
        }
        if step >= 580 {
            last += l / 20.0;
        }
    }
    // At the optimum the DSM loss is E|eps + sigma s|^2 = d (1 - sigma^2) averaged over t.
    let floor: f64 = (1..30).map(|t| 2.0 * sched.a[t].powi(2)).sum::<f64>() / 29.0;
    eprintln!("DSM loss {first:.3} -> {last:.3} (floor {floor:.3})");
    assert!(
        last < first && last < floor + 0.1,
        "{first} -> {last}, floor {floor}"
    );
    let mut worst = 0f64;
    for t in [2usize, 8, 15, 25] {
        let a = sched.a[t];
        let pts = [
            [a as f32 * mu[0] + 0.5, a as f32 * mu[1] - 0.3],
            [a as f32 * mu[0] - 1.0, a as f32 * mu[1] + 0.8],
        ];
        let x = Tensor::from_vec(pts.concat(), (2, 2), &Device::Cpu).unwrap();
        let s = aux
            .score(&[t, t], &x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        for (r, p) in pts.iter().enumerate() {
            for j in 0..2 {
                let exact = -(p[j] as f64 - a * mu[j] as f64);
                worst = worst.max((s[2 * r + j] as f64 - exact).abs());
            }
        }
    }
    eprintln!("largest score error {worst:.3}");
    assert!(worst < 0.5, "score error {worst}");
}

/// A small DiKL setup on a 2-D Gaussian target.
fn small_dikl() -> DiklConfig {
    DiklConfig {
        score_net: small_score_net(),
        dsm_steps: 5,
        score_lr: 1e-3,
        posterior: PosteriorConfig {
            n_is: 4,
            ais_intermediates: 3,
            ais_kernel: AisKernel::Hmc {
                leapfrog: 1,
                step: 0.5,
                target_accept: None,
            },
            mala_steps: 3,
            ..Default::default()
        },
        ..Default::default()
    }
}

struct Setup {
    target: CountedTarget,
    varmap: VarMap,
    model: Box<dyn Model>,
    streams: RngStreams,
    device: Device,
}

impl Setup {
    fn new(mu: [f64; 2]) -> Self {
        let target = CountedTarget::new(Box::new(gaussian(mu)));
        let varmap = VarMap::new();
        let streams = RngStreams::new(21);
        let vb = seeded_var_builder(&varmap, streams, DType::F32, &Device::Cpu);
        let model = GeneratorMlpConfig {
            hidden: vec![32, 32],
        }
        .build(&ModelShape::flat(2), vb)
        .unwrap();
        Setup {
            target,
            varmap,
            model,
            streams,
            device: Device::Cpu,
        }
    }
    fn cx(&self, batch: usize) -> Context<'_> {
        Context {
            target: &self.target,
            model: Some(&*self.model),
            streams: &self.streams,
            device: &self.device,
            batch,
        }
    }
    fn mean(&self) -> Vec<f64> {
        let obj = small_dikl().build(&self.target).unwrap();
        let mut s = obj
            .sampler(Some(&*self.model), &self.target, &self.device)
            .unwrap();
        let x = s
            .sample(2000, &RngStreams::new(99), &mut |_, _| {})
            .unwrap()
            .x;
        (0..2)
            .map(|j| x.iter().skip(j).step_by(2).map(|&v| v as f64).sum::<f64>() / 2000.0)
            .collect()
    }
}

#[test]
fn generator_steps_move_towards_the_target() {
    let mu = [3.0, -2.0];
    let setup = Setup::new(mu);
    let dist = |m: &[f64]| ((m[0] - mu[0]).powi(2) + (m[1] - mu[1]).powi(2)).sqrt();
    let d0 = dist(&setup.mean());
    let mut obj = small_dikl().build(&setup.target).unwrap();
    let cx = setup.cx(128);
    obj.init(&cx).unwrap();
    let mut trainer = Trainer::new(&setup.varmap, 1e-3, Some(10.0)).unwrap();
    let evals0 = setup.target.evals();
    for step in 0..60 {
        let out = obj.loss(step, &cx).unwrap();
        trainer.step(&out.loss).unwrap();
        if step == 0 {
            eprintln!("diagnostics {:?}", out.diagnostics);
        }
    }
    // Per step: 128 x 4 proposals x (1 start + 3 levels) + 128 x (1 + 3) MALA evaluations.
    assert_eq!(setup.target.evals() - evals0, 60 * (128 * 4 * 4 + 128 * 4));
    let d1 = dist(&setup.mean());
    eprintln!("distance of the generator's mean to the target's: {d0:.3} -> {d1:.3}");
    assert!(d1 < 0.5 * d0, "{d0} -> {d1}");
}

#[test]
fn state_round_trips_and_a_restored_objective_continues_exactly() {
    let setup = Setup::new([1.0, 1.0]);
    let cx = setup.cx(32);
    let mut cfg = small_dikl();
    cfg.posterior.mala_adapt = true;
    let mut a = cfg.build(&setup.target).unwrap();
    a.init(&cx).unwrap();
    for step in 0..2 {
        a.loss(step, &cx).unwrap();
    }
    let st = a.state().unwrap();
    assert!(st.arrays.keys().any(|k| k.starts_with("score_net/")));
    assert!(st.arrays.keys().any(|k| k.starts_with("score_adam.m/")));
    assert_eq!(st.counters["score_adam.steps"], 10);
    // The adapted MALA step is kept bit for bit.
    assert_ne!(f64::from_bits(st.counters["mala_step_bits"]), 0.01);
    let mut b = cfg.build(&setup.target).unwrap();
    b.restore(st.clone(), &cx).unwrap();
    assert_eq!(b.state().unwrap(), st);
    let la = a.loss(2, &cx).unwrap();
    let lb = b.loss(2, &cx).unwrap();
    let v = |l: &nsamp_core::StepLoss| l.loss.to_scalar::<f32>().unwrap();
    assert_eq!(v(&la), v(&lb));
    assert_eq!(la.diagnostics, lb.diagnostics);
    assert_eq!(a.state().unwrap(), b.state().unwrap());
    // A missing array is an error that names it.
    let mut broken = st.clone();
    let key = broken
        .arrays
        .keys()
        .find(|k| k.starts_with("score_adam.v/"))
        .unwrap()
        .clone();
    broken.arrays.remove(&key);
    let mut c = cfg.build(&setup.target).unwrap();
    let e = c.restore(broken, &cx).unwrap_err();
    assert!(format!("{e:#}").contains(&key), "{e:#}");
}

#[test]
fn bad_settings_and_models_are_refused() {
    let setup = Setup::new([0.0, 0.0]);
    let mut cfg = small_dikl();
    cfg.dsm_steps = 0;
    assert!(cfg.build(&setup.target).is_err());
    let mut cfg = small_dikl();
    cfg.posterior.average = 10;
    assert!(cfg.build(&setup.target).is_err());
    // A score network that is not a score model, and a model that is not a generator.
    let mut cfg = small_dikl();
    cfg.score_net = Spec::from_ron("GeneratorMlp(hidden: [4])").unwrap();
    let mut obj = cfg.build(&setup.target).unwrap();
    let e = obj.init(&setup.cx(8)).unwrap_err();
    assert!(e.to_string().contains("not a score network"), "{e}");
    let varmap = VarMap::new();
    let vb = seeded_var_builder(&varmap, RngStreams::new(1), DType::F32, &Device::Cpu);
    let score = DiklScoreMlpConfig {
        hidden: vec![4],
        ..Default::default()
    }
    .build(&ModelShape::flat(2), vb)
    .unwrap();
    let cx = Context {
        model: Some(&*score),
        ..setup.cx(8)
    };
    let mut obj = small_dikl().build(&setup.target).unwrap();
    assert!(obj
        .init(&cx)
        .unwrap_err()
        .to_string()
        .contains("GeneratorMlp"));
    let odd = DiklScoreMlpConfig {
        hidden: vec![5],
        ..Default::default()
    };
    let vb = seeded_var_builder(&VarMap::new(), RngStreams::new(1), DType::F32, &Device::Cpu);
    assert!(odd.build(&ModelShape::flat(2), vb).is_err());
}
