//! The MLP score network of the DEM / IW-SM papers for low-dimensional targets:
//!
//! each coordinate x_i (times `x_scale`) and t (times `t_scale`) gets a sinusoidal embedding of
//! size E: frequencies f_k = exp(-k ln(10000) / (E/2 - 1)), k = 0..E/2-1, emb(v) = [sin(v f), cos(v f)];
//! the (d + 1) embeddings are concatenated -> Linear((d+1)E, H) + GELU -> `blocks` residual blocks
//! h <- h + GELU(Linear(H, H) h) -> Linear(H, d). The output is the score itself.
//! With d = 2, E = H = 128, 3 blocks: 99,074 parameters.

use nsamp_core::candle::{Module, Tensor, D};
use nsamp_core::candle_nn::{linear, Linear, VarBuilder};
use nsamp_core::{Model, ModelConfig, ModelShape, ScoreInference, ScoreModel};

pub mod inference;
mod kernels;
mod matmul;

nsamp_core::config! {
    /// `ScoreMlp(...)` config.
    pub struct ScoreMlpConfig {
        /// Hidden width H.
        hidden: usize = 128,
        /// Number of residual blocks.
        blocks: usize = 3,
        /// Embedding size E per coordinate (even).
        embedding: usize = 128,
        /// Coordinates are multiplied by this before embedding.
        x_scale: f64 = 25.0,
        /// Time is multiplied by this before embedding.
        t_scale: f64 = 1.0,
    }
}

/// The network.
pub struct ScoreMlp {
    freqs: Tensor,
    input: Linear,
    blocks: Vec<Linear>,
    output: Linear,
    x_scale: f64,
    t_scale: f64,
    dim: usize,
    params: usize,
}

/// Sinusoidal frequencies f_k = exp(-k ln(10000) / (half - 1)), k = 0..half.
pub fn frequencies(half: usize) -> Vec<f32> {
    let denom = (half.max(2) - 1) as f64;
    (0..half)
        .map(|k| (-(k as f64) * 10000f64.ln() / denom).exp() as f32)
        .collect()
}

impl ScoreMlp {
    /// Sinusoidal embedding of every coordinate and of t: (n, (d + 1) E).
    pub fn embed(&self, t: &Tensor, x: &Tensor) -> nsamp_core::candle::Result<Tensor> {
        let n = x.dim(0)?;
        let v = Tensor::cat(
            &[(x * self.x_scale)?, (t.reshape((n, 1))? * self.t_scale)?],
            1,
        )?;
        let arg = v.unsqueeze(2)?.broadcast_mul(&self.freqs)?;
        let e = Tensor::cat(&[arg.sin()?, arg.cos()?], D::Minus1)?;
        e.flatten_from(1)
    }
}

impl ScoreModel for ScoreMlp {
    fn score(&self, t: &Tensor, x: &Tensor) -> nsamp_core::candle::Result<Tensor> {
        let e = self.embed(t, x)?;
        let mut h = self
            .input
            .forward(&e)?
            .apply(&nsamp_core::nn::gelu::gelu_erf)?;
        for b in &self.blocks {
            h = (&h + b.forward(&h)?.apply(&nsamp_core::nn::gelu::gelu_erf)?)?;
        }
        self.output.forward(&h)
    }

    /// [`inference::MlpInference`]: the same forward pass on copied weights, without tensors.
    fn inference(&self) -> anyhow::Result<Option<Box<dyn ScoreInference + '_>>> {
        Ok(inference::MlpInference::new(self)?.map(|m| Box::new(m) as Box<dyn ScoreInference>))
    }
}

impl Model for ScoreMlp {
    fn as_score(&self) -> Option<&dyn ScoreModel> {
        Some(self)
    }
    fn describe(&self) -> String {
        format!(
            "ScoreMlp: dim {}, {} blocks, {} parameters",
            self.dim,
            self.blocks.len(),
            self.params
        )
    }
}

impl ModelConfig for ScoreMlpConfig {
    fn build(&self, shape: &ModelShape, vb: VarBuilder) -> anyhow::Result<Box<dyn Model>> {
        anyhow::ensure!(
            (2..=1 << 16).contains(&self.embedding) && self.embedding.is_multiple_of(2),
            "ScoreMlp: `embedding` must be even and between 2 and 65536, got {}",
            self.embedding
        );
        anyhow::ensure!(
            (1..=1 << 16).contains(&self.hidden),
            "ScoreMlp: `hidden` must be between 1 and 65536, got {}",
            self.hidden
        );
        let d = shape.dim;
        let half = self.embedding / 2;
        let freqs =
            Tensor::from_vec(frequencies(half), (1, 1, half), vb.device())?.to_dtype(vb.dtype())?;
        let input = linear((d + 1) * self.embedding, self.hidden, vb.pp("input"))?;
        let blocks = (0..self.blocks)
            .map(|i| linear(self.hidden, self.hidden, vb.pp(format!("block{i}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let output = linear(self.hidden, d, vb.pp("output"))?;
        let params = ((d + 1) * self.embedding + 1) * self.hidden
            + self.blocks * (self.hidden + 1) * self.hidden
            + (self.hidden + 1) * d;
        Ok(Box::new(ScoreMlp {
            freqs,
            input,
            blocks,
            output,
            x_scale: self.x_scale,
            t_scale: self.t_scale,
            dim: d,
            params,
        }))
    }
}

nsamp_core::register!(
    Model,
    "ScoreMlp",
    ScoreMlpConfig,
    "MLP score network with sinusoidal embeddings and residual GELU blocks (DEM / IW-SM, GMMs)"
);
