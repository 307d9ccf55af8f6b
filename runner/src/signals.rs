//! SIGINT and SIGTERM: the first sets the experiment's stop flag (training stops before its
//! next step and writes a complete checkpoint); a second one exits at once (status 128 + the
//! signal's number, as a shell reports a killed process).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// Which signal arrived, if any. Dropping it removes the handlers.
pub struct Received(Arc<AtomicUsize>, Vec<signal_hook::SigId>);

impl Drop for Received {
    fn drop(&mut self) {
        for id in self.1.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}

impl Received {
    /// "SIGINT", "SIGTERM" (or "a stop request" if the flag was set otherwise).
    pub fn name(&self) -> &'static str {
        match self.0.load(Ordering::SeqCst) as i32 {
            signal_hook::consts::SIGINT => "SIGINT",
            signal_hook::consts::SIGTERM => "SIGTERM",
            _ => "a stop request",
        }
    }
    /// The exit status of a run stopped by it: 128 + the signal's number (130, 143).
    pub fn exit_code(&self) -> u8 {
        match self.0.load(Ordering::SeqCst) {
            0 => 1,
            s => (128 + s).min(255) as u8,
        }
    }
}

/// Routes SIGINT and SIGTERM to `stop`; a second signal while `stop` is set exits at once.
pub fn install(stop: Arc<AtomicBool>) -> anyhow::Result<Received> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let which = Arc::new(AtomicUsize::new(0));
    let mut ids = Vec::new();
    for sig in [SIGINT, SIGTERM] {
        // Registered first, so it sees the flag as the previous signal left it.
        ids.push(signal_hook::flag::register_conditional_shutdown(
            sig,
            128 + sig,
            Arc::clone(&stop),
        )?);
        ids.push(signal_hook::flag::register_usize(
            sig,
            Arc::clone(&which),
            sig as usize,
        )?);
        ids.push(signal_hook::flag::register(sig, Arc::clone(&stop))?);
    }
    Ok(Received(which, ids))
}

/// A run that stopped on request: the message to print and the exit status.
#[derive(Debug)]
pub struct Stopped {
    /// What happened and how to continue.
    pub message: String,
    /// The process's exit status.
    pub code: u8,
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Stopped {}
