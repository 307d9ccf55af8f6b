//! Element-wise kernels of the inference path, written branch-free so that the compiler
//! vectorises them: the sinusoidal embedding (sin and cos of the same arguments) and GELU fused
//! with the bias add (and the residual add).

/// pi/2 split for Cody-Waite range reduction: HI is pi/2 rounded to f32, LO the rest.
const PIO2_HI: f32 = 1.570_796_4;
const PIO2_LO: f32 = -4.371_139e-8;
/// Above this |argument| the reduction's accuracy is not guaranteed: libm is used instead.
pub const SINCOS_LIMIT: f32 = 8192.0;

/// (sin a, cos a) for |a| <= [`SINCOS_LIMIT`], within about 1e-7 absolute: a = q pi/2 + r with
/// |r| <= pi/4 (fused multiply-adds make q pi/2 exact), minimax polynomials on [-pi/4, pi/4]
/// (Cephes sinf/cosf), the quadrant q mod 4 swapping and negating them.
#[inline(always)]
pub fn sincos(a: f32) -> (f32, f32) {
    // Round-to-nearest by the 1.5 * 2^23 shift: the integer q lands in the low mantissa bits,
    // read by a bit cast (a float-to-int conversion would stop vectorisation).
    const SHIFT: f32 = 12_582_912.0;
    let qs = a.mul_add(std::f32::consts::FRAC_2_PI, SHIFT);
    let qi = qs.to_bits() as i32;
    let q = qs - SHIFT;
    let r = (-q).mul_add(PIO2_LO, (-q).mul_add(PIO2_HI, a));
    let z = r * r;
    let mut ps = -1.951_529_6e-4f32;
    ps = ps.mul_add(z, 8.332_161e-3);
    ps = ps.mul_add(z, -1.666_665_5e-1);
    let s = (ps * z).mul_add(r, r);
    let mut pc = 2.443_315_7e-5f32;
    pc = pc.mul_add(z, -1.388_731_6e-3);
    pc = pc.mul_add(z, 4.166_664_6e-2);
    let c = (pc * z * z).mul_add(1.0, (-0.5f32).mul_add(z, 1.0));
    let swap = qi & 1 != 0;
    let (sv, cv) = if swap { (c, s) } else { (s, c) };
    let sv = f32::from_bits(sv.to_bits() ^ (((qi & 2) as u32) << 30));
    let cv = f32::from_bits(cv.to_bits() ^ (((qi.wrapping_add(1) & 2) as u32) << 30));
    (sv, cv)
}

/// The sinusoidal embedding of one value v: `out[k] = sin(v f_k)`, `out[half + k] = cos(v f_k)`,
/// the argument rounded to f32 as candle's `v * f` does.
#[inline]
pub fn embed_into(v: f32, freqs: &[f32], out: &mut [f32]) {
    let half = freqs.len();
    let (sin, cos) = out.split_at_mut(half);
    if v.abs() * freqs.iter().fold(0f32, |m, f| m.max(f.abs())) <= SINCOS_LIMIT {
        for ((s, c), f) in sin.iter_mut().zip(cos.iter_mut()).zip(freqs) {
            (*s, *c) = sincos(v * f);
        }
    } else {
        for ((s, c), f) in sin.iter_mut().zip(cos.iter_mut()).zip(freqs) {
            (*s, *c) = (v * f).sin_cos();
        }
    }
}

pub use nsamp_core::nn::gelu::gelu_f32 as gelu;

/// `h = GELU(h + b)` for every row of `h` (rows of `b.len()`).
pub fn bias_gelu(h: &mut [f32], b: &[f32]) {
    for row in h.chunks_exact_mut(b.len()) {
        for (v, bv) in row.iter_mut().zip(b) {
            *v = gelu(*v + bv);
        }
    }
}

/// The residual update `h = h + GELU(a + b)` for every row (rows of `b.len()`).
pub fn residual_bias_gelu(h: &mut [f32], a: &[f32], b: &[f32]) {
    for (hr, ar) in h.chunks_exact_mut(b.len()).zip(a.chunks_exact(b.len())) {
        for ((hv, av), bv) in hr.iter_mut().zip(ar).zip(b) {
            *hv += gelu(*av + bv);
        }
    }
}

/// `y = y + b` for every row of `y` (rows of `b.len()`).
pub fn add_bias(y: &mut [f32], b: &[f32]) {
    for row in y.chunks_exact_mut(b.len()) {
        for (v, bv) in row.iter_mut().zip(b) {
            *v += bv;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sincos_matches_f64_within_1e7() {
        let mut worst = 0f64;
        for i in -200_000..=200_000 {
            let a = i as f32 * 0.040_013;
            let (s, c) = sincos(a);
            let (sw, cw) = (a as f64).sin_cos();
            worst = worst.max((s as f64 - sw).abs()).max((c as f64 - cw).abs());
        }
        assert!(worst < 1.5e-7, "worst error {worst}");
    }

    #[test]
    fn embedding_falls_back_to_libm_for_huge_arguments() {
        let freqs = [1.0f32, 0.5];
        let mut out = [0f32; 4];
        embed_into(1e6, &freqs, &mut out);
        let want = [1e6f32.sin(), 5e5f32.sin(), 1e6f32.cos(), 5e5f32.cos()];
        assert_eq!(out, want);
    }

    #[test]
    fn gelu_is_bit_identical_to_core() {
        use nsamp_core::candle::{Device, Tensor};
        let xs: Vec<f32> = (0..4001).map(|i| -10.0 + i as f32 * 0.005).collect();
        let t = Tensor::from_slice(&xs, xs.len(), &Device::Cpu).unwrap();
        let core = nsamp_core::nn::gelu::gelu_erf(&t)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let ours: Vec<f32> = xs.iter().map(|&x| gelu(x)).collect();
        assert_eq!(ours, core);
    }
}
