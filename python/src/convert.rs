//! What crosses the boundary: panics caught, errors as exceptions, array-likes as f32 rows,
//! rows as numpy arrays, JSON as Python objects, recipes from a path or RON text.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use nsamp_core::anyhow;
use nsamp_core::Recipe;
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray2, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyString};

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
pub fn guarded<T>(
    what: &str,
    f: impl FnOnce() -> anyhow::Result<T>,
) -> PyResult<anyhow::Result<T>> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        PyRuntimeError::new_err(format!(
            "internal error (panic) in {what}: {}",
            panic_message(p)
        ))
    })
}

/// An nsamp error about the caller's input, as `ValueError` with the whole chain of causes.
pub fn value_err(e: anyhow::Error) -> PyErr {
    PyValueError::new_err(format!("{e:#}"))
}

/// An nsamp error while computing, as `RuntimeError` with the whole chain of causes.
pub fn runtime_err(e: anyhow::Error) -> PyErr {
    PyRuntimeError::new_err(format!("{e:#}"))
}

/// `x` as `numpy.asarray(x, dtype=float64)`, checked to be `(n, dim)`, as f32 rows in logical
/// (row-major) order whatever its strides. `what` names the argument and `owner` the target in
/// errors.
pub fn rows_of(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    dim: usize,
    what: &str,
    owner: &str,
) -> PyResult<(usize, Vec<f32>)> {
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
                    "{what} must be convertible to a float64 array (numpy.asarray({what}, \
                     dtype=float64)): {e}"
                ))
            } else {
                e
            }
        })?;
    let arr = arr.cast::<PyArrayDyn<f64>>().map_err(|_| {
        PyValueError::new_err(format!(
            "numpy.asarray({what}, dtype=float64) did not return a float64 array"
        ))
    })?;
    let shape = arr.shape().to_vec();
    if shape.len() != 2 || shape[1] != dim {
        return Err(PyValueError::new_err(format!(
            "{what} must have shape (n, {dim}) for {owner} (dim {dim}); got shape ({})",
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
        .map_err(|e| PyValueError::new_err(format!("cannot read {what}: {e}")))?;
    let rows: Vec<f32> = ro.as_array().iter().map(|&v| v as f32).collect();
    Ok((shape[0], rows))
}

/// `rows` (n x dim, row-major) as a float64 numpy array of shape `(n, dim)`.
pub fn to_numpy<'py>(
    py: Python<'py>,
    rows: &[f32],
    dim: usize,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let x: Vec<f64> = rows.iter().map(|&v| f64::from(v)).collect();
    let x = Array2::from_shape_vec((rows.len() / dim.max(1), dim), x)
        .map_err(|e| PyRuntimeError::new_err(format!("internal error: {e}")))?;
    Ok(x.into_pyarray(py))
}

/// A JSON value as the Python object `json.loads` makes of it (dicts, lists, floats, ...).
pub fn json_to_py<'py>(py: Python<'py>, v: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(v)
        .map_err(|e| PyRuntimeError::new_err(format!("internal error: {e}")))?;
    py.import("json")?.call_method1("loads", (text,))
}

/// A recipe from a path (str or os.PathLike naming an existing file) or RON text, with
/// overrides `{"train.steps": 100, "target": "Gmm40(std: 2.0)"}` applied as `--set` would.
pub fn recipe_from(
    source: &Bound<'_, PyAny>,
    overrides: Option<&Bound<'_, PyDict>>,
) -> PyResult<Recipe> {
    let sets = match overrides {
        Some(d) => override_strings(d)?,
        None => Vec::new(),
    };
    let text: Option<String> = source.cast::<PyString>().ok().map(|s| s.to_string());
    let path: Option<PathBuf> = match &text {
        Some(t) if !t.contains('(') => Some(PathBuf::from(t)),
        Some(_) => None,
        None => Some(source.extract::<PathBuf>().map_err(|_| {
            PyTypeError::new_err("recipe must be a path (str or os.PathLike) or RON recipe text")
        })?),
    };
    let recipe = match (path, text) {
        (Some(p), _) => {
            if !p.is_file() {
                return Err(PyValueError::new_err(format!(
                    "no recipe file {} (give a path to a .ron recipe or the recipe's RON text)",
                    p.display()
                )));
            }
            Recipe::from_file(&p)
        }
        (None, Some(t)) => Recipe::parse(&t, "<recipe text>"),
        (None, None) => unreachable!("a str is either a path or text"),
    };
    recipe
        .and_then(|r| r.with_overrides(&sets))
        .map_err(value_err)
}

/// `{"train.steps": 100}` as `["train.steps=100"]`: str values are RON text as given, bools
/// `true`/`false`, numbers as Python prints them.
fn override_strings(d: &Bound<'_, PyDict>) -> PyResult<Vec<String>> {
    let mut out = Vec::with_capacity(d.len());
    for (k, v) in d.iter() {
        let key: String = k
            .extract()
            .map_err(|_| PyTypeError::new_err("override keys must be str, e.g. \"train.steps\""))?;
        let value = if v.is_instance_of::<PyBool>() {
            if v.extract::<bool>()? {
                "true"
            } else {
                "false"
            }
            .to_string()
        } else if v.is_instance_of::<PyString>() {
            v.extract::<String>()?
        } else if v.is_instance_of::<PyInt>() || v.is_instance_of::<PyFloat>() {
            v.repr()?.to_string()
        } else {
            return Err(PyTypeError::new_err(format!(
                "override `{key}`: give a str (RON text), bool, int or float, not {}",
                v.get_type().name()?
            )));
        };
        out.push(format!("{key}={value}"));
    }
    Ok(out)
}
