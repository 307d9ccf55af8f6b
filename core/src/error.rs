//! Typed errors for the cases a caller must tell apart.

use thiserror::Error;

/// Errors that a caller (the runner, a test, a user's binary) may want to match on.
#[derive(Debug, Error)]
pub enum NsampError {
    /// A recipe names a component that no linked plugin registered.
    #[error("unknown {kind} `{name}`; registered {kind}s: {known}")]
    UnknownComponent {
        /// The component family ("target", "model", ...).
        kind: &'static str,
        /// The name the recipe used.
        name: String,
        /// The registered names of that family, comma-separated.
        known: String,
    },
    /// A recipe parsed but holds a value outside its valid range.
    #[error("invalid recipe: {0}")]
    InvalidRecipe(String),
    /// Training produced a non-finite loss or gradient; the run stops with this diagnostic.
    #[error(
        "training stopped at step {step}: non-finite {what} (last finite loss {last_loss:.6e}, \
         last gradient norm {last_grad_norm:.3e}). {hint}"
    )]
    NonFinite {
        /// The step at which it happened (0-based).
        step: u64,
        /// What was non-finite ("loss", "gradient norm", "target score").
        what: &'static str,
        /// The last finite loss seen.
        last_loss: f64,
        /// The last finite gradient norm seen.
        last_grad_norm: f64,
        /// What to try.
        hint: String,
    },
    /// The run was asked to stop (SIGINT or SIGTERM) and stopped between two steps; a complete
    /// checkpoint of the state after `steps_done` steps was written.
    #[error("stopped on request after {steps_done} training steps")]
    Interrupted {
        /// Training steps completed (and checkpointed).
        steps_done: u64,
    },
    /// A component was combined with another it cannot work with.
    #[error("incompatible components: {0}")]
    Incompatible(String),
}
