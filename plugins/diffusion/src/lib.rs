//! The diffusion family: samplers that run the reverse VE-SDE with a geometric schedule, driven by
//! a learned score (objectives `Idem`, `Pdem`, `IwSm`) or by the Monte Carlo target score itself
//! (sampler `Dwes`). DESIGN.md, "Numerics every diffusion method shares" and "Importance
//! Weighted Score Matching", state the formulas.
//!
//! Every member writes the same nested settings in a recipe ([`settings`]):
//!
//! ```ron
//! Idem(schedule: (sigma_min: 1e-5, sigma_max: 1.0), mc: (samples: 500, clip: Some(70.0)),
//!      lambda: Variance(1e-3),
//!      buffer: (size: 10000, initial: 1024, init: McScoreSde(steps: 1000), refill_every: 100,
//!               refill_samples: 1000),
//!      sde: (steps: 1000, noise_scale: 1.0), scale: None)
//! IwSm(snis: 5, normalisation: PerSample, weighting: Snis, /* the fields of Idem */)
//! Dwes(schedule: (...), mc: (...), sde: (...), chunk: 1000, scale: None)
//! ```
//!
//! Modules: [`settings`] (the nested settings), [`state`] (buffer and outer loop), [`batch`]
//! (mini-batch and regression loss), [`idem`] (iDEM / pDEM), [`iwsm`] and [`weights`] (IW-SM),
//! [`dwes`] (DwES). The shared numerics (schedule, reverse SDE, Monte Carlo score, replay buffer,
//! score sampler) live in `nsamp_core`.

pub mod batch;
pub mod dwes;
pub mod idem;
pub mod iwsm;
pub mod settings;
pub mod state;
pub mod weights;

pub use batch::{regression_loss, Batch};
pub use dwes::{Dwes, DwesConfig};
pub use idem::{Dem, IdemConfig, PdemConfig};
pub use iwsm::{IwSm, IwSmConfig, Weighting};
pub use settings::{
    BufferInit, BufferSettings, DiffusionSettings, Lambda, McSettings, ScheduleSettings,
    SdeSettings,
};
pub use state::{DiffusionState, X0Source};
pub use weights::{log_q_hat, snis_weights, Normalisation, SnisSummary};
