//! The training path of [`ScoreMlp`](crate::ScoreMlp) on the CPU: a dense layer
//! y = act(x W^T + b) (act GELU or the identity) as one candle op with a hand-written backward,
//!   forward:  z = x W^T + b,  y = act(z)  (z kept for the backward),
//!   backward: g_z = g_y act'(z),  dW = g_z^T x,  db = sum_rows g_z,  dx = g_z W,
//! where dx is computed only when x carries a gradient (the input layer's embedding does not:
//! candle's matmul backward always forms that (n, (d + 1) E) product). Products go through
//! `matmul::matmul` (the inference path's AVX-512 register tiles) in fixed blocks of rows
//! on rayon, so the result does not depend on the thread count. Agrees with candle's
//! `Linear` + GELU to float rounding, not bit for bit.
//!
//! First order only: the gradients are guarded by `SecondOrderGuard`, whose own backward is an
//! error, so differentiating them again fails loudly instead of giving a silent zero (DESIGN.md,
//! "Facts about candle").

use crate::inference::ROWS;
use crate::matmul::transpose_cols;
use crate::matmul::{matmul, matmul_lhs_t};
use nsamp_core::candle::{
    bail, CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Storage, Tensor,
};
use nsamp_core::nn::contiguous_slice;
use nsamp_core::nn::gelu::{gelu_f32, gelu_grad_f32};
use nsamp_core::rayon::prelude::*;
use std::sync::OnceLock;

/// Rows of dW per parallel block in the backward pass.
const W_ROWS: usize = 16;

/// The activation after the affine map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// y = z.
    Identity,
    /// y = GELU(z), the erf form of `nsamp_core::nn::gelu`.
    Gelu,
}

/// `act(x W^T + b)` for x (n, k), W (m, k), b (m), all f32 on the CPU, differentiable once in
/// x, W and b.
pub fn dense(x: &Tensor, w: &Tensor, b: &Tensor, act: Act) -> Result<Tensor> {
    x.contiguous()?.apply_op3(
        &w.contiguous()?,
        &b.contiguous()?,
        Dense {
            act,
            z: OnceLock::new(),
        },
    )
}

/// The op; `z` holds the forward pass's pre-activation (GELU only).
struct Dense {
    act: Act,
    z: OnceLock<Vec<f32>>,
}

/// The contiguous f32 values of a CPU storage.
fn f32s<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(v) = s else {
        bail!("ScoreMlp dense layer: {what} must be f32");
    };
    contiguous_slice(v, l, "ScoreMlp dense layer")
}

/// Runs `f` on the contiguous f32 values of a CPU tensor.
fn with_f32s<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> Result<R>) -> Result<R> {
    let t = t.contiguous()?;
    let (s, l) = t.storage_and_layout();
    let Storage::Cpu(cpu) = &*s else {
        bail!("ScoreMlp dense layer: CPU tensors only");
    };
    f(f32s(cpu, l, "a tensor")?)
}

impl CustomOp3 for Dense {
    fn name(&self) -> &'static str {
        "nsamp-score-mlp-dense"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (n, k) = l1.shape().dims2()?;
        let (m, k2) = l2.shape().dims2()?;
        if k != k2 || l3.shape().dims() != [m] {
            bail!(
                "ScoreMlp dense layer: x {:?}, W {:?}, b {:?} do not fit",
                l1.shape(),
                l2.shape(),
                l3.shape()
            );
        }
        let (x, w, b) = (f32s(s1, l1, "x")?, f32s(s2, l2, "W")?, f32s(s3, l3, "b")?);
        let wt = transpose_cols(w, m, k, 0..k);
        let mut z = vec![0f32; n * m];
        let mut y = vec![0f32; if self.act == Act::Gelu { n * m } else { 0 }];
        let affine = |zb: &mut [f32], xb: &[f32]| {
            matmul(xb.len() / k, m, k, xb, &wt, zb);
            for row in zb.chunks_exact_mut(m) {
                row.iter_mut().zip(b).for_each(|(v, bv)| *v += bv);
            }
        };
        match self.act {
            Act::Identity => z
                .par_chunks_mut(ROWS * m)
                .zip(x.par_chunks(ROWS * k))
                .for_each(|(zb, xb)| affine(zb, xb)),
            Act::Gelu => z
                .par_chunks_mut(ROWS * m)
                .zip(y.par_chunks_mut(ROWS * m))
                .zip(x.par_chunks(ROWS * k))
                .for_each(|((zb, yb), xb)| {
                    affine(zb, xb);
                    // A plain loop over the block, so that GELU vectorises.
                    yb.iter_mut()
                        .zip(zb.iter())
                        .for_each(|(y, &z)| *y = gelu_f32(z));
                }),
        }
        let y = match self.act {
            Act::Identity => z,
            Act::Gelu => {
                // The op is built per call, so the cache is empty here.
                let _ = self.z.set(z);
                y
            }
        };
        Ok((CpuStorage::F32(y), Shape::from((n, m))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (n, k) = x.dims2()?;
        let m = w.dim(0)?;
        let gz: Vec<f32> = with_f32s(grad, |g| {
            Ok(match self.act {
                Act::Identity => g.to_vec(),
                Act::Gelu => {
                    let Some(z) = self.z.get() else {
                        bail!("ScoreMlp dense layer: backward before forward");
                    };
                    let mut gz = vec![0f32; g.len()];
                    gz.par_chunks_mut(ROWS * m)
                        .zip(g.par_chunks(ROWS * m).zip(z.par_chunks(ROWS * m)))
                        .for_each(|(o, (gb, zb))| {
                            for ((o, &g), &z) in o.iter_mut().zip(gb).zip(zb) {
                                *o = g * gelu_grad_f32(z);
                            }
                        });
                    gz
                }
            })
        })?;
        // db: column sums, rows in order.
        let mut db = vec![0f32; m];
        for row in gz.chunks_exact(m) {
            db.iter_mut().zip(row).for_each(|(d, v)| *d += v);
        }
        // dW = g_z^T x: (m, n) (n, k), blocks of W_ROWS rows of dW (columns of g_z).
        let mut dw = vec![0f32; m * k];
        with_f32s(x, |x| {
            dw.par_chunks_mut(W_ROWS * k)
                .enumerate()
                .for_each(|(blk, dwb)| {
                    let o0 = blk * W_ROWS;
                    matmul_lhs_t(dwb.len() / k, k, n, &gz[o0..], m, x, dwb)
                });
            Ok(())
        })?;
        // dx = g_z W: (n, m) (m, k), only when x needs it.
        let dx = if x.track_op() {
            let mut dx = vec![0f32; n * k];
            with_f32s(w, |w| {
                dx.par_chunks_mut(ROWS * k)
                    .zip(gz.par_chunks(ROWS * m))
                    .for_each(|(dxb, gb)| matmul(gb.len() / m, k, m, gb, w, dxb));
                Ok(())
            })?;
            Some(guard(Tensor::from_vec(dx, (n, k), x.device())?, w)?)
        } else {
            None
        };
        let dw = guard(Tensor::from_vec(dw, (m, k), w.device())?, w)?;
        let db = guard(Tensor::from_vec(db, m, w.device())?, w)?;
        Ok((dx, Some(dw), Some(db)))
    }
}

/// `g` unchanged, recorded as a function of the parameter `w` whose backward is an error.
fn guard(g: Tensor, w: &Tensor) -> Result<Tensor> {
    g.apply_op2(w, SecondOrderGuard)
}

/// The identity on its first argument; differentiating through it is an error (the dense
/// layer's gradients are not themselves differentiable).
struct SecondOrderGuard;

impl CustomOp2 for SecondOrderGuard {
    fn name(&self) -> &'static str {
        "nsamp-score-mlp-dense-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let v = f32s(s1, l1, "a gradient")?;
        Ok((CpuStorage::F32(v.to_vec()), l1.shape().clone()))
    }

    fn bwd(
        &self,
        _: &Tensor,
        _: &Tensor,
        _: &Tensor,
        _: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        bail!("second derivative of ScoreMlp's dense layer is not implemented")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nsamp_core::candle::{Device, Var};

    /// Deterministic values in [-scale, scale).
    fn values(n: usize, seed: usize, scale: f32) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 7919 + seed * 104_729) % 997) as f32 / 997.0 * 2.0 * scale - scale)
            .collect()
    }

    /// (x, W, b) as Vars, and sum(c * act(x W^T + b)) with fixed weights c through `f`.
    fn setup(n: usize, k: usize, m: usize) -> (Var, Var, Var, Tensor) {
        let dev = Device::Cpu;
        let x = Var::from_vec(values(n * k, 1, 1.5), (n, k), &dev).unwrap();
        let w = Var::from_vec(values(m * k, 2, 0.3), (m, k), &dev).unwrap();
        let b = Var::from_vec(values(m, 3, 0.5), m, &dev).unwrap();
        let c = Tensor::from_vec(values(n * m, 4, 1.0), (n, m), &dev).unwrap();
        (x, w, b, c)
    }

    fn reference(x: &Tensor, w: &Tensor, b: &Tensor, act: Act) -> Tensor {
        let z = x.matmul(&w.t().unwrap()).unwrap().broadcast_add(b).unwrap();
        match act {
            Act::Identity => z,
            Act::Gelu => nsamp_core::nn::gelu::gelu_erf(&z).unwrap(),
        }
    }

    fn max_rel(a: &Tensor, b: &Tensor) -> f32 {
        let a = flat(a);
        let b = flat(b);
        assert_eq!(a.len(), b.len());
        let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
        a.iter()
            .zip(&b)
            .fold(0f32, |m, (x, y)| m.max((x - y).abs()))
            / scale
    }

    /// The values of a tensor, flattened.
    fn flat(t: &Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    }

    /// The gradients of sum(c * y).
    fn weighted_grads(y: Tensor, c: &Tensor) -> nsamp_core::candle::backprop::GradStore {
        (y * c).unwrap().sum_all().unwrap().backward().unwrap()
    }

    /// Values and all three gradients against candle's matmul + bias + GELU, on widths that take
    /// the tiled kernel (multiples of 64) and widths that do not, rows not a multiple of the block.
    #[test]
    fn matches_candle_values_and_gradients() {
        for (n, k, m) in [(150, 128, 64), (70, 384, 128), (33, 128, 2), (9, 5, 7)] {
            for act in [Act::Identity, Act::Gelu] {
                let (x, w, b, c) = setup(n, k, m);
                let ours = dense(x.as_tensor(), w.as_tensor(), b.as_tensor(), act).unwrap();
                let theirs = reference(x.as_tensor(), w.as_tensor(), b.as_tensor(), act);
                assert!(
                    max_rel(&ours, &theirs) < 1e-5,
                    "values ({n},{k},{m}) {act:?}"
                );
                let g1 = weighted_grads(ours, &c);
                let g2 = weighted_grads(theirs, &c);
                for v in [&x, &w, &b] {
                    let r = max_rel(g1.get(v).unwrap(), g2.get(v).unwrap());
                    assert!(r < 1e-5, "gradient ({n},{k},{m}) {act:?}: {r}");
                }
            }
        }
    }

    /// The parameter gradients against central finite differences of the loss in f64 arithmetic
    /// (the forward in f32 is too coarse for differences).
    #[test]
    fn gradients_match_finite_differences() {
        let (n, k, m) = (12, 64, 64);
        let (x, w, b, c) = setup(n, k, m);
        let y = dense(x.as_tensor(), w.as_tensor(), b.as_tensor(), Act::Gelu).unwrap();
        let grads = weighted_grads(y, &c);
        let xs = flat(&x);
        let ws = flat(&w);
        let bs = b.to_vec1::<f32>().unwrap();
        let cs = flat(&c);
        let gelu = |z: f64| z * 0.5 * (1.0 + libm_erf(z / 2f64.sqrt()));
        let loss = |xs: &[f32],
                    ws: &[f32],
                    bs: &[f32],
                    dx: (usize, f64),
                    dw: (usize, f64),
                    db: (usize, f64)| {
            let mut total = 0f64;
            for i in 0..n {
                for o in 0..m {
                    let mut z = bs[o] as f64 + if db.0 == o { db.1 } else { 0.0 };
                    for j in 0..k {
                        let xv = xs[i * k + j] as f64 + if dx.0 == i * k + j { dx.1 } else { 0.0 };
                        let wv = ws[o * k + j] as f64 + if dw.0 == o * k + j { dw.1 } else { 0.0 };
                        z += xv * wv;
                    }
                    total += cs[i * m + o] as f64 * gelu(z);
                }
            }
            total
        };
        for (x, want) in [
            (0.5, 0.520_499_877_813_046_5),
            (3.0, 0.999_977_909_503_001_4),
        ] {
            assert!((libm_erf(x) - want).abs() < 1e-14 && (libm_erf(-x) + want).abs() < 1e-14);
        }
        let none = (usize::MAX, 0.0);
        let h = 1e-4;
        let gx = flat(grads.get(&x).unwrap());
        let gw = flat(grads.get(&w).unwrap());
        let gb = grads.get(&b).unwrap().to_vec1::<f32>().unwrap();
        for idx in [0, 17, 63, 200, 700] {
            let fd = (loss(&xs, &ws, &bs, none, (idx, h), none)
                - loss(&xs, &ws, &bs, none, (idx, -h), none))
                / (2.0 * h);
            assert!(
                (gw[idx] as f64 - fd).abs() < 2e-4 * (1.0 + fd.abs()),
                "dW[{idx}] {} vs {fd}",
                gw[idx]
            );
            let fd = (loss(&xs, &ws, &bs, (idx, h), none, none)
                - loss(&xs, &ws, &bs, (idx, -h), none, none))
                / (2.0 * h);
            assert!(
                (gx[idx] as f64 - fd).abs() < 2e-4 * (1.0 + fd.abs()),
                "dx[{idx}] {} vs {fd}",
                gx[idx]
            );
        }
        for o in [0, 5, 63] {
            let fd = (loss(&xs, &ws, &bs, none, none, (o, h))
                - loss(&xs, &ws, &bs, none, none, (o, -h)))
                / (2.0 * h);
            assert!(
                (gb[o] as f64 - fd).abs() < 2e-4 * (1.0 + fd.abs()),
                "db[{o}] {} vs {fd}",
                gb[o]
            );
        }
    }

    /// erf in f64: the Maclaurin series (100 terms) for |x| < 2.5, else 1 - erfc(|x|) by its
    /// continued fraction erfc(x) = exp(-x^2) / sqrt(pi) / (x + (1/2) / (x + 1 / (x + (3/2) / ...))).
    fn libm_erf(x: f64) -> f64 {
        let a = x.abs();
        let y = if a < 2.5 {
            let (mut sum, mut term) = (0f64, a);
            for k in 0..100 {
                sum += term / (2 * k + 1) as f64;
                term *= -a * a / (k + 1) as f64;
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        } else {
            let mut t = a;
            for k in (1..=80).rev() {
                t = a + (k as f64 / 2.0) / t;
            }
            1.0 - (-a * a).exp() / std::f64::consts::PI.sqrt() / t
        };
        y.copysign(x)
    }

    /// An input without a gradient gets none (the input layer's saving), and the parameter
    /// gradients are the same either way.
    #[test]
    fn input_without_gradient_is_skipped() {
        let (x, w, b, c) = setup(20, 64, 64);
        let plain = x.as_tensor().detach();
        let y = dense(&plain, w.as_tensor(), b.as_tensor(), Act::Gelu).unwrap();
        let g = weighted_grads(y, &c);
        assert!(g.get(&plain).is_none());
        let y2 = dense(x.as_tensor(), w.as_tensor(), b.as_tensor(), Act::Gelu).unwrap();
        let g2 = weighted_grads(y2, &c);
        for v in [&w, &b] {
            let a = flat(g.get(v).unwrap());
            let bb = flat(g2.get(v).unwrap());
            assert_eq!(a, bb);
        }
    }

    /// One and two threads give the same bits (fixed blocks).
    #[test]
    fn same_bits_on_one_and_two_threads() {
        let run = |threads: usize| {
            let pool = nsamp_core::rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let (x, w, b, c) = setup(300, 128, 128);
                let y = dense(x.as_tensor(), w.as_tensor(), b.as_tensor(), Act::Gelu).unwrap();
                let g = weighted_grads(y.clone(), &c);
                let mut out = flat(&y);
                for v in [&x, &w, &b] {
                    out.extend(flat(g.get(v).unwrap()));
                }
                out
            })
        };
        assert_eq!(run(1), run(2));
    }

    /// The whole network: `ScoreMlp::score` (dense ops) against `score_tensors` (candle's ops),
    /// values and the gradient of every parameter.
    #[test]
    fn network_matches_the_tensor_path() {
        use crate::ScoreMlpConfig;
        use nsamp_core::candle::DType;
        use nsamp_core::candle_nn::VarMap;
        use nsamp_core::numerics::rng::RngStreams;
        use nsamp_core::params::seeded_var_builder;
        use nsamp_core::{ModelShape, ScoreModel};
        for (dim, hidden, embedding) in [(2, 128, 128), (3, 40, 16)] {
            let vm = VarMap::new();
            let vb = seeded_var_builder(&vm, RngStreams::new(5), DType::F32, &Device::Cpu);
            let cfg = ScoreMlpConfig {
                hidden,
                embedding,
                ..Default::default()
            };
            let net = cfg.init(&ModelShape::flat(dim), vb).unwrap();
            let n = 77;
            let x = Tensor::from_vec(values(n * dim, 6, 2.0), (n, dim), &Device::Cpu).unwrap();
            let t = Tensor::from_vec(values(n, 7, 0.5), n, &Device::Cpu)
                .unwrap()
                .abs()
                .unwrap();
            let c = Tensor::from_vec(values(n * dim, 8, 1.0), (n, dim), &Device::Cpu).unwrap();
            let ours = net.score(&t, &x).unwrap();
            let theirs = net.score_tensors(&t, &x).unwrap();
            assert!(max_rel(&ours, &theirs) < 1e-5, "values, dim {dim}");
            let g1 = weighted_grads(ours, &c);
            let g2 = weighted_grads(theirs, &c);
            let vars = vm.all_vars();
            assert_eq!(vars.len(), 2 * (cfg.blocks + 2));
            for v in &vars {
                let r = max_rel(g1.get(v).unwrap(), g2.get(v).unwrap());
                assert!(
                    r < 2e-5,
                    "gradient of a {:?} parameter, dim {dim}: {r}",
                    v.shape()
                );
            }
        }
    }

    /// Differentiating a gradient again is an error, not a silent zero.
    #[test]
    fn second_order_fails_loudly() {
        let (x, w, b, c) = setup(8, 64, 64);
        let y = dense(x.as_tensor(), w.as_tensor(), b.as_tensor(), Act::Gelu).unwrap();
        let g = weighted_grads(y, &c);
        let gx = g.get(&x).unwrap();
        assert!(gx.sqr().unwrap().sum_all().unwrap().backward().is_err());
    }
}

#[cfg(test)]
mod timing {
    use crate::ScoreMlpConfig;
    use nsamp_core::candle::{DType, Device, Tensor};
    use nsamp_core::candle_nn::VarMap;
    use nsamp_core::numerics::rng::{fill_normal, RngStreams};
    use nsamp_core::params::seeded_var_builder;
    use nsamp_core::{ModelShape, ScoreModel};

    /// Times the forward and backward of the paper's network on a 512-row training batch, the
    /// dense ops against candle's tensors:
    /// `cargo test --release -p nsamp-plugin-score-mlp timing -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn time_training_forward_backward() {
        let vm = VarMap::new();
        let vb = seeded_var_builder(&vm, RngStreams::new(3), DType::F32, &Device::Cpu);
        let mlp = ScoreMlpConfig::default()
            .init(&ModelShape::flat(2), vb)
            .unwrap();
        let n = 512;
        let mut x = vec![0f32; n * 2];
        fill_normal(&mut RngStreams::new(1).stream("x", 0), &mut x);
        let t: Vec<f32> = (0..n).map(|i| i as f32 / n as f32).collect();
        let x = Tensor::from_vec(x, (n, 2), &Device::Cpu).unwrap();
        let t = Tensor::from_vec(t, n, &Device::Cpu).unwrap();
        for dense in [true, false] {
            let (mut f, mut b) = (Vec::new(), Vec::new());
            for _ in 0..50 {
                let t0 = std::time::Instant::now();
                let y = if dense {
                    mlp.score(&t, &x)
                } else {
                    mlp.score_tensors(&t, &x)
                }
                .unwrap();
                let loss = y.sqr().unwrap().mean_all().unwrap();
                let _ = loss.to_scalar::<f32>().unwrap();
                let t1 = std::time::Instant::now();
                let _g = loss.backward().unwrap();
                f.push((t1 - t0).as_secs_f64() * 1e3);
                b.push(t1.elapsed().as_secs_f64() * 1e3);
            }
            f.sort_by(f64::total_cmp);
            b.sort_by(f64::total_cmp);
            eprintln!(
                "dense {dense}: forward {:.3} ms, backward {:.3} ms ({} threads)",
                f[25],
                b[25],
                nsamp_core::rayon::current_num_threads()
            );
        }
    }
}
