//! GELU with the exact (erf) form, GELU(x) = x Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2, as a
//! candle custom op whose CPU loops vectorise (candle's `gelu_erf` calls libm's scalar erf and exp
//! per element, which dominated the score network's step). Backward:
//! d GELU / dx = Phi(x) + x phi(x), phi(x) = exp(-x^2/2) / sqrt(2 pi).
//!
//! erf uses Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7) with nsamp's vectorised exponential.
//! The derivative op has no backward of its own: differentiating twice is an error, never a silent
//! zero (DESIGN.md, "Facts about candle").

use crate::numerics::fast_exp::exp_f32;
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};

const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
const INV_SQRT_2PI: f32 = 0.398_942_3;

/// erf(x), |error| <= 1.5e-7 (Abramowitz & Stegun 7.1.26).
#[inline(always)]
pub fn erf_f32(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / 0.327_591_1f32.mul_add(a, 1.0);
    let mut p = 1.061_405_4f32;
    p = p.mul_add(t, -1.453_152_1);
    p = p.mul_add(t, 1.421_413_8);
    p = p.mul_add(t, -0.284_496_74);
    p = p.mul_add(t, 0.254_829_6);
    let y = 1.0 - p * t * exp_f32(-a * a);
    if x < 0.0 {
        -y
    } else {
        y
    }
}

/// Phi(x), the standard normal CDF.
#[inline(always)]
fn phi_cdf(x: f32) -> f32 {
    0.5 * (1.0 + erf_f32(x * FRAC_1_SQRT_2))
}

/// GELU(x) = x Phi(x) of one value, the operation order of [`gelu_erf`] (bit-identical to it).
#[inline(always)]
pub fn gelu_f32(x: f32) -> f32 {
    x * phi_cdf(x)
}

/// d GELU / dx = Phi(x) + x phi(x) of one value, the operation order of [`gelu_erf`]'s backward.
#[inline(always)]
pub fn gelu_grad_f32(x: f32) -> f32 {
    phi_cdf(x) + x * INV_SQRT_2PI * exp_f32(-0.5 * x * x)
}

fn map_f32(
    storage: &CpuStorage,
    layout: &Layout,
    f: impl Fn(f32) -> f32 + Sync,
) -> Result<(CpuStorage, Shape)> {
    let CpuStorage::F32(v) = storage else {
        candle_core::bail!("gelu_erf: f32 tensors only");
    };
    let out: Vec<f32> = super::contiguous_slice(v, layout, "gelu_erf")?
        .iter()
        .map(|&x| f(x))
        .collect();
    Ok((CpuStorage::F32(out), layout.shape().clone()))
}

struct GeluErf;
struct GeluErfGrad;

impl CustomOp1 for GeluErf {
    fn name(&self) -> &'static str {
        "nsamp-gelu-erf"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        map_f32(s, l, gelu_f32)
    }
    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad_res.mul(&arg.apply_op1(GeluErfGrad)?)?))
    }
}

impl CustomOp1 for GeluErfGrad {
    fn name(&self) -> &'static str {
        "nsamp-gelu-erf-grad"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        map_f32(s, l, gelu_grad_f32)
    }
    fn bwd(&self, _: &Tensor, _: &Tensor, _: &Tensor) -> Result<Option<Tensor>> {
        candle_core::bail!("second derivative of nsamp's gelu_erf is not implemented")
    }
}

/// GELU (erf form) of a contiguous f32 tensor, differentiable once.
pub fn gelu_erf(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(GeluErf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn erf_is_accurate() {
        // Reference values of erf.
        for (x, want) in [
            (0.0f32, 0.0f64),
            (0.5, 0.520_499_877_8),
            (1.0, 0.842_700_792_9),
            (-2.0, -0.995_322_265_0),
            (3.5, 0.999_999_256_9),
        ] {
            assert!((erf_f32(x) as f64 - want).abs() < 3e-7, "erf({x})");
        }
    }

    #[test]
    fn matches_candle_gelu_erf_and_its_gradient() {
        let xs: Vec<f32> = (0..2001).map(|i| -8.0 + i as f32 * 0.008).collect();
        let v = Var::new(xs.as_slice(), &Device::Cpu).unwrap();
        let ours = gelu_erf(v.as_tensor()).unwrap();
        let theirs = v.as_tensor().gelu_erf().unwrap();
        let d = (&ours - &theirs)
            .unwrap()
            .abs()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(d < 2e-6, "max |difference| {d}");
        let g_ours = ours.sum_all().unwrap().backward().unwrap();
        let g_theirs = theirs.sum_all().unwrap().backward().unwrap();
        let a = g_ours.get(&v).unwrap().to_vec1::<f32>().unwrap();
        let b = g_theirs.get(&v).unwrap().to_vec1::<f32>().unwrap();
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            // candle's own backward uses rounded constants (relative error ~7e-6).
            assert!(
                (x - y).abs() < 2e-5 * (1.0 + y.abs()),
                "x = {}: {x} vs {y}",
                xs[i]
            );
        }
        // Central differences of the forward in f64 around a few points.
        for &x in &[-3.0f64, -0.7, 0.0, 0.4, 2.2] {
            let h = 1e-3;
            let f = |x: f64| x * 0.5 * (1.0 + erf_f32((x / 2f64.sqrt()) as f32) as f64);
            let fd = (f(x + h) - f(x - h)) / (2.0 * h);
            let t = Tensor::new(&[x as f32], &Device::Cpu).unwrap();
            let an = t.apply_op1(GeluErfGrad).unwrap().to_vec1::<f32>().unwrap()[0] as f64;
            assert!((an - fd).abs() < 1e-4, "x = {x}: {an} vs {fd}");
        }
    }

    #[test]
    fn second_derivative_fails_loudly() {
        let x = Tensor::new(&[0.3f32], &Device::Cpu).unwrap();
        assert!(GeluErfGrad.bwd(&x, &x, &x).is_err());
    }
}
