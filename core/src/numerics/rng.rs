//! Seeded random streams. candle's CPU generator cannot be seeded, so every random number in nsamp
//! comes from here: one run seed, and an independent Xoshiro256++ stream per (purpose, index),
//! derived by SplitMix64 hashing. A stream's numbers do not depend on the thread count.

use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

/// The generator used everywhere.
pub type Rng = rand_xoshiro::Xoshiro256PlusPlus;

/// SplitMix64 finaliser: a bijective 64-bit mix.
pub fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a hash of a purpose label.
fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The run's random streams, all derived from one seed.
#[derive(Debug, Clone, Copy)]
pub struct RngStreams {
    seed: u64,
}

impl RngStreams {
    /// Streams of a seed.
    pub fn new(seed: u64) -> Self {
        RngStreams { seed }
    }
    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// The stream for `purpose` (e.g. "mc-score") and `index` (e.g. step * chunks + chunk).
    pub fn stream(&self, purpose: &str, index: u64) -> Rng {
        let a = splitmix64(self.seed ^ splitmix64(fnv1a(purpose)));
        let b = splitmix64(a ^ splitmix64(index.wrapping_add(0x5851_F42D_4C95_7F2D)));
        Rng::seed_from_u64(b)
    }
    /// Streams derived for a sub-purpose (a new seed), e.g. the exact floor's fresh sample.
    pub fn derive(&self, purpose: &str) -> RngStreams {
        RngStreams {
            seed: splitmix64(self.seed ^ fnv1a(purpose)),
        }
    }
}

/// Fills `out` with independent standard normals.
pub fn fill_normal(rng: &mut Rng, out: &mut [f32]) {
    for v in out.iter_mut() {
        *v = StandardNormal.sample(rng);
    }
}

/// FNV-1a, 64 bits: a stable hash of a text (the same on every machine and run), for parameter
/// names and cache keys.
pub fn fnv1a64(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}
