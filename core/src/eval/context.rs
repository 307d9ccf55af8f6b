//! The evaluation context of a run, built once: the reference set (centre-of-mass free for
//! particles), its energies, the metric objects and, for flows, the reference's log q. The
//! evaluations before and after the corrector and the exact floor all score against it.

use super::reference::ReferenceSet;
use super::EvalSettings;
use crate::experiment::observer::Observer;
use crate::metric::{Metric, MetricInput, ModelDensity};
use crate::numerics::pairwise::remove_mean;
use crate::numerics::rng::RngStreams;
use crate::target::CountedTarget;
use std::collections::BTreeMap;

/// Metric name -> value.
pub type Metrics = BTreeMap<String, f64>;

/// Everything the evaluations of one run share.
pub struct EvalContext {
    target: CountedTarget,
    metrics: Vec<Box<dyn Metric>>,
    reference: Vec<f32>,
    reference_energy: Vec<f32>,
    /// Where the reference came from.
    pub description: String,
}

/// E(x) of each row, counted on `target`.
pub fn counted_energies(target: &CountedTarget, x: &[f32]) -> anyhow::Result<Vec<f32>> {
    super::par_energies(target.dim(), x, |x, e| target.energy(x, e))
}

impl EvalContext {
    /// Builds the metrics, loads (or draws and caches) the reference and computes its energies.
    /// `target` is the run's target: the context counts its own evaluations on a fresh counter.
    pub fn new(
        target: &CountedTarget,
        target_ron: &str,
        settings: &EvalSettings,
        obs: &mut dyn Observer,
    ) -> anyhow::Result<Self> {
        let metrics = settings.build_metrics(target.inner())?;
        // `load` reports a missing file or exact sampler itself (callers that want to fail before
        // any work call `Reference::check` first); an MCMC draw counts on its own counter.
        let set = settings.reference.load(
            target,
            target_ron,
            settings.samples,
            settings.reference_seed,
            obs,
        )?;
        Self::with_reference(target, metrics, set)
    }

    /// The context of given metrics and a given reference set (its energies computed here).
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
        Ok(EvalContext {
            target: eval_target,
            metrics,
            reference,
            reference_energy,
            description,
        })
    }

    /// The reference rows as scored.
    pub fn reference(&self) -> &[f32] {
        &self.reference
    }

    /// The reference rows' energies.
    pub fn reference_energy(&self) -> &[f32] {
        &self.reference_energy
    }

    /// Reference rows.
    pub fn n_reference(&self) -> usize {
        self.reference.len() / self.target.dim()
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
            reference_log_q: log_prob(&self.reference)?,
        })
    }

    /// Every metric of `samples` against the reference, plus `mean_energy`.
    pub fn score(
        &self,
        samples: &[f32],
        density: Option<&ModelDensity>,
    ) -> anyhow::Result<Metrics> {
        self.score_with_energies(samples, None, density)
    }

    /// [`Self::score`] with the samples' energies given where they are already known (a flow's
    /// raw samples, whose energies the density metrics computed).
    pub fn score_with_energies(
        &self,
        samples: &[f32],
        energies: Option<&[f32]>,
        density: Option<&ModelDensity>,
    ) -> anyhow::Result<Metrics> {
        let dim = self.target.dim();
        anyhow::ensure!(
            samples.len().is_multiple_of(dim) && !samples.is_empty(),
            "no samples to evaluate"
        );
        let centred;
        let samples = match self.target.inner().particles() {
            Some(p) => {
                let mut c = samples.to_vec();
                remove_mean(&mut c, p.n, p.spatial_dim);
                centred = c;
                &centred[..]
            }
            None => samples,
        };
        // Centring changes no energy, so energies of the rows as given serve.
        let computed;
        let se = match energies {
            Some(e) => {
                anyhow::ensure!(
                    e.len() * dim == samples.len(),
                    "energies do not match samples"
                );
                e
            }
            None => {
                computed = counted_energies(&self.target, samples)?;
                &computed[..]
            }
        };
        let input = MetricInput {
            samples,
            reference: &self.reference,
            dim,
            sample_energy: se,
            reference_energy: &self.reference_energy,
            target: self.target.inner(),
            density,
        };
        let mut out = BTreeMap::new();
        for m in &self.metrics {
            if m.needs_density() && density.is_none() {
                continue;
            }
            out.extend(m.compute(&input)?);
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

    /// The exact floor: the same metrics for `n` fresh exact samples (None without an exact
    /// sampler).
    pub fn exact_floor(&self, n: usize, streams: &RngStreams) -> anyhow::Result<Option<Metrics>> {
        let mut rng = streams.stream("exact-floor", 0);
        match self.target.inner().exact_sample(n, &mut rng) {
            Some(fresh) => Ok(Some(self.score(&fresh, None)?)),
            None => Ok(None),
        }
    }
}
