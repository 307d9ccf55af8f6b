//! tanh as a candle custom op whose f32 loop vectorises (candle's `tanh` calls libm's scalar
//! `tanhf` per element, a fifth of a convolutional flow's training step).
//!
//! f32: Cephes' `tanhf`: x + x z P(z), z = x^2, for |x| < 0.625, else sign(x) (1 - 2 / (e^{2|x|} + 1))
//! with nsamp's vectorised exponential; relative error below 1e-6 (tested). f64 calls `f64::tanh`.
//! Backward: d tanh / dx = 1 - tanh^2, written with tensor ops on the result, so it can itself be
//! differentiated.

use crate::numerics::fast_exp::exp_f32;
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};

/// tanh(x) in f32, vectorisable (Cephes `tanhf` with nsamp's exponential).
#[inline(always)]
pub fn tanh_f32(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let mut p = -5.704_988_7e-3f32;
    p = p.mul_add(z, 2.063_909e-2);
    p = p.mul_add(z, -5.373_971_6e-2);
    p = p.mul_add(z, 1.333_144_2e-1);
    p = p.mul_add(z, -3.333_328e-1);
    let small = (x * z).mul_add(p, x);
    let e = exp_f32((2.0 * a).min(88.0));
    let big = (1.0 - 2.0 / (e + 1.0)).copysign(x);
    if a < 0.625 {
        small
    } else {
        big
    }
}

struct Tanh;

impl CustomOp1 for Tanh {
    fn name(&self) -> &'static str {
        "nsamp-tanh"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let out = super::map_float_storage(
            s,
            l,
            "tanh",
            |v| v.iter().map(|&x| tanh_f32(x)).collect(),
            |v| v.iter().map(|x| x.tanh()).collect(),
        )?;
        Ok((out, l.shape().clone()))
    }
    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad_res.mul(&(1.0 - res.sqr()?)?)?))
    }
}

/// tanh of an f32 or f64 tensor on the CPU (candle's own `tanh` elsewhere).
pub fn tanh(x: &Tensor) -> Result<Tensor> {
    if !x.device().is_cpu() {
        return x.tanh();
    }
    x.contiguous()?.apply_op1(Tanh)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn matches_libm_tanh() {
        let mut worst = 0f64;
        let mut x = -20.0f32;
        while x < 20.0 {
            let a = tanh_f32(x) as f64;
            let b = (x as f64).tanh();
            if b != 0.0 {
                worst = worst.max(((a - b) / b).abs());
            }
            x += 0.000_37;
        }
        assert!(worst < 1e-6, "worst relative error {worst}");
        assert_eq!(tanh_f32(0.0), 0.0);
        assert_eq!(tanh_f32(100.0), 1.0);
        assert_eq!(tanh_f32(-100.0), -1.0);
    }

    #[test]
    fn gradient_is_one_minus_tanh_squared() {
        let xs: Vec<f64> = (0..401).map(|i| -4.0 + i as f64 * 0.02).collect();
        let v = Var::new(xs.as_slice(), &Device::Cpu).unwrap();
        let ours = tanh(v.as_tensor()).unwrap();
        // d/dx sum tanh = 1 - tanh^2.
        let g1 = ours.sum_all().unwrap().backward().unwrap();
        let g1 = g1.get(&v).unwrap().to_vec1::<f64>().unwrap();
        for (x, g) in xs.iter().zip(&g1) {
            let want = 1.0 - x.tanh().powi(2);
            assert!((g - want).abs() < 1e-12, "x = {x}: {g} vs {want}");
        }
    }
}
