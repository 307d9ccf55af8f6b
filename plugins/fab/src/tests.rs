//! Tests of FAB with known answers: a diagonal affine test flow x = mu + exp(log s) z (exact
//! log q and score) and diagonal Gaussian targets, whose AIS normalisers and means are analytic.

use crate::ends::FlowEnds;
use crate::objective::Fab;
use crate::FabConfig;
use nsamp_core::candle::{DType, Device, Tensor, D};
use nsamp_core::candle_nn::{Init, VarBuilder, VarMap};
use nsamp_core::mcmc::ais::{ais, AisKernel, AisSettings, AnnealEnds};
use nsamp_core::numerics::lse::{ess_fraction, log_sum_exp_f64};
use nsamp_core::numerics::rng::{fill_normal, RngStreams};
use nsamp_core::train::Trainer;
use nsamp_core::{Context, CountedTarget, FlowModel, Model, Objective, Target};

const LN_2PI: f64 = 1.8378770664093453;

/// x = mu + exp(log_s) z per coordinate: log q(x) = sum_k [-u_k^2 / 2 - log s_k] - d ln(2 pi) / 2
/// with u = (x - mu) / s, and grad log q = -(x - mu) / s^2.
struct DiagAffine {
    mu: Tensor,
    log_s: Tensor,
}

impl DiagAffine {
    fn new(vb: VarBuilder, dim: usize) -> Self {
        DiagAffine {
            mu: vb.get_with_hints(dim, "mu", Init::Const(0.0)).unwrap(),
            log_s: vb.get_with_hints(dim, "log_s", Init::Const(0.0)).unwrap(),
        }
    }
    fn fixed(mu: &[f32], log_s: &[f32]) -> Self {
        let dev = Device::Cpu;
        DiagAffine {
            mu: Tensor::from_slice(mu, mu.len(), &dev).unwrap(),
            log_s: Tensor::from_slice(log_s, log_s.len(), &dev).unwrap(),
        }
    }
    fn log_normal(&self, u: &Tensor) -> nsamp_core::candle::Result<Tensor> {
        let d = u.dim(1)? as f64;
        ((u.sqr()?.sum(D::Minus1)? * -0.5)? - self.log_s.sum_all()?.broadcast_as(u.dim(0)?)?)?
            - 0.5 * d * LN_2PI
    }
}

impl FlowModel for DiagAffine {
    fn sample_with_log_prob(&self, z: &Tensor) -> nsamp_core::candle::Result<(Tensor, Tensor)> {
        let x = z
            .broadcast_mul(&self.log_s.exp()?)?
            .broadcast_add(&self.mu)?;
        Ok((x, self.log_normal(z)?))
    }
    fn log_prob(&self, x: &Tensor) -> nsamp_core::candle::Result<Tensor> {
        let u = x
            .broadcast_sub(&self.mu)?
            .broadcast_div(&self.log_s.exp()?)?;
        self.log_normal(&u)
    }
    fn score(&self, x: &Tensor) -> nsamp_core::candle::Result<Tensor> {
        x.broadcast_sub(&self.mu)?
            .broadcast_div(&(&self.log_s * 2.0)?.exp()?)?
            .neg()
    }
}

impl Model for DiagAffine {
    fn as_flow(&self) -> Option<&dyn FlowModel> {
        Some(self)
    }
    fn describe(&self) -> String {
        "DiagAffine".into()
    }
}

/// E(x) = sum_k (x_k - m_k)^2 / (2 s_k^2) + c: p~ = exp(-E) has
/// log Z = sum_k ln(s_k sqrt(2 pi)) - c.
struct Gauss {
    m: Vec<f32>,
    s: Vec<f32>,
    c: f32,
}

impl Target for Gauss {
    fn dim(&self) -> usize {
        self.m.len()
    }
    fn energy(&self, x: &[f32], e: &mut [f32]) -> anyhow::Result<()> {
        let mut g = vec![0f32; x.len()];
        self.energy_and_grad(x, e, &mut g)
    }
    fn energy_and_grad(&self, x: &[f32], e: &mut [f32], g: &mut [f32]) -> anyhow::Result<()> {
        let d = self.m.len();
        for (i, ei) in e.iter_mut().enumerate() {
            *ei = self.c;
            for k in 0..d {
                let r = x[i * d + k] - self.m[k];
                let s2 = self.s[k] * self.s[k];
                *ei += 0.5 * r * r / s2;
                g[i * d + k] = r / s2;
            }
        }
        Ok(())
    }
}

/// ln of int p~(x)^alpha q(x)^(1 - alpha) dx for q = N(0, I) and p~ = exp(-E) of `Gauss`, per
/// coordinate a Gaussian integral: precision a = alpha / s^2 + 1 - alpha, linear b = alpha m / s^2.
/// Also the mean of the normalised g, b / a per coordinate.
fn gauss_path_end(t: &Gauss, alpha: f64) -> (f64, Vec<f64>) {
    let mut lz = -alpha * t.c as f64;
    let mut mean = Vec::new();
    for (&m, &s) in t.m.iter().zip(&t.s) {
        let (m, s2) = (m as f64, (s as f64).powi(2));
        let a = alpha / s2 + 1.0 - alpha;
        let b = alpha * m / s2;
        let c = -alpha * m * m / (2.0 * s2) - (1.0 - alpha) * 0.5 * LN_2PI;
        lz += 0.5 * (2.0 * std::f64::consts::PI / a).ln() + b * b / (2.0 * a) + c;
        mean.push(b / a);
    }
    (lz, mean)
}

fn start(n: usize, d: usize, seed: u64) -> Vec<f32> {
    let mut x = vec![0f32; n * d];
    fill_normal(&mut RngStreams::new(seed).stream("start", 0), &mut x);
    x
}

/// log Z estimate LSE(log w) - ln n and its standard error (delta method).
fn log_z(log_w: &[f64]) -> (f64, f64) {
    let n = log_w.len() as f64;
    let lz = log_sum_exp_f64(log_w) - n.ln();
    let var = log_w
        .iter()
        .map(|l| ((l - lz).exp() - 1.0).powi(2))
        .sum::<f64>()
        / (n - 1.0);
    (lz, (var / n).sqrt())
}

fn p_far() -> Gauss {
    // p = N(3, 0.5^2) per coordinate, with an arbitrary normaliser.
    Gauss {
        m: vec![3.0, 3.0],
        s: vec![0.5, 0.5],
        c: 0.7,
    }
}

/// (a) AIS from the flow at the identity (q = N(0, I)) along both FAB paths: towards p (alpha 1)
/// log Z -> log Z_p; towards g = p^2 / q (alpha 2) log Z -> ln int p~^2 / q and the weighted mean
/// -> g's mean 24/7 (not p's 3); the flow's own ESS is Z_p^2 / int p~^2 / q (tiny here), and AIS
/// raises it by orders of magnitude.
#[test]
fn ais_from_the_identity_flow_has_the_right_normalisers_and_ess() {
    let target = CountedTarget::new(Box::new(p_far()));
    let flow = DiagAffine::fixed(&[0.0, 0.0], &[0.0, 0.0]);
    let dev = Device::Cpu;
    let n = 3000;
    let kernel = AisKernel::Hmc {
        leapfrog: 5,
        step: 0.3,
        target_accept: Some(0.65),
    };
    let (lz_p, mean_p) = gauss_path_end(&p_far(), 1.0);
    let (lz_g, mean_g) = gauss_path_end(&p_far(), 2.0);
    assert!((mean_p[0] - 3.0).abs() < 1e-12 && (mean_g[0] - 24.0 / 7.0).abs() < 1e-12);
    // Plain IS ESS, exact: Z_p^2 / int p~^2 / q.
    let exact_is_ess = (2.0 * lz_p - lz_g).exp();
    assert!(exact_is_ess < 1e-4, "{exact_is_ess}");
    for (alpha, lz_exact, mean) in [(1.0, lz_p, mean_p), (2.0, lz_g, mean_g)] {
        let ends = FlowEnds::new(&flow, &target, &dev, alpha, None);
        let s = AisSettings {
            intermediates: 60,
            kernel,
            moves: 2,
        };
        let run = ais(start(n, 2, 11), &ends, &s, &RngStreams::new(4)).unwrap();
        let (lz, se) = log_z(&run.log_w);
        assert!(se < 0.1, "alpha {alpha}: standard error {se}");
        assert!(
            (lz - lz_exact).abs() < 4.0 * se + 0.02,
            "alpha {alpha}: log Z {lz} vs {lz_exact} (se {se})"
        );
        let ess = ess_fraction(&run.log_w);
        eprintln!(
            "alpha {alpha}: log Z {lz:.4} +- {se:.4} (exact {lz_exact:.4}), AIS ESS {ess:.4}"
        );
        let flow_ess = ess_fraction(ends.first.borrow().as_ref().unwrap());
        assert!(flow_ess < 0.01, "alpha {alpha}: flow ESS {flow_ess}");
        // Plain IS at this distance keeps ~1e-5 of its samples (1 / n measured); AIS keeps a
        // good fraction.
        assert!(
            ess > 0.1 && ess > 100.0 * flow_ess,
            "alpha {alpha}: AIS ESS {ess}, flow ESS {flow_ess}"
        );
        // Weighted mean of the final states: g's mean.
        let lse = log_sum_exp_f64(&run.log_w);
        for (k, &mk) in mean.iter().enumerate() {
            let m: f64 = (0..n)
                .map(|i| (run.log_w[i] - lse).exp() * run.x[i * 2 + k] as f64)
                .sum();
            assert!((m - mk).abs() < 0.05, "alpha {alpha}: mean {m} vs {mk}");
        }
        // Energy evaluations: rows at x0 (twice: current and proposal buffers), then every
        // leapfrog step of every move at the 60 intermediate levels.
        assert!(target.evals() >= (n * 60 * 2 * 5) as u64);
    }
}

/// Three particles in 2-D joined by unit springs: E = sum_{i<j} |x_i - x_j|^2 / 2 (translation
/// invariant).
struct Springs;

impl Target for Springs {
    fn dim(&self) -> usize {
        6
    }
    fn energy(&self, x: &[f32], e: &mut [f32]) -> anyhow::Result<()> {
        let mut g = vec![0f32; x.len()];
        self.energy_and_grad(x, e, &mut g)
    }
    fn energy_and_grad(&self, x: &[f32], e: &mut [f32], g: &mut [f32]) -> anyhow::Result<()> {
        for (r, er) in e.iter_mut().enumerate() {
            let (x, g) = (&x[r * 6..(r + 1) * 6], &mut g[r * 6..(r + 1) * 6]);
            *er = 0.0;
            g.iter_mut().for_each(|v| *v = 0.0);
            for i in 0..3 {
                for j in i + 1..3 {
                    for k in 0..2 {
                        let u = x[2 * i + k] - x[2 * j + k];
                        *er += 0.5 * u * u;
                        g[2 * i + k] += u;
                        g[2 * j + k] -= u;
                    }
                }
            }
        }
        Ok(())
    }
    fn structure(&self) -> nsamp_core::TargetStructure {
        nsamp_core::TargetStructure::Particles(nsamp_core::Particles {
            n: 3,
            spatial_dim: 2,
        })
    }
}

/// Central finite differences of log pi_beta against the ends' gradients, and the p part of the
/// gradient against alpha beta grad log p~ (`grad_e` = grad E of the density FAB targets).
fn check_gradient(ends: &FlowEnds<'_>, x: &[f32], n: usize, grad_e: &dyn Fn(&[f32]) -> Vec<f32>) {
    let d = x.len() / n;
    let alpha = ends.alpha;
    let (mut l0, mut l1) = (vec![0.0; n], vec![0.0; n]);
    let (mut g0, mut g1) = (vec![0f32; n * d], vec![0f32; n * d]);
    ends.eval(x, &mut l0, &mut l1, Some((&mut g0, &mut g1)))
        .unwrap();
    let ge = grad_e(x);
    for beta in [0.0, 0.3, 0.8, 1.0] {
        let log_pi = |x: &[f32]| -> Vec<f64> {
            let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
            ends.eval(x, &mut a, &mut b, None).unwrap();
            (0..n).map(|i| (1.0 - beta) * a[i] + beta * b[i]).collect()
        };
        let h = 1e-2f32;
        for k in 0..n * d {
            let (mut xp, mut xm) = (x.to_vec(), x.to_vec());
            xp[k] += h;
            xm[k] -= h;
            let i = k / d;
            let fd = (log_pi(&xp)[i] - log_pi(&xm)[i]) / (xp[k] - xm[k]) as f64;
            let an = (1.0 - beta) * g0[k] as f64 + beta * g1[k] as f64;
            assert!(
                (fd - an).abs() < 2e-3 * (1.0 + an.abs()),
                "beta {beta}, element {k}: fd {fd} vs {an}"
            );
            // The p part: grad log pi_beta - ((1 - beta) + beta (1 - alpha)) grad log q.
            let p_part = an - ((1.0 - beta) + beta * (1.0 - alpha)) * g0[k] as f64;
            let want = -alpha * beta * ge[k] as f64;
            assert!(
                (p_part - want).abs() < 1e-4 * (1.0 + want.abs()),
                "beta {beta}, element {k}: p part {p_part} vs alpha beta grad log p {want}"
            );
        }
    }
}

/// Particle targets: p~ exp(-(n/2)|c|^2), whose gradient (checked by finite differences) adds the
/// centre of mass c to every particle's grad E; the relative part is the target's own.
#[test]
fn particle_ends_add_the_centre_of_mass_factor() {
    let target = CountedTarget::new(Box::new(Springs));
    let flow = DiagAffine::fixed(&[0.1; 6], &[0.2; 6]);
    let dev = Device::Cpu;
    let ends = FlowEnds::new(&flow, &target, &dev, 2.0, None);
    assert!(ends.particles().is_none(), "AIS noise is flat");
    let n = 4;
    let x = start(n, 6, 9);
    let grad_e = |x: &[f32]| -> Vec<f32> {
        let mut e = vec![0f32; n];
        let mut g = vec![0f32; x.len()];
        Springs.energy_and_grad(x, &mut e, &mut g).unwrap();
        for r in 0..n {
            for k in 0..2 {
                let c = (0..3).map(|i| x[r * 6 + 2 * i + k]).sum::<f32>() / 3.0;
                for i in 0..3 {
                    g[r * 6 + 2 * i + k] += c;
                }
            }
        }
        g
    };
    check_gradient(&ends, &x, n, &grad_e);
    // A translation changes log pi_1 by exactly alpha (n/2)(|c|^2 - |c'|^2) + (1 - alpha) d log q.
    let (mut l0, mut l1) = (vec![0.0; n], vec![0.0; n]);
    ends.eval(&x, &mut l0, &mut l1, None).unwrap();
    let shifted: Vec<f32> = x.iter().map(|v| v + 0.5).collect();
    let (mut m0, mut m1) = (vec![0.0; n], vec![0.0; n]);
    ends.eval(&shifted, &mut m0, &mut m1, None).unwrap();
    for r in 0..n {
        let c2 = |x: &[f32]| -> f64 {
            (0..2)
                .map(|k| ((0..3).map(|i| x[r * 6 + 2 * i + k] as f64).sum::<f64>() / 3.0).powi(2))
                .sum()
        };
        let want = -2.0 * 1.5 * (c2(&shifted) - c2(&x)) - (m0[r] - l0[r]);
        assert!(
            (m1[r] - l1[r] - want).abs() < 1e-3,
            "{} vs {want}",
            m1[r] - l1[r]
        );
    }
}

/// (d) The gradient of log pi_beta = (1 - beta) log q + beta (alpha log p~ + (1 - alpha) log q)
/// against central finite differences, and its p part = alpha beta grad log p~ exactly (alpha = 3,
/// where fab-torch's port would have 2 beta).
#[test]
fn intermediate_gradient_matches_finite_differences() {
    let t = Gauss {
        m: vec![1.0, -2.0, 0.5],
        s: vec![0.7, 1.3, 2.0],
        c: 0.0,
    };
    let target = CountedTarget::new(Box::new(t));
    let flow = DiagAffine::fixed(&[0.3, -0.4, 1.1], &[0.2, -0.3, 0.5]);
    let dev = Device::Cpu;
    let alpha = 3.0;
    let ends = FlowEnds::new(&flow, &target, &dev, alpha, None);
    let (n, d) = (5, 3);
    let x = start(n, d, 3);
    let grad_e = |x: &[f32]| -> Vec<f32> {
        let mut e = vec![0f32; n];
        let mut g = vec![0f32; x.len()];
        target.energy_and_grad(x, &mut e, &mut g).unwrap();
        g
    };
    check_gradient(&ends, &x, n, &grad_e);
    let (mut l0, mut l1) = (vec![0.0; n], vec![0.0; n]);
    ends.eval(&x, &mut l0, &mut l1, None).unwrap();
    let mut e = vec![0f32; n];
    target.energy(&x, &mut e).unwrap();
    // The log densities themselves: log0 = log q, log1 = alpha log p~ + (1 - alpha) log q.
    let (lq, _) = ends.flow_log_q(&x, false).unwrap();
    for i in 0..n {
        assert!((l0[i] - lq[i] as f64).abs() < 1e-6);
        let want = -alpha * e[i] as f64 + (1.0 - alpha) * lq[i] as f64;
        assert!((l1[i] - want).abs() < 1e-4 * (1.0 + want.abs()));
    }
}

fn fab_cfg() -> FabConfig {
    FabConfig {
        alpha: 2.0,
        intermediates: 2,
        kernel: AisKernel::Hmc {
            leapfrog: 5,
            step: 0.3,
            target_accept: Some(0.65),
        },
        moves: 1,
        max_grad: None,
        buffer_max: 2048,
        buffer_min: 512,
        minibatches: 4,
        w_adjust_clip: None,
        eval_ais: true,
    }
}

/// Flow ESS of 4000 fresh samples (weights p~ / q).
fn flow_ess(flow: &dyn FlowModel, target: &CountedTarget, seed: u64) -> f64 {
    let d = target.dim();
    let z = Tensor::from_vec(start(4000, d, seed), (4000, d), &Device::Cpu).unwrap();
    let (x, lq) = flow.sample_with_log_prob(&z).unwrap();
    let x = x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let lq = lq.to_vec1::<f32>().unwrap();
    let mut e = vec![0f32; 4000];
    target.energy(&x, &mut e).unwrap();
    let lw: Vec<f64> = e
        .iter()
        .zip(&lq)
        .map(|(e, q)| -(*e as f64) - *q as f64)
        .collect();
    ess_fraction(&lw)
}

/// (b) A few hundred FAB steps on a 2-D Gaussian move the flow onto it: its ESS rises from
/// about 0.2 to near 1. Also: the buffer was filled to buffer_min by init, the objective's
/// state restores exactly (same losses and diagnostics as without the round trip).
#[test]
fn fab_steps_raise_the_flow_ess_on_a_gaussian() {
    let t = Gauss {
        m: vec![1.0, -1.0],
        s: vec![0.5, 1.5],
        c: 2.0,
    };
    let target = CountedTarget::new(Box::new(t));
    let dev = Device::Cpu;
    let vm = VarMap::new();
    let model = DiagAffine::new(VarBuilder::from_varmap(&vm, DType::F32, &dev), 2);
    let streams = RngStreams::new(21);
    let cx = Context {
        target: &target,
        model: Some(&model),
        streams: &streams,
        device: &dev,
        batch: 64,
    };
    let cfg = fab_cfg();
    let mut fab = Fab::new(cfg.clone(), &target).unwrap();
    fab.init(&cx).unwrap();
    assert!(fab.buffer().len() >= 512 && fab.buffer().len() < 512 + 64);
    let before = flow_ess(&model, &target, 1);
    let mut trainer = Trainer::new(&vm, 0.02, None).unwrap();
    let steps = 300u64;
    for s in 0..steps {
        // A state round trip in the middle of an iteration (k = 4) changes nothing.
        if s == 102 {
            let st = fab.state().unwrap();
            let mut other = Fab::new(cfg.clone(), &target).unwrap();
            other.restore(st.clone(), &cx).unwrap();
            assert_eq!(other.state().unwrap(), st);
            fab = other;
        }
        let out = fab.loss(s, &cx).unwrap();
        let l = out.loss.to_scalar::<f32>().unwrap();
        assert!(l.is_finite(), "step {s}: loss {l}");
        trainer.step(&out.loss).unwrap();
        fab.after_step(s, &cx).unwrap();
    }
    let after = flow_ess(&model, &target, 1);
    eprintln!("flow ESS before {before:.4}, after {steps} FAB steps {after:.4}");
    assert!(
        after > before + 0.3 && after > 0.8,
        "flow ESS {before} -> {after}"
    );
    // The trained sampler's report: flow ESS and AIS towards p with log Z = ln(0.5 1.5 2 pi) - 2.
    let mut sampler = fab.sampler(Some(&model), &target, &dev).unwrap();
    let s = sampler.sample(2000, &streams, &mut |_, _| {}).unwrap();
    assert_eq!(s.n(), 2000);
    let r: std::collections::HashMap<String, f64> = sampler.report().into_iter().collect();
    let lz = (0.5f64 * 1.5 * 2.0 * std::f64::consts::PI).ln() - 2.0;
    eprintln!("trained sampler report {r:?} (log Z exact {lz:.4})");
    assert!(r["flow_ess"] > 0.8 && r["ais_ess"] > 0.8, "{r:?}");
    assert!((r["ais_log_z"] - lz).abs() < 0.05, "{r:?} vs {lz}");
}

/// The objective's state round trip resumes exactly: two objectives, one restored from the
/// other's state mid-iteration, give bit-identical losses and diagnostics over the next AIS batch.
#[test]
fn restored_state_continues_exactly() {
    let t = Gauss {
        m: vec![1.0, -1.0],
        s: vec![0.5, 1.5],
        c: 0.0,
    };
    let target = CountedTarget::new(Box::new(t));
    let dev = Device::Cpu;
    let model = DiagAffine::fixed(&[0.2, 0.1], &[-0.1, 0.3]);
    let streams = RngStreams::new(5);
    let cx = Context {
        target: &target,
        model: Some(&model),
        streams: &streams,
        device: &dev,
        batch: 32,
    };
    let mut cfg = fab_cfg();
    cfg.buffer_min = 128;
    cfg.buffer_max = 200;
    let mut a = Fab::new(cfg.clone(), &target).unwrap();
    a.init(&cx).unwrap();
    for s in 0..6 {
        a.loss(s, &cx).unwrap();
    }
    let mut b = Fab::new(cfg, &target).unwrap();
    b.restore(a.state().unwrap(), &cx).unwrap();
    for s in 6..13 {
        let (la, lb) = (a.loss(s, &cx).unwrap(), b.loss(s, &cx).unwrap());
        assert_eq!(
            la.loss.to_scalar::<f32>().unwrap(),
            lb.loss.to_scalar::<f32>().unwrap()
        );
        assert_eq!(la.diagnostics, lb.diagnostics);
    }
    assert_eq!(a.state().unwrap(), b.state().unwrap());
    assert_eq!(
        a.buffer().len(),
        200,
        "FIFO: the buffer stays at buffer_max"
    );
}

#[test]
fn bad_settings_are_refused() {
    let target = CountedTarget::new(Box::new(p_far()));
    let mut cfg = fab_cfg();
    cfg.alpha = 0.5;
    assert!(Fab::new(cfg, &target).is_err());
    let mut cfg = fab_cfg();
    cfg.buffer_min = cfg.buffer_max;
    assert!(Fab::new(cfg, &target).is_err());
    // k B rows per draw must fit in buffer_min.
    let dev = Device::Cpu;
    let model = DiagAffine::fixed(&[0.0, 0.0], &[0.0, 0.0]);
    let streams = RngStreams::new(0);
    let cx = Context {
        target: &target,
        model: Some(&model),
        streams: &streams,
        device: &dev,
        batch: 256,
    };
    let mut fab = Fab::new(fab_cfg(), &target).unwrap();
    let e = fab.init(&cx).unwrap_err().to_string();
    assert!(e.contains("buffer_min"), "{e}");
}

/// The loss is -mean_i w_adj,i log q(x_i) over the minibatch's buffer rows with
/// w_adj = exp((1 - alpha)(log q - log q_old)), and the buffer is adjusted by the same log w_adj;
/// a weight beyond f32's range (e^200) scales the loss by W_MAX / max w instead of overflowing.
#[test]
fn loss_is_the_weighted_log_likelihood_and_scales_in_f32() {
    let target = CountedTarget::new(Box::new(p_far()));
    let dev = Device::Cpu;
    let model = DiagAffine::fixed(&[0.5, 1.0], &[0.3, 0.1]);
    let streams = RngStreams::new(8);
    let b = 16;
    let cx = Context {
        target: &target,
        model: Some(&model),
        streams: &streams,
        device: &dev,
        batch: b,
    };
    let mut cfg = fab_cfg();
    cfg.alpha = 3.0;
    cfg.buffer_min = 64;
    cfg.buffer_max = 100;
    let mut fab = Fab::new(cfg, &target).unwrap();
    fab.init(&cx).unwrap();
    fab.loss(0, &cx).unwrap();
    let expected = |fab: &Fab, j: usize| -> (Vec<usize>, Vec<f64>, Vec<f64>) {
        let idx = fab.pending()[j * b..(j + 1) * b].to_vec();
        let (x, old) = fab.buffer().gather(&idx);
        let xt = Tensor::from_vec(x, (b, 2), &dev).unwrap();
        let lq: Vec<f64> = model
            .log_prob(&xt)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
            .iter()
            .map(|&v| v as f64)
            .collect();
        let adj = lq.iter().zip(&old).map(|(q, o)| -2.0 * (q - o)).collect();
        (idx, lq, adj)
    };
    // Minibatch 1: the formula, and the buffer's adjustment.
    let (idx, lq, adj) = expected(&fab, 1);
    let w_before: Vec<f64> = idx.iter().map(|&i| fab.buffer().log_w(i)).collect();
    let want = -(0..b).map(|i| adj[i].exp() * lq[i]).sum::<f64>() / b as f64;
    let out = fab.loss(1, &cx).unwrap();
    let got = out.loss.to_scalar::<f32>().unwrap() as f64;
    assert!(
        (got - want).abs() < 1e-4 * want.abs().max(1.0),
        "{got} vs {want}"
    );
    for (k, &i) in idx.iter().enumerate() {
        assert!((fab.buffer().log_w(i) - (w_before[k] + adj[k])).abs() < 1e-9);
        assert_eq!(fab.buffer().log_q_old(i), lq[k]);
    }
    // Minibatch 2 with log q_old = 200: weights ~e^400, far beyond f32.
    let idx2 = fab.pending()[2 * b..3 * b].to_vec();
    fab.buffer_mut()
        .adjust(&idx2, &vec![0.0; b], &vec![200.0; b]);
    let (_, lq, adj) = expected(&fab, 2);
    let w_max = adj.iter().map(|a| a.exp()).fold(0f64, f64::max);
    assert!(w_max > 1e100 && w_max.is_finite(), "{w_max}");
    let out = fab.loss(2, &cx).unwrap();
    let got = out.loss.to_scalar::<f32>().unwrap() as f64;
    let scale = crate::objective::W_MAX / w_max;
    let want = -(0..b).map(|i| adj[i].exp() * scale * lq[i]).sum::<f64>() / b as f64;
    assert!(
        got.is_finite() && (got - want).abs() < 1e-3 * want.abs(),
        "{got} vs {want}"
    );
    let diag: std::collections::HashMap<&str, f64> = out.diagnostics.into_iter().collect();
    assert!((diag["loss_scale"] / scale - 1.0).abs() < 1e-9, "{diag:?}");
}
