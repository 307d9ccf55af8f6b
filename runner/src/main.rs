//! The `nsamp` binary: a thin wrapper over the runner library.
fn main() -> std::process::ExitCode {
    nsamp::main()
}
