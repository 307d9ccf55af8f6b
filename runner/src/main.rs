//! The `nsamp` binary: a thin wrapper over the runner library.

// candle allocates a fresh buffer per tensor op; mimalloc reuses them instead of mapping new pages.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `purge_delay` option (index 15 in its option enum, the entry after
/// `eager_commit_delay` = 14; `MIMALLOC_VERBOSE=1` lists them in order). The bindings name no
/// constant for it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> std::process::ExitCode {
    // A training step frees and reallocates the same ~1 GB of tensors; with the default 10 ms
    // purge delay mimalloc hands those pages back between steps and the kernel zeroes them again
    // on the next touch (a quarter of a convolutional flow's step). Keep them, unless the user
    // sets MIMALLOC_PURGE_DELAY.
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets a process-wide allocator option; mimalloc allows this at any time.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    }
    nsamp::main()
}
