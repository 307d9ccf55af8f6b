//! The run's log file, `log.txt`.

use nsamp_core::Observer;
use std::io::Write;
use std::path::Path;

/// Appends every log line of a run to `DIR/log.txt`.
pub struct LogFile {
    file: std::fs::File,
}

impl LogFile {
    /// Opens `dir/log.txt` for appending.
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("log.txt"))?;
        Ok(LogFile { file })
    }

    /// Writes one line.
    pub fn line(&mut self, msg: &str) {
        let _ = writeln!(self.file, "{msg}");
        let _ = self.file.flush();
    }
}

impl Observer for LogFile {
    fn log(&mut self, line: &str) {
        self.line(line);
    }
}
