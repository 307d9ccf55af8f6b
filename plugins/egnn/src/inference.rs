//! The inference-only forward pass of [`Egnn`] for the reverse SDE: the weights copied once per
//! sampler call into plain transposed arrays, no autograd graph, scratch reused across calls,
//! samples processed in blocks on rayon's pool. Same network as `Egnn::forward`, rearranged:
//!
//! - edge1 [h_i, h_j, s_ij, a_ij] = (W_a h_i) + (W_b h_j) + w_s s_ij + w_a a_ij + b: the two
//!   H x H products are taken once per node, not once per pair (n - 1 times fewer
//!   multiply-adds on the widest layer);
//! - only the n (n - 1) pairs i != j are formed (the tensor path masks the diagonal);
//! - the time embedding Linear(1, H)(t) is one vector for the whole batch (t is shared).
//!
//! Results agree with the tensor forward to float rounding (sums in a different order), not bit
//! for bit.

use crate::Egnn;
use nsamp_core::candle::DType;
use nsamp_core::numerics::fast_exp::exp_f32;
use nsamp_core::numerics::matmul::{linear_weights, matmul, transpose_cols, Dense};
use nsamp_core::rayon::prelude::*;
use nsamp_core::ScoreInference;

/// Pairs (i, j), i != j, per block of samples: enough rows for the matrix kernels, few enough
/// that a block's activations stay in cache.
const PAIRS_PER_BLOCK: usize = 512;

/// x / (1 + e^-x).
#[inline(always)]
fn silu(x: f32) -> f32 {
    x / (1.0 + exp_f32(-x))
}

/// 1 / (1 + e^-x).
#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp_f32(-x))
}

/// tanh(x) = 1 - 2 / (e^(2x) + 1) (exact limits: e^(2x) clamps at e^88).
#[inline(always)]
fn tanh(x: f32) -> f32 {
    1.0 - 2.0 / (exp_f32(2.0 * x) + 1.0)
}

/// One layer's copied weights (H the hidden width).
struct LayerWeights {
    /// [W_a^T | W_b^T]: (H, 2H), edge1's h_i and h_j columns side by side.
    pair_in: Vec<f32>,
    /// edge1's columns for |x_i - x_j|^2 (current) and a_ij (input), and its bias.
    w_sq: Vec<f32>,
    w_a: Vec<f32>,
    b_edge1: Vec<f32>,
    edge2: Dense,
    /// gate: (H,) and its bias.
    gate: Vec<f32>,
    b_gate: f32,
    phi1: Dense,
    /// phi2 (H,), no bias.
    phi2: Vec<f32>,
    /// node1 W^T: (2H, H) over [h, sum_j m_ij].
    node1: Dense,
    node2: Dense,
}

impl LayerWeights {
    fn new(l: &crate::Layer, hd: usize) -> anyhow::Result<Self> {
        let (w1, b1, o, i) = linear_weights(&l.edge1)?;
        anyhow::ensure!(
            o == hd && i == 2 * hd + 2,
            "Egnn inference: edge1 is {o} x {i}"
        );
        let wa = transpose_cols(&w1, hd, i, 0..hd);
        let wb = transpose_cols(&w1, hd, i, hd..2 * hd);
        let pair_in = wa
            .chunks_exact(hd)
            .zip(wb.chunks_exact(hd))
            .flat_map(|(a, b)| a.iter().chain(b).copied())
            .collect();
        let (g, bg, _, _) = linear_weights(&l.gate)?;
        let (p2, _, _, _) = linear_weights(&l.phi2)?;
        Ok(LayerWeights {
            pair_in,
            w_sq: (0..hd).map(|r| w1[r * i + 2 * hd]).collect(),
            w_a: (0..hd).map(|r| w1[r * i + 2 * hd + 1]).collect(),
            b_edge1: b1,
            edge2: Dense::from_linear(&l.edge2)?,
            gate: g,
            b_gate: bg[0],
            phi1: Dense::from_linear(&l.phi1)?,
            phi2: p2,
            node1: Dense::from_linear(&l.node1)?,
            node2: Dense::from_linear(&l.node2)?,
        })
    }
}

/// Scratch of one block of samples (resized on first use, then reused).
#[derive(Default)]
struct Block {
    /// Current coordinates (nodes, D).
    xc: Vec<f32>,
    /// Per pair: input |x_i - x_j|^2, current one, 1 / (|x_i - x_j| + 1), x_i - x_j (D each).
    a: Vec<f32>,
    sq: Vec<f32>,
    inv: Vec<f32>,
    diff: Vec<f32>,
    /// Node features (nodes, H), [W_a h | W_b h] (nodes, 2H), [h | sum_j m] (nodes, 2H), node MLP.
    h: Vec<f32>,
    pq: Vec<f32>,
    node_in: Vec<f32>,
    u: Vec<f32>,
    u2: Vec<f32>,
    /// Pair activations (pairs, H): edge1, messages m_ij, phi1.
    e1: Vec<f32>,
    m: Vec<f32>,
    f: Vec<f32>,
    /// Per pair: tanh(phi(m_ij)) * scale / (|x_i - x_j| + 1).
    coef: Vec<f32>,
}

/// The inference evaluator of an [`Egnn`] (a snapshot of its weights).
pub struct EgnnInference {
    n: usize,
    d: usize,
    hidden: usize,
    step_scale: f32,
    embed_w: Vec<f32>,
    embed_b: Vec<f32>,
    layers: Vec<LayerWeights>,
    /// h_0 = Linear(1, H)(t) of the current call.
    h0: Vec<f32>,
    /// Samples per block.
    per_block: usize,
    blocks: Vec<Block>,
}

impl EgnnInference {
    /// Copies the weights of `net`; `None` unless they are f32 on the CPU.
    pub fn new(net: &Egnn) -> anyhow::Result<Option<Self>> {
        let w = net.embed.weight();
        if !w.device().is_cpu() || w.dtype() != DType::F32 {
            return Ok(None);
        }
        let (embed_w, embed_b, hidden, one) = linear_weights(&net.embed)?;
        anyhow::ensure!(
            one == 1,
            "Egnn inference: the time embedding takes {one} inputs"
        );
        let layers = net
            .layers
            .iter()
            .map(|l| LayerWeights::new(l, hidden))
            .collect::<anyhow::Result<_>>()?;
        let pairs = (net.n * (net.n - 1)).max(1);
        Ok(Some(EgnnInference {
            n: net.n,
            d: net.d,
            hidden,
            step_scale: net.step_scale as f32,
            h0: vec![0.0; hidden],
            embed_w,
            embed_b,
            layers,
            per_block: (PAIRS_PER_BLOCK / pairs).max(1),
            blocks: Vec::new(),
        }))
    }
}

/// `y (rows, H) += b` then SiLU, in place.
fn bias_silu(y: &mut [f32], b: &[f32]) {
    for row in y.chunks_exact_mut(b.len()) {
        row.iter_mut().zip(b).for_each(|(v, &c)| *v = silu(*v + c));
    }
}

impl Block {
    /// The forward pass of the samples in `x` (rows of n D) into `out`.
    fn forward(&mut self, net: &EgnnInference, h0: &[f32], x: &[f32], out: &mut [f32]) {
        let (n, d, hd) = (net.n, net.d, net.hidden);
        let samples = x.len() / (n * d);
        let nodes = samples * n;
        let pairs = nodes * (n - 1);
        self.xc.clear();
        self.xc.extend_from_slice(x);
        for v in [&mut self.a, &mut self.sq, &mut self.inv, &mut self.coef] {
            v.resize(pairs, 0.0);
        }
        self.diff.resize(pairs * d, 0.0);
        for v in [&mut self.h, &mut self.u, &mut self.u2] {
            v.resize(nodes * hd, 0.0);
        }
        for v in [&mut self.pq, &mut self.node_in] {
            v.resize(nodes * 2 * hd, 0.0);
        }
        for v in [&mut self.e1, &mut self.m, &mut self.f] {
            v.resize(pairs * hd, 0.0);
        }
        for hr in self.h.chunks_exact_mut(hd) {
            hr.copy_from_slice(h0);
        }
        self.pair_geometry(n, d);
        self.a.copy_from_slice(&self.sq);
        for (k, l) in net.layers.iter().enumerate() {
            if k > 0 {
                self.pair_geometry(n, d);
            }
            self.layer(net, l, n, nodes, pairs);
        }
        // Output: x_final - x_input, centre of mass removed per sample.
        for ((o, xf), xi) in out
            .chunks_exact_mut(n * d)
            .zip(self.xc.chunks_exact(n * d))
            .zip(x.chunks_exact(n * d))
        {
            let mut com = [0f32; 8];
            let com = &mut com[..d];
            for ((ov, &f), &i) in o.iter_mut().zip(xf).zip(xi) {
                *ov = f - i;
            }
            for p in o.chunks_exact(d) {
                com.iter_mut().zip(p).for_each(|(c, &v)| *c += v);
            }
            com.iter_mut().for_each(|c| *c /= n as f32);
            for p in o.chunks_exact_mut(d) {
                p.iter_mut().zip(com.iter()).for_each(|(v, &c)| *v -= c);
            }
        }
    }

    /// diff, sq and inv of the current coordinates for every pair i != j.
    fn pair_geometry(&mut self, n: usize, d: usize) {
        let mut e = 0;
        for s in self.xc.chunks_exact(n * d) {
            for i in 0..n {
                let xi = &s[i * d..(i + 1) * d];
                for j in (0..n).filter(|&j| j != i) {
                    let xj = &s[j * d..(j + 1) * d];
                    let df = &mut self.diff[e * d..(e + 1) * d];
                    let mut sq = 0.0;
                    for k in 0..d {
                        df[k] = xi[k] - xj[k];
                        sq += df[k] * df[k];
                    }
                    self.sq[e] = sq;
                    self.inv[e] = 1.0 / (sq.sqrt() + 1.0);
                    e += 1;
                }
            }
        }
    }

    /// One EGNN layer on the block (pairs enumerated i-major, j != i ascending).
    fn layer(
        &mut self,
        net: &EgnnInference,
        l: &LayerWeights,
        n: usize,
        nodes: usize,
        pairs: usize,
    ) {
        let (d, hd) = (net.d, net.hidden);
        // [W_a h | W_b h] per node.
        matmul(nodes, 2 * hd, hd, &self.h, &l.pair_in, &mut self.pq);
        // edge1 + SiLU per pair.
        let mut e = 0;
        for s in 0..nodes / n {
            for i in 0..n {
                let p = &self.pq[(s * n + i) * 2 * hd..(s * n + i) * 2 * hd + hd];
                for j in (0..n).filter(|&j| j != i) {
                    let q = &self.pq[(s * n + j) * 2 * hd + hd..(s * n + j + 1) * 2 * hd];
                    let (sq, a) = (self.sq[e], self.a[e]);
                    let row = &mut self.e1[e * hd..(e + 1) * hd];
                    for k in 0..hd {
                        let z = p[k] + q[k] + l.w_sq[k] * sq + l.w_a[k] * a + l.b_edge1[k];
                        row[k] = silu(z);
                    }
                    e += 1;
                }
            }
        }
        // m = SiLU(edge2 e1), gated by sigmoid(gate m).
        matmul(pairs, hd, hd, &self.e1, &l.edge2.wt, &mut self.m);
        bias_silu(&mut self.m, &l.edge2.b);
        for row in self.m.chunks_exact_mut(hd) {
            let z: f32 = row.iter().zip(&l.gate).map(|(a, b)| a * b).sum::<f32>() + l.b_gate;
            let g = sigmoid(z);
            row.iter_mut().for_each(|v| *v *= g);
        }
        // Coordinate weights tanh(phi(m)) * scale / (|x_i - x_j| + 1).
        matmul(pairs, hd, hd, &self.m, &l.phi1.wt, &mut self.f);
        bias_silu(&mut self.f, &l.phi1.b);
        for ((c, row), &inv) in self
            .coef
            .iter_mut()
            .zip(self.f.chunks_exact(hd))
            .zip(&self.inv)
        {
            let z: f32 = row.iter().zip(&l.phi2).map(|(a, b)| a * b).sum();
            *c = tanh(z) * net.step_scale * inv;
        }
        // x_i += sum_j (x_i - x_j) w_ij; [h_i | sum_j m_ij].
        for node in 0..nodes {
            let es = node * (n - 1)..(node + 1) * (n - 1);
            let xi = &mut self.xc[node * d..(node + 1) * d];
            for e in es.clone() {
                let c = self.coef[e];
                xi.iter_mut()
                    .zip(&self.diff[e * d..(e + 1) * d])
                    .for_each(|(v, &df)| *v += df * c);
            }
            let (hi, agg) = self.node_in[node * 2 * hd..(node + 1) * 2 * hd].split_at_mut(hd);
            hi.copy_from_slice(&self.h[node * hd..(node + 1) * hd]);
            agg.fill(0.0);
            for e in es {
                agg.iter_mut()
                    .zip(&self.m[e * hd..(e + 1) * hd])
                    .for_each(|(a, &v)| *a += v);
            }
        }
        // h += node2 SiLU(node1 [h | agg]).
        matmul(nodes, hd, 2 * hd, &self.node_in, &l.node1.wt, &mut self.u);
        bias_silu(&mut self.u, &l.node1.b);
        matmul(nodes, hd, hd, &self.u, &l.node2.wt, &mut self.u2);
        for (hr, ur) in self.h.chunks_exact_mut(hd).zip(self.u2.chunks_exact(hd)) {
            for ((h, &u), &b) in hr.iter_mut().zip(ur).zip(&l.node2.b) {
                *h += u + b;
            }
        }
    }
}

impl ScoreInference for EgnnInference {
    fn score_into(&mut self, t: f32, x: &[f32], out: &mut [f32]) -> anyhow::Result<()> {
        let row = self.n * self.d;
        anyhow::ensure!(
            row > 0 && self.n >= 2 && self.d <= 8,
            "Egnn inference: {} particles of dimension {} (needs n >= 2, D <= 8)",
            self.n,
            self.d
        );
        anyhow::ensure!(
            x.len().is_multiple_of(row) && out.len() == x.len(),
            "Egnn inference: x has {} values and out {}; rows of {row} expected",
            x.len(),
            out.len()
        );
        // h_0 = Linear(1, H)(t): one vector for the whole batch.
        for ((h, &w), &b) in self.h0.iter_mut().zip(&self.embed_w).zip(&self.embed_b) {
            *h = w * t + b;
        }
        // One block of scratch per worker thread, the batch in waves of one block per worker:
        // the scratch stays at threads x (pairs per block) x 3H values whatever the batch (a
        // block per chunk would hold 4.5 GB for 1,000 LJ-55 samples).
        let chunk = self.per_block * row;
        let workers = nsamp_core::rayon::current_num_threads().max(1);
        if self.blocks.len() < workers {
            self.blocks.resize_with(workers, Block::default);
        }
        let mut blocks = std::mem::take(&mut self.blocks);
        let net = &*self;
        for (xw, ow) in x
            .chunks(chunk * workers)
            .zip(out.chunks_mut(chunk * workers))
        {
            blocks
                .par_iter_mut()
                .zip(xw.par_chunks(chunk))
                .zip(ow.par_chunks_mut(chunk))
                .for_each(|((b, xb), ob)| b.forward(net, &net.h0, xb, ob));
        }
        self.blocks = blocks;
        Ok(())
    }
}
