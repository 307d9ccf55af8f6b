//! SIGINT and SIGTERM, installed once per process. In the training loop the first signal sets
//! the experiment's stop flag: training stops before its next step and writes a complete
//! checkpoint. Outside it (the reference, the objective's start, sampling, evaluation, a
//! training-free sampler, between the seeds of a sweep) there is nothing to save beyond what is
//! written, so a watchdog exits within 50 ms with a line saying so. A second signal always exits
//! at once. The exit status is 128 + the signal's number (130, 143), as a shell reports it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// The process-wide flags the handlers set and the experiments read.
pub struct Signals {
    /// Set by the first SIGINT/SIGTERM.
    pub stop: Arc<AtomicBool>,
    /// Set by the experiment while its training loop answers `stop`.
    pub training: Arc<AtomicBool>,
    which: Arc<AtomicUsize>,
    /// The current run directory (for the watchdog's log line and hint).
    run_dir: Mutex<Option<PathBuf>>,
}

static SIGNALS: OnceLock<Signals> = OnceLock::new();

impl Signals {
    /// "SIGINT", "SIGTERM" (or "a stop request" if the flag was set otherwise).
    pub fn name(&self) -> &'static str {
        match self.which.load(Ordering::SeqCst) as i32 {
            signal_hook::consts::SIGINT => "SIGINT",
            signal_hook::consts::SIGTERM => "SIGTERM",
            _ => "a stop request",
        }
    }
    /// The exit status of a run stopped by it: 128 + the signal's number (130, 143).
    pub fn exit_code(&self) -> u8 {
        match self.which.load(Ordering::SeqCst) {
            0 => 1,
            s => (128 + s).min(255) as u8,
        }
    }
    /// The run directory the watchdog names (None between runs).
    pub fn set_run_dir(&self, dir: Option<PathBuf>) {
        *self.run_dir.lock().unwrap_or_else(|e| e.into_inner()) = dir;
    }
}

/// Installs the handlers and the watchdog (once; later calls return the same flags).
pub fn install() -> anyhow::Result<&'static Signals> {
    if let Some(s) = SIGNALS.get() {
        return Ok(s);
    }
    use signal_hook::consts::{SIGINT, SIGTERM};
    let s = Signals {
        stop: Arc::new(AtomicBool::new(false)),
        training: Arc::new(AtomicBool::new(false)),
        which: Arc::new(AtomicUsize::new(0)),
        run_dir: Mutex::new(None),
    };
    for sig in [SIGINT, SIGTERM] {
        // Registered first, so it sees the flag as the previous signal left it.
        signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&s.stop))?;
        signal_hook::flag::register_usize(sig, Arc::clone(&s.which), sig as usize)?;
        signal_hook::flag::register(sig, Arc::clone(&s.stop))?;
    }
    let s = SIGNALS.get_or_init(|| s);
    std::thread::spawn(move || watchdog(s));
    Ok(s)
}

/// Exits once stopped outside the training loop.
fn watchdog(s: &'static Signals) {
    loop {
        std::thread::sleep(std::time::Duration::from_millis(50));
        if s.stop.load(Ordering::SeqCst) && !s.training.load(Ordering::SeqCst) {
            let dir = s.run_dir.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let hint = match &dir {
                Some(d) if nsamp_core::checkpoint::exists(d) => format!(
                    "; its last checkpoint stays: `nsamp resume {}` continues from it",
                    d.display()
                ),
                _ => String::new(),
            };
            let line = format!(
                "stopped by {} outside training (reference, initialisation, sampling or \
                 evaluation): exiting{hint}",
                s.name()
            );
            if let Some(d) = &dir {
                use std::io::Write;
                if let Ok(mut f) = std::fs::OpenOptions::new()
                    .append(true)
                    .open(d.join("log.txt"))
                {
                    let _ = writeln!(f, "{line}");
                }
            }
            eprintln!("{line}");
            std::process::exit(s.exit_code() as i32);
        }
    }
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
