//! RealNVP checks in f64 with randomised weights (the zero-initialised flow is the identity):
//! sampling and density agree, the density integrates to 1, the score matches finite differences
//! of log q, and the parameter gradient of the SM loss matches finite differences. The last one
//! guards the second-order path: candle's `backward()` differentiated through its own gradient
//! (the default, which detaches) gives wrong numbers; `score` is an explicit input-gradient instead.

use nsamp_core::candle::{DType, Device, Tensor, D};
use nsamp_core::candle_nn::VarMap;
use nsamp_core::numerics::rng::{fill_normal, RngStreams};
use nsamp_core::params::seeded_var_builder;
use nsamp_core::registry::{families, Spec};
use nsamp_core::TargetStructure;
use nsamp_core::{Model, ModelShape};
use nsamp_plugin_realnvp as _;

const MLP: &str = "RealNvp(layers: 4, hidden: 16, scale_bound: 1.5, scale: 1.3)";
const CONV: &str = "RealNvp(layers: 4, hidden: 4, scale_bound: 1.5, scale: 1.3, conditioner: Conv)";

fn flow(dim: usize, lattice_side: Option<usize>, seed: u64) -> (VarMap, Box<dyn Model>) {
    flow_of(MLP, dim, lattice_side, seed)
}

fn flow_of(
    ron: &str,
    dim: usize,
    lattice_side: Option<usize>,
    seed: u64,
) -> (VarMap, Box<dyn Model>) {
    let vm = VarMap::new();
    let vb = seeded_var_builder(&vm, RngStreams::new(seed), DType::F64, &Device::Cpu);
    let spec: Spec<families::Model> = Spec::from_ron(ron).unwrap();
    let m = spec
        .config
        .build(
            &ModelShape {
                dim,
                structure: match lattice_side {
                    Some(side) => TargetStructure::Lattice { side },
                    None => TargetStructure::Flat,
                },
            },
            vb,
        )
        .unwrap();
    // Randomise every parameter (including the zero-initialised last layers).
    let mut vars: Vec<_> = vm
        .data()
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    for (i, (_, v)) in vars.iter().enumerate() {
        let n = v.as_tensor().elem_count();
        let mut r = vec![0f32; n];
        fill_normal(
            &mut RngStreams::new(seed).stream("randomise", i as u64),
            &mut r,
        );
        let r: Vec<f64> = r.iter().map(|&x| 0.4 * x as f64).collect();
        v.set(&Tensor::from_vec(r, v.as_tensor().shape(), &Device::Cpu).unwrap())
            .unwrap();
    }
    (vm, m)
}

fn normal(n: usize, d: usize, seed: u64) -> Tensor {
    let mut z = vec![0f32; n * d];
    fill_normal(&mut RngStreams::new(seed).stream("z", 0), &mut z);
    Tensor::from_vec(
        z.iter().map(|&v| v as f64).collect::<Vec<_>>(),
        (n, d),
        &Device::Cpu,
    )
    .unwrap()
}

#[test]
fn sampling_and_density_agree() {
    for (spec, d, lat) in [
        (MLP, 2, None),
        (MLP, 5, None),
        (MLP, 16, Some(4)),
        (CONV, 16, Some(4)),
    ] {
        let (_vm, m) = flow_of(spec, d, lat, 1);
        let f = m.as_flow().unwrap();
        let z = normal(64, d, 2);
        let (x, lq) = f.sample_with_log_prob(&z).unwrap();
        let lq2 = f.log_prob(&x).unwrap();
        let diff = (lq - lq2)
            .unwrap()
            .abs()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f64>()
            .unwrap();
        assert!(
            diff < 1e-9,
            "d = {d}: log q from sampling and from log_prob differ by {diff}"
        );
    }
}

/// In 2-D, exp(log q) summed over a fine grid of a box equals the share of the flow's own samples
/// that land in the box: an independent check of the log-determinant.
#[test]
fn density_over_a_box_matches_the_share_of_samples() {
    let (_vm, m) = flow(2, None, 3);
    let f = m.as_flow().unwrap();
    let (lo, hi, k) = (-9.0f64, 9.0f64, 600usize);
    let h = (hi - lo) / k as f64;
    let mut pts = Vec::with_capacity(2 * k * k);
    for i in 0..k {
        for j in 0..k {
            pts.push(lo + (i as f64 + 0.5) * h);
            pts.push(lo + (j as f64 + 0.5) * h);
        }
    }
    let x = Tensor::from_vec(pts, (k * k, 2), &Device::Cpu).unwrap();
    let total = f
        .log_prob(&x)
        .unwrap()
        .exp()
        .unwrap()
        .sum_all()
        .unwrap()
        .to_scalar::<f64>()
        .unwrap()
        * h
        * h;
    let n = 200_000;
    let (xs, _) = f.sample_with_log_prob(&normal(n, 2, 9)).unwrap();
    let xs: Vec<Vec<f64>> = xs.to_vec2().unwrap();
    let inside = xs
        .iter()
        .filter(|p| p.iter().all(|v| (lo..hi).contains(v)))
        .count() as f64
        / n as f64;
    let se = (inside * (1.0 - inside) / n as f64).sqrt();
    assert!(inside > 0.3, "box too small for the test: {inside}");
    assert!(
        (total - inside).abs() < 4.0 * se + 2e-3,
        "integral of q over the box {total} vs share of samples inside {inside} +- {se}"
    );
}

#[test]
fn score_matches_finite_differences_of_log_q() {
    for (spec, d, lat) in [
        (MLP, 2, None),
        (MLP, 9, Some(3)),
        (CONV, 9, Some(3)),
        (CONV, 16, Some(4)),
    ] {
        let (_vm, m) = flow_of(spec, d, lat, 4);
        let f = m.as_flow().unwrap();
        let x = (normal(8, d, 5) * 1.5).unwrap();
        let s: Vec<Vec<f64>> = f.score(&x).unwrap().to_vec2().unwrap();
        let xs: Vec<Vec<f64>> = x.to_vec2().unwrap();
        let eps = 1e-6;
        for (r, row) in xs.iter().enumerate() {
            for k in 0..d {
                let mut a = row.clone();
                let mut b = row.clone();
                a[k] += eps;
                b[k] -= eps;
                let ab = Tensor::from_vec([a, b].concat(), (2, d), &Device::Cpu).unwrap();
                let l: Vec<f64> = f.log_prob(&ab).unwrap().to_vec1().unwrap();
                let fd = (l[0] - l[1]) / (2.0 * eps);
                assert!(
                    (s[r][k] - fd).abs() < 1e-6 * fd.abs().max(1.0),
                    "d {d} row {r} coord {k}: {} vs {fd}",
                    s[r][k]
                );
            }
        }
    }
}

/// d/dtheta of L(theta) = mean_n |score(x_n) - y_n|^2 by backward(), against central finite
/// differences on every parameter tensor (a few entries each).
#[test]
fn sm_loss_parameter_gradient_matches_finite_differences() {
    sm_gradient_check(MLP, 4, None);
    sm_gradient_check(CONV, 9, Some(3));
}

fn sm_gradient_check(spec: &str, d: usize, lattice_side: Option<usize>) {
    let (vm, m) = flow_of(spec, d, lattice_side, 6);
    let f = m.as_flow().unwrap();
    let x = normal(16, d, 7);
    let y = normal(16, d, 8);
    let loss = |f: &dyn nsamp_core::FlowModel| -> Tensor {
        (f.score(&x).unwrap() - &y)
            .unwrap()
            .sqr()
            .unwrap()
            .sum(D::Minus1)
            .unwrap()
            .mean_all()
            .unwrap()
    };
    let grads = loss(f).backward().unwrap();
    let data = vm.data().lock().unwrap().clone();
    let mut checked = 0;
    for (name, var) in data.iter() {
        let g = grads
            .get(var.as_tensor())
            .unwrap_or_else(|| panic!("no gradient for {name}"));
        let g: Vec<f64> = g.flatten_all().unwrap().to_vec1().unwrap();
        let v0: Vec<f64> = var.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
        let shape = var.as_tensor().shape().clone();
        for &idx in [0, v0.len() / 2, v0.len() - 1].iter() {
            let eps = 1e-6;
            let mut plus = v0.clone();
            plus[idx] += eps;
            var.set(&Tensor::from_vec(plus, shape.clone(), &Device::Cpu).unwrap())
                .unwrap();
            let lp = loss(f).to_scalar::<f64>().unwrap();
            let mut minus = v0.clone();
            minus[idx] -= eps;
            var.set(&Tensor::from_vec(minus, shape.clone(), &Device::Cpu).unwrap())
                .unwrap();
            let lm = loss(f).to_scalar::<f64>().unwrap();
            var.set(&Tensor::from_vec(v0.clone(), shape.clone(), &Device::Cpu).unwrap())
                .unwrap();
            let fd = (lp - lm) / (2.0 * eps);
            assert!(
                (g[idx] - fd).abs() < 1e-5 * fd.abs().max(1.0),
                "{name}[{idx}]: backward {} vs finite difference {fd}",
                g[idx]
            );
            checked += 1;
        }
    }
    assert!(checked >= 3 * 4 * 6, "{spec}: checked {checked} entries");
}

/// The untrained flow (zero-initialised last layers) is the identity map times `scale`.
#[test]
fn untrained_flow_is_the_scaled_identity() {
    let vm = VarMap::new();
    let vb = seeded_var_builder(&vm, RngStreams::new(0), DType::F64, &Device::Cpu);
    let spec: Spec<families::Model> = Spec::from_ron("RealNvp(scale: 2.0)").unwrap();
    let m = spec.config.build(&ModelShape::flat(3), vb).unwrap();
    let z = normal(5, 3, 1);
    let (x, _) = m.as_flow().unwrap().sample_with_log_prob(&z).unwrap();
    let diff = ((x / 2.0).unwrap() - z)
        .unwrap()
        .abs()
        .unwrap()
        .max(0)
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f64>()
        .unwrap();
    assert!(diff < 1e-12);
}

/// The parameter count in `describe()` (a formula) equals the parameters actually created.
#[test]
fn described_parameter_count_is_the_real_one() {
    for (spec, d, lat) in [(MLP, 5, None), (CONV, 16, Some(4))] {
        let (vm, m) = flow_of(spec, d, lat, 0);
        let real = nsamp_core::params::count_parameters(&vm);
        assert!(
            m.describe().contains(&format!("{real} parameters")),
            "{spec}: {} vs {real}",
            m.describe()
        );
    }
}
