//! Pair potentials as functions of the squared distance s = |x_i - x_j|^2.

use crate::lanes::F32x16;

/// A pair potential v(s) of the squared distance, with dv/ds.
pub trait PairPotential: Send + Sync + Clone + std::fmt::Debug + 'static {
    /// (v(s), dv/ds).
    fn value_and_ds(&self, s: f32) -> (f32, f32);
    /// v(s) on sixteen lanes (the kernel's energy-only path).
    #[inline(always)]
    fn value_lanes(&self, s: F32x16) -> F32x16 {
        s.map(|s| self.value_and_ds(s).0)
    }
    /// (v(s), dv/ds) on sixteen lanes.
    #[inline(always)]
    fn value_and_ds_lanes(&self, s: F32x16) -> (F32x16, F32x16) {
        let mut v = F32x16::default();
        let mut d = F32x16::default();
        for l in 0..crate::lanes::LANES {
            (v.0[l], d.0[l]) = self.value_and_ds(s.0[l]);
        }
        (v, d)
    }
}

/// Lennard-Jones counted over ordered pairs: v = 2 eps [(rm/r)^12 - 2 (rm/r)^6], r^2 = s + softening.
#[derive(Debug, Clone, Copy)]
pub struct LjPair {
    /// Well depth.
    pub eps: f32,
    /// Distance of the minimum.
    pub rm: f32,
    /// Added to s before the power.
    pub softening: f32,
}

impl PairPotential for LjPair {
    #[inline(always)]
    fn value_and_ds(&self, s: f32) -> (f32, f32) {
        // Loop-invariant reciprocal (hoisted out of the pair loop): one division per pair.
        let inv_rm2 = 1.0 / (self.rm * self.rm);
        let r2 = (s + self.softening) * inv_rm2;
        let inv2 = 1.0 / r2;
        let inv6 = inv2 * inv2 * inv2;
        let v = 2.0 * self.eps * (inv6 * inv6 - 2.0 * inv6);
        // d/dr2 (r2^-6 - 2 r2^-3) = -6 r2^-7 + 6 r2^-4; chain rule through r2 = (s + soft) / rm^2.
        let dv = 12.0 * self.eps * (inv6 - inv6 * inv6) * inv2 * inv_rm2;
        (v, dv)
    }
    #[inline(always)]
    fn value_lanes(&self, s: F32x16) -> F32x16 {
        let inv_rm2 = 1.0 / (self.rm * self.rm);
        let inv2 = F32x16::splat(1.0) / ((s + self.softening) * inv_rm2);
        let inv6 = inv2 * inv2 * inv2;
        (inv6 * inv6 - inv6 * 2.0) * (2.0 * self.eps)
    }
    #[inline(always)]
    fn value_and_ds_lanes(&self, s: F32x16) -> (F32x16, F32x16) {
        let inv_rm2 = 1.0 / (self.rm * self.rm);
        let inv2 = F32x16::splat(1.0) / ((s + self.softening) * inv_rm2);
        let inv6 = inv2 * inv2 * inv2;
        let inv12 = inv6 * inv6;
        let v = (inv12 - inv6 * 2.0) * (2.0 * self.eps);
        let dv = (inv6 - inv12) * inv2 * (12.0 * self.eps * inv_rm2);
        (v, dv)
    }
}

/// Double well: v = a u + b u^2 + c u^4 with u = sqrt(s) - d0.
#[derive(Debug, Clone, Copy)]
pub struct DoubleWellPair {
    /// Linear coefficient.
    pub a: f32,
    /// Quadratic coefficient.
    pub b: f32,
    /// Quartic coefficient.
    pub c: f32,
    /// Offset.
    pub d0: f32,
}

impl PairPotential for DoubleWellPair {
    #[inline(always)]
    fn value_and_ds(&self, s: f32) -> (f32, f32) {
        let d = s.sqrt().max(1e-12);
        let u = d - self.d0;
        let u2 = u * u;
        let v = self.a * u + self.b * u2 + self.c * u2 * u2;
        let dv_dd = self.a + 2.0 * self.b * u + 4.0 * self.c * u2 * u;
        // dd/ds = 1 / (2 d).
        (v, dv_dd / (2.0 * d))
    }
}
