//! What a person sees of a run: the terminal (progress bars and log lines), the log file, the
//! run directory's files and the plots. Each is an [`Observer`](nsamp_core::Observer) of the
//! experiment.

pub mod console;
pub mod curve_plot;
pub mod log;
pub mod plots;
pub mod rundir;

pub use console::Console;
pub use log::LogFile;
pub use plots::Plots;
pub use rundir::RunDir;

use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar with a prefix, position, message and ETA.
pub fn progress_bar(len: u64, prefix: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template(
            "{prefix:>9} [{bar:30}] {pos}/{len} {msg} [{elapsed_precise} < {eta_precise}]",
        )
        .expect("valid progress template")
        .progress_chars("=> "),
    );
    pb.set_prefix(prefix.to_string());
    pb
}

/// Whether progress output goes to a terminal (else the bar is hidden and log lines are printed).
pub fn interactive() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal()
}
