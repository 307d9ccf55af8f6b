//! The score network's divergence and the implicit score-matching loss's parameter gradient
//! against finite differences (f64), and SBTM / ULA on the Gaussian heat flow.

use nsamp_core::candle::{DType, Device, Tensor, Var};
use nsamp_core::candle_nn::VarMap;
use nsamp_core::numerics::rng::{fill_normal, RngStreams};
use nsamp_core::params::seeded_var_builder;
use nsamp_plugin_sbtm::ScoreNet;

fn net(dim: usize, dtype: DType) -> (VarMap, ScoreNet) {
    let vm = VarMap::new();
    let vb = seeded_var_builder(&vm, RngStreams::new(3), dtype, &Device::Cpu);
    let n = ScoreNet::new(dim, 16, 2, vb).unwrap();
    (vm, n)
}

fn points(n: usize, dim: usize) -> Tensor {
    let mut x = vec![0f32; n * dim];
    fill_normal(&mut RngStreams::new(5).stream("x", 0), &mut x);
    Tensor::from_vec(x, (n, dim), &Device::Cpu)
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap()
}

/// div s(x) by forward-mode tangents equals the trace of the finite-difference Jacobian.
#[test]
fn divergence_matches_finite_differences() {
    let dim = 3;
    let (_vm, net) = net(dim, DType::F64);
    let x = points(4, dim);
    let (_, div) = net.forward_with_divergence(&x).unwrap();
    let div = div.to_vec1::<f64>().unwrap();
    let xs = x.to_vec2::<f64>().unwrap();
    let h = 1e-6;
    for (i, row) in xs.iter().enumerate() {
        let mut tr = 0.0;
        for j in 0..dim {
            let mut p = row.clone();
            let mut m = row.clone();
            p[j] += h;
            m[j] -= h;
            let f = |v: Vec<f64>| {
                let t = Tensor::from_vec(v, (1, dim), &Device::Cpu).unwrap();
                net.forward(&t).unwrap().to_vec2::<f64>().unwrap()[0][j]
            };
            tr += (f(p) - f(m)) / (2.0 * h);
        }
        assert!(
            (tr - div[i]).abs() < 1e-6 * tr.abs().max(1.0),
            "{tr} vs {}",
            div[i]
        );
    }
}

/// The parameter gradient of the implicit SM loss (candle's first-order backward through the
/// explicit tangent ops) matches central finite differences of the loss, for every parameter
/// tensor, at a few entries each.
#[test]
fn implicit_sm_parameter_gradient_matches_finite_differences() {
    let dim = 2;
    let (vm, net) = net(dim, DType::F64);
    let x = points(6, dim);
    let loss = net.implicit_sm_loss(&x).unwrap();
    let grads = loss.backward().unwrap();
    let vars: Vec<(String, Var)> = vm
        .data()
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(
        vars.len(),
        8,
        "3 linear layers + the projection, weight and bias each"
    );
    for (name, var) in vars {
        let g = grads
            .get(&var)
            .unwrap_or_else(|| panic!("no gradient for {name}"))
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        let base = var
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        for idx in [0, base.len() / 2, base.len() - 1] {
            let h = 1e-6;
            let eval = |delta: f64| {
                let mut v = base.clone();
                v[idx] += delta;
                var.set(&Tensor::from_vec(v, var.shape(), &Device::Cpu).unwrap())
                    .unwrap();
                net.implicit_sm_loss(&x)
                    .unwrap()
                    .to_scalar::<f64>()
                    .unwrap()
            };
            let fd = (eval(h) - eval(-h)) / (2.0 * h);
            eval(0.0);
            assert!(
                (fd - g[idx]).abs() < 1e-5 * fd.abs().max(1.0),
                "{name}[{idx}]: backward {} vs finite difference {fd}",
                g[idx]
            );
        }
    }
}
