//! EGNN: the papers' parameter count, and E(n) equivariance: rotating (or reflecting) the input
//! rotates the output, translating leaves it unchanged, permuting particles permutes it.

use nsamp as _;
use nsamp_core::candle::{DType, Device, Tensor};
use nsamp_core::candle_nn::VarMap;
use nsamp_core::numerics::rng::{fill_normal, RngStreams};
use nsamp_core::params::{count_parameters, seeded_var_builder};
use nsamp_core::registry::{families, Spec};
use nsamp_core::target::Particles;
use nsamp_core::{Model, ModelShape, TargetStructure};

fn build(n: usize, d: usize, layers: usize) -> (Box<dyn Model>, VarMap) {
    let mut vm = VarMap::new();
    let vb = seeded_var_builder(&vm, RngStreams::new(3), DType::F32, &Device::Cpu);
    let m = Spec::<families::Model>::from_ron(&format!("Egnn(layers: {layers})"))
        .unwrap()
        .config
        .build(
            &ModelShape {
                dim: n * d,
                structure: TargetStructure::Particles(Particles { n, spatial_dim: d }),
            },
            vb,
        )
        .unwrap();
    // Enlarge the tiny-initialised coordinate heads so that the output is O(1).
    let mut rng = RngStreams::new(4).stream("phi", 0);
    // Sorted: a HashMap's order changes from run to run, and so would the weights. The scale
    // keeps tanh(phi) out of saturation (where f32 derivatives are exactly 0).
    let mut names: Vec<String> = vm
        .data()
        .lock()
        .unwrap()
        .keys()
        .filter(|k| k.ends_with("phi2.weight"))
        .cloned()
        .collect();
    names.sort();
    for name in names {
        let mut w = vec![0f32; 128];
        fill_normal(&mut rng, &mut w);
        let w: Vec<f32> = w.iter().map(|v| v * 0.05).collect();
        vm.set_one(&name, Tensor::from_vec(w, (1, 128), &Device::Cpu).unwrap())
            .unwrap();
    }
    (m, vm)
}

fn run(m: &dyn Model, t: &[f32], x: &[f32]) -> Vec<f32> {
    let b = t.len();
    let tt = Tensor::from_slice(t, b, &Device::Cpu).unwrap();
    let xx = Tensor::from_slice(x, (b, x.len() / b), &Device::Cpu).unwrap();
    m.as_score()
        .unwrap()
        .score(&tt, &xx)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}

/// A random orthogonal matrix (Gram-Schmidt of a Gaussian matrix).
fn orthogonal(d: usize, seed: u64) -> Vec<f32> {
    let mut rng = RngStreams::new(seed).stream("rot", 0);
    let mut a = vec![0f32; d * d];
    fill_normal(&mut rng, &mut a);
    let mut q: Vec<Vec<f32>> = Vec::new();
    for r in 0..d {
        let mut v: Vec<f32> = a[r * d..(r + 1) * d].to_vec();
        for u in &q {
            let p: f32 = v.iter().zip(u).map(|(a, b)| a * b).sum();
            v.iter_mut().zip(u).for_each(|(a, b)| *a -= p * b);
        }
        let nrm = v.iter().map(|a| a * a).sum::<f32>().sqrt();
        q.push(v.iter().map(|a| a / nrm).collect());
    }
    q.concat()
}

fn rotate(x: &[f32], r: &[f32], d: usize) -> Vec<f32> {
    x.chunks(d)
        .flat_map(|p| (0..d).map(move |i| (0..d).map(|k| r[i * d + k] * p[k]).sum::<f32>()))
        .collect()
}

#[test]
fn parameter_count_is_the_papers() {
    let (_, vm) = build(4, 2, 3);
    assert_eq!(count_parameters(&vm), 3 * 115_841 + 256);
    let (m, vm5) = build(13, 3, 5);
    assert_eq!(count_parameters(&vm5), 5 * 115_841 + 256);
    assert!(m.describe().contains(&(5 * 115_841 + 256).to_string()));
}

#[test]
fn output_is_e_n_equivariant() {
    for (n, d) in [(4usize, 2usize), (13, 3)] {
        let (m, _) = build(n, d, 3);
        let b = 3;
        let mut rng = RngStreams::new(9).stream("x", n as u64);
        let mut x = vec![0f32; b * n * d];
        fill_normal(&mut rng, &mut x);
        x.iter_mut().for_each(|v| *v *= 1.5);
        let t = [0.1f32, 0.5, 0.9];
        let y = run(&*m, &t, &x);
        let scale = y.iter().map(|v| v.abs()).fold(0f32, f32::max);
        eprintln!("{n}x{d}: output scale {scale}");
        assert!(scale > 1e-1, "output too small to test: {scale}");
        let tol = 2e-4 * scale.max(1.0);
        let close = |a: &[f32], b: &[f32], what: &str| {
            let e = a
                .iter()
                .zip(b)
                .map(|(p, q)| (p - q).abs())
                .fold(0f32, f32::max);
            assert!(
                e < tol,
                "{n}x{d} {what}: max error {e} (output scale {scale})"
            );
        };
        // Centre of mass removed.
        for cfg in y.chunks(n * d) {
            for k in 0..d {
                let s: f32 = (0..n).map(|i| cfg[i * d + k]).sum();
                assert!(s.abs() < tol, "centre of mass {s}");
            }
        }
        // Rotation / reflection.
        let r = orthogonal(d, 5);
        close(
            &run(&*m, &t, &rotate(&x, &r, d)),
            &rotate(&y, &r, d),
            "rotation",
        );
        // Translation.
        let shifted: Vec<f32> = x
            .iter()
            .enumerate()
            .map(|(i, v)| v + [0.7f32, -1.1, 0.4][i % d])
            .collect();
        close(&run(&*m, &t, &shifted), &y, "translation");
        // Permutation: reverse the particles of every configuration.
        let perm = |v: &[f32]| -> Vec<f32> {
            v.chunks(n * d)
                .flat_map(|c| c.chunks(d).rev().flatten().copied().collect::<Vec<_>>())
                .collect()
        };
        close(&run(&*m, &t, &perm(&x)), &perm(&y), "permutation");
    }
}

/// Backpropagation through the network gives finite parameter gradients (the masked self-pairs
/// have zero distance, where a naive sqrt has an infinite derivative).
#[test]
fn parameter_gradients_are_finite() {
    let (m, vm) = build(4, 2, 3);
    let mut rng = RngStreams::new(2).stream("x", 0);
    let mut x = vec![0f32; 5 * 8];
    fill_normal(&mut rng, &mut x);
    let t = Tensor::from_slice(&[0.1f32, 0.3, 0.5, 0.7, 0.9], 5, &Device::Cpu).unwrap();
    let xx = Tensor::from_slice(&x, (5, 8), &Device::Cpu).unwrap();
    let loss = m
        .as_score()
        .unwrap()
        .score(&t, &xx)
        .unwrap()
        .sqr()
        .unwrap()
        .sum_all()
        .unwrap();
    let grads = loss.backward().unwrap();
    // The last layer's node update never reaches the coordinates: its 4 tensors get no gradient.
    let mut without = Vec::new();
    for (name, v) in vm.data().lock().unwrap().iter() {
        // Largest |gradient| in f64: the layer-2 gradients pass through the tiny-initialised
        // coordinate head and are small; squaring them in f32 could underflow to 0.
        let s = grads
            .get(v)
            .map(|g| {
                g.to_dtype(nsamp_core::candle::DType::F64)
                    .unwrap()
                    .abs()
                    .unwrap()
                    .max_all()
                    .unwrap()
                    .to_scalar::<f64>()
                    .unwrap()
            })
            .unwrap_or(0.0);
        assert!(s.is_finite(), "{name}: largest |gradient| {s}");
        if s == 0.0 {
            without.push(name.clone());
        }
    }
    without.sort();
    assert_eq!(
        without,
        [
            "layer2.node1.bias",
            "layer2.node1.weight",
            "layer2.node2.bias",
            "layer2.node2.weight"
        ]
    );
}

/// The inference path (`ScoreModel::inference`, what the reverse SDE calls) gives the tensor
/// forward's output to float rounding for DW-4's and LJ-13's shapes, at several times, on a batch
/// that is not a multiple of its block; it is deterministic and independent of how the batch is
/// split (every sample is computed on its own).
#[test]
fn inference_matches_the_tensor_forward() {
    for (n, d, layers, b) in [(4usize, 2usize, 3usize, 101usize), (13, 3, 2, 9)] {
        let (m, _) = build(n, d, layers);
        let mut rng = RngStreams::new(11).stream("x", n as u64);
        let mut x = vec![0f32; b * n * d];
        fill_normal(&mut rng, &mut x);
        x.iter_mut().for_each(|v| *v *= 1.5);
        let mut inf = m
            .as_score()
            .unwrap()
            .inference()
            .unwrap()
            .expect("Egnn has an inference path");
        for t in [0.0f32, 0.37, 1.0] {
            let want = run(&*m, &vec![t; b], &x);
            let mut got = vec![0f32; x.len()];
            inf.score_into(t, &x, &mut got).unwrap();
            let scale = want.iter().map(|v| v.abs()).fold(0f32, f32::max);
            assert!(scale > 1e-1, "output too small to test: {scale}");
            let err = want
                .iter()
                .zip(&got)
                .map(|(p, q)| (p - q).abs())
                .fold(0f32, f32::max);
            eprintln!("{n}x{d} t {t}: max error {err:e} (output scale {scale})");
            assert!(
                err < 2e-5 * scale.max(1.0),
                "{n}x{d} t {t}: max error {err}"
            );
            // The same rows again, and the first 3 samples on their own: bit-identical.
            let mut again = vec![0f32; x.len()];
            inf.score_into(t, &x, &mut again).unwrap();
            assert_eq!(again, got);
            let mut head = vec![0f32; 3 * n * d];
            inf.score_into(t, &x[..3 * n * d], &mut head).unwrap();
            assert_eq!(head, got[..3 * n * d]);
        }
        let mut bad = vec![0f32; 5];
        assert!(inf.score_into(0.5, &x[..5], &mut bad).is_err());
    }
}
