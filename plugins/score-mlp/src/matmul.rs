//! Row-major matrix products of the inference path: `dst (m, n) = lhs (m, k) rhs (k, n)`.
//!
//! On x86-64 builds with AVX-512 (nsamp builds for the native CPU), widths that are multiples of
//! `tiled::NC` go through a register-tiled kernel: a tile of `tiled::MR` rows x `tiled::NC`
//! columns accumulates in 24 AVX-512 registers while k runs, the weights read straight from their
//! (k, n) row-major copy (no packing), one fused multiply-add per entry and step, so each entry is
//! the sequential FMA chain over k. Other widths and CPUs go through the `gemm` crate (candle's
//! CPU kernels, which pack both operands on every call).

/// `dst (m, n) = lhs (m, k) rhs (k, n)`, all row-major, single-threaded.
pub fn matmul(m: usize, n: usize, k: usize, lhs: &[f32], rhs: &[f32], dst: &mut [f32]) {
    assert!(lhs.len() >= m * k && rhs.len() >= k * n && dst.len() >= m * n);
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    if n.is_multiple_of(tiled::NC) && k > 0 {
        tiled::matmul(m, n, k, lhs, rhs, dst);
        return;
    }
    // SAFETY: the three slices hold the (m, k), (k, n) and (m, n) row-major matrices read and
    // written (checked above); dst does not alias lhs or rhs (distinct borrows).
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
            1,
            k as isize,
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
    #[inline(always)]
    fn tile<const R: usize>(
        k: usize,
        n: usize,
        lhs: &[f32],
        rhs: &[f32],
        dst: &mut [f32],
        r0: usize,
        j0: usize,
    ) {
        assert!((r0 + R) * k <= lhs.len() && k * n <= rhs.len() && j0 + 16 * V <= n);
        assert!((r0 + R - 1) * n + j0 + 16 * V <= dst.len());
        // SAFETY: avx512f is enabled at compile time (cfg above); every pointer read or written is
        // inside the slices: rows r0..r0+R of lhs (k each), rows 0..k of rhs at columns j0..j0+NC,
        // and the same rows and columns of dst (asserted above).
        unsafe {
            let mut acc = [[_mm512_setzero_ps(); V]; R];
            let a = lhs.as_ptr().add(r0 * k);
            let b = rhs.as_ptr().add(j0);
            for kk in 0..k {
                let bp = b.add(kk * n);
                let bv: [__m512; V] = std::array::from_fn(|c| _mm512_loadu_ps(bp.add(16 * c)));
                for (r, accr) in acc.iter_mut().enumerate() {
                    let av = _mm512_set1_ps(*a.add(r * k + kk));
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

    /// The product for n a multiple of [`NC`] (checked by the caller, as are the lengths).
    pub fn matmul(m: usize, n: usize, k: usize, lhs: &[f32], rhs: &[f32], dst: &mut [f32]) {
        for j0 in (0..n).step_by(NC) {
            let mut r0 = 0;
            while r0 + MR <= m {
                tile::<MR>(k, n, lhs, rhs, dst, r0, j0);
                r0 += MR;
            }
            // The rest (fewer than MR rows) in tiles of 4, 2 and 1 rows.
            while r0 + 4 <= m {
                tile::<4>(k, n, lhs, rhs, dst, r0, j0);
                r0 += 4;
            }
            if r0 + 2 <= m {
                tile::<2>(k, n, lhs, rhs, dst, r0, j0);
                r0 += 2;
            }
            if r0 < m {
                tile::<1>(k, n, lhs, rhs, dst, r0, j0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
