//! The evaluation context of a run, built once: the reference set (centre-of-mass free for
//! particles), its energies, the metric objects and, for flows, the reference's log q. The
//! evaluations before and after the corrector and the floor all score against it.
//!
//! Two sets per side: the `eval.samples` set that every metric scores, and the wide set of
//! `eval.tvd_samples` rows for the nsamp protocol's histogram TVDs ([`Metric::wide_set`]). The
//! wide set's first rows are the narrow set, so adding it moves no other figure: an exact
//! reference is extended with rows from a second stream of `reference_seed`, a file or MCMC
//! reference serves all its rows to both.

use super::reference::{Reference, ReferenceSet};
use super::EvalSettings;
use crate::experiment::observer::Observer;
use crate::metric::{Metric, MetricInput, ModelDensity};
use crate::numerics::pairwise::remove_mean;
use crate::numerics::rng::RngStreams;
use crate::target::CountedTarget;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Metric name -> value.
pub type Metrics = BTreeMap<String, f64>;

/// Everything the evaluations of one run share.
pub struct EvalContext {
    target: CountedTarget,
    metrics: Vec<Box<dyn Metric>>,
    /// The wide reference's rows (an exact reference extended to `eval.tvd_samples` rows) and
    /// their energies; the first `narrow_rows` are the reference every metric scores against.
    reference: Vec<f32>,
    reference_energy: Vec<f32>,
    narrow_rows: usize,
    /// Sampler rows the wide metrics score (0: no wider set).
    wide_rows: usize,
    /// Where the reference came from.
    pub description: String,
}

/// Which floor a run reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloorKind {
    /// Fresh exact samples of the target against the reference.
    Exact,
    /// The second half of the reference set against its first half (targets without an exact
    /// sampler): what a sampler as good as the reference's own sampler scores.
    SplitHalf,
}

/// The floor's metrics and which floor it is.
#[derive(Debug, Clone)]
pub struct Floor {
    /// Exact samples or the reference's held-out half.
    pub kind: FloorKind,
    /// The metrics (the wide metrics on a wide set when the scored samples had one).
    pub metrics: Metrics,
    /// Rows on each side of its TVDs: the scored TVD rows for an exact floor; for a split-half
    /// floor at most half the reference (5,000 against 5,000 for a 10,000-row reference).
    pub tvd_rows: usize,
}

impl FloorKind {
    /// The floor's name in tables and plots: "exact floor" or "split-half floor".
    pub fn label(self) -> &'static str {
        match self {
            FloorKind::Exact => "exact floor",
            FloorKind::SplitHalf => "split-half floor",
        }
    }
}

impl Floor {
    /// The two report fields a floor fills: (`exact_floor`, `split_half_floor`).
    pub fn into_fields(floor: Option<Floor>) -> (Option<Metrics>, Option<Metrics>) {
        match floor {
            Some(Floor {
                kind: FloorKind::Exact,
                metrics,
                ..
            }) => (Some(metrics), None),
            Some(Floor { metrics, .. }) => (None, Some(metrics)),
            None => (None, None),
        }
    }
}

/// The floor a report's two fields hold, with its name (see [`FloorKind::label`]).
pub fn named_floor<'a>(
    exact: Option<&'a Metrics>,
    split_half: Option<&'a Metrics>,
) -> Option<(&'static str, &'a Metrics)> {
    match (exact, split_half) {
        (Some(f), _) => Some((FloorKind::Exact.label(), f)),
        (None, Some(f)) => Some((FloorKind::SplitHalf.label(), f)),
        (None, None) => None,
    }
}

/// One side's rows as a metric reads them.
struct Side<'a> {
    rows: &'a [f32],
    energy: &'a [f32],
}

/// E(x) of each row, counted on `target`.
pub fn counted_energies(target: &CountedTarget, x: &[f32]) -> anyhow::Result<Vec<f32>> {
    super::par_energies(target.dim(), x, |x, e| target.energy(x, e))
}

impl EvalContext {
    /// Builds the metrics, loads (or draws and caches) the reference and computes its energies,
    /// and the wide set of `eval.tvd_samples` rows where a wide metric asks for it.
    /// `target` is the run's target: the context counts its own evaluations on a fresh counter.
    pub fn new(
        target: &CountedTarget,
        target_ron: &str,
        settings: &EvalSettings,
        obs: &mut dyn Observer,
    ) -> anyhow::Result<Self> {
        let metrics = settings.build_metrics(target.inner())?;
        let wants_wide =
            metrics.iter().any(|m| m.wide_set()) && settings.tvd_samples > settings.samples;
        // `load` reports a missing file or exact sampler itself (callers that want to fail before
        // any work call `Reference::check` first); an MCMC draw counts on its own counter.
        let set = settings.reference.load(
            target,
            target_ron,
            settings.samples,
            settings.reference_seed,
            obs,
        )?;
        let mut cx = Self::with_reference(target, metrics, set)?;
        if wants_wide {
            match settings.reference {
                Reference::Exact => {
                    let extra = super::reference::exact_extension(
                        target,
                        settings.tvd_samples - settings.samples,
                        settings.reference_seed,
                    )?;
                    let energy = counted_energies(&cx.target, &extra)?;
                    cx.reference.extend(extra);
                    cx.reference_energy.extend(energy);
                    cx.wide_rows = settings.tvd_samples;
                }
                // A file or MCMC set serves all its rows to both sets: as many sampler rows as
                // it has, up to tvd_samples, and never fewer than eval.samples.
                _ => {
                    cx.wide_rows = settings
                        .tvd_samples
                        .min(cx.n_reference())
                        .max(settings.samples);
                    if cx.wide_rows == settings.samples {
                        cx.wide_rows = 0;
                    }
                }
            }
        }
        Ok(cx)
    }

    /// The context of given metrics and a given reference set (its energies computed here); no
    /// wide set: every metric scores the rows it is given against `set`.
    pub fn with_reference(
        target: &CountedTarget,
        metrics: Vec<Box<dyn Metric>>,
        set: ReferenceSet,
    ) -> anyhow::Result<Self> {
        let ReferenceSet {
            rows: mut reference,
            description,
            ..
        } = set;
        anyhow::ensure!(
            !reference.is_empty() && reference.len().is_multiple_of(target.dim()),
            "the reference set must hold whole rows of {} values",
            target.dim()
        );
        // Particle configurations are compared centre-of-mass free (community files are not
        // always centred, e.g. the DW-4 test split); energies and distances do not change.
        if let Some(p) = target.inner().particles() {
            remove_mean(&mut reference, p.n, p.spatial_dim);
        }
        let eval_target = target.recount();
        let reference_energy = counted_energies(&eval_target, &reference)?;
        let narrow_rows = reference_energy.len();
        Ok(EvalContext {
            target: eval_target,
            metrics,
            reference,
            reference_energy,
            narrow_rows,
            wide_rows: 0,
            description,
        })
    }

    /// The reference rows as scored.
    pub fn reference(&self) -> &[f32] {
        &self.reference[..self.narrow_rows * self.target.dim()]
    }

    /// The reference rows' energies.
    pub fn reference_energy(&self) -> &[f32] {
        &self.reference_energy[..self.narrow_rows]
    }

    /// Reference rows.
    pub fn n_reference(&self) -> usize {
        self.narrow_rows
    }

    /// Sampler rows the wide metrics want (the nsamp protocol's TVDs at `eval.tvd_samples`);
    /// 0 when there is no wider set than `eval.samples`.
    pub fn wide_rows(&self) -> usize {
        self.wide_rows
    }

    /// Reference rows of the wide set (the narrow reference when there is no wider one).
    pub fn n_wide_reference(&self) -> usize {
        self.reference_energy.len()
    }

    /// Energy evaluations the evaluation has spent (the reference's energies once, then each
    /// scored set); a reference drawn by MCMC is counted in its provenance instead.
    pub fn energy_evals(&self) -> u64 {
        self.target.evals()
    }

    /// A flow's density for the density metrics (NLL, RNLL, ESS): log q and E of its own
    /// samples `x`, and log q of the reference rows through `log_prob`.
    pub fn density(
        &self,
        x: &[f32],
        log_q: &[f32],
        log_prob: &dyn Fn(&[f32]) -> anyhow::Result<Vec<f32>>,
    ) -> anyhow::Result<ModelDensity> {
        Ok(ModelDensity {
            sample_log_q: log_q.to_vec(),
            sample_energy: counted_energies(&self.target, x)?,
            reference_log_q: log_prob(self.reference())?,
        })
    }

    /// Every metric of `samples` against the reference, plus `mean_energy` (no wide set: the
    /// wide metrics score `samples` against the `eval.samples` reference).
    pub fn score(
        &self,
        samples: &[f32],
        density: Option<&ModelDensity>,
    ) -> anyhow::Result<Metrics> {
        self.score_with(samples, None, None, density)
    }

    /// Every metric: the narrow ones of `samples` (their energies given where already known, a
    /// flow's raw samples), the wide ones of `wide` (whose first rows are `samples`) against the
    /// wide reference when given, plus `mean_energy` of `samples`.
    pub fn score_with(
        &self,
        samples: &[f32],
        energies: Option<&[f32]>,
        wide: Option<&[f32]>,
        density: Option<&ModelDensity>,
    ) -> anyhow::Result<Metrics> {
        let narrow = Side {
            rows: self.reference(),
            energy: self.reference_energy(),
        };
        let wide_reference = Side {
            rows: &self.reference,
            energy: &self.reference_energy,
        };
        self.score_against(&narrow, &wide_reference, samples, energies, wide, density)
    }

    fn score_against(
        &self,
        reference: &Side<'_>,
        wide_reference: &Side<'_>,
        samples: &[f32],
        energies: Option<&[f32]>,
        wide: Option<&[f32]>,
        density: Option<&ModelDensity>,
    ) -> anyhow::Result<Metrics> {
        let dim = self.target.dim();
        anyhow::ensure!(
            samples.len().is_multiple_of(dim) && !samples.is_empty(),
            "no samples to evaluate"
        );
        let samples = self.centred(samples);
        // Centring changes no energy, so energies of the rows as given serve.
        let se = match energies {
            Some(e) => {
                anyhow::ensure!(
                    e.len() * dim == samples.len(),
                    "energies do not match samples"
                );
                e.to_vec()
            }
            None => counted_energies(&self.target, &samples)?,
        };
        // The wide set: its first rows are `samples`, whose energies are known.
        let wide = match wide {
            Some(w) if w.len() > samples.len() => {
                anyhow::ensure!(
                    w.len().is_multiple_of(dim),
                    "the wide set must hold whole rows"
                );
                let w = self.centred(w);
                anyhow::ensure!(
                    w[..samples.len()] == samples[..],
                    "the wide set must begin with the scored samples"
                );
                let mut e = se.clone();
                e.extend(counted_energies(&self.target, &w[samples.len()..])?);
                Some((w, e))
            }
            _ => None,
        };
        let narrow = MetricInput {
            samples: &samples,
            reference: reference.rows,
            dim,
            sample_energy: &se,
            reference_energy: reference.energy,
            target: self.target.inner(),
            density,
        };
        let wide_input = wide.as_ref().map(|(w, e)| {
            let r = wide_reference;
            MetricInput {
                samples: w,
                reference: r.rows,
                dim,
                sample_energy: e,
                reference_energy: r.energy,
                target: self.target.inner(),
                density,
            }
        });
        let mut out = BTreeMap::new();
        for m in &self.metrics {
            if m.needs_density() && density.is_none() {
                continue;
            }
            let input = match (&wide_input, m.wide_set()) {
                (Some(w), true) => w,
                _ => &narrow,
            };
            out.extend(m.compute(input)?);
        }
        let finite: Vec<f64> = se
            .iter()
            .filter(|e| e.is_finite())
            .map(|&e| e as f64)
            .collect();
        out.insert(
            "mean_energy".into(),
            finite.iter().sum::<f64>() / finite.len().max(1) as f64,
        );
        Ok(out)
    }

    /// The rows centre-of-mass free for particle targets, as given (not copied) otherwise.
    fn centred<'a>(&self, x: &'a [f32]) -> Cow<'a, [f32]> {
        match self.target.inner().particles() {
            Some(p) => {
                let mut c = x.to_vec();
                remove_mean(&mut c, p.n, p.spatial_dim);
                Cow::Owned(c)
            }
            None => Cow::Borrowed(x),
        }
    }

    /// The exact floor: the same metrics for `n` fresh exact samples, the wide ones for
    /// `n_wide` (when above `n`: the `n` rows and further rows of a second stream, so the
    /// narrow figures do not depend on `n_wide`). None without an exact sampler.
    pub fn exact_floor(
        &self,
        n: usize,
        n_wide: usize,
        streams: &RngStreams,
    ) -> anyhow::Result<Option<Floor>> {
        let mut rng = streams.stream("exact-floor", 0);
        let Some(fresh) = self.target.inner().exact_sample(n, &mut rng) else {
            return Ok(None);
        };
        let wide = if n_wide > n {
            let mut rng = streams.stream("exact-floor", 1);
            let extra = self
                .target
                .inner()
                .exact_sample(n_wide - n, &mut rng)
                .ok_or_else(|| anyhow::anyhow!("the exact sampler drew no rows"))?;
            Some([&fresh[..], &extra].concat())
        } else {
            None
        };
        Ok(Some(Floor {
            kind: FloorKind::Exact,
            metrics: self.score_with(&fresh, None, wide.as_deref(), None)?,
            tvd_rows: n_wide.max(n),
        }))
    }

    /// The split-half floor of a target without an exact sampler: the reference's second half
    /// (its first `n` rows for the narrow metrics, `n_wide` for the wide ones, at most the
    /// half) scored against its first half. None for a reference of fewer than 2 rows.
    pub fn split_half_floor(&self, n: usize, n_wide: usize) -> anyhow::Result<Option<Floor>> {
        let dim = self.target.dim();
        let half = self.n_reference() / 2;
        if half == 0 {
            return Ok(None);
        }
        let (a, b) = self.reference().split_at(half * dim);
        let (ea, eb) = self.reference_energy().split_at(half);
        let first = Side {
            rows: a,
            energy: ea,
        };
        let (n, n_wide) = (n.min(half), n_wide.min(half));
        let wide = (n_wide > n).then(|| &b[..n_wide * dim]);
        Ok(Some(Floor {
            kind: FloorKind::SplitHalf,
            metrics: self.score_against(
                &first,
                &first,
                &b[..n * dim],
                Some(&eb[..n]),
                wide,
                None,
            )?,
            tvd_rows: n_wide.max(n),
        }))
    }

    /// The floor of `n` scored samples (`n_wide` in the wide set; 0 for none): exact samples
    /// where the target has an exact sampler, else the reference's split halves.
    pub fn floor(
        &self,
        n: usize,
        n_wide: usize,
        streams: &RngStreams,
    ) -> anyhow::Result<Option<Floor>> {
        match self.exact_floor(n, n_wide, streams)? {
            Some(f) => Ok(Some(f)),
            None => self.split_half_floor(n, n_wide),
        }
    }
}
