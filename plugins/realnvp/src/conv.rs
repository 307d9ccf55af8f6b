//! A 3 x 3 convolution with circular (periodic) padding on an L x L lattice, written as one
//! neighbour gather ("im2col") and one matrix product, with its input-gradient.
//!
//! y[n, s, :] = b + W [x[n, nb(s, 1), :], ..., x[n, nb(s, 9), :]], where nb(s, k) is the site at
//! offset o_k in {-1, 0, 1}^2 from s, modulo L. The gather is `index_select` over sites with a
//! fixed index of length 9 V; its vector-Jacobian product is the matching `index_add`
//! (scatter-add): g_x = index_add(g_y W). candle differentiates both (each is the other's
//! adjoint), so the input-gradient itself can be differentiated with respect to W.

use nsamp_core::candle::{Device, Module, Result, Tensor};
use nsamp_core::candle_nn::{linear, Init, Linear, VarBuilder};

/// The lattice side and the neighbour index nb(s, k) flattened as s * 9 + k.
#[derive(Clone)]
pub struct Stencil {
    l: usize,
    neighbours: Tensor,
}

impl Stencil {
    /// Builds the stencil for side `l` on `device`.
    pub fn new(l: usize, device: &Device) -> Result<Self> {
        let mut nb = Vec::with_capacity(9 * l * l);
        for i in 0..l {
            for j in 0..l {
                for di in [l - 1, 0, 1] {
                    for dj in [l - 1, 0, 1] {
                        nb.push((((i + di) % l) * l + (j + dj) % l) as u32);
                    }
                }
            }
        }
        let neighbours = Tensor::from_vec(nb, 9 * l * l, device)?;
        Ok(Stencil { l, neighbours })
    }
}

/// One circular 3 x 3 convolution layer, `c_in` -> `c_out` channels per site.
pub struct CircularConv {
    lin: Linear,
    c_in: usize,
}

impl CircularConv {
    /// A layer; `zero` initialises weights and bias to 0.
    pub fn new(c_in: usize, c_out: usize, zero: bool, vb: VarBuilder) -> Result<Self> {
        let lin = if zero {
            let w = vb.get_with_hints((c_out, 9 * c_in), "weight", Init::Const(0.0))?;
            let b = vb.get_with_hints(c_out, "bias", Init::Const(0.0))?;
            Linear::new(w, Some(b))
        } else {
            linear(9 * c_in, c_out, vb)?
        };
        Ok(CircularConv { lin, c_in })
    }

    /// (n, V, c_in) -> (n, V, c_out).
    pub fn forward(&self, st: &Stencil, x: &Tensor) -> Result<Tensor> {
        let (n, v, c) = x.dims3()?;
        debug_assert_eq!(v, st.l * st.l);
        // One 2-D product over all sites (a batched product of tiny matrices is far slower).
        let cols = x
            .contiguous()?
            .index_select(&st.neighbours, 1)?
            .reshape((n * v, 9 * c))?;
        self.lin.forward(&cols)?.reshape((n, v, ()))
    }

    /// Input-gradient: g_y (n, V, c_out) -> g_x (n, V, c_in).
    pub fn vjp(&self, st: &Stencil, g: &Tensor) -> Result<Tensor> {
        let (n, v, c_out) = g.dims3()?;
        let g_cols = g
            .reshape((n * v, c_out))?
            .matmul(self.lin.weight())?
            .reshape((n, 9 * v, self.c_in))?;
        let zeros = Tensor::zeros((n, v, self.c_in), g.dtype(), g.device())?;
        zeros.index_add(&st.neighbours, &g_cols, 1)
    }
}
