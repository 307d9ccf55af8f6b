//! Row-major matrix products of the inference path: `dst (m, n) = lhs (m, k) rhs (k, n)`.
//!
//! On x86-64 builds with AVX-512 (nsamp builds for the native CPU), widths that are multiples of
//! `tiled::NC` go through a register-tiled kernel: a tile of `tiled::MR` rows x `tiled::NC`
//! columns accumulates in 24 AVX-512 registers while k runs, the weights read straight from their
//! (k, n) row-major copy (no packing), one fused multiply-add per entry and step, so each entry is
//! the sequential FMA chain over k. Other widths and CPUs go through the `gemm` crate (candle's
//! CPU kernels, which pack both operands on every call).

/// Columns `cols` of the (out, in) row-major matrix `w` (a linear layer's weight), transposed
/// to (cols.len(), out) row-major: the `rhs` of [`matmul`] for those inputs.
pub fn transpose_cols(w: &[f32], out: usize, inp: usize, cols: std::ops::Range<usize>) -> Vec<f32> {
    let mut t = Vec::with_capacity(cols.len() * out);
    for c in cols {
        t.extend((0..out).map(|o| w[o * inp + c]));
    }
    t
}

/// A candle linear layer's (out, in) row-major weight and bias (zeros when it has none), copied
/// to the host, with (out, in).
pub fn linear_weights(l: &candle_nn::Linear) -> anyhow::Result<(Vec<f32>, Vec<f32>, usize, usize)> {
    let (o, i) = l.weight().dims2()?;
    let w = l.weight().flatten_all()?.to_vec1::<f32>()?;
    let b = match l.bias() {
        Some(b) => b.to_vec1::<f32>()?,
        None => vec![0.0; o],
    };
    Ok((w, b, o, i))
}

/// A linear layer copied for [`matmul`]: W^T (in, out) row-major and the bias.
pub struct Dense {
    /// W^T, (in, out) row-major.
    pub wt: Vec<f32>,
    /// The bias (out,).
    pub b: Vec<f32>,
}

impl Dense {
    /// Copies `l` (f32 weights).
    pub fn from_linear(l: &candle_nn::Linear) -> anyhow::Result<Self> {
        let (w, b, o, i) = linear_weights(l)?;
        Ok(Dense {
            wt: transpose_cols(&w, o, i, 0..i),
            b,
        })
    }
}

/// `dst (m, n) = lhs (m, k) rhs (k, n)`, all row-major, single-threaded.
pub fn matmul(m: usize, n: usize, k: usize, lhs: &[f32], rhs: &[f32], dst: &mut [f32]) {
    assert!(lhs.len() >= m * k && rhs.len() >= k * n && dst.len() >= m * n);
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    if n.is_multiple_of(tiled::NC) && k > 0 {
        tiled::matmul::<false>(m, n, k, lhs, 0, rhs, dst);
        return;
    }
    gemm_fallback(m, n, k, lhs, (1, k), rhs, dst)
}

/// `dst (m, n) = lhs^T rhs` where `lhs` holds the (k, m) matrix row-major with row stride
/// `ld >= m` (so lhs^T is (m, k)): the weight gradient g^T x without transposing g.
#[allow(clippy::too_many_arguments)]
pub fn matmul_lhs_t(
    m: usize,
    n: usize,
    k: usize,
    lhs: &[f32],
    ld: usize,
    rhs: &[f32],
    dst: &mut [f32],
) {
    assert!(m <= ld && (k == 0 || m == 0 || lhs.len() >= (k - 1) * ld + m));
    assert!(rhs.len() >= k * n && dst.len() >= m * n);
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    if n.is_multiple_of(tiled::NC) && k > 0 {
        tiled::matmul::<true>(m, n, k, lhs, ld, rhs, dst);
        return;
    }
    gemm_fallback(m, n, k, lhs, (ld, 1), rhs, dst)
}

/// The `gemm` crate's product with lhs element (i, p) at `lhs[i * rs + p * cs]` for
/// `(cs, rs) = strides`.
fn gemm_fallback(
    m: usize,
    n: usize,
    k: usize,
    lhs: &[f32],
    strides: (usize, usize),
    rhs: &[f32],
    dst: &mut [f32],
) {
    let (cs, rs) = strides;
    if m == 0 || n == 0 {
        return;
    }
    assert!(k == 0 || lhs.len() > (m - 1) * rs + (k - 1) * cs);
    // SAFETY: lhs holds every element (i, p) read at i rs + p cs (checked above and by the
    // callers), rhs and dst the (k, n) and (m, n) row-major matrices; dst does not alias lhs or
    // rhs (distinct borrows).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            false,
            lhs.as_ptr(),
            cs as isize,
            rs as isize,
            rhs.as_ptr(),
            1,
            n as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

/// The register-tiled kernel (x86-64 with AVX-512 enabled at compile time).
#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
mod tiled {
    use std::arch::x86_64::*;

    /// AVX-512 vectors per tile row.
    const V: usize = 4;
    /// Columns per register tile.
    pub const NC: usize = 16 * V;
    /// Rows per register tile (MR x V = 24 accumulators of the 32 registers).
    const MR: usize = 6;

    /// One tile: rows `r0..r0 + R`, columns `j0..j0 + NC`, accumulated in V R AVX-512 registers.
    /// Lhs element (r, kk) is at `r k + kk` (row-major) or, with `T`, at `kk ld + r` (the
    /// transpose of a (k, ld) row-major matrix).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn tile<const R: usize, const T: bool>(
        k: usize,
        n: usize,
        lhs: &[f32],
        ld: usize,
        rhs: &[f32],
        dst: &mut [f32],
        r0: usize,
        j0: usize,
    ) {
        if T {
            assert!(r0 + R <= ld && (k - 1) * ld + r0 + R <= lhs.len());
        } else {
            assert!((r0 + R) * k <= lhs.len());
        }
        assert!(k * n <= rhs.len() && j0 + 16 * V <= n);
        assert!((r0 + R - 1) * n + j0 + 16 * V <= dst.len());
        // SAFETY: avx512f is enabled at compile time (cfg above); every pointer read or written is
        // inside the slices: lhs elements (r0..r0+R, 0..k) at the offsets asserted above, rows
        // 0..k of rhs at columns j0..j0+NC, and the same rows and columns of dst.
        unsafe {
            let mut acc = [[_mm512_setzero_ps(); V]; R];
            let a = if T {
                lhs.as_ptr().add(r0)
            } else {
                lhs.as_ptr().add(r0 * k)
            };
            let b = rhs.as_ptr().add(j0);
            for kk in 0..k {
                let bp = b.add(kk * n);
                let bv: [__m512; V] = std::array::from_fn(|c| _mm512_loadu_ps(bp.add(16 * c)));
                for (r, accr) in acc.iter_mut().enumerate() {
                    let off = if T { kk * ld + r } else { r * k + kk };
                    let av = _mm512_set1_ps(*a.add(off));
                    for (c, v) in accr.iter_mut().enumerate() {
                        *v = _mm512_fmadd_ps(av, bv[c], *v);
                    }
                }
            }
            for (r, accr) in acc.iter().enumerate() {
                let d = dst.as_mut_ptr().add((r0 + r) * n + j0);
                for (c, v) in accr.iter().enumerate() {
                    _mm512_storeu_ps(d.add(16 * c), *v);
                }
            }
        }
    }

    /// The product for n a multiple of [`NC`] and k > 0 (checked by the caller, as are the
    /// lengths); `T` and `ld` as in [`tile`].
    pub fn matmul<const T: bool>(
        m: usize,
        n: usize,
        k: usize,
        lhs: &[f32],
        ld: usize,
        rhs: &[f32],
        dst: &mut [f32],
    ) {
        for j0 in (0..n).step_by(NC) {
            let mut r0 = 0;
            while r0 + MR <= m {
                tile::<MR, T>(k, n, lhs, ld, rhs, dst, r0, j0);
                r0 += MR;
            }
            // The rest (fewer than MR rows) in tiles of 4, 2 and 1 rows.
            while r0 + 4 <= m {
                tile::<4, T>(k, n, lhs, ld, rhs, dst, r0, j0);
                r0 += 4;
            }
            if r0 + 2 <= m {
                tile::<2, T>(k, n, lhs, ld, rhs, dst, r0, j0);
                r0 += 2;
            }
            if r0 < m {
                tile::<1, T>(k, n, lhs, ld, rhs, dst, r0, j0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// lhs^T rhs from a (k, ld) lhs, both routes, against the naive product; equal bits to
    /// [`matmul`] on the explicitly transposed lhs.
    #[test]
    fn transposed_lhs_matches() {
        for (m, n, k, ld) in [
            (13, 128, 37, 20),
            (16, 64, 512, 128),
            (2, 128, 9, 2),
            (5, 7, 9, 6),
        ] {
            let lhs: Vec<f32> = (0..k * ld)
                .map(|i| ((i * 7919) % 97) as f32 / 97.0 - 0.5)
                .collect();
            let rhs: Vec<f32> = (0..k * n)
                .map(|i| ((i * 104_729) % 89) as f32 / 89.0 - 0.5)
                .collect();
            let mut dst = vec![f32::NAN; m * n];
            matmul_lhs_t(m, n, k, &lhs, ld, &rhs, &mut dst);
            let t: Vec<f32> = (0..m * k).map(|e| lhs[(e % k) * ld + e / k]).collect();
            let mut want = vec![f32::NAN; m * n];
            matmul(m, n, k, &t, &rhs, &mut want);
            if n % 64 == 0 {
                assert_eq!(dst, want, "({m},{n},{k},{ld})");
            } else {
                for (a, b) in dst.iter().zip(&want) {
                    assert!((a - b).abs() < 1e-5 * (1.0 + b.abs()), "({m},{n},{k},{ld})");
                }
            }
        }
    }

    /// Both routes against a plain triple loop in f64, with m not a multiple of MR.
    #[test]
    fn matches_the_naive_product() {
        for (m, n, k) in [
            (13, 128, 37),
            (6, 64, 1),
            (8, 64, 5),
            (11, 128, 3),
            (5, 7, 9),
            (64, 192, 256),
        ] {
            let lhs: Vec<f32> = (0..m * k)
                .map(|i| ((i * 7919) % 97) as f32 / 97.0 - 0.5)
                .collect();
            let rhs: Vec<f32> = (0..k * n)
                .map(|i| ((i * 104_729) % 89) as f32 / 89.0 - 0.5)
                .collect();
            let mut dst = vec![f32::NAN; m * n];
            matmul(m, n, k, &lhs, &rhs, &mut dst);
            for i in 0..m {
                for j in 0..n {
                    let want: f64 = (0..k)
                        .map(|kk| lhs[i * k + kk] as f64 * rhs[kk * n + j] as f64)
                        .sum();
                    let got = dst[i * n + j] as f64;
                    assert!(
                        (got - want).abs() < 1e-5 * (1.0 + want.abs()),
                        "({m},{n},{k}) [{i},{j}]"
                    );
                }
            }
        }
    }
}
