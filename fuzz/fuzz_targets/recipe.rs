//! Recipe text -> parse -> assemble every component through the registry -> reference check
//! (the sequence of `nsamp check`, runner/src/cmd/check.rs). Errors are fine; panics are bugs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nsamp as _; // links the built-in plugins so their components register
use nsamp_core::{Experiment, Recipe};
use nsamp_core::anyhow;
use std::sync::{LazyLock, Once};

static REGISTERED: Once = Once::new();

/// `NSAMP_FUZZ_DEBUG=1`: print why each input was rejected (for triage of single inputs).
static DEBUG: LazyLock<bool> = LazyLock::new(|| std::env::var_os("NSAMP_FUZZ_DEBUG").is_some());

fn note<T>(stage: &str, r: anyhow::Result<T>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            if *DEBUG {
                eprintln!("{stage}: {e:#}");
            }
            None
        }
    }
}

fuzz_target!(|data: &[u8]| {
    REGISTERED.call_once(|| {
        // Without registered components every input would fail early and fuzz nothing.
        assert!(
            nsamp_core::registry::names::<nsamp_core::registry::families::Target>()
                .contains(&"Gmm40"),
            "the built-in plugins are not linked"
        );
    });
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some(recipe) = note("parse", Recipe::parse(text, "fuzz")) else {
        return;
    };
    let Some(exp) = note("assemble", Experiment::from_recipe(recipe)) else {
        return;
    };
    if note("reference", exp.recipe().eval.reference.check(&exp.parts.target)).is_some() && *DEBUG {
        eprintln!("ok: {}", exp.parts.describe_model());
    }
});
