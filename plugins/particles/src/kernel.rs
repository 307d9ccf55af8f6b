//! The batched pair-sum kernel: E(x) = sum_{i<j} v(|x_i - x_j|^2) and its gradient, vectorised
//! across configurations.
//!
//! A block of up to [`BLOCK`] configurations is transposed into lanes (`c[i * D + k][lane]`), so
//! every pair (i, j) is one set of 16-wide vector operations with no horizontal reductions and
//! no remainder loops, however few particles there are (LJ-13 has 78 pairs, DW-4 six). Short
//! blocks are padded with copies of their first configuration. Scratch is allocated once per
//! parallel chunk, never per configuration.

// Lane-indexed loops over fixed-size arrays are the form that vectorises here.
#![allow(clippy::needless_range_loop)]

use crate::pair::PairPotential;

/// Configurations per vector block (one AVX-512 register of f32).
pub const BLOCK: usize = 16;

type Lane = [f32; BLOCK];

/// Per-thread scratch for [`pair_sum_block`].
#[derive(Debug, Default)]
pub struct Scratch {
    coords: Vec<Lane>,
    grads: Vec<Lane>,
}

/// Pair-sum energies of the `e.len() <= BLOCK` configurations in `x` (n particles of D dims,
/// row-major per configuration) into `e`, and their gradients into `grad` when given
/// (overwritten).
#[inline]
pub fn pair_sum_block<P: PairPotential, const D: usize>(
    pair: &P,
    n: usize,
    x: &[f32],
    e: &mut [f32],
    grad: Option<&mut [f32]>,
    sc: &mut Scratch,
) {
    let nb = e.len();
    let dim = n * D;
    debug_assert!((1..=BLOCK).contains(&nb) && x.len() == nb * dim);
    sc.coords.resize(dim, [0.0; BLOCK]);
    for (q, lane) in sc.coords.iter_mut().enumerate() {
        for (l, v) in lane.iter_mut().enumerate() {
            *v = x[(if l < nb { l } else { 0 }) * dim + q];
        }
    }
    let mut energy = [0f32; BLOCK];
    match grad {
        None => {
            for i in 0..n {
                let ci: [Lane; D] = std::array::from_fn(|k| sc.coords[i * D + k]);
                for j in i + 1..n {
                    let cj = &sc.coords[j * D..(j + 1) * D];
                    for l in 0..BLOCK {
                        let mut s = 0f32;
                        for k in 0..D {
                            let d = ci[k][l] - cj[k][l];
                            s += d * d;
                        }
                        energy[l] += pair.value_and_ds(s).0;
                    }
                }
            }
        }
        Some(grad) => {
            sc.grads.clear();
            sc.grads.resize(dim, [0.0; BLOCK]);
            for i in 0..n {
                let ci: [Lane; D] = std::array::from_fn(|k| sc.coords[i * D + k]);
                let mut gi = [[0f32; BLOCK]; D];
                for j in i + 1..n {
                    let cj = &sc.coords[j * D..(j + 1) * D];
                    let gj = &mut sc.grads[j * D..(j + 1) * D];
                    for l in 0..BLOCK {
                        let mut d = [0f32; D];
                        let mut s = 0f32;
                        for k in 0..D {
                            d[k] = ci[k][l] - cj[k][l];
                            s += d[k] * d[k];
                        }
                        let (v, dv) = pair.value_and_ds(s);
                        energy[l] += v;
                        // d/dx_i v(s) = 2 v'(s) (x_i - x_j); the opposite for x_j.
                        let f = 2.0 * dv;
                        for k in 0..D {
                            let t = f * d[k];
                            gi[k][l] += t;
                            gj[k][l] -= t;
                        }
                    }
                }
                for k in 0..D {
                    for l in 0..BLOCK {
                        sc.grads[i * D + k][l] += gi[k][l];
                    }
                }
            }
            for (q, lane) in sc.grads.iter().enumerate() {
                for l in 0..nb {
                    grad[l * dim + q] = lane[l];
                }
            }
        }
    }
    e.copy_from_slice(&energy[..nb]);
}
