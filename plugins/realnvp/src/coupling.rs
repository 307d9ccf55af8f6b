//! One affine coupling layer with its hand-written input-gradient.
//!
//! Generative direction (z -> y), mask m (1 = conditioning sites):
//!   y = m z + (1 - m) (z exp(s) + t),  s = c tanh(s_raw),  [s_raw, t] = MLP(m z),
//!   log |det dy/dz| = sum (1 - m) s.
//! Inverse (y -> z): z = m y + (1 - m) (y - t) exp(-s), with s, t from m y (= m z).
//! MLP: Linear(d, H) -> tanh -> Linear(H, H) -> tanh -> Linear(H, 2d), the last layer zero-initialised
//! so that every coupling starts as the identity.

use nsamp_core::candle::{Module, Result, Tensor, D};
use nsamp_core::candle_nn::{linear, Init, Linear, VarBuilder};

/// One coupling layer.
pub struct Coupling {
    mask: Tensor,
    inv_mask: Tensor,
    l1: Linear,
    l2: Linear,
    l3: Linear,
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
    /// A coupling over `dim` inputs with 0/1 `mask` (1 = conditioning) and hidden width `hidden`.
    pub fn new(
        mask: &[f32],
        hidden: usize,
        scale_bound: f64,
        vb: VarBuilder,
    ) -> anyhow::Result<Self> {
        let dim = mask.len();
        let dev = vb.device().clone();
        let dt = vb.dtype();
        let m = Tensor::from_slice(mask, (1, dim), &dev)?.to_dtype(dt)?;
        let inv = (1.0 - &m)?;
        let l3 = {
            let w = vb.get_with_hints((2 * dim, hidden), "l3.weight", Init::Const(0.0))?;
            let b = vb.get_with_hints(2 * dim, "l3.bias", Init::Const(0.0))?;
            Linear::new(w, Some(b))
        };
        Ok(Coupling {
            l1: linear(dim, hidden, vb.pp("l1"))?,
            l2: linear(hidden, hidden, vb.pp("l2"))?,
            l3,
            mask: m,
            inv_mask: inv,
            scale_bound,
            dim,
        })
    }

    /// (h1, h2, s_raw, t) of the conditioner at the masked input `a` = m * input.
    fn conditioner(&self, a: &Tensor) -> Result<(Tensor, Tensor, Tensor, Tensor)> {
        let h1 = self.l1.forward(a)?.tanh()?;
        let h2 = self.l2.forward(&h1)?.tanh()?;
        let out = self.l3.forward(&h2)?;
        let s_raw = out.narrow(D::Minus1, 0, self.dim)?;
        let t = out.narrow(D::Minus1, self.dim, self.dim)?;
        Ok((h1, h2, s_raw, t))
    }

    /// Generative direction: (y, log|det dy/dz|) for z.
    pub fn forward(&self, z: &Tensor) -> Result<(Tensor, Tensor)> {
        let a = z.broadcast_mul(&self.mask)?;
        let (_, _, s_raw, t) = self.conditioner(&a)?;
        let s = (s_raw.tanh()? * self.scale_bound)?.broadcast_mul(&self.inv_mask)?;
        let t = t.broadcast_mul(&self.inv_mask)?;
        let moved = (z.mul(&s.exp()?)? + t)?.broadcast_mul(&self.inv_mask)?;
        let y = (a + moved)?;
        Ok((y, s.sum(D::Minus1)?))
    }

    /// Inverse direction: (z, log|det dz/dy|, tape) for y.
    pub fn inverse(&self, y: &Tensor) -> Result<(Tensor, Tensor, InverseTape)> {
        let a = y.broadcast_mul(&self.mask)?;
        let (h1, h2, s_raw, t) = self.conditioner(&a)?;
        let th = s_raw.tanh()?;
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
        let g_out = Tensor::cat(&[&g_sraw, &g_t], D::Minus1)?;
        // Back through Linear (y = x W^T + b: dx = dy W) and tanh (1 - h^2).
        let g_h2 = g_out.matmul(self.l3.weight())?;
        let g_pre2 = (g_h2 * (1.0 - h2.sqr()?)?)?;
        let g_h1 = g_pre2.matmul(self.l2.weight())?;
        let g_pre1 = (g_h1 * (1.0 - h1.sqr()?)?)?;
        let g_a = g_pre1.matmul(self.l1.weight())?;
        // Direct paths: identity on the mask, e^{-s} elsewhere; conditioner path on the mask.
        let direct = (g_z.broadcast_mul(&self.mask)? + &gy_es)?;
        direct + g_a.broadcast_mul(&self.mask)?
    }
}
