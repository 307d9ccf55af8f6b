//! `.npy` bytes -> `nsamp_core::io::read_npy`. Errors are fine; panics, aborts, out-of-memory
//! and timeouts are bugs. `read_npy` takes a path (core/src/io.rs has no reader over bytes), so
//! each input is written to one file per process in the temporary directory.
//! Regressions: fuzz/regressions/ (headers of nested brackets, which made npyz's header parser
//! backtrack for minutes; `read_npy` now refuses them before parsing).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::LazyLock;

static PATH: LazyLock<PathBuf> = LazyLock::new(|| {
    std::env::temp_dir().join(format!("nsamp-fuzz-npy-{}.npy", std::process::id()))
});

fuzz_target!(|data: &[u8]| {
    std::fs::write(&*PATH, data).expect("cannot write the fuzz input file");
    if let Ok(a) = nsamp_core::io::read_npy(&PATH) {
        assert_eq!(a.data.len(), a.rows * a.cols, "rows x cols does not match the data");
    }
});
