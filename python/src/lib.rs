//! nsamp's Python module `nsamp._nsamp` (re-exported by the `nsamp` package).
//!
//! This slice exposes targets (any registered target, built from a RON component string through
//! the registry, as a recipe builds it) with their energies and gradients on numpy arrays, and the
//! registry listing. Errors become Python exceptions carrying nsamp's message; every call into
//! Rust code that could panic is wrapped in `catch_unwind`, so no panic crosses into Python.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use nsamp_core::anyhow::{self, Context as _};
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use nsamp_core::numerics::rng::RngStreams;
use nsamp_core::registry::{self, families, Spec};
use nsamp_core::Device;

// The runner crate links every built-in plugin; naming it makes rustc link it, so that their
// registrations run and the registry is complete.
use nsamp as _;

/// A panic's payload as text.
fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Runs `f`, turning a panic into a `RuntimeError` (nothing panics across the boundary).
fn guarded<T>(what: &str, f: impl FnOnce() -> anyhow::Result<T>) -> PyResult<anyhow::Result<T>> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        PyRuntimeError::new_err(format!(
            "internal error (panic) in {what}: {}",
            panic_message(p)
        ))
    })
}

fn build_target(spec_text: &str) -> anyhow::Result<(String, Box<dyn nsamp_core::Target>)> {
    nsamp_core::experiment::ensure_registry()?;
    let spec = Spec::<families::Target>::from_ron(spec_text)
        .map_err(|e| anyhow::anyhow!("cannot parse target `{spec_text}`: {e}"))?;
    // As `nsamp_core::experiment::build_target` builds a recipe's target (CPU energies).
    let target = spec
        .config
        .build_on(Device::Cpu)
        .with_context(|| format!("target `{}`", spec.name))?;
    Ok((spec.name.to_string(), target))
}

/// A registered nsamp target: an unnormalised density p(x) = exp(-E(x)) / Z.
#[pyclass(name = "Target", module = "nsamp", frozen)]
struct PyTarget {
    spec: String,
    name: String,
    target: Arc<dyn nsamp_core::Target>,
}

impl PyTarget {
    /// `x` as `numpy.asarray(x, dtype=float64)`, checked to be (n, dim), as f32 rows.
    fn rows(&self, py: Python<'_>, x: &Bound<'_, PyAny>) -> PyResult<(usize, Vec<f32>)> {
        let np = py.import("numpy")?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("dtype", "float64")?;
        let arr = np
            .call_method("asarray", (x,), Some(&kwargs))
            .map_err(|e| {
                // numpy's conversion errors become ValueError; others (MemoryError,
                // KeyboardInterrupt, ...) propagate unchanged.
                if e.is_instance_of::<PyValueError>(py) || e.is_instance_of::<PyTypeError>(py) {
                    PyValueError::new_err(format!(
                        "x must be convertible to a float64 array (numpy.asarray(x, dtype=float64)): {e}"
                    ))
                } else {
                    e
                }
            })?;
        let arr = arr.cast::<PyArrayDyn<f64>>().map_err(|_| {
            PyValueError::new_err("numpy.asarray(x, dtype=float64) did not return a float64 array")
        })?;
        let dim = self.target.dim();
        let shape = arr.shape().to_vec();
        if shape.len() != 2 || shape[1] != dim {
            return Err(PyValueError::new_err(format!(
                "x must have shape (n, {dim}) for target `{}` (dim {dim}); got shape ({})",
                self.name,
                shape
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
                    + if shape.len() == 1 { "," } else { "" }
            )));
        }
        let ro = arr
            .try_readonly()
            .map_err(|e| PyValueError::new_err(format!("cannot read x: {e}")))?;
        // Logical (row-major) order whatever the strides: non-contiguous input is fine.
        let rows: Vec<f32> = ro.as_array().iter().map(|&v| v as f32).collect();
        Ok((shape[0], rows))
    }
}

#[pymethods]
impl PyTarget {
    /// Builds a registered target from its RON component string, e.g. ``Target("Gmm40()")``.
    #[new]
    fn new(py: Python<'_>, spec: &str) -> PyResult<Self> {
        let spec_owned = spec.to_string();
        let built = py.detach(|| guarded("Target()", || build_target(&spec_owned)))?;
        let (name, target) = built.map_err(|e| PyValueError::new_err(format!("{e:#}")))?;
        Ok(PyTarget {
            spec: spec.to_string(),
            name,
            target: Arc::from(target),
        })
    }

    /// The registered name (e.g. ``"Gmm40"``).
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// The RON string the target was built from.
    #[getter]
    fn spec(&self) -> &str {
        &self.spec
    }

    /// Dimension of one configuration.
    #[getter]
    fn dim(&self) -> usize {
        self.target.dim()
    }

    /// ``(n, spatial_dim)`` for particle targets, else ``None``.
    #[getter]
    fn particles(&self) -> Option<(usize, usize)> {
        self.target
            .as_ref()
            .particles()
            .map(|p| (p.n, p.spatial_dim))
    }

    /// log Z where known exactly, else ``None``.
    #[getter]
    fn log_z(&self) -> Option<f64> {
        self.target.as_ref().log_z()
    }

    /// Whether the target has an exact sampler (``sample`` works).
    #[getter]
    fn has_exact_sampler(&self) -> bool {
        self.target.exact().is_some()
    }

    /// E(x) for each row of x: float64 array of shape (n,).
    fn energy<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let (n, rows) = self.rows(py, x)?;
        let target = Arc::clone(&self.target);
        let e = py
            .detach(move || {
                guarded("energy", move || {
                    let mut e = vec![0f32; n];
                    target.energy(&rows, &mut e)?;
                    Ok(e)
                })
            })?
            .map_err(|e| PyRuntimeError::new_err(format!("{e:#}")))?;
        let e: Vec<f64> = e.into_iter().map(f64::from).collect();
        Ok(e.into_pyarray(py))
    }

    /// (E(x) of shape (n,), grad_x E(x) of shape (n, dim)), both float64.
    #[allow(clippy::type_complexity)]
    fn energy_and_grad<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<(Bound<'py, PyArray1<f64>>, Bound<'py, PyArray2<f64>>)> {
        let (n, rows) = self.rows(py, x)?;
        let dim = self.target.dim();
        let target = Arc::clone(&self.target);
        let (e, g) = py
            .detach(move || {
                guarded("energy_and_grad", move || {
                    let mut e = vec![0f32; n];
                    let mut g = vec![0f32; n * dim];
                    target.energy_and_grad(&rows, &mut e, &mut g)?;
                    Ok((e, g))
                })
            })?
            .map_err(|e| PyRuntimeError::new_err(format!("{e:#}")))?;
        let e: Vec<f64> = e.into_iter().map(f64::from).collect();
        let g: Vec<f64> = g.into_iter().map(f64::from).collect();
        let g = Array2::from_shape_vec((n, dim), g)
            .map_err(|e| PyRuntimeError::new_err(format!("internal error: {e}")))?;
        Ok((e.into_pyarray(py), g.into_pyarray(py)))
    }

    /// n exact independent samples (float64, shape (n, dim)) from the stream that nsamp's exact
    /// reference set uses for `seed`; ValueError if the target has no exact sampler.
    #[pyo3(signature = (n, seed = 0))]
    fn sample<'py>(
        &self,
        py: Python<'py>,
        n: usize,
        seed: u64,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        if self.target.exact().is_none() {
            return Err(PyValueError::new_err(format!(
                "target `{}` has no exact sampler",
                self.name
            )));
        }
        let dim = self.target.dim();
        let target = Arc::clone(&self.target);
        let x = py
            .detach(move || {
                guarded("sample", move || {
                    let mut rng = RngStreams::new(seed).stream("reference", 0);
                    target
                        .as_ref()
                        .exact_sample(n, &mut rng)
                        .ok_or_else(|| anyhow::anyhow!("no exact sampler"))
                })
            })?
            .map_err(|e| PyValueError::new_err(format!("{e:#}")))?;
        let x: Vec<f64> = x.into_iter().map(f64::from).collect();
        let x = Array2::from_shape_vec((n, dim), x)
            .map_err(|e| PyRuntimeError::new_err(format!("internal error: {e}")))?;
        Ok(x.into_pyarray(py))
    }

    fn __repr__(&self) -> String {
        format!("nsamp.Target({:?})", self.spec)
    }
}

/// Every registered component, as ``nsamp list`` shows them: a list of dicts with ``kind``,
/// ``name``, ``doc``, ``fields`` (list of field names) and ``example`` (commented RON).
#[pyfunction]
fn components<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
    let all = guarded("components", || {
        nsamp_core::experiment::ensure_registry()?;
        Ok(registry::list_all())
    })?
    .map_err(|e| PyRuntimeError::new_err(format!("{e:#}")))?;
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

#[pymodule]
fn _nsamp(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyTarget>()?;
    m.add_function(wrap_pyfunction!(components, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
