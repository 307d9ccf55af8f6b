//! The EGNN score network for particle systems (DESIGN.md, "Networks"): a fully connected graph
//! without self-loops; node features h = Linear(1, H)(t); edge attribute a_ij = |x_i - x_j|^2 of
//! the input coordinates. Per layer:
//!
//! m_ij = SiLU(Linear(H, H) SiLU(Linear(2H + 2, H) [h_i, h_j, |x_i - x_j|^2, a_ij])),
//! gated m_ij <- m_ij sigmoid(Linear(H, 1) m_ij);
//! x_i <- x_i + sum_j (x_i - x_j) / (|x_i - x_j| + 1) tanh(phi(m_ij)) * 15 / L,
//! phi = Linear(H, H) -> SiLU -> Linear(H, 1, no bias, tiny init);
//! h_i <- h_i + Linear(H, H) SiLU(Linear(2H, H) [h_i, sum_j m_ij]).
//!
//! Output: x_final - x_input with the centre of mass removed. 115,841 parameters a layer at
//! H = 128 (plus 256 for the time embedding). Rotations, translations and permutations of the
//! input rotate, leave unchanged and permute the output (tested).

pub mod inference;

use nsamp_core::candle::{DType, Module, Tensor, D};
use nsamp_core::candle_nn::{self, linear, Init, Linear, VarBuilder};
use nsamp_core::{GeneratorModel, Model, ModelConfig, ModelShape, ScoreInference, ScoreModel};

nsamp_core::config! {
    /// `Egnn(...)` config.
    pub struct EgnnConfig {
        /// Number of layers L.
        layers: usize = 3,
        /// Hidden width H.
        hidden: usize = 128,
        /// Total coordinate-update scale (15 / L per layer).
        coord_scale: f64 = 15.0,
    }
}

struct Layer {
    edge1: Linear,
    edge2: Linear,
    gate: Linear,
    phi1: Linear,
    phi2: Linear,
    node1: Linear,
    node2: Linear,
}

/// The network.
pub struct Egnn {
    embed: Linear,
    layers: Vec<Layer>,
    n: usize,
    d: usize,
    step_scale: f64,
    params: usize,
}

fn silu(x: &Tensor) -> nsamp_core::candle::Result<Tensor> {
    candle_nn::ops::silu(x)
}

/// A linear layer over the last dimension of a tensor of any rank (flattened to 2-D for the
/// matrix product).
fn lin(l: &Linear, x: &Tensor) -> nsamp_core::candle::Result<Tensor> {
    let dims = x.dims().to_vec();
    let last = *dims.last().unwrap();
    let rows = x.elem_count() / last;
    let y = l.forward(&x.contiguous()?.reshape((rows, last))?)?;
    let mut out = dims;
    *out.last_mut().unwrap() = y.dim(1)?;
    y.reshape(out)
}

/// The first edge layer, Linear(2H + 2, H) of [h_i, h_j, |x_i - x_j|^2, a_ij], for every pair
/// (B, n, n, H), computed as W_a h_i + W_b h_j + w_s |x_i - x_j|^2 + w_a a_ij + b with
/// W = [W_a | W_b | w_s | w_a]: the two H x H products once per node instead of once per pair
/// (n times fewer), the same function up to float rounding (as the inference path does).
fn edge1(l: &Linear, h: &Tensor, sq: &Tensor, a: &Tensor) -> nsamp_core::candle::Result<Tensor> {
    let (b, n, hdim) = h.dims3()?;
    let w = l.weight(); // (H, 2H + 2)
    let part = |start: usize, len: usize| w.narrow(1, start, len)?.t()?.contiguous();
    let rows = h.reshape((b * n, hdim))?;
    let hi = rows.matmul(&part(0, hdim)?)?.reshape((b, n, 1, hdim))?;
    let hj = rows.matmul(&part(hdim, hdim)?)?.reshape((b, 1, n, hdim))?;
    let ws = part(2 * hdim, 1)?.reshape((1, 1, 1, hdim))?;
    let wa = part(2 * hdim + 1, 1)?.reshape((1, 1, 1, hdim))?;
    let mut e = hi
        .broadcast_add(&hj)?
        .broadcast_add(&sq.broadcast_mul(&ws)?)?
        .broadcast_add(&a.broadcast_mul(&wa)?)?;
    if let Some(bias) = l.bias() {
        e = e.broadcast_add(&bias.reshape((1, 1, 1, hdim))?)?;
    }
    Ok(e)
}

impl Egnn {
    /// The network's forward pass: `t` (B,), `x` (B, n D) -> (B, n D).
    fn forward(&self, t: &Tensor, x: &Tensor) -> nsamp_core::candle::Result<Tensor> {
        let (b, n, d) = (x.dim(0)?, self.n, self.d);
        let x_in = x.reshape((b, n, d))?;
        let hdim = self.embed.weight().dim(0)?;
        let mut h = self
            .embed
            .forward(&t.reshape((b, 1))?)?
            .unsqueeze(1)?
            .broadcast_as((b, n, hdim))?
            .contiguous()?;
        // Self-loop mask (B, n, n, 1): 1 off the diagonal.
        let eye = Tensor::eye(n, DType::F32, x.device())?;
        let diag = eye.reshape((1, n, n, 1))?.broadcast_as((b, n, n, 1))?;
        let mask = (1.0 - &diag)?;
        let pair_sq = |x: &Tensor| -> nsamp_core::candle::Result<(Tensor, Tensor)> {
            let diff = x.unsqueeze(2)?.broadcast_sub(&x.unsqueeze(1)?)?; // (B, n, n, D)
            let sq = diff.sqr()?.sum_keepdim(D::Minus1)?; // (B, n, n, 1)
            Ok((diff, sq))
        };
        let (_, a) = pair_sq(&x_in)?;
        let mut xc = x_in.clone();
        for l in &self.layers {
            let (diff, sq) = pair_sq(&xc)?;
            let m = silu(&lin(&l.edge2, &silu(&edge1(&l.edge1, &h, &sq, &a)?)?)?)?;
            let m = m.broadcast_mul(&candle_nn::ops::sigmoid(&lin(&l.gate, &m)?)?)?;
            let m = m.broadcast_mul(&mask)?;
            let coef = (lin(&l.phi2, &silu(&lin(&l.phi1, &m)?)?)?.tanh()? * self.step_scale)?;
            // sqrt at the (masked) diagonal's zero distance would make the gradient inf * 0 = NaN:
            // take it of s + 1 there instead.
            let dist = (&sq + &diag)?.sqrt()?;
            let w = (coef / (dist + 1.0)?)?.broadcast_mul(&mask)?;
            xc = (xc + diff.broadcast_mul(&w)?.sum(2)?)?;
            let agg = m.sum(2)?; // (B, n, H)
            let upd = l.node2.forward(&silu(
                &l.node1.forward(&Tensor::cat(&[&h, &agg], D::Minus1)?)?,
            )?)?;
            h = (h + upd)?;
        }
        let out = (xc - &x_in)?;
        let com = out.mean_keepdim(1)?;
        out.broadcast_sub(&com)?.reshape((b, n * d))
    }
}

impl ScoreModel for Egnn {
    fn score(&self, t: &Tensor, x: &Tensor) -> nsamp_core::candle::Result<Tensor> {
        self.forward(t, x)
    }
    /// [`inference::EgnnInference`]: the same forward pass on copied weights, without tensors.
    fn inference(&self) -> anyhow::Result<Option<Box<dyn ScoreInference + '_>>> {
        Ok(inference::EgnnInference::new(self)?.map(|m| Box::new(m) as Box<dyn ScoreInference>))
    }
}

/// The network as DiKL's one-step generator (jiajunhe98/DiKL `models/egnn.py`, `EGNN_dynamics`
/// with `condition_time=False`: node features Linear(1, H)(1)): g(z) = the output at a fixed
/// t = 1, x_final - z with the centre of mass removed, for centre-of-mass-free noise z.
impl GeneratorModel for Egnn {
    fn generate(&self, z: &Tensor) -> nsamp_core::candle::Result<Tensor> {
        let t = Tensor::ones(z.dim(0)?, z.dtype(), z.device())?;
        self.forward(&t, z)
    }
}

impl Model for Egnn {
    fn as_score(&self) -> Option<&dyn ScoreModel> {
        Some(self)
    }
    fn as_generator(&self) -> Option<&dyn GeneratorModel> {
        Some(self)
    }
    fn describe(&self) -> String {
        format!(
            "Egnn: {} particles x {}-D, {} layers, {} parameters",
            self.n,
            self.d,
            self.layers.len(),
            self.params
        )
    }
}

impl ModelConfig for EgnnConfig {
    fn build(&self, shape: &ModelShape, vb: VarBuilder) -> anyhow::Result<Box<dyn Model>> {
        let p = shape
            .particles()
            .ok_or_else(|| anyhow::anyhow!("Egnn needs a particle target (DW-4, LJ-13, ...)"))?;
        anyhow::ensure!(
            self.layers >= 1 && self.hidden >= 1,
            "Egnn: layers and hidden must be positive"
        );
        let hd = self.hidden;
        let layers = (0..self.layers)
            .map(|i| -> anyhow::Result<Layer> {
                let v = vb.pp(format!("layer{i}"));
                let tiny = v.pp("phi2").get_with_hints(
                    (1, hd),
                    "weight",
                    Init::Uniform {
                        lo: -1e-3,
                        up: 1e-3,
                    },
                )?;
                Ok(Layer {
                    edge1: linear(2 * hd + 2, hd, v.pp("edge1"))?,
                    edge2: linear(hd, hd, v.pp("edge2"))?,
                    gate: linear(hd, 1, v.pp("gate"))?,
                    phi1: linear(hd, hd, v.pp("phi1"))?,
                    phi2: Linear::new(tiny, None),
                    node1: linear(2 * hd, hd, v.pp("node1"))?,
                    node2: linear(hd, hd, v.pp("node2"))?,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let per_layer = (2 * hd + 3) * hd
            + (hd + 1) * hd
            + (hd + 1)
            + (hd + 1) * hd
            + hd
            + (2 * hd + 1) * hd
            + (hd + 1) * hd;
        Ok(Box::new(Egnn {
            embed: linear(1, hd, vb.pp("embed"))?,
            layers,
            n: p.n,
            d: p.spatial_dim,
            step_scale: self.coord_scale / self.layers as f64,
            params: 2 * hd + self.layers * per_layer,
        }))
    }
}

nsamp_core::register!(
    Model,
    "Egnn",
    EgnnConfig,
    "E(n)-equivariant score network for particle systems (DEM / IW-SM: 3 layers DW-4, 5 layers LJ)"
);
