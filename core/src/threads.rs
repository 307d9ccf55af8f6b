//! Thread configuration. candle's matrix products use rayon's pool and its element-wise ops read
//! `CANDLE_NUM_THREADS`; nsamp's estimators use rayon. One run option sets all of them, before any
//! of them starts (DESIGN.md, "Facts about candle").

/// The default: 2 threads, or fewer if the machine has fewer cores.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(2)
}

/// Sets the thread count for rayon and candle. Call once, before any tensor or parallel work.
pub fn configure(threads: usize) -> anyhow::Result<()> {
    anyhow::ensure!(threads >= 1, "threads must be at least 1");
    // SAFETY-free in edition 2021; done before any worker thread exists.
    std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    std::env::set_var("CANDLE_NUM_THREADS", threads.to_string());
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .stack_size(WORKER_STACK)
        .build_global();
    Ok(())
}

/// Stack of each rayon worker: the main thread's 8 MiB, since [`on_pool`] runs whole training
/// steps (candle's backward walks its graph recursively) on a worker.
const WORKER_STACK: usize = 8 << 20;

/// Runs `f` on a worker of rayon's global pool (inline when already on one): the parallel
/// sections inside it (about twenty a training step, one per reverse-SDE step of a refill) are
/// then split between that worker and the others, instead of each being handed from this thread
/// to the pool and back.
pub fn on_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    rayon::scope(|_| f())
}

/// Threads rayon actually uses.
pub fn current() -> usize {
    rayon::current_num_threads()
}
