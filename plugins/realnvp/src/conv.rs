//! A 3 x 3 convolution with circular (periodic) padding on an L x L lattice, written as nine
//! periodic shifts ("rolls") of the field and one matrix product, with its input-gradient.
//!
//! y[n, s, :] = b + W [x[n, s + o_1, :], ..., x[n, s + o_9, :]], offsets o in {-1, 0, 1}^2 taken
//! modulo L. A roll is a permutation of sites, so the vector-Jacobian product is the inverse
//! roll: g_x = sum_o roll_{-o}((g_y W)_o). Rolls are two slices and a concatenation (memory
//! copies), so forward and input-gradient are cheap and candle differentiates both.

use nsamp_core::candle::{Module, Result, Tensor, D};
use nsamp_core::candle_nn::{linear, Init, Linear, VarBuilder};

/// The lattice side and the nine offsets (as non-negative shifts modulo L).
#[derive(Clone)]
pub struct Stencil {
    l: usize,
    offsets: Vec<(usize, usize)>,
}

impl Stencil {
    /// Builds the stencil for side `l`.
    pub fn new(l: usize) -> Self {
        let mut offsets = Vec::with_capacity(9);
        for di in [l - 1, 0, 1] {
            for dj in [l - 1, 0, 1] {
                offsets.push((di % l, dj % l));
            }
        }
        Stencil { l, offsets }
    }
}

/// y[.., i, ..] = x[.., (i + k) mod L, ..] along `axis`.
fn roll(x: &Tensor, k: usize, axis: usize, l: usize) -> Result<Tensor> {
    if k == 0 {
        return Ok(x.clone());
    }
    Tensor::cat(&[x.narrow(axis, k, l - k)?, x.narrow(axis, 0, k)?], axis)
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
        let l = st.l;
        let grid = x.reshape((n, l, l, c))?;
        let parts = st
            .offsets
            .iter()
            .map(|&(di, dj)| roll(&roll(&grid, di, 1, l)?, dj, 2, l))
            .collect::<Result<Vec<_>>>()?;
        // One 2-D product over all sites (a batched product of tiny matrices is far slower).
        let cat = Tensor::cat(&parts, D::Minus1)?.reshape((n * v, 9 * c))?;
        self.lin.forward(&cat)?.reshape((n, v, ()))
    }

    /// Input-gradient: g_y (n, V, c_out) -> g_x (n, V, c_in).
    pub fn vjp(&self, st: &Stencil, g: &Tensor) -> Result<Tensor> {
        let (n, v, c_out) = g.dims3()?;
        let l = st.l;
        let g_cat = g
            .reshape((n * v, c_out))?
            .matmul(self.lin.weight())?
            .reshape((n, l, l, 9 * self.c_in))?;
        let mut out: Option<Tensor> = None;
        for (o, &(di, dj)) in st.offsets.iter().enumerate() {
            let part = g_cat.narrow(D::Minus1, o * self.c_in, self.c_in)?;
            let back = roll(&roll(&part, (l - di) % l, 1, l)?, (l - dj) % l, 2, l)?;
            out = Some(match out {
                Some(acc) => (acc + back)?,
                None => back,
            });
        }
        out.expect("nine offsets").reshape((n, v, self.c_in))
    }
}
