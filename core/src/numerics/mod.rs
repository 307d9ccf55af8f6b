//! Numerics shared by many plugins: stable reductions, fast exponentials, pairwise distances,
//! the VE-SDE schedule and reverse-SDE integrator, the replay buffer, seeded random streams and
//! the Monte Carlo target score, and the row-major matrix products of the inference paths.

pub mod buffer;
pub mod fast_exp;
pub mod lse;
pub mod matmul;
pub mod mc_score;
pub mod pairwise;
pub mod rng;
pub mod schedule;
pub mod sde;
