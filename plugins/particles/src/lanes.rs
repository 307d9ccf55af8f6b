//! `F32x16`: sixteen f32 lanes with value-semantics arithmetic. Written as whole-array
//! operations returned by value (plain loops; `array::from_fn` is sometimes left outlined), they compile to single AVX-512 instructions (or pairs of AVX2
//! ones) and stay in registers across loops, where indexed updates of a `[f32; 16]` would be kept
//! in memory.

use std::ops::{Add, Div, Mul, Sub};

/// Lanes per vector.
pub const LANES: usize = 16;

/// Sixteen f32 lanes.
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C, align(64))]
pub struct F32x16(pub [f32; LANES]);

impl F32x16 {
    /// All lanes `v`.
    #[inline(always)]
    pub fn splat(v: f32) -> Self {
        F32x16([v; LANES])
    }
    /// Lane-wise map.
    #[inline(always)]
    pub fn map(self, f: impl Fn(f32) -> f32) -> Self {
        let mut out = self;
        for v in out.0.iter_mut() {
            *v = f(*v);
        }
        out
    }
}

impl Default for F32x16 {
    fn default() -> Self {
        F32x16::splat(0.0)
    }
}

macro_rules! lanewise {
    ($tr:ident, $f:ident, $op:tt) => {
        impl $tr for F32x16 {
            type Output = F32x16;
            #[inline(always)]
            fn $f(self, o: F32x16) -> F32x16 {
                let mut out = self;
                for (a, b) in out.0.iter_mut().zip(o.0) {
                    *a $op b;
                }
                out
            }
        }
        impl $tr<f32> for F32x16 {
            type Output = F32x16;
            #[inline(always)]
            fn $f(self, o: f32) -> F32x16 {
                let mut out = self;
                for a in out.0.iter_mut() {
                    *a $op o;
                }
                out
            }
        }
    };
}
lanewise!(Add, add, +=);
lanewise!(Sub, sub, -=);
lanewise!(Mul, mul, *=);
lanewise!(Div, div, /=);
