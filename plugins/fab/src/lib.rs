//! Flow annealed importance sampling bootstrap (FAB, Midgley et al., ICLR 2023): a flow trained
//! by the alpha = 2 divergence with AIS and a prioritised replay buffer (DESIGN.md
//! "Baselines"; fab-torch @ b1586a9).
//!
//! - [`ends`]: the AIS path q -> g = p^alpha q^(1 - alpha) (training) or q -> p (evaluation)
//!   for core's `mcmc::ais`;
//! - [`buffer`]: the prioritised replay buffer (Gumbel top-k draws, weight adjustment, FIFO);
//! - [`config`]: the `Fab(...)` recipe settings;
//! - [`objective`]: the objective, one minibatch gradient step per nsamp step;
//! - [`sampler`]: the trained flow's sampler with FAB's evaluation report.
//!
//! The flow is any model with `Model::as_flow` (nsamp's `RealNvp`).
//!
//! Differences from fab-torch (recipes' headers repeat them):
//! - the flow: nsamp's RealNvp has no learned invertible linear map between coupling blocks
//!   (alternating masks), a fixed N(0, I) base (fab-torch: trainable diagonal Gaussian),
//!   tanh-bounded log-scales, and computes in f32 (fab-torch's GMM runs use float64);
//! - f32: a minibatch whose largest weight w_adj exceeds [`objective::W_MAX`] has its loss
//!   scaled down (the clipped update is unchanged whenever the scaled norm still exceeds
//!   `train.grad_clip`); rows with a non-finite weight leave the loss (fab-torch skips the step);
//! - HMC step adaptation is core's (x or / 1.1 per level, carried across AIS batches; fab-torch:
//!   per-level and shared factors 1.05 and 1.02);
//! - particle targets: the flow lives in the full n x d space, so FAB targets p~ times a
//!   Gaussian on the centre of mass ([`ends`]);
//! - one nsamp step is one minibatch gradient step; an AIS batch every `minibatches` steps.

pub mod buffer;
pub mod config;
pub mod ends;
pub mod objective;
pub mod sampler;
#[cfg(test)]
mod tests;

pub use config::FabConfig;
pub use objective::Fab;
pub use sampler::FabSampler;
