//! The inference-only forward pass of [`ScoreMlp`] for the reverse SDE: the weights copied once
//! (per sampler call) into plain transposed arrays, no autograd graph, scratch buffers reused
//! across calls, rows processed in blocks of [`ROWS`] on rayon's pool (one block's activations
//! stay in cache through all layers).
//!
//! Same network as `ScoreMlp::score`: with e(v) = [sin(v f), cos(v f)] and W_in = [W_x | W_t]
//! split into the x-coordinates' columns and t's,
//!   h_0 = GELU(e(x) W_x^T + c(t)),  c(t) = e(t t_scale) W_t^T + b_in   (one c per call: t is
//!   shared by the rows),
//!   h_{l+1} = h_l + GELU(h_l W_l^T + b_l),   s = h_L W_out^T + b_out.
//! Matrix products go through `nsamp_core::numerics::matmul` (an AVX-512 register-tiled kernel
//! where the build targets AVX-512, else the `gemm` crate that candle's CPU matmul uses). Results
//! agree with the candle forward to float rounding (the t-part's sum is split off and the sine
//! is nsamp's own), not bit for bit.

use crate::kernels::{add_bias, bias_gelu, embed_into, residual_bias_gelu};
use crate::matmul::{linear_weights, matmul, transpose_cols, Dense};
use crate::ScoreMlp;
use nsamp_core::candle::DType;
use nsamp_core::rayon::prelude::*;
use nsamp_core::ScoreInference;

/// Rows per parallel block.
pub const ROWS: usize = 64;

/// The copied weights.
struct Weights {
    dim: usize,
    embedding: usize,
    hidden: usize,
    x_scale: f32,
    t_scale: f32,
    freqs: Vec<f32>,
    /// W_x^T: (d E, H).
    in_x: Vec<f32>,
    /// W_t as stored: (H, (d + 1) E); only its last E columns are read.
    in_full: Vec<f32>,
    in_b: Vec<f32>,
    blocks: Vec<Dense>,
    out: Dense,
}

/// Scratch for n rows: embeddings (n, d E), activations and pre-activations (n, H).
#[derive(Default)]
struct Scratch {
    emb: Vec<f32>,
    h: Vec<f32>,
    a: Vec<f32>,
}

/// The inference evaluator of a [`ScoreMlp`] (a snapshot of its weights).
pub struct MlpInference {
    w: Weights,
    scratch: Scratch,
    t_emb: Vec<f32>,
    t_bias: Vec<f32>,
}

impl MlpInference {
    /// Copies the weights of `net`; `None` unless they are f32 on the CPU.
    pub fn new(net: &ScoreMlp) -> anyhow::Result<Option<Self>> {
        let w_in = net.input.weight();
        if !w_in.device().is_cpu() || w_in.dtype() != DType::F32 {
            return Ok(None);
        }
        let (full, in_b, hidden, k) = linear_weights(&net.input)?;
        let dim = net.dim;
        anyhow::ensure!(
            k.is_multiple_of(dim + 1),
            "ScoreMlp inference: input width {k} is not (d + 1) E for d = {dim}"
        );
        let embedding = k / (dim + 1);
        let freqs = net.freqs.flatten_all()?.to_vec1::<f32>()?;
        anyhow::ensure!(
            freqs.len() * 2 == embedding,
            "ScoreMlp inference: embedding size"
        );
        let w = Weights {
            dim,
            embedding,
            hidden,
            x_scale: net.x_scale as f32,
            t_scale: net.t_scale as f32,
            freqs,
            in_x: transpose_cols(&full, hidden, k, 0..dim * embedding),
            in_full: full,
            in_b,
            blocks: net
                .blocks
                .iter()
                .map(Dense::from_linear)
                .collect::<anyhow::Result<_>>()?,
            out: Dense::from_linear(&net.output)?,
        };
        Ok(Some(MlpInference {
            t_emb: vec![0.0; embedding],
            t_bias: vec![0.0; hidden],
            w,
            scratch: Scratch::default(),
        }))
    }
}

impl Weights {
    /// The forward pass of one block of rows: `x` (m, d) -> `out` (m, d).
    fn forward_rows(
        &self,
        x: &[f32],
        out: &mut [f32],
        s: (&mut [f32], &mut [f32], &mut [f32]),
        t_bias: &[f32],
    ) {
        let (d, e, hd) = (self.dim, self.embedding, self.hidden);
        let m = x.len() / d;
        let (emb, h, a) = s;
        for (xr, er) in x.chunks_exact(d).zip(emb.chunks_exact_mut(d * e)) {
            for (&v, ev) in xr.iter().zip(er.chunks_exact_mut(e)) {
                embed_into(v * self.x_scale, &self.freqs, ev);
            }
        }
        matmul(m, hd, d * e, emb, &self.in_x, h);
        bias_gelu(&mut h[..m * hd], t_bias);
        for blk in &self.blocks {
            matmul(m, hd, hd, h, &blk.wt, a);
            residual_bias_gelu(&mut h[..m * hd], &a[..m * hd], &blk.b);
        }
        matmul(m, d, hd, h, &self.out.wt, out);
        add_bias(&mut out[..m * d], &self.out.b);
    }
}

impl ScoreInference for MlpInference {
    fn score_into(&mut self, t: f32, x: &[f32], out: &mut [f32]) -> anyhow::Result<()> {
        let w = &self.w;
        let (d, e, hd) = (w.dim, w.embedding, w.hidden);
        anyhow::ensure!(
            d > 0 && x.len().is_multiple_of(d) && out.len() == x.len(),
            "ScoreMlp inference: x has {} values and out {}; rows of {d} expected",
            x.len(),
            out.len()
        );
        let n = x.len() / d;
        // c(t) = e(t t_scale) W_t^T + b_in.
        embed_into(t * w.t_scale, &w.freqs, &mut self.t_emb);
        let k = (d + 1) * e;
        for (o, c) in self.t_bias.iter_mut().enumerate() {
            let row = &w.in_full[o * k + d * e..(o + 1) * k];
            let dot: f32 = row.iter().zip(&self.t_emb).map(|(a, b)| a * b).sum();
            *c = dot + w.in_b[o];
        }
        let sc = &mut self.scratch;
        sc.emb.resize(n * d * e, 0.0);
        sc.h.resize(n * hd, 0.0);
        sc.a.resize(n * hd, 0.0);
        let t_bias = &self.t_bias;
        x.par_chunks(ROWS * d)
            .zip(out.par_chunks_mut(ROWS * d))
            .zip(sc.emb.par_chunks_mut(ROWS * d * e))
            .zip(sc.h.par_chunks_mut(ROWS * hd))
            .zip(sc.a.par_chunks_mut(ROWS * hd))
            .for_each(|((((xr, or), er), hr), ar)| {
                w.forward_rows(xr, or, (er, hr, ar), t_bias);
            });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ScoreMlpConfig;
    use nsamp_core::candle::{Device, Tensor};
    use nsamp_core::candle_nn::VarMap;
    use nsamp_core::numerics::rng::{fill_normal, RngStreams};
    use nsamp_core::params::seeded_var_builder;
    use nsamp_core::{ModelConfig, ModelShape};

    /// The network for (d, hidden, blocks, embedding), seeded.
    fn net(d: usize, hidden: usize, blocks: usize, embedding: usize) -> Box<dyn nsamp_core::Model> {
        let vm = VarMap::new();
        let vb = seeded_var_builder(&vm, RngStreams::new(3), DType::F32, &Device::Cpu);
        let cfg = ScoreMlpConfig {
            hidden,
            blocks,
            embedding,
            ..Default::default()
        };
        cfg.build(&ModelShape::flat(d), vb).unwrap()
    }

    /// Inference equals the candle forward within 1e-5 relative (to |s| + rms(s)) on random
    /// inputs, at several times, for several shapes (n not a multiple of the row block).
    #[test]
    fn inference_matches_the_candle_forward() {
        for (d, hidden, blocks, embedding) in [
            (2, 128, 3, 128),
            (8, 64, 2, 32),
            (1, 16, 0, 2),
            (3, 40, 1, 10),
            (2, 7, 4, 6),
        ] {
            let m = net(d, hidden, blocks, embedding);
            let s = m.as_score().unwrap();
            let n = 2 * ROWS + 13;
            let mut x = vec![0f32; n * d];
            fill_normal(&mut RngStreams::new(9).stream("x", d as u64), &mut x);
            x.iter_mut().for_each(|v| *v *= 1.5);
            let mut inf = s
                .inference()
                .unwrap()
                .expect("ScoreMlp has an inference path");
            for t in [1.0f32, 0.37, 1e-3] {
                let tt = Tensor::full(t, n, &Device::Cpu).unwrap();
                let xx = Tensor::from_slice(&x, (n, d), &Device::Cpu).unwrap();
                let want = s.score(&tt, &xx).unwrap().flatten_all().unwrap();
                let want = want.to_vec1::<f32>().unwrap();
                let mut got = vec![0f32; n * d];
                inf.score_into(t, &x, &mut got).unwrap();
                let rms = (want.iter().map(|v| v * v).sum::<f32>() / want.len() as f32).sqrt();
                let worst = got
                    .iter()
                    .zip(&want)
                    .map(|(g, w)| (g - w).abs() / (w.abs() + rms))
                    .fold(0f32, f32::max);
                eprintln!(
                    "(d {d}, H {hidden}, L {blocks}, E {embedding}) t {t}: worst {worst:.2e}"
                );
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (g - w).abs() <= 1e-5 * (w.abs() + rms),
                        "(d {d}, H {hidden}, L {blocks}, E {embedding}) t {t} [{i}]: {g} vs {w}"
                    );
                }
            }
        }
    }

    /// Rows are split into fixed blocks, so the result does not depend on the thread count.
    #[test]
    fn inference_is_the_same_on_one_and_two_threads() {
        let m = net(2, 128, 3, 128);
        let n = 5 * ROWS + 3;
        let mut x = vec![0f32; n * 2];
        fill_normal(&mut RngStreams::new(4).stream("x", 0), &mut x);
        let run = |threads: usize| {
            let pool = nsamp_core::rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut out = vec![0f32; n * 2];
            pool.install(|| {
                let mut inf = m.as_score().unwrap().inference().unwrap().unwrap();
                inf.score_into(0.6, &x, &mut out).unwrap();
            });
            out
        };
        assert_eq!(run(1), run(2));
    }

    #[test]
    fn inference_rejects_mismatched_buffers() {
        let m = net(2, 8, 1, 4);
        let mut inf = m.as_score().unwrap().inference().unwrap().unwrap();
        let mut out = [0f32; 4];
        assert!(inf.score_into(0.5, &[0.0; 3], &mut out[..3]).is_err());
        assert!(inf.score_into(0.5, &[0.0; 4], &mut out[..2]).is_err());
    }
}

#[cfg(test)]
mod timing {
    use super::*;
    use crate::ScoreMlpConfig;
    use nsamp_core::candle::Device;
    use nsamp_core::candle_nn::VarMap;
    use nsamp_core::numerics::rng::{fill_normal, RngStreams};
    use nsamp_core::params::seeded_var_builder;
    use nsamp_core::{ModelConfig, ModelShape};

    /// Times 1,000 forward passes of the paper's network on 1,000 rows (a refill's network
    /// work): `cargo test --release -p nsamp-plugin-score-mlp -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn time_paper_network_forward() {
        let vm = VarMap::new();
        let vb = seeded_var_builder(&vm, RngStreams::new(3), DType::F32, &Device::Cpu);
        let m = ScoreMlpConfig::default()
            .build(&ModelShape::flat(2), vb)
            .unwrap();
        let mut inf = m.as_score().unwrap().inference().unwrap().unwrap();
        let n = 1000;
        let mut x = vec![0f32; n * 2];
        fill_normal(&mut RngStreams::new(1).stream("x", 0), &mut x);
        let mut out = vec![0f32; n * 2];
        let t0 = std::time::Instant::now();
        for i in 0..1000 {
            inf.score_into(1.0 - i as f32 * 1e-3, &x, &mut out).unwrap();
        }
        let s = t0.elapsed().as_secs_f64();
        eprintln!(
            "1000 forwards x 1000 rows: {s:.3} s, {:.1} GFLOP/s ({} threads)",
            164.35 / s,
            nsamp_core::rayon::current_num_threads()
        );
    }
}
