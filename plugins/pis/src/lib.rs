//! Path integral sampler (PIS, Zhang and Chen, ICLR 2022): a controlled SDE trained by the
//! path-space reverse KL (DESIGN.md "Baselines"), as the IW-SM paper ran it: the DEM code
//! (jarridrb/DEM @ 26c930b, `dem/models/pis_module.py`, `dem/models/components/mlp.py`,
//! `configs/model/pis.yaml`).
//!
//! - [`net`]: the model `PisNet`, u(x, t) = NN1(x, t) + NN2(t) * clip(grad log p~(x)).
//! - [`sde`]: the controlled SDE dy = u dt + sigma dW from 0, its Euler-Maruyama paths, the loss
//!   and the path log-weights (Girsanov).
//! - [`objective`]: the objective `Pis` (backpropagation through the trajectory).
//! - [`sampler`]: the trained sampler with ESS and log Z from the path weights.

pub mod net;
pub mod objective;
pub mod sampler;
pub mod sde;

pub use net::{PisNet, PisNetConfig};
pub use objective::{Pis, PisConfig};
pub use sampler::PisSampler;
pub use sde::{ControlledSde, PathTarget, Paths, ScaledTarget};
