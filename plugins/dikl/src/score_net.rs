//! DiKL's auxiliary score network for flat targets (DiKL `models/mlp.py`, `ConditionalModel`):
//! L hidden layers h_l = SiLU(W_l h_{l-1} + b_l + e_l(t)) with an added time embedding
//! e_l(t) = [sin(2 pi w_l t), cos(2 pi w_l t)], w_l ~ N(0, scale^2 I) of half the layer's width,
//! FIXED (not trained), then s_phi(x_t, t) = W_out h_L + b_out; t is the integer diffusion step.
//! The official GMM network: four layers of 400 (`score_layer_num: 5`), scale 30.
//!
//! The w_l are drawn from a fixed stream (`embedding_seed`, purpose "dikl-time-embedding",
//! index l), never from candle's generator, so two builds of the same config embed t alike
//! (the official code draws them from torch's seeded generator at construction).

use nsamp_core::candle::{DType, Module, Tensor};
use nsamp_core::candle_nn::{linear, Linear, VarBuilder};
use nsamp_core::numerics::rng::{fill_normal, RngStreams};
use nsamp_core::{Model, ModelConfig, ModelShape, ScoreModel};

nsamp_core::config! {
    /// `DiklScoreMlp(hidden: [400, 400, 400, 400], embedding_scale: 30.0, embedding_seed: 0)`.
    pub struct DiklScoreMlpConfig {
        /// Widths of the hidden layers (even: each gets a sin/cos time embedding of its width);
        /// DiKL GMM: four of 400.
        hidden: Vec<usize> = vec![400; 4],
        /// Standard deviation of the embedding frequencies w (DiKL: 30).
        embedding_scale: f64 = 30.0,
        /// Seed of the fixed embedding frequencies (part of the architecture, not of the run).
        embedding_seed: u64 = 0,
    }
}

/// The score network.
pub struct DiklScoreMlp {
    layers: Vec<Linear>,
    /// Frequencies w_l of each layer (width / 2 values), f64.
    freqs: Vec<Vec<f64>>,
    output: Linear,
    dim: usize,
    params: usize,
}

/// The fixed frequencies w of layer `layer` with `half` entries: N(0, scale^2) from stream
/// ("dikl-time-embedding", layer) of seed `seed`.
pub fn embedding_frequencies(seed: u64, layer: usize, half: usize, scale: f64) -> Vec<f64> {
    let mut z = vec![0f32; half];
    fill_normal(
        &mut RngStreams::new(seed).stream("dikl-time-embedding", layer as u64),
        &mut z,
    );
    z.iter().map(|&v| v as f64 * scale).collect()
}

impl DiklScoreMlp {
    /// The time embeddings of every layer for the steps `t` (n,): one (n, width_l) tensor per
    /// layer, [sin(2 pi w t), cos(2 pi w t)] computed in f64 once per distinct t value.
    pub fn embed(&self, t: &Tensor) -> nsamp_core::candle::Result<Vec<Tensor>> {
        let tv = t.to_dtype(DType::F32)?.to_vec1::<f32>()?;
        let mut uniq: Vec<f32> = tv.clone();
        uniq.sort_by(|a, b| a.total_cmp(b));
        uniq.dedup_by(|a, b| a.to_bits() == b.to_bits());
        let idx: Vec<u32> = tv
            .iter()
            .map(|v| uniq.partition_point(|u| u.total_cmp(v).is_lt()) as u32)
            .collect();
        let idx = Tensor::from_vec(idx, tv.len(), t.device())?;
        let two_pi = 2.0 * std::f64::consts::PI;
        self.freqs
            .iter()
            .map(|w| {
                let half = w.len();
                let mut table = vec![0f32; uniq.len() * 2 * half];
                for (row, &tu) in table.chunks_exact_mut(2 * half).zip(&uniq) {
                    for (k, &wk) in w.iter().enumerate() {
                        let arg = two_pi * wk * tu as f64;
                        row[k] = arg.sin() as f32;
                        row[half + k] = arg.cos() as f32;
                    }
                }
                Tensor::from_vec(table, (uniq.len(), 2 * half), t.device())?.index_select(&idx, 0)
            })
            .collect()
    }
}

impl ScoreModel for DiklScoreMlp {
    fn score(&self, t: &Tensor, x: &Tensor) -> nsamp_core::candle::Result<Tensor> {
        let emb = self.embed(t)?;
        let mut h = x.clone();
        for (l, e) in self.layers.iter().zip(&emb) {
            h = (l.forward(&h)? + e.to_dtype(x.dtype())?)?.silu()?;
        }
        self.output.forward(&h)
    }
}

impl Model for DiklScoreMlp {
    fn as_score(&self) -> Option<&dyn ScoreModel> {
        Some(self)
    }
    fn describe(&self) -> String {
        format!(
            "DiklScoreMlp: dim {}, {} hidden layers, {} parameters",
            self.dim,
            self.layers.len(),
            self.params
        )
    }
}

impl ModelConfig for DiklScoreMlpConfig {
    fn build(&self, shape: &ModelShape, vb: VarBuilder) -> anyhow::Result<Box<dyn Model>> {
        Ok(Box::new(self.build_net(shape.dim, vb)?))
    }
}

impl DiklScoreMlpConfig {
    /// Builds the network for dimension `d` (the concrete type, for tests and benchmarks).
    pub fn build_net(&self, d: usize, vb: VarBuilder) -> anyhow::Result<DiklScoreMlp> {
        crate::generator::check_widths("DiklScoreMlp", &self.hidden)?;
        anyhow::ensure!(
            self.hidden.iter().all(|w| w % 2 == 0),
            "DiklScoreMlp: hidden widths must be even (sin and cos halves), got {:?}",
            self.hidden
        );
        anyhow::ensure!(
            self.embedding_scale.is_finite() && self.embedding_scale > 0.0,
            "DiklScoreMlp: `embedding_scale` must be positive, got {}",
            self.embedding_scale
        );
        let (mut layers, mut freqs) = (Vec::new(), Vec::new());
        let (mut fan_in, mut params) = (d, 0);
        for (i, &w) in self.hidden.iter().enumerate() {
            layers.push(linear(fan_in, w, vb.pp(format!("layer{i}")))?);
            freqs.push(embedding_frequencies(
                self.embedding_seed,
                i,
                w / 2,
                self.embedding_scale,
            ));
            params += (fan_in + 1) * w;
            fan_in = w;
        }
        let output = linear(fan_in, d, vb.pp("output"))?;
        params += (fan_in + 1) * d;
        Ok(DiklScoreMlp {
            layers,
            freqs,
            output,
            dim: d,
            params,
        })
    }
}
