//! Gaussian-mixture targets: the general [`Mixture`] and the presets `Gmm40`, `Gmm80`, `Gmm120`,
//! `Mog4`, `Mog8`. Exact log-density (log Z = 0), analytic energy gradient, exact sampler.

pub mod kernel;
pub mod mixture;
pub mod presets;

pub use mixture::{Mixture, MixtureConfig};
pub use presets::{Gmm120Config, Gmm40Config, Gmm80Config, Mog4Config, Mog8Config, GMM40_MEANS};
