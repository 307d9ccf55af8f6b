//! The score network s(x) of SBTM and its exact divergence by forward-mode tangents.
//!
//! Residual MLP with softsign, as in the SBTM code: the first hidden layer h_1 = softsign(W_1 x +
//! b_1) + P x (P a trainable projection initialised to ones, since d != width), then
//! h_k = softsign(W_k h_{k-1} + b_k) + h_{k-1}, and s(x) = W_out h_L + b_out.
//!
//! div s(x) = trace(ds/dx) is computed exactly with d forward-mode tangents pushed through the
//! layers as ordinary tensor ops: with dh_0 = e_j, dz_k = W_k dh_{k-1},
//! dh_k = softsign'(z_k) dz_k + (P or I) dh_{k-1}, ds = W_out dh_L, and div = sum_j (ds^(j))_j.
//! The parameter gradient of a loss built from s and div s is then first order, so candle's
//! backward pass is exact without second-order autodiff (DESIGN.md, "Facts about candle"); a
//! finite-difference test guards it.

use nsamp_core::candle::{DType, Module, Tensor, D};
use nsamp_core::candle_nn::{self, Linear, VarBuilder};

/// softsign(z) = z / (1 + |z|).
fn softsign(z: &Tensor) -> nsamp_core::candle::Result<Tensor> {
    z / (z.abs()? + 1.0)?
}

/// softsign'(z) = 1 / (1 + |z|)^2.
fn softsign_prime(z: &Tensor) -> nsamp_core::candle::Result<Tensor> {
    (z.abs()? + 1.0)?.sqr()?.recip()
}

/// The residual softsign MLP s: R^d -> R^d.
pub struct ScoreNet {
    hidden: Vec<Linear>,
    projection: Linear,
    out: Linear,
    dim: usize,
}

impl ScoreNet {
    /// A network with `layers` hidden layers of `width` units, parameters created in `vb`.
    pub fn new(dim: usize, width: usize, layers: usize, vb: VarBuilder) -> anyhow::Result<Self> {
        anyhow::ensure!(
            layers >= 1 && width >= 1,
            "the score network needs a hidden layer"
        );
        let mut hidden = Vec::with_capacity(layers);
        for k in 0..layers {
            let fan_in = if k == 0 { dim } else { width };
            hidden.push(candle_nn::linear(
                fan_in,
                width,
                vb.pp(format!("hidden{k}")),
            )?);
        }
        let pvb = vb.pp("projection");
        let w = pvb.get_with_hints((width, dim), "weight", candle_nn::Init::Const(1.0))?;
        let b = pvb.get_with_hints(width, "bias", candle_nn::Init::Const(0.0))?;
        Ok(ScoreNet {
            hidden,
            projection: Linear::new(w, Some(b)),
            out: candle_nn::linear(width, dim, vb.pp("out"))?,
            dim,
        })
    }

    /// s(x) for a batch (n, d) -> (n, d).
    pub fn forward(&self, x: &Tensor) -> nsamp_core::candle::Result<Tensor> {
        let mut h = (softsign(&self.hidden[0].forward(x)?)? + self.projection.forward(x)?)?;
        for layer in &self.hidden[1..] {
            h = (softsign(&layer.forward(&h)?)? + h)?;
        }
        self.out.forward(&h)
    }

    /// s(x) (n, d) and div s(x) (n,) by forward-mode tangents (module documentation).
    pub fn forward_with_divergence(
        &self,
        x: &Tensor,
    ) -> nsamp_core::candle::Result<(Tensor, Tensor)> {
        let (n, d) = x.dims2()?;
        // Tangents, one per input direction: (n * d, d) rows e_j for every sample.
        let eye = Tensor::eye(d, x.dtype(), x.device())?;
        let t0 = eye
            .unsqueeze(0)?
            .broadcast_as((n, d, d))?
            .reshape((n * d, d))?;
        let width = |t: &Tensor| t.dim(D::Minus1);
        let spread = |a: &Tensor| -> nsamp_core::candle::Result<Tensor> {
            // (n, w) -> (n * d, w): each sample's row repeated for its d tangents.
            let w = width(a)?;
            a.unsqueeze(1)?.broadcast_as((n, d, w))?.reshape((n * d, w))
        };
        let no_bias = |l: &Linear, t: &Tensor| t.matmul(&l.weight().t()?);
        let z = self.hidden[0].forward(x)?;
        let mut h = (softsign(&z)? + self.projection.forward(x)?)?;
        let mut dh = ((spread(&softsign_prime(&z)?)? * no_bias(&self.hidden[0], &t0)?)?
            + no_bias(&self.projection, &t0)?)?;
        for layer in &self.hidden[1..] {
            let z = layer.forward(&h)?;
            h = (softsign(&z)? + &h)?;
            dh = ((spread(&softsign_prime(&z)?)? * no_bias(layer, &dh)?)? + dh)?;
        }
        let s = self.out.forward(&h)?;
        // ds: (n * d, d), row (i, j) = d s(x_i) / d x_j; the divergence sums its diagonal.
        let ds = no_bias(&self.out, &dh)?.reshape((n, d, d))?;
        let mask = eye.unsqueeze(0)?.broadcast_as((n, d, d))?;
        let div = (ds * mask)?.sum((1, 2))?;
        Ok((s, div))
    }

    /// The implicit score-matching loss (1/n) sum_i [|s(x_i)|^2 + 2 div s(x_i)] (Hyvarinen).
    pub fn implicit_sm_loss(&self, x: &Tensor) -> nsamp_core::candle::Result<Tensor> {
        let (s, div) = self.forward_with_divergence(x)?;
        let per = (s.sqr()?.sum(1)? + (div * 2.0)?)?;
        per.mean_all()
    }

    /// The explicit score-matching loss (1/n) sum_i |s(x_i) - target_i|^2 (pre-training on a
    /// known score).
    pub fn explicit_sm_loss(
        &self,
        x: &Tensor,
        target: &Tensor,
    ) -> nsamp_core::candle::Result<Tensor> {
        (self.forward(x)? - target)?.sqr()?.sum(1)?.mean_all()
    }

    /// Dimension d.
    pub fn dim(&self) -> usize {
        self.dim
    }
}

/// s(x) of row-major f32 points (n x d) as a Vec (no gradient).
pub fn score_rows(
    net: &ScoreNet,
    x: &[f32],
    device: &nsamp_core::candle::Device,
) -> anyhow::Result<Vec<f32>> {
    let d = net.dim();
    let t = Tensor::from_slice(x, (x.len() / d, d), device)?;
    Ok(net
        .forward(&t)?
        .to_dtype(DType::F32)?
        .flatten_all()?
        .to_vec1::<f32>()?)
}
