//! Reference sets, single metrics and the evaluation of a recipe from Python.

use nsamp_core::anyhow::{self, Context as _};
use nsamp_core::eval::reference::ReferenceSet;
use nsamp_core::eval::{EvalContext, Reference};
use nsamp_core::experiment::{build_target, ensure_registry, target_ron};
use nsamp_core::registry::{families, Spec};
use nsamp_core::CountedTarget;
use numpy::PyArray2;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use crate::convert::{guarded, json_to_py, recipe_from, rows_of, runtime_err, to_numpy, value_err};
use crate::runs::PyConsole;
use crate::target::PyTarget;

/// The metric `spec` (a RON string, e.g. ``"W2()"``, ``"Mmd()"``, ``"ETvd()"``) of `samples`
/// against `reference` for `target`: a dict of the figures it reports. Particle configurations
/// are compared centre-of-mass free, as in a run.
#[pyfunction]
pub fn metric<'py>(
    py: Python<'py>,
    spec: &str,
    target: &Bound<'py, PyAny>,
    samples: &Bound<'py, PyAny>,
    reference: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let t = PyTarget::from_any(py, target)?;
    let t = t.get();
    let (n, x) = t.rows(py, samples, "samples")?;
    let (_, r) = t.rows(py, reference, "reference")?;
    if n == 0 {
        return Err(PyValueError::new_err("samples has no rows"));
    }
    let spec = spec.to_string();
    let counted = t.target.clone();
    let figures = py
        .detach(move || guarded("metric", move || score_one(&spec, &counted, x, r)))?
        .map_err(value_err)?;
    json_to_py(
        py,
        &serde_json::to_value(figures).map_err(|e| runtime_err(e.into()))?,
    )
}

fn score_one(
    spec: &str,
    target: &CountedTarget,
    samples: Vec<f32>,
    reference: Vec<f32>,
) -> anyhow::Result<std::collections::BTreeMap<String, f64>> {
    ensure_registry()?;
    let spec = Spec::<families::Metric>::from_ron(spec)
        .map_err(|e| anyhow::anyhow!("cannot parse metric `{spec}`: {e}"))?;
    let m = spec.config.build()?;
    m.check(target.inner())
        .with_context(|| format!("metric `{}`", spec.name))?;
    anyhow::ensure!(
        !m.needs_density(),
        "metric `{}` needs a model's density (a flow's log q): it is reported by runs only",
        spec.name
    );
    let n = samples.len() / target.dim();
    if let Some(max) = m.max_samples() {
        anyhow::ensure!(
            n <= max && reference.len() / target.dim() <= max,
            "metric `{}` scores at most {max} rows per set",
            spec.name
        );
    }
    let set = ReferenceSet {
        rows: reference,
        description: "given".into(),
        provenance: serde_json::Value::Null,
    };
    let cx = EvalContext::with_reference(target, vec![m], set)?;
    let mut figures = cx.score(&samples, None)?;
    figures.remove("mean_energy");
    Ok(figures)
}

/// Scores `samples` under the recipe's protocol (its reference, metrics and exact floor): the
/// dict `nsamp eval RECIPE --samples FILE --json` prints, with ``samples`` set to ``"<array>"``.
#[pyfunction]
#[pyo3(signature = (recipe, samples, overrides = None, reference = None))]
pub fn evaluate<'py>(
    py: Python<'py>,
    recipe: &Bound<'py, PyAny>,
    samples: &Bound<'py, PyAny>,
    overrides: Option<&Bound<'py, PyDict>>,
    reference: Option<std::path::PathBuf>,
) -> PyResult<Bound<'py, PyAny>> {
    let mut recipe = recipe_from(recipe, overrides)?;
    if let Some(r) = reference {
        recipe.eval.reference = Reference::File(r.display().to_string());
    }
    let dim = guarded("evaluate", || {
        ensure_registry()?;
        Ok(build_target(&recipe)?.dim())
    })?
    .map_err(value_err)?;
    let (_, x) = rows_of(
        py,
        samples,
        dim,
        "samples",
        &format!("recipe `{}`", recipe.name),
    )?;
    let mut console = PyConsole::new();
    let e = py
        .detach(|| {
            guarded("evaluate", || {
                nsamp::cmd::eval::score_rows(&recipe, |_| Ok(x), &mut console)
            })
        })?
        .map_err(value_err)?;
    // A Ctrl-C seen by the progress line while the GIL was released is raised now, not lost.
    if let Some(err) = console.interrupt.take() {
        return Err(err);
    }
    json_to_py(py, &nsamp::cmd::eval::evaluation_json(&e, "<array>"))
}

/// The reference set of a recipe (its `eval.reference`: exact, a file, or an MCMC set drawn
/// once and cached) or of a target (exact samples where it has an exact sampler, else
/// `sampler`, default ``"Mala()"``, cached), with its provenance dict.
#[pyfunction]
#[pyo3(signature = (source, n = None, seed = None, sampler = None, overrides = None))]
#[allow(clippy::type_complexity)]
pub fn reference<'py>(
    py: Python<'py>,
    source: &Bound<'py, PyAny>,
    n: Option<usize>,
    seed: Option<u64>,
    sampler: Option<String>,
    overrides: Option<&Bound<'py, PyDict>>,
) -> PyResult<(Bound<'py, PyArray2<f64>>, Bound<'py, PyAny>)> {
    if n == Some(0) {
        return Err(PyValueError::new_err("n must be at least 1"));
    }
    let sampler = sampler
        .map(|s| {
            Spec::<families::Sampler>::from_ron(&s)
                .map_err(|e| PyValueError::new_err(format!("cannot parse sampler `{s}`: {e}")))
        })
        .transpose()?;
    // A Target, a target's RON string, else a recipe (path or text).
    let as_target = if source.is_instance_of::<PyTarget>() {
        Some(PyTarget::from_any(py, source)?)
    } else if let Ok(s) = source.cast::<PyString>() {
        let text = s.to_string();
        match Spec::<families::Target>::from_ron(&text) {
            Ok(_) => Some(PyTarget::from_any(py, source)?),
            Err(_) => None,
        }
    } else {
        None
    };
    if as_target.is_some() && overrides.is_some() {
        return Err(PyValueError::new_err(
            "overrides= apply to a recipe; this source is a target",
        ));
    }
    let (target, ron, how, exact_n, seed) = match as_target {
        Some(t) => {
            let t = t.get();
            let n = n.unwrap_or(10_000);
            let how = match sampler {
                Some(sampler) => Reference::Mcmc { n, sampler },
                None if t.target.inner().exact().is_some() => Reference::Exact,
                None => Reference::Mcmc {
                    n,
                    sampler: Spec::<families::Sampler>::from_ron("Mala()").map_err(|e| {
                        PyValueError::new_err(format!("internal error: Mala(): {e}"))
                    })?,
                },
            };
            (t.target.clone(), t.ron.clone(), how, n, seed.unwrap_or(0))
        }
        None => {
            let recipe = recipe_from(source, overrides)?;
            let built = guarded("reference", || {
                ensure_registry()?;
                Ok((build_target(&recipe)?, target_ron(&recipe)?))
            })?
            .map_err(value_err)?;
            let mut how = recipe.eval.reference.clone();
            match (&mut how, n, sampler) {
                (Reference::Mcmc { n: m, sampler: s }, n, sampler) => {
                    *m = n.unwrap_or(*m);
                    if let Some(sampler) = sampler {
                        *s = sampler;
                    }
                }
                (_, _, Some(_)) => return Err(PyValueError::new_err(
                    "sampler= applies to a target or to a recipe whose eval.reference is Mcmc(...)",
                )),
                _ => {}
            }
            let exact_n = n.unwrap_or(recipe.eval.samples);
            let seed = seed.unwrap_or(recipe.eval.reference_seed);
            (built.0, built.1, how, exact_n, seed)
        }
    };
    let dim = target.dim();
    let mut console = PyConsole::new();
    let set = py
        .detach(|| {
            guarded("reference", || {
                how.check(&target)?;
                how.load(&target, &ron, exact_n, seed, &mut console)
            })
        })?
        .map_err(value_err)?;
    // A Ctrl-C seen by the progress line while the GIL was released is raised now, not lost.
    if let Some(err) = console.interrupt.take() {
        return Err(err);
    }
    let mut prov = set.provenance.clone();
    if let Some(o) = prov.as_object_mut() {
        o.insert("description".into(), set.description.clone().into());
    }
    Ok((to_numpy(py, &set.rows, dim)?, json_to_py(py, &prov)?))
}
