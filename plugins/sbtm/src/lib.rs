//! Training-free particle samplers of the SBTM paper (Ilin, Hosseini, Hu 2025; DESIGN.md "SBTM"):
//! `Sbtm` (deterministic particles moved by grad log pi_t - s, s a score network re-fitted on the
//! particles every step by implicit score matching) and `Ula` (unadjusted Langevin), both with
//! optional annealing (geometric or dilation) and per-step diagnostics (relative Fisher
//! information, KDE and Gaussian-fit KL, the exact flow where known) in the run's trace.

pub mod anneal;
pub mod diagnostics;
pub mod dynamics;
pub mod net;
pub mod sbtm;
pub mod ula;

pub use anneal::{Annealing, Prior};
pub use net::ScoreNet;
pub use sbtm::{Sbtm, SbtmConfig};
pub use ula::{Ula, UlaConfig};

nsamp_core::register!(
    Sampler,
    "Sbtm",
    SbtmConfig,
    "score-based transport modelling: deterministic particles, dx/dt = grad log pi_t - s, s re-fitted by implicit score matching every step"
);
nsamp_core::register!(
    Sampler,
    "Ula",
    UlaConfig,
    "unadjusted Langevin particles x <- x + dt grad log pi_t + sqrt(2 dt) xi (annealed ULA with `annealing`)"
);
