//! nsamp's Python module `nsamp._nsamp` (re-exported by the `nsamp` package).
//!
//! Targets with their energies and gradients on numpy arrays ([`target`]); reference sets,
//! metrics and the evaluation of a recipe ([`evaluation`]); runs, resumes and the command line
//! ([`runs`]). Errors become Python exceptions carrying nsamp's message; every call into Rust code
//! that could panic is wrapped in `catch_unwind`, so no panic crosses into Python.

mod convert;
mod evaluation;
mod runs;
mod target;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

// The runner crate links every built-in plugin; naming it makes rustc link them, so that their
// registrations run and the registry is complete.
use nsamp as _;

use convert::{guarded, runtime_err};

/// Every registered component, as ``nsamp list`` shows them: a list of dicts with ``kind``,
/// ``name``, ``doc``, ``fields`` (list of field names) and ``example`` (commented RON).
#[pyfunction]
fn components<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
    let all = guarded("components", || {
        nsamp_core::experiment::ensure_registry()?;
        Ok(nsamp_core::registry::list_all())
    })?
    .map_err(runtime_err)?;
    let out = PyList::empty(py);
    for l in all {
        let d = PyDict::new(py);
        d.set_item("kind", l.kind)?;
        d.set_item("name", l.name)?;
        d.set_item("doc", l.doc)?;
        let fields: Vec<&str> = l.fields.iter().map(|f| f.name).collect();
        d.set_item("fields", fields)?;
        d.set_item("example", l.example)?;
        out.append(d)?;
    }
    Ok(out)
}

/// Sets the size of nsamp's worker pool (energies, metrics, training) and returns the size in
/// use. The pool is built once per process, at its first use: call this first.
#[pyfunction]
fn set_threads(py: Python<'_>, threads: usize) -> PyResult<usize> {
    nsamp_core::threads::configure(threads).map_err(convert::value_err)?;
    let have = nsamp_core::threads::current();
    if have != threads {
        let msg = format!(
            "nsamp's worker pool already has {have} threads (it is built once per process, at \
             its first use); call nsamp.set_threads first in a fresh process"
        );
        py.import("warnings")?.call_method1("warn", (msg,))?;
    }
    Ok(have)
}

#[pymodule]
fn _nsamp(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<target::PyTarget>()?;
    m.add_function(wrap_pyfunction!(components, m)?)?;
    m.add_function(wrap_pyfunction!(set_threads, m)?)?;
    m.add_function(wrap_pyfunction!(evaluation::metric, m)?)?;
    m.add_function(wrap_pyfunction!(evaluation::evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(evaluation::reference, m)?)?;
    m.add_function(wrap_pyfunction!(runs::run, m)?)?;
    m.add_function(wrap_pyfunction!(runs::resume, m)?)?;
    m.add_function(wrap_pyfunction!(runs::cli, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
