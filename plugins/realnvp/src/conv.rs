//! A 3 x 3 convolution with circular (periodic) padding on an L x L lattice, written as one
//! neighbour gather ("im2col") and one matrix product, with its input-gradient.
//!
//! y[n, s, :] = b + W [x[n, nb(s, 1), :], ..., x[n, nb(s, 9), :]], where nb(s, k) is the site at
//! offset o_k in {-1, 0, 1}^2 from s, modulo L. The gather G and its adjoint, the scatter-add
//! G^T (g_x[s'] = sum_k g[nb^-1(s', k), k], written as a gather through the inverse table so
//! every output is written once), are candle custom ops whose backward is the other one. So
//! the input-gradient g_x = G^T(g_y W) is itself differentiable with respect to W and g_y.

use nsamp_core::candle::{
    self, CpuStorage, CustomOp1, Layout, Module, Result, Shape, Tensor, WithDType,
};
use nsamp_core::candle_nn::{linear, Init, Linear, VarBuilder};
use nsamp_core::nn::map_float_storage;
use std::sync::Arc;

/// The lattice's neighbour tables: nb[s * 9 + k] and its inverse inv[s' * 9 + k] = s with
/// nb(s, k) = s'.
#[derive(Clone)]
pub struct Stencil {
    v: usize,
    nb: Arc<[u32]>,
    inv: Arc<[u32]>,
}

impl Stencil {
    /// Builds the stencil for side `l`.
    pub fn new(l: usize) -> Self {
        let v = l * l;
        let (mut nb, mut inv) = (vec![0u32; 9 * v], vec![0u32; 9 * v]);
        for i in 0..l {
            for j in 0..l {
                let mut k = 0;
                for di in [l - 1, 0, 1] {
                    for dj in [l - 1, 0, 1] {
                        let (s, t) = (i * l + j, ((i + di) % l) * l + (j + dj) % l);
                        nb[s * 9 + k] = t as u32;
                        inv[t * 9 + k] = s as u32;
                        k += 1;
                    }
                }
            }
        }
        Stencil {
            v,
            nb: nb.into(),
            inv: inv.into(),
        }
    }

    /// G: (n, V, c) -> (n V, 9 c), row (n, s) = [x[n, nb(s, 1)], ..., x[n, nb(s, 9)]].
    fn gather(&self, x: &Tensor) -> Result<Tensor> {
        x.contiguous()?.apply_op1(Gather(self.clone()))
    }

    /// G^T: (n V, 9 c) -> (n, V, c).
    fn scatter(&self, g: &Tensor) -> Result<Tensor> {
        g.contiguous()?.apply_op1(Scatter(self.clone()))
    }
}

/// G: out[(n, s), k c + ch] = x[n, nb(s, k), ch], rows (n, s) in order.
fn gather_rows<T: WithDType>(x: &[T], nb: &[u32], v: usize, c: usize) -> Vec<T> {
    let n = x.len() / (v * c);
    let mut out = Vec::with_capacity(n * v * 9 * c);
    for cfg in x.chunks_exact(v * c) {
        for s in 0..v {
            for &t in &nb[s * 9..s * 9 + 9] {
                let t = t as usize * c;
                out.extend_from_slice(&cfg[t..t + c]);
            }
        }
    }
    out
}

/// g_x[n, s', ch] = sum_k g[(n, inv(s', k)), k c + ch].
fn scatter_rows<T: WithDType>(g: &[T], inv: &[u32], v: usize, c: usize) -> Vec<T> {
    let n = g.len() / (v * 9 * c);
    let mut out = vec![T::zero(); n * v * c];
    for (cfg, o) in g.chunks_exact(v * 9 * c).zip(out.chunks_exact_mut(v * c)) {
        for (s, acc) in o.chunks_exact_mut(c).enumerate() {
            for (k, &src) in inv[s * 9..s * 9 + 9].iter().enumerate() {
                let at = src as usize * 9 * c + k * c;
                for (a, &b) in acc.iter_mut().zip(&cfg[at..at + c]) {
                    *a += b;
                }
            }
        }
    }
    out
}

struct Gather(Stencil);
struct Scatter(Stencil);

impl CustomOp1 for Gather {
    fn name(&self) -> &'static str {
        "nsamp-lattice-gather"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, v, c) = l.shape().dims3()?;
        if v != self.0.v {
            candle::bail!("lattice gather: {v} sites, stencil has {}", self.0.v);
        }
        let nb = &self.0.nb;
        let out = map_float_storage(
            s,
            l,
            "lattice gather",
            |x| gather_rows(x, nb, v, c),
            |x| gather_rows(x, nb, v, c),
        )?;
        Ok((out, Shape::from((n * v, 9 * c))))
    }
    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let (n, v, c) = arg.dims3()?;
        Ok(Some(self.0.scatter(grad)?.reshape((n, v, c))?))
    }
}

impl CustomOp1 for Scatter {
    fn name(&self) -> &'static str {
        "nsamp-lattice-scatter"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (rows, c9) = l.shape().dims2()?;
        let v = self.0.v;
        if rows % v != 0 || c9 % 9 != 0 {
            candle::bail!("lattice scatter: shape ({rows}, {c9}) is not (n {v}, 9 c)");
        }
        let c = c9 / 9;
        let inv = &self.0.inv;
        let out = map_float_storage(
            s,
            l,
            "lattice scatter",
            |g| scatter_rows(g, inv, v, c),
            |g| scatter_rows(g, inv, v, c),
        )?;
        Ok((out, Shape::from((rows / v, v, c))))
    }
    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(self.0.gather(grad)?))
    }
}

/// One circular 3 x 3 convolution layer, `c_in` -> `c_out` channels per site.
pub struct CircularConv {
    lin: Linear,
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
        Ok(CircularConv { lin })
    }

    /// (n, V, c_in) -> (n, V, c_out).
    pub fn forward(&self, st: &Stencil, x: &Tensor) -> Result<Tensor> {
        let (n, v, _) = x.dims3()?;
        // One 2-D product over all sites (a batched product of tiny matrices is far slower).
        self.lin.forward(&st.gather(x)?)?.reshape((n, v, ()))
    }

    /// Input-gradient: g_y (n, V, c_out) -> g_x (n, V, c_in).
    pub fn vjp(&self, st: &Stencil, g: &Tensor) -> Result<Tensor> {
        let (n, v, c_out) = g.dims3()?;
        st.scatter(&g.reshape((n * v, c_out))?.matmul(self.lin.weight())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nsamp_core::candle::{Device, Var};

    /// <G x, g> = <x, G^T g>, and backward of each op is the other.
    #[test]
    fn gather_and_scatter_are_adjoint() {
        let st = Stencil::new(3);
        let (n, v, c) = (2, 9, 2);
        let xs: Vec<f64> = (0..n * v * c)
            .map(|i| ((i * 37) % 11) as f64 - 5.0)
            .collect();
        let gs: Vec<f64> = (0..n * v * 9 * c)
            .map(|i| ((i * 13) % 7) as f64 - 3.0)
            .collect();
        let x = Var::from_vec(xs, (n, v, c), &Device::Cpu).unwrap();
        let g = Var::from_vec(gs, (n * v, 9 * c), &Device::Cpu).unwrap();
        let gx = st.gather(x.as_tensor()).unwrap();
        let sg = st.scatter(g.as_tensor()).unwrap();
        let lhs = (&gx * g.as_tensor()).unwrap().sum_all().unwrap();
        let rhs = (x.as_tensor() * &sg).unwrap().sum_all().unwrap();
        assert_eq!(
            lhs.to_scalar::<f64>().unwrap(),
            rhs.to_scalar::<f64>().unwrap()
        );
        // d<Gx, g>/dx = G^T g and d<x, G^T g>/dg = G x.
        let d = lhs.backward().unwrap();
        let got = d
            .get(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        assert_eq!(got, sg.flatten_all().unwrap().to_vec1::<f64>().unwrap());
        let d = rhs.backward().unwrap();
        let got = d
            .get(&g)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        assert_eq!(got, gx.flatten_all().unwrap().to_vec1::<f64>().unwrap());
        // The centre of the 3 x 3 block (k = 4) is the site itself.
        let row = gx.get(5).unwrap().to_vec1::<f64>().unwrap();
        let own = x
            .as_tensor()
            .get(0)
            .unwrap()
            .get(5)
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        assert_eq!(&row[8..10], own.as_slice());
    }
}
