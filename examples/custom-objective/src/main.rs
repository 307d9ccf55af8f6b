use custom_objective as _; // link the plugin so its objective registers
fn main() -> std::process::ExitCode {
    nsamp::main()
}
