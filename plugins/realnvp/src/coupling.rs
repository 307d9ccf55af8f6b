//! One affine coupling layer with its hand-written input-gradient.
//!
//! Generative direction (z -> y), mask m (1 = conditioning sites):
//!   y = m z + (1 - m) (z exp(s) + t),  s = c tanh(s_raw),  [s_raw, t] = MLP(m z),
//!   log |det dy/dz| = sum (1 - m) s.
//! Inverse (y -> z): z = m y + (1 - m) (y - t) exp(-s), with s, t from m y (= m z).
//! Conditioner, either
//! - MLP: Linear(d, H) -> tanh -> Linear(H, H) -> tanh -> Linear(H, 2d), or
//! - Conv (lattices): circular 3 x 3 convolutions 1 -> H -> H -> 2 channels with tanh between,
//!   translation-equivariant like the lattice itself;
//!
//! its last layer zero-initialised so that every coupling starts as the identity.

use crate::conv::{CircularConv, Stencil};
use nsamp_core::candle::{Module, Result, Tensor, D};
use nsamp_core::candle_nn::{linear, Init, Linear, VarBuilder};
use nsamp_core::nn::tanh::tanh;

/// The conditioner network of a coupling.
pub enum Conditioner {
    /// Fully connected.
    Mlp {
        /// Linear(d, H).
        l1: Linear,
        /// Linear(H, H).
        l2: Linear,
        /// Linear(H, 2d), zero-initialised.
        l3: Linear,
    },
    /// Circular convolutions on an L x L lattice.
    Conv {
        /// The lattice's neighbour permutations.
        stencil: Stencil,
        /// 1 -> H channels.
        c1: CircularConv,
        /// H -> H channels.
        c2: CircularConv,
        /// H -> 2 channels (s_raw, t), zero-initialised.
        c3: CircularConv,
    },
}

/// One coupling layer.
pub struct Coupling {
    mask: Tensor,
    inv_mask: Tensor,
    net: Conditioner,
    scale_bound: f64,
    dim: usize,
}

/// What the inverse pass keeps for the input-gradient.
pub struct InverseTape {
    u: Tensor,
    h1: Tensor,
    h2: Tensor,
    th: Tensor,
    t: Tensor,
    es: Tensor,
}

impl Coupling {
    /// A coupling over `dim` inputs with 0/1 `mask` (1 = conditioning) and hidden width (MLP)
    /// or channels (conv) `hidden`; `conv_side` = Some(L) selects the convolutional conditioner.
    pub fn new(
        mask: &[f32],
        hidden: usize,
        scale_bound: f64,
        conv_side: Option<usize>,
        vb: VarBuilder,
    ) -> anyhow::Result<Self> {
        let dim = mask.len();
        let dev = vb.device().clone();
        let dt = vb.dtype();
        let m = Tensor::from_slice(mask, (1, dim), &dev)?.to_dtype(dt)?;
        let inv = (1.0 - &m)?;
        let net = match conv_side {
            None => {
                let l3 = {
                    let w = vb.get_with_hints((2 * dim, hidden), "l3.weight", Init::Const(0.0))?;
                    let b = vb.get_with_hints(2 * dim, "l3.bias", Init::Const(0.0))?;
                    Linear::new(w, Some(b))
                };
                Conditioner::Mlp {
                    l1: linear(dim, hidden, vb.pp("l1"))?,
                    l2: linear(hidden, hidden, vb.pp("l2"))?,
                    l3,
                }
            }
            Some(l) => {
                anyhow::ensure!(l * l == dim, "conv conditioner: dim {dim} is not {l} x {l}");
                Conditioner::Conv {
                    stencil: Stencil::new(l),
                    c1: CircularConv::new(1, hidden, false, vb.pp("c1"))?,
                    c2: CircularConv::new(hidden, hidden, false, vb.pp("c2"))?,
                    c3: CircularConv::new(hidden, 2, true, vb.pp("c3"))?,
                }
            }
        };
        Ok(Coupling {
            net,
            mask: m,
            inv_mask: inv,
            scale_bound,
            dim,
        })
    }

    /// (h1, h2, s_raw, t) of the conditioner at the masked input `a` = m * input.
    fn conditioner(&self, a: &Tensor) -> Result<(Tensor, Tensor, Tensor, Tensor)> {
        match &self.net {
            Conditioner::Mlp { l1, l2, l3 } => {
                let h1 = tanh(&l1.forward(a)?)?;
                let h2 = tanh(&l2.forward(&h1)?)?;
                let out = l3.forward(&h2)?;
                let s_raw = out.narrow(D::Minus1, 0, self.dim)?;
                let t = out.narrow(D::Minus1, self.dim, self.dim)?;
                Ok((h1, h2, s_raw, t))
            }
            Conditioner::Conv {
                stencil,
                c1,
                c2,
                c3,
            } => {
                let a3 = a.unsqueeze(2)?;
                let h1 = tanh(&c1.forward(stencil, &a3)?)?;
                let h2 = tanh(&c2.forward(stencil, &h1)?)?;
                let out = c3.forward(stencil, &h2)?;
                let s_raw = out.narrow(D::Minus1, 0, 1)?.squeeze(2)?;
                let t = out.narrow(D::Minus1, 1, 1)?.squeeze(2)?;
                Ok((h1, h2, s_raw, t))
            }
        }
    }

    /// Input-gradient of the conditioner: (g_sraw, g_t) at its outputs -> g_a at its input.
    fn conditioner_vjp(
        &self,
        h1: &Tensor,
        h2: &Tensor,
        g_sraw: &Tensor,
        g_t: &Tensor,
    ) -> Result<Tensor> {
        match &self.net {
            Conditioner::Mlp { l1, l2, l3 } => {
                // Back through Linear (y = x W^T + b: dx = dy W) and tanh (1 - h^2).
                let g_out = Tensor::cat(&[g_sraw, g_t], D::Minus1)?;
                let g_h2 = g_out.matmul(l3.weight())?;
                let g_pre2 = (g_h2 * (1.0 - h2.sqr()?)?)?;
                let g_h1 = g_pre2.matmul(l2.weight())?;
                let g_pre1 = (g_h1 * (1.0 - h1.sqr()?)?)?;
                g_pre1.matmul(l1.weight())
            }
            Conditioner::Conv {
                stencil,
                c1,
                c2,
                c3,
            } => {
                let g_out = Tensor::stack(&[g_sraw, g_t], 2)?;
                let g_h2 = c3.vjp(stencil, &g_out)?;
                let g_pre2 = (g_h2 * (1.0 - h2.sqr()?)?)?;
                let g_h1 = c2.vjp(stencil, &g_pre2)?;
                let g_pre1 = (g_h1 * (1.0 - h1.sqr()?)?)?;
                c1.vjp(stencil, &g_pre1)?.squeeze(2)
            }
        }
    }

    /// Generative direction: (y, log|det dy/dz|) for z.
    pub fn forward(&self, z: &Tensor) -> Result<(Tensor, Tensor)> {
        let a = z.broadcast_mul(&self.mask)?;
        let (_, _, s_raw, t) = self.conditioner(&a)?;
        let s = (tanh(&s_raw)? * self.scale_bound)?.broadcast_mul(&self.inv_mask)?;
        let t = t.broadcast_mul(&self.inv_mask)?;
        let moved = (z.mul(&s.exp()?)? + t)?.broadcast_mul(&self.inv_mask)?;
        let y = (a + moved)?;
        Ok((y, s.sum(D::Minus1)?))
    }

    /// Inverse direction: (z, log|det dz/dy|, tape) for y.
    pub fn inverse(&self, y: &Tensor) -> Result<(Tensor, Tensor, InverseTape)> {
        let a = y.broadcast_mul(&self.mask)?;
        let (h1, h2, s_raw, t) = self.conditioner(&a)?;
        let th = tanh(&s_raw)?;
        let s = (&th * self.scale_bound)?.broadcast_mul(&self.inv_mask)?;
        let t = t.broadcast_mul(&self.inv_mask)?;
        let es = s.neg()?.exp()?;
        let moved = ((y - &t)? * &es)?.broadcast_mul(&self.inv_mask)?;
        let z = (&a + moved)?;
        let logdet = s.sum(D::Minus1)?.neg()?;
        let tape = InverseTape {
            u: y.clone(),
            h1,
            h2,
            th,
            t,
            es,
        };
        Ok((z, logdet, tape))
    }

    /// Given g_z = d logq / dz at the inverse output, returns d logq / dy at its input, where logq
    /// includes this layer's log-det term -sum (1 - m) s. Tensor ops only (differentiable).
    pub fn input_gradient(&self, tape: &InverseTape, g_z: &Tensor) -> Result<Tensor> {
        let InverseTape {
            u,
            h1,
            h2,
            th,
            t,
            es,
        } = tape;
        let gy_es = (g_z * es)?.broadcast_mul(&self.inv_mask)?;
        // z_b = (u - t) e^{-s}: dz/dt = -e^{-s}; dz/ds = -(u - t) e^{-s}; the log-det adds -1 per s.
        let g_t = gy_es.neg()?;
        let g_s = ((u - t)? * &gy_es)?
            .neg()?
            .broadcast_sub(&self.inv_mask)?
            .broadcast_mul(&self.inv_mask)?;
        let dth = ((1.0 - th.sqr()?)? * self.scale_bound)?;
        let g_sraw = (g_s * dth)?;
        let g_a = self.conditioner_vjp(h1, h2, &g_sraw, &g_t)?;
        // Direct paths: identity on the mask, e^{-s} elsewhere; conditioner path on the mask.
        let direct = (g_z.broadcast_mul(&self.mask)? + &gy_es)?;
        direct + g_a.broadcast_mul(&self.mask)?
    }
}
