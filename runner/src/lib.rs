//! The nsamp runner: the command-line interface over the experiment library
//! ([`nsamp_core::Experiment`]). One file per subcommand under [`cmd`]; the terminal, the log, the
//! run directory and the plots are observers of the experiment under [`ui`]. A user's own binary that links extra
//! plugin crates calls [`main`] and gets the whole CLI:
//!
//! ```ignore
//! use my_plugin as _; // link the plugin so its components register
//! fn main() -> std::process::ExitCode { nsamp::main() }
//! ```

// Name every built-in plugin once, so that rustc links them and their registrations run.
extern crate nsamp_plugin_correctors;
extern crate nsamp_plugin_diffusion;
extern crate nsamp_plugin_dikl;
extern crate nsamp_plugin_egnn;
extern crate nsamp_plugin_fab;
extern crate nsamp_plugin_flow_objectives;
extern crate nsamp_plugin_gmm;
extern crate nsamp_plugin_particles;
extern crate nsamp_plugin_phi4;
extern crate nsamp_plugin_pis;
extern crate nsamp_plugin_realnvp;
extern crate nsamp_plugin_sbtm;
extern crate nsamp_plugin_score_mlp;

pub mod cli;
pub mod cmd;
pub mod signals;
pub mod ui;

pub use nsamp_core::experiment::Assembled;
pub use nsamp_core::threads;

/// Runs the CLI on the process arguments; errors are printed as one message with exit code 1.
pub fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(run_cli(std::env::args_os()))
}

/// Runs the CLI on `args` (the first is the program's name) and returns the exit code: 0 on
/// success, 1 after printing an error, 2 for a bad command line (clap's message), the signal's
/// code when a run was stopped. `python -m nsamp` calls this in the Python process.
pub fn run_cli<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::Parser;
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print to stdout with code 0; errors to stderr with code 2.
            let _ = e.print();
            return u8::try_from(e.exit_code()).unwrap_or(2);
        }
    };
    match cmd::dispatch(cli) {
        Ok(()) => 0,
        Err(e) => {
            if let Some(stopped) = e.downcast_ref::<signals::Stopped>() {
                eprintln!("{stopped}");
                return stopped.code;
            }
            eprintln!("error: {e:#}");
            1
        }
    }
}
