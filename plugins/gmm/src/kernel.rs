//! The mixture energy kernel: E(x) = -log sum_c w_c N(x; mu_c, diag sigma_c^2) and its gradient
//! grad E(x) = sum_c r_c(x) (x - mu_c) / sigma_c^2 with responsibilities r_c = softmax_c(l_c),
//! l_c = log w_c - sum_d [ (x_d - mu_cd)^2 / (2 sigma_cd^2) + log sigma_cd ] - (D/2) log 2 pi.
//!
//! Points are processed in blocks of [`BLOCK`], transposed to dimension-major order, and every
//! loop runs across the block's points, so it vectorises with no horizontal reductions: pass 1
//! computes l_c and the running max per point, pass 2 exponentiates and accumulates the sum and
//! the gradient.

use nsamp_core::numerics::fast_exp::exp_f32;

/// Points per block (one AVX-512 register of f32).
pub const BLOCK: usize = 16;

/// Mixture parameters in the kernel's layout.
#[derive(Debug, Clone)]
pub struct Kernel {
    dim: usize,
    k: usize,
    /// mu[c * dim + d].
    mu: Vec<f32>,
    /// 1 / sigma.
    inv_std: Vec<f32>,
    /// 1 / sigma^2.
    inv_var: Vec<f32>,
    /// Constant part of l_c.
    base: Vec<f32>,
}

/// Per-call scratch: the l_c of a block and the block's transposed points and gradient.
pub struct Scratch {
    l: Vec<f32>,
    xs: Vec<f32>,
    gs: Vec<f32>,
}

impl Kernel {
    /// Builds the layout from row-major means and stds (K x dim) and weights (K).
    pub fn new(means: &[f32], stds: &[f32], weights: &[f32], dim: usize) -> Self {
        let k = weights.len();
        let half_log_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
        let base = (0..k)
            .map(|c| {
                let mut b = (weights[c] as f64).ln();
                for d in 0..dim {
                    b -= (stds[c * dim + d] as f64).ln() + half_log_2pi;
                }
                b as f32
            })
            .collect();
        Kernel {
            dim,
            k,
            mu: means.to_vec(),
            inv_std: stds.iter().map(|&s| (1.0 / s as f64) as f32).collect(),
            inv_var: stds
                .iter()
                .map(|&s| (1.0 / (s as f64 * s as f64)) as f32)
                .collect(),
            base,
        }
    }

    /// Scratch for [`Kernel::eval`].
    pub fn scratch(&self) -> Scratch {
        Scratch {
            l: vec![0.0; self.k * BLOCK],
            xs: vec![0.0; self.dim * BLOCK],
            gs: vec![0.0; self.dim * BLOCK],
        }
    }

    /// E for every row of `x` (and grad E into `grad` if given), row-major n x dim.
    pub fn eval(
        &self,
        x: &[f32],
        energy: &mut [f32],
        mut grad: Option<&mut [f32]>,
        sc: &mut Scratch,
    ) {
        let dim = self.dim;
        let n = energy.len();
        let mut start = 0;
        while start < n {
            let m = BLOCK.min(n - start);
            // Transpose the block (padding with the last point).
            for p in 0..BLOCK {
                let row = start + p.min(m - 1);
                for d in 0..dim {
                    sc.xs[d * BLOCK + p] = x[row * dim + d];
                }
            }
            let mut e = [0f32; BLOCK];
            self.block(sc, &mut e, grad.is_some());
            energy[start..start + m].copy_from_slice(&e[..m]);
            if let Some(g) = grad.as_deref_mut() {
                for p in 0..m {
                    for d in 0..dim {
                        g[(start + p) * dim + d] = sc.gs[d * BLOCK + p];
                    }
                }
            }
            start += m;
        }
    }

    #[inline(always)]
    fn block(&self, sc: &mut Scratch, e: &mut [f32; BLOCK], with_grad: bool) {
        match (self.dim, with_grad) {
            (1, true) => self.block_d::<1, true>(sc, e),
            (1, false) => self.block_d::<1, false>(sc, e),
            (2, true) => self.block_d::<2, true>(sc, e),
            (2, false) => self.block_d::<2, false>(sc, e),
            (3, true) => self.block_d::<3, true>(sc, e),
            (3, false) => self.block_d::<3, false>(sc, e),
            (_, g) => self.block_any(sc, e, g),
        }
    }

    /// The block for a dimension known at compile time: points and gradient stay in registers.
    #[inline(always)]
    fn block_d<const D: usize, const GRAD: bool>(&self, sc: &mut Scratch, e: &mut [f32; BLOCK]) {
        let xs: [[f32; BLOCK]; D] = std::array::from_fn(|d| as_blocks(&sc.xs)[d]);
        let l: &mut [[f32; BLOCK]] = as_blocks_mut(&mut sc.l);
        let mu = self.mu.as_chunks::<D>().0;
        let is = self.inv_std.as_chunks::<D>().0;
        let iv = self.inv_var.as_chunks::<D>().0;
        let mut mx = [f32::NEG_INFINITY; BLOCK];
        for (((lc, mu), is), &b) in l.iter_mut().zip(mu).zip(is).zip(&self.base) {
            let mut lv = [b; BLOCK];
            for d in 0..D {
                for p in 0..BLOCK {
                    let z = (xs[d][p] - mu[d]) * is[d];
                    lv[p] = (-0.5 * z).mul_add(z, lv[p]);
                }
            }
            for p in 0..BLOCK {
                mx[p] = if lv[p] > mx[p] { lv[p] } else { mx[p] };
            }
            *lc = lv;
        }
        let mut s = [0f32; BLOCK];
        let mut g = [[0f32; BLOCK]; D];
        for ((lc, mu), iv) in l.iter().zip(mu).zip(iv) {
            let mut w = [0f32; BLOCK];
            for p in 0..BLOCK {
                w[p] = exp_f32(lc[p] - mx[p]);
                s[p] += w[p];
            }
            if GRAD {
                for d in 0..D {
                    for p in 0..BLOCK {
                        g[d][p] = (w[p] * iv[d]).mul_add(xs[d][p] - mu[d], g[d][p]);
                    }
                }
            }
        }
        for p in 0..BLOCK {
            e[p] = -(mx[p] + s[p].ln());
        }
        if GRAD {
            let gs = as_blocks_mut(&mut sc.gs);
            for d in 0..D {
                for p in 0..BLOCK {
                    gs[d][p] = g[d][p] / s[p];
                }
            }
        }
    }

    /// The block for any dimension.
    fn block_any(&self, sc: &mut Scratch, e: &mut [f32; BLOCK], with_grad: bool) {
        let dim = self.dim;
        let xs: &[[f32; BLOCK]] = as_blocks(&sc.xs);
        let l: &mut [[f32; BLOCK]] = as_blocks_mut(&mut sc.l);
        let mut mx = [f32::NEG_INFINITY; BLOCK];
        for (c, lc) in l.iter_mut().enumerate() {
            let mut lv = [self.base[c]; BLOCK];
            for (d, xd) in xs.iter().enumerate() {
                let mu = self.mu[c * dim + d];
                let is = self.inv_std[c * dim + d];
                for p in 0..BLOCK {
                    let z = (xd[p] - mu) * is;
                    lv[p] = (-0.5 * z).mul_add(z, lv[p]);
                }
            }
            for p in 0..BLOCK {
                mx[p] = if lv[p] > mx[p] { lv[p] } else { mx[p] };
            }
            *lc = lv;
        }
        let mut s = [0f32; BLOCK];
        let gs: &mut [[f32; BLOCK]] = as_blocks_mut(&mut sc.gs);
        gs.iter_mut().for_each(|v| *v = [0.0; BLOCK]);
        for (c, lc) in l.iter().enumerate() {
            let mut w = [0f32; BLOCK];
            for p in 0..BLOCK {
                w[p] = exp_f32(lc[p] - mx[p]);
                s[p] += w[p];
            }
            if with_grad {
                for (d, (xd, gd)) in xs.iter().zip(gs.iter_mut()).enumerate() {
                    let mu = self.mu[c * dim + d];
                    let iv = self.inv_var[c * dim + d];
                    for p in 0..BLOCK {
                        gd[p] = (w[p] * iv).mul_add(xd[p] - mu, gd[p]);
                    }
                }
            }
        }
        for p in 0..BLOCK {
            e[p] = -(mx[p] + s[p].ln());
        }
        if with_grad {
            for gd in gs.iter_mut() {
                for p in 0..BLOCK {
                    gd[p] /= s[p];
                }
            }
        }
    }
}

fn as_blocks(v: &[f32]) -> &[[f32; BLOCK]] {
    let (blocks, rest) = v.as_chunks::<BLOCK>();
    debug_assert!(rest.is_empty());
    blocks
}

fn as_blocks_mut(v: &mut [f32]) -> &mut [[f32; BLOCK]] {
    let (blocks, rest) = v.as_chunks_mut::<BLOCK>();
    debug_assert!(rest.is_empty());
    blocks
}
