//! `nsamp.Target`: any registered target, built from its RON component string.

use std::sync::Arc;

use nsamp_core::anyhow::{self, Context as _};
use nsamp_core::numerics::rng::RngStreams;
use nsamp_core::registry::{self, families, Spec};
use nsamp_core::{CountedTarget, Device};
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray1, PyArray2};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use crate::convert::{guarded, rows_of, runtime_err, to_numpy, value_err};

/// Rows per parallel chunk of a large batch (energies of a mixture are a tight loop per row; the
/// particle targets split their own batches too, nested on the same pool).
const CHUNK: usize = 4096;

/// E(x) (and grad_x E(x) when `grad` is given) of the rows of `x`, chunks of [`CHUNK`] rows over
/// nsamp's worker pool (its size: `nsamp.set_threads`).
fn par_energy(
    target: &dyn nsamp_core::Target,
    x: &[f32],
    e: &mut [f32],
    grad: Option<&mut [f32]>,
) -> anyhow::Result<()> {
    use nsamp_core::rayon::prelude::*;
    let dim = target.dim();
    match grad {
        None => e
            .par_chunks_mut(CHUNK)
            .zip(x.par_chunks(CHUNK * dim))
            .try_for_each(|(e, x)| target.energy(x, e)),
        Some(g) => e
            .par_chunks_mut(CHUNK)
            .zip(x.par_chunks(CHUNK * dim))
            .zip(g.par_chunks_mut(CHUNK * dim))
            .try_for_each(|((e, x), g)| target.energy_and_grad(x, e, g)),
    }
}

/// Builds the target `spec_text` names (CPU energies), as a recipe's `target:` is built. Returns
/// its registered name, its compact RON (the reference cache's key) and the target.
pub fn build_target(spec_text: &str) -> anyhow::Result<(String, String, CountedTarget)> {
    nsamp_core::experiment::ensure_registry()?;
    let spec = Spec::<families::Target>::from_ron(spec_text)
        .map_err(|e| anyhow::anyhow!("cannot parse target `{spec_text}`: {e}"))?;
    let ron = registry::to_ron_compact(&spec)?;
    let target = spec
        .config
        .build_on(Device::Cpu)
        .with_context(|| format!("target `{}`", spec.name))?;
    Ok((spec.name.to_string(), ron, CountedTarget::new(target)))
}

/// A registered nsamp target: an unnormalised density p(x) = exp(-E(x)) / Z.
#[pyclass(name = "Target", module = "nsamp", frozen)]
pub struct PyTarget {
    spec: String,
    name: String,
    /// The config as compact RON, every default filled in.
    pub ron: String,
    /// The target (wrapped in nsamp's evaluation counter for the reference and metric code
    /// that takes one; `energy`, `energy_and_grad` and `sample` call the inner target).
    pub target: CountedTarget,
}

impl PyTarget {
    /// `x` as f32 rows of this target's dimension.
    pub fn rows(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        what: &str,
    ) -> PyResult<(usize, Vec<f32>)> {
        rows_of(
            py,
            x,
            self.target.dim(),
            what,
            &format!("target `{}`", self.name),
        )
    }

    /// A `Target` object, or a RON string naming one.
    pub fn from_any(py: Python<'_>, t: &Bound<'_, PyAny>) -> PyResult<Py<PyTarget>> {
        if let Ok(t) = t.cast::<PyTarget>() {
            return Ok(t.clone().unbind());
        }
        let spec: String = t.extract().map_err(|_| {
            PyValueError::new_err(
                "target must be an nsamp.Target or a RON string such as \"Gmm40()\"",
            )
        })?;
        Py::new(py, PyTarget::new(py, &spec)?)
    }
}

#[pymethods]
impl PyTarget {
    /// Builds a registered target from its RON component string, e.g. ``Target("Gmm40()")``.
    #[new]
    pub fn new(py: Python<'_>, spec: &str) -> PyResult<Self> {
        let spec_owned = spec.to_string();
        let (name, ron, target) = py
            .detach(|| guarded("Target()", || build_target(&spec_owned)))?
            .map_err(value_err)?;
        Ok(PyTarget {
            spec: spec.to_string(),
            name,
            ron,
            target,
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
            .inner()
            .particles()
            .map(|p| (p.n, p.spatial_dim))
    }

    /// log Z where known exactly, else ``None``.
    #[getter]
    fn log_z(&self) -> Option<f64> {
        self.target.inner().log_z()
    }

    /// Whether the target has an exact sampler (``sample`` works).
    #[getter]
    fn has_exact_sampler(&self) -> bool {
        self.target.inner().exact().is_some()
    }

    /// E(x) for each row of x: float64 array of shape (n,).
    fn energy<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let (n, rows) = self.rows(py, x, "x")?;
        let target = self.target.inner_arc();
        let e = py
            .detach(move || {
                guarded("energy", move || {
                    let mut e = vec![0f32; n];
                    par_energy(target.as_ref(), &rows, &mut e, None)?;
                    Ok(e)
                })
            })?
            .map_err(runtime_err)?;
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
        let (n, rows) = self.rows(py, x, "x")?;
        let dim = self.target.dim();
        let target = self.target.inner_arc();
        let (e, g) = py
            .detach(move || {
                guarded("energy_and_grad", move || {
                    let mut e = vec![0f32; n];
                    let mut g = vec![0f32; n * dim];
                    par_energy(target.as_ref(), &rows, &mut e, Some(&mut g))?;
                    Ok((e, g))
                })
            })?
            .map_err(runtime_err)?;
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
        if self.target.inner().exact().is_none() {
            return Err(PyValueError::new_err(format!(
                "target `{}` has no exact sampler",
                self.name
            )));
        }
        // A failed allocation aborts the process (it cannot be caught): refuse absurd sizes.
        const MAX_VALUES: usize = 1 << 31;
        if n.saturating_mul(self.target.dim()) > MAX_VALUES {
            return Err(PyValueError::new_err(format!(
                "sample: n = {n} x dim {} is above the limit of {MAX_VALUES} values (16 GiB)",
                self.target.dim()
            )));
        }
        let target: Arc<dyn nsamp_core::Target> = self.target.inner_arc();
        let x = py
            .detach(move || {
                guarded("sample", move || {
                    let mut rng = RngStreams::new(seed).stream("reference", 0);
                    target
                        .exact_sample(n, &mut rng)
                        .ok_or_else(|| anyhow::anyhow!("no exact sampler"))
                })
            })?
            .map_err(value_err)?;
        to_numpy(py, &x, self.target.dim())
    }

    fn __repr__(&self) -> String {
        format!("nsamp.Target({:?})", self.spec)
    }
}
