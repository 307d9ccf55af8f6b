//! The `nsamp` binary: a thin wrapper over the runner library.

// candle allocates a fresh buffer per tensor op; mimalloc reuses them instead of mapping new pages.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    nsamp::main()
}
