//! The MLP score network of the DEM / IW-SM papers for low-dimensional targets:
//!
//! each coordinate x_i (times `x_scale`) and t (times `t_scale`) gets a sinusoidal embedding of
//! size E: frequencies f_k = exp(-k ln(10000) / (E/2 - 1)), k = 0..E/2-1, emb(v) = [sin(v f), cos(v f)];
//! the (d + 1) embeddings are concatenated -> Linear((d+1)E, H) + GELU -> `blocks` residual blocks
//! h <- h + GELU(Linear(H, H) h) -> Linear(H, d). The output is the score itself.
//! With d = 2, E = H = 128, 3 blocks: 99,074 parameters.
//!
//! Three paths compute it: [`dense`] for training on the CPU (one op per layer, hand-written
//! backward), [`inference`] for the reverse SDE (no graph), and `score_tensors` (candle's ops, any
//! device); they agree to float rounding.

use nsamp_core::candle::{Module, Tensor, D};
use nsamp_core::candle_nn::{linear, Linear, VarBuilder};
use nsamp_core::rayon::prelude::*;
use nsamp_core::{Model, ModelConfig, ModelShape, ScoreInference, ScoreModel};

pub mod dense;
pub mod inference;
mod kernels;
use nsamp_core::numerics::matmul;

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

impl ScoreMlp {
    /// The forward pass through [`dense::dense`] (f32 on the CPU): the embedding computed
    /// directly (it carries no gradient) and one op per layer with a hand-written backward.
    fn score_dense(&self, t: &Tensor, x: &Tensor) -> nsamp_core::candle::Result<Tensor> {
        use dense::{dense, Act};
        let (n, d) = x.dims2()?;
        let xs = x.flatten_all()?.to_vec1::<f32>()?;
        let ts = t.flatten_all()?.to_vec1::<f32>()?;
        if ts.len() != n || d != self.dim {
            nsamp_core::candle::bail!(
                "ScoreMlp: t has {} values and x is {n} x {d}; {n} and {} expected",
                ts.len(),
                self.dim
            );
        }
        let freqs = self.freqs.flatten_all()?.to_vec1::<f32>()?;
        let e = freqs.len() * 2;
        let (xs_scale, ts_scale) = (self.x_scale as f32, self.t_scale as f32);
        let mut emb = vec![0f32; n * (d + 1) * e];
        emb.par_chunks_mut((d + 1) * e)
            .zip(xs.par_chunks(d).zip(ts.par_iter()))
            .for_each(|(row, (xr, &tv))| {
                let mut cells = row.chunks_exact_mut(e);
                for (&v, cell) in xr.iter().zip(cells.by_ref()) {
                    kernels::embed_into(v * xs_scale, &freqs, cell);
                }
                if let Some(cell) = cells.next() {
                    kernels::embed_into(tv * ts_scale, &freqs, cell);
                }
            });
        let e = Tensor::from_vec(emb, (n, (d + 1) * e), x.device())?;
        let layer = |h: &Tensor, l: &Linear, act: Act| match l.bias() {
            Some(b) => dense(h, l.weight(), b, act),
            None => nsamp_core::candle::bail!("ScoreMlp: layers have biases"),
        };
        let mut h = layer(&e, &self.input, Act::Gelu)?;
        for b in &self.blocks {
            h = (&h + layer(&h, b, Act::Gelu)?)?;
        }
        layer(&h, &self.output, Act::Identity)
    }
}

impl ScoreModel for ScoreMlp {
    /// On the CPU in f32 the dense-layer ops of [`dense`] (hand-written backward, first order
    /// only); otherwise candle's tensors.
    fn score(&self, t: &Tensor, x: &Tensor) -> nsamp_core::candle::Result<Tensor> {
        let w = self.input.weight();
        if w.device().is_cpu() && w.dtype() == nsamp_core::candle::DType::F32 {
            return self.score_dense(t, x);
        }
        self.score_tensors(t, x)
    }

    /// [`inference::MlpInference`]: the same forward pass on copied weights, without tensors.
    fn inference(&self) -> anyhow::Result<Option<Box<dyn ScoreInference + '_>>> {
        Ok(inference::MlpInference::new(self)?.map(|m| Box::new(m) as Box<dyn ScoreInference>))
    }
}

impl ScoreMlp {
    /// The forward pass in candle's tensor operations (any device and dtype).
    pub fn score_tensors(&self, t: &Tensor, x: &Tensor) -> nsamp_core::candle::Result<Tensor> {
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
        Ok(Box::new(self.init(shape, vb)?))
    }
}

impl ScoreMlpConfig {
    /// The network for `shape`, its parameters from `vb`.
    pub fn init(&self, shape: &ModelShape, vb: VarBuilder) -> anyhow::Result<ScoreMlp> {
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
        Ok(ScoreMlp {
            freqs,
            input,
            blocks,
            output,
            x_scale: self.x_scale,
            t_scale: self.t_scale,
            dim: d,
            params,
        })
    }
}

nsamp_core::register!(
    Model,
    "ScoreMlp",
    ScoreMlpConfig,
    "MLP score network with sinusoidal embeddings and residual GELU blocks (DEM / IW-SM, GMMs)"
);
