//! The terminal: log lines on stderr, a progress bar per phase when stderr is a terminal.

use super::{interactive, progress_bar};
use indicatif::ProgressBar;
use nsamp_core::train::StepRecord;
use nsamp_core::Observer;

/// Prints log lines to stderr and shows a progress bar for each phase on a terminal.
pub struct Console {
    bar: Option<ProgressBar>,
    interactive: bool,
}

impl Default for Console {
    fn default() -> Self {
        Console {
            bar: None,
            interactive: interactive(),
        }
    }
}

impl Observer for Console {
    fn log(&mut self, line: &str) {
        match &self.bar {
            Some(pb) => pb.println(line),
            None => eprintln!("{line}"),
        }
    }
    fn phase(&mut self, name: &str, total: u64) {
        if self.interactive {
            self.bar = Some(progress_bar(total, name));
        }
    }
    fn progress(&mut self, done: u64, total: u64) {
        if let Some(pb) = &self.bar {
            pb.set_length(total);
            pb.set_position(done);
        }
    }
    fn phase_done(&mut self) {
        if let Some(pb) = self.bar.take() {
            pb.finish_and_clear();
        }
    }
    fn step(&mut self, r: &StepRecord) -> anyhow::Result<()> {
        if let Some(pb) = &self.bar {
            pb.set_message(format!("loss {:.3e}", r.loss));
        }
        Ok(())
    }
}
