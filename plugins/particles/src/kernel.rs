//! The batched pair-sum kernel: E(x) = sum_{i<j} v(|x_i - x_j|^2) and its gradient, vectorised
//! across configurations.
//!
//! A block of up to [`BLOCK`] configurations is transposed into lanes (`c[i * D + k][lane]`), so
//! every pair (i, j) is one set of 16-wide vector operations with no horizontal reductions and
//! no remainder loops, however few particles there are (LJ-13 has 78 pairs, DW-4 six). Short
//! blocks are padded with copies of their first configuration. Scratch is allocated once per
//! parallel chunk, never per configuration.

// Index loops over the D coordinates (a const generic) are the form that unrolls cleanly here.
#![allow(clippy::needless_range_loop)]

use crate::lanes::{F32x16, LANES};
use crate::pair::PairPotential;

/// Configurations per vector block (one AVX-512 register of f32).
pub const BLOCK: usize = LANES;

type Lane = F32x16;

/// Per-thread scratch for [`pair_sum_block`].
#[derive(Debug, Default)]
pub struct Scratch {
    coords: Vec<Lane>,
    grads: Vec<Lane>,
}

/// Energies sum_{i<j} v(|x_i - x_j|^2) + (k/2) sum_i |x_i - x_mean|^2 (k = `harmonic`) of the
/// `e.len() <= BLOCK` configurations in `x` (n particles of D dims, row-major per configuration)
/// into `e`, and their gradients into `grad` when given (overwritten).
#[inline]
pub fn pair_sum_block<P: PairPotential, const D: usize>(
    pair: &P,
    harmonic: f32,
    n: usize,
    x: &[f32],
    e: &mut [f32],
    grad: Option<&mut [f32]>,
    sc: &mut Scratch,
) {
    let nb = e.len();
    let dim = n * D;
    debug_assert!((1..=BLOCK).contains(&nb) && x.len() == nb * dim);
    // Transpose: contiguous reads, lane-strided writes (no gathers or scatters).
    sc.coords.resize(dim, F32x16::default());
    for l in 0..BLOCK {
        let row = &x[(if l < nb { l } else { 0 }) * dim..][..dim];
        for (lane, &v) in sc.coords.iter_mut().zip(row) {
            lane.0[l] = v;
        }
    }
    let mut energy = F32x16::default();
    // The harmonic restraint to the centre of mass, lane-wise; its gradient k (x_i - mean)
    // (the mean's own dependence cancels since sum_i (x_i - mean) = 0).
    let mut mean = [F32x16::default(); D];
    if harmonic != 0.0 {
        for i in 0..n {
            for k in 0..D {
                mean[k] = mean[k] + sc.coords[i * D + k];
            }
        }
        for m in mean.iter_mut() {
            *m = *m * (1.0 / n as f32);
        }
        for i in 0..n {
            for k in 0..D {
                let c = sc.coords[i * D + k] - mean[k];
                energy = energy + c * c * (0.5 * harmonic);
            }
        }
    }
    match grad {
        None => {
            for i in 0..n {
                let mut ci = [F32x16::default(); D];
                ci.copy_from_slice(&sc.coords[i * D..(i + 1) * D]);
                let mut ei = F32x16::default();
                for cj in sc.coords[(i + 1) * D..].chunks_exact(D) {
                    let mut s = F32x16::default();
                    for k in 0..D {
                        let d = ci[k] - cj[k];
                        s = s + d * d;
                    }
                    ei = ei + pair.value_lanes(s);
                }
                energy = energy + ei;
            }
        }
        Some(grad) => {
            sc.grads.clear();
            sc.grads.resize(dim, F32x16::default());
            if harmonic != 0.0 {
                for i in 0..n {
                    for k in 0..D {
                        sc.grads[i * D + k] = (sc.coords[i * D + k] - mean[k]) * harmonic;
                    }
                }
            }
            for i in 0..n {
                let mut ci = [F32x16::default(); D];
                ci.copy_from_slice(&sc.coords[i * D..(i + 1) * D]);
                // Per-i accumulators in registers: the j loop carries no dependency through memory.
                let mut gi = [F32x16::default(); D];
                let mut ei = F32x16::default();
                let rest = (i + 1) * D;
                for (cj, gj) in sc.coords[rest..]
                    .chunks_exact(D)
                    .zip(sc.grads[rest..].chunks_exact_mut(D))
                {
                    // (Explicit loops: `array::from_fn` here was left as an outlined call.)
                    let mut d = [F32x16::default(); D];
                    let mut s = F32x16::default();
                    for k in 0..D {
                        d[k] = ci[k] - cj[k];
                        s = s + d[k] * d[k];
                    }
                    let (v, dv) = pair.value_and_ds_lanes(s);
                    ei = ei + v;
                    // d/dx_i v(s) = 2 v'(s) (x_i - x_j); the opposite for x_j.
                    let f = dv * 2.0;
                    for k in 0..D {
                        let t = f * d[k];
                        gi[k] = gi[k] + t;
                        gj[k] = gj[k] - t;
                    }
                }
                energy = energy + ei;
                for k in 0..D {
                    sc.grads[i * D + k] = sc.grads[i * D + k] + gi[k];
                }
            }
            for l in 0..nb {
                for (g, lane) in grad[l * dim..(l + 1) * dim].iter_mut().zip(&sc.grads) {
                    *g = lane.0[l];
                }
            }
        }
    }
    e.copy_from_slice(&energy.0[..nb]);
}
