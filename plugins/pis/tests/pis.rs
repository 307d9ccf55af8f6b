//! PIS against known answers on a 1-D unnormalised Gaussian p~(x) = Z N(x; mu, s^2):
//! the path weights of the uncontrolled SDE, the gradient of the trajectory loss against finite
//! differences, and training to the optimum (loss -> -log Z, log Z estimate -> log Z).

use nsamp_core::candle::{DType, Device, Tensor};
use nsamp_core::candle_nn::VarMap;
use nsamp_core::numerics::rng::{fill_normal, RngStreams};
use nsamp_core::params::seeded_var_builder;
use nsamp_core::train::Trainer;
use nsamp_core::{
    Context, ControlModel, CountedTarget, ModelConfig, ModelShape, ObjectiveConfig, Sampler, Target,
};
use nsamp_plugin_pis::{ControlledSde, PathTarget, PisConfig, PisNetConfig, PisSampler};

/// p~(x) = Z N(x; mu, s^2) in one dimension: E(x) = (x - mu)^2 / (2 s^2) + ln(2 pi s^2) / 2 - ln Z.
struct Gauss {
    mu: f64,
    s: f64,
    log_z: f64,
}

impl Gauss {
    fn e(&self, x: f64) -> f64 {
        (x - self.mu).powi(2) / (2.0 * self.s * self.s)
            + 0.5 * (2.0 * std::f64::consts::PI * self.s * self.s).ln()
            - self.log_z
    }
}

impl Target for Gauss {
    fn dim(&self) -> usize {
        1
    }
    fn energy(&self, x: &[f32], e: &mut [f32]) -> anyhow::Result<()> {
        for (x, e) in x.iter().zip(e.iter_mut()) {
            *e = self.e(*x as f64) as f32;
        }
        Ok(())
    }
    fn energy_and_grad(&self, x: &[f32], e: &mut [f32], g: &mut [f32]) -> anyhow::Result<()> {
        self.energy(x, e)?;
        for (x, g) in x.iter().zip(g.iter_mut()) {
            *g = ((*x as f64 - self.mu) / (self.s * self.s)) as f32;
        }
        Ok(())
    }
}

const GAUSS: Gauss = Gauss {
    mu: 1.0,
    s: 0.5,
    log_z: 2.0,
};

/// u = 0.
struct ZeroControl;
impl ControlModel for ZeroControl {
    fn drift(&self, _t: &Tensor, x: &Tensor, _s: &Tensor) -> nsamp_core::candle::Result<Tensor> {
        x.zeros_like()
    }
}

#[test]
fn uncontrolled_weights_are_the_terminal_density_ratio() {
    let target = CountedTarget::new(Box::new(Gauss { ..GAUSS }));
    let (sigma, steps, n) = (1.3, 25, 3000);
    let sde = ControlledSde { sigma, steps };
    let dev = Device::Cpu;
    let mut sampler = PisSampler::new(&ZeroControl, &target, &dev, sde, 1.0, 1024);
    let x = sampler
        .sample(n, &RngStreams::new(5), &mut |_, _| {})
        .unwrap()
        .x;
    // Every path: steps scores + one terminal evaluation.
    assert_eq!(target.evals(), (n * (steps + 1)) as u64);
    let lw = sampler.log_weights();
    let mut max_err = 0f64;
    for (x, lw) in x.iter().zip(lw) {
        let x = *x as f64;
        let log_ref = -x * x / (2.0 * sigma * sigma)
            - 0.5 * (2.0 * std::f64::consts::PI * sigma * sigma).ln();
        let want = -GAUSS.e(x) - log_ref;
        max_err = max_err.max((lw - want).abs());
    }
    // f32 energies: E is O(10) at most here.
    assert!(max_err < 1e-4, "max |log w - (log p~ - log N)| = {max_err}");
    // y_1 ~ N(0, sigma^2): the sample variance within 4 standard errors (sqrt(2/n) relative).
    let var = x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / n as f64;
    let rel = var / (sigma * sigma) - 1.0;
    assert!(rel.abs() < 4.0 * (2.0 / n as f64).sqrt(), "variance {var}");
    // The log Z estimate of plain importance sampling from N(0, sigma^2): near 2 (loose: IS).
    let report: std::collections::HashMap<_, _> = sampler.report().into_iter().collect();
    assert!((report["log_z"] - GAUSS.log_z).abs() < 0.1, "{report:?}");
    assert!(report["ess"] > 0.0 && report["ess"] < 1.0);
}

/// The scores of a first run, replayed in later runs (the drift's score input held fixed).
struct Frozen {
    scores: Vec<Vec<f32>>,
    record: bool,
}

impl PathTarget for Frozen {
    fn score(&mut self, step: usize, y: &[f32], score: &mut [f32]) -> anyhow::Result<()> {
        if self.record {
            for (y, s) in y.iter().zip(score.iter_mut()) {
                *s = (-(*y as f64 - GAUSS.mu) / (GAUSS.s * GAUSS.s)) as f32;
            }
            self.scores.push(score.to_vec());
        } else {
            score.copy_from_slice(&self.scores[step]);
        }
        Ok(())
    }
    fn terminal(&mut self, y: &[f32], e: &mut [f32], g: &mut [f32]) -> anyhow::Result<()> {
        for ((y, e), g) in y.iter().zip(e.iter_mut()).zip(g.iter_mut()) {
            *e = GAUSS.e(*y as f64) as f32;
            *g = ((*y as f64 - GAUSS.mu) / (GAUSS.s * GAUSS.s)) as f32;
        }
        Ok(())
    }
}

/// The loss gradient by backpropagation through the trajectory equals the finite-difference
/// derivative of the loss along a random parameter direction, with the target scores entering
/// the drift held at their values (the estimator's definition: no second derivatives of E) and
/// the terminal E(y_1) differentiated through the surrogate.
#[test]
fn trajectory_gradient_matches_finite_differences() {
    let vm = VarMap::new();
    let dev = Device::Cpu;
    let vb = seeded_var_builder(&vm, RngStreams::new(3), DType::F64, &dev);
    let cfg = PisNetConfig {
        channels: 16,
        t_channels: 16,
        ..Default::default()
    };
    let model = cfg.build(&ModelShape::flat(1), vb).unwrap();
    let u = model.as_control().unwrap();
    // Move off the zero-initialised output layers: every parameter N(0, 0.3^2).
    let mut rng = RngStreams::new(11).stream("fd", 0);
    // Sorted by name: a VarMap is a HashMap, the draws must not depend on its order.
    let mut named: Vec<_> = vm.data().lock().unwrap().clone().into_iter().collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let vars: Vec<_> = named.into_iter().map(|(_, v)| v).collect();
    for v in &vars {
        let mut w = vec![0f32; v.elem_count()];
        fill_normal(&mut rng, &mut w);
        let w: Vec<f64> = w.iter().map(|a| 0.3 * *a as f64).collect();
        v.set(&Tensor::from_vec(w, v.shape(), &dev).unwrap())
            .unwrap();
    }
    let dirs: Vec<Tensor> = vars
        .iter()
        .map(|v| {
            let mut w = vec![0f32; v.elem_count()];
            fill_normal(&mut rng, &mut w);
            Tensor::from_vec(w, v.shape(), &dev)
                .unwrap()
                .to_dtype(DType::F64)
                .unwrap()
        })
        .collect();
    let sde = ControlledSde {
        sigma: 0.8,
        steps: 12,
    };
    let mut frozen = Frozen {
        scores: Vec::new(),
        record: true,
    };
    let run = |frozen: &mut Frozen| {
        let mut r = RngStreams::new(2).stream("fd-noise", 0);
        let mut noise = |b: &mut [f32]| fill_normal(&mut r, b);
        sde.simulate(u, frozen, &mut noise, 64, 1, DType::F64, &dev, true)
            .unwrap()
    };
    let base = run(&mut frozen);
    frozen.record = false;
    let loss = base.loss.clone().unwrap();
    let value = loss.to_scalar::<f64>().unwrap();
    assert!((value - base.loss_value()).abs() < 1e-4 * (1.0 + value.abs()));
    let grads = loss.backward().unwrap();
    let analytic: f64 = vars
        .iter()
        .zip(&dirs)
        .map(|(v, d)| {
            grads
                .get(v)
                .map(|g| {
                    (g * d)
                        .unwrap()
                        .sum_all()
                        .unwrap()
                        .to_scalar::<f64>()
                        .unwrap()
                })
                .unwrap_or(0.0)
        })
        .sum();
    let originals: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().copy().unwrap()).collect();
    let h = 1e-4;
    let mut at = |sign: f64| {
        for ((v, o), d) in vars.iter().zip(&originals).zip(&dirs) {
            v.set(&(o + (d * (sign * h)).unwrap()).unwrap()).unwrap();
        }
        run(&mut frozen).loss.unwrap().to_scalar::<f64>().unwrap()
    };
    let fd = (at(1.0) - at(-1.0)) / (2.0 * h);
    let rel = (fd - analytic).abs() / analytic.abs().max(1e-8);
    assert!(
        rel < 2e-3,
        "finite differences {fd} vs backpropagation {analytic} (rel {rel})"
    );
    assert!(analytic.abs() > 1e-3, "degenerate direction: {analytic}");
}

/// Training reaches the optimum: the path KL vanishes, so the loss tends to -log Z (up to the
/// Euler discretisation of the control), from an untrained loss far above it; the trained
/// sampler's log Z estimate is within 0.03 of log Z with a high ESS, and its samples have the
/// target's mean and standard deviation.
#[test]
fn training_reaches_minus_log_z_and_estimates_log_z() {
    let target = CountedTarget::new(Box::new(Gauss { ..GAUSS }));
    let vm = VarMap::new();
    let dev = Device::Cpu;
    let vb = seeded_var_builder(&vm, RngStreams::new(1), DType::F32, &dev);
    let model = PisNetConfig::default()
        .build(&ModelShape::flat(1), vb)
        .unwrap();
    let cfg = PisConfig {
        sigma: 1.0,
        steps: 40,
        scale: Some(1.0),
        sample_chunk: 4096,
    };
    let mut obj = cfg.build(&target).unwrap();
    let streams = RngStreams::new(7);
    let batch = 128;
    let cx = Context {
        target: &target,
        model: Some(&*model),
        streams: &streams,
        device: &dev,
        batch,
    };
    obj.init(&cx).unwrap();
    let mut trainer = Trainer::new(&vm, 3e-3, Some(10.0)).unwrap();
    let (steps, tail) = (250u64, 50u64);
    let mut first = 0.0;
    let mut tail_sum = 0.0;
    for step in 0..steps {
        let out = obj.loss(step, &cx).unwrap();
        let l = out.loss.to_scalar::<f32>().unwrap() as f64;
        if step == 0 {
            first = l;
        }
        if step >= steps - tail {
            tail_sum += l;
        }
        trainer.step(&out.loss).unwrap();
    }
    assert_eq!(target.evals(), steps * (batch as u64) * 41);
    let tail_mean = tail_sum / tail as f64;
    // The trained loss on a fresh batch of 4096 paths (standard error about 0.01).
    let big = Context { batch: 4096, ..cx };
    let trained = obj
        .loss(steps, &big)
        .unwrap()
        .loss
        .to_scalar::<f32>()
        .unwrap() as f64;
    // Untrained (u ~ 0.01 * score): about KL(N(0,1) || N(1, 0.25)) - log Z = 0.807 less 0.2
    // (see `uncontrolled_loss_is_the_terminal_kl`); the optimum is -log Z = -2. The Euler gap of
    // the continuous optimal control u*(x, t) = -(x - 4/3) / (1/3 + 1 - t) at N = 40 is 0.011
    // (measured by Monte Carlo, 40,000 paths).
    eprintln!(
        "PIS 1-D: untrained loss {first:.4}, mean of the last {tail} steps {tail_mean:.4}, \
         trained loss at B = 4096 {trained:.4}, -log Z = {}",
        -GAUSS.log_z
    );
    assert!(first > -GAUSS.log_z + 1.5, "untrained loss {first}");
    // The loss's per-path spread at the optimum is that of the dropped stochastic integral
    // (about 1.4): standard error 0.022 at B = 4096.
    assert!(
        (trained + GAUSS.log_z).abs() < 0.1,
        "trained loss {trained} vs -log Z = {}",
        -GAUSS.log_z
    );
    let mut sampler = obj.sampler(Some(&*model), &target, &dev).unwrap();
    let s = sampler
        .sample(4096, &RngStreams::new(8), &mut |_, _| {})
        .unwrap();
    let report: std::collections::HashMap<_, _> = sampler.report().into_iter().collect();
    eprintln!("PIS 1-D sampler: {report:?}");
    assert!(
        (report["log_z"] - GAUSS.log_z).abs() < 0.03,
        "log Z {} vs {}",
        report["log_z"],
        GAUSS.log_z
    );
    assert!(report["ess"] > 0.8, "ESS {}", report["ess"]);
    // -mean log w has the loss's expectation, KL(Q || P*) - log Z, with the stochastic integral
    // kept (a zero-mean control variate): nearly noiseless at the optimum. The path KL is >= 0
    // and small: within the Euler gap (0.011) plus the training residual.
    let kl = report["log_z"] - report["log_z_lower"];
    let elbo_loss = -report["log_z_lower"];
    assert!(
        elbo_loss + GAUSS.log_z > -0.005 && elbo_loss + GAUSS.log_z < 0.03,
        "-mean log w = {elbo_loss} vs -log Z = {} (KL about {kl})",
        -GAUSS.log_z
    );
    // The samples: mean mu and standard deviation s within a few standard errors.
    let n = s.n() as f64;
    let mean = s.x.iter().map(|v| *v as f64).sum::<f64>() / n;
    let sd = (s.x.iter().map(|v| (*v as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
    assert!((mean - GAUSS.mu).abs() < 0.05, "mean {mean}");
    assert!((sd - GAUSS.s).abs() < 0.05, "sd {sd}");
}

/// With u = 0 the loss is E_{N(0,1)}[log N - log p~] = KL(N(0, 1) || N(1, 0.25)) - log Z = 0.807
/// (the untrained PisNet, u = 0.01 grad log p~, is close: its drift 0.04 (1 - x) lowers it by
/// about 0.2, since the loss falls by 4 per unit shift of the mean towards mu).
#[test]
fn uncontrolled_loss_is_the_terminal_kl() {
    let sde = ControlledSde {
        sigma: 1.0,
        steps: 10,
    };
    let target = CountedTarget::new(Box::new(Gauss { ..GAUSS }));
    let mut t = nsamp_plugin_pis::ScaledTarget::new(&target, 1.0);
    let mut r = RngStreams::new(4).stream("zero", 0);
    let mut noise = |b: &mut [f32]| fill_normal(&mut r, b);
    let n = 40000;
    let p = sde
        .simulate(
            &ZeroControl,
            &mut t,
            &mut noise,
            n,
            1,
            DType::F32,
            &Device::Cpu,
            true,
        )
        .unwrap();
    let l = p.loss.as_ref().unwrap().to_scalar::<f32>().unwrap() as f64;
    let want = (0.5f64).ln() + 2.0 / 0.5 - 0.5 - GAUSS.log_z;
    // Per-path standard deviation: sqrt(Var[1.5 x^2 - 4 x]) = sqrt(4.5 + 16) = 4.53.
    let se = (20.5f64 / n as f64).sqrt();
    assert!((l - want).abs() < 4.0 * se, "loss {l} vs {want} (se {se})");
    assert!((l - p.loss_value()).abs() < 1e-4);
}
