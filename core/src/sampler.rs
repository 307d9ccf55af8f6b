//! The one sampling interface: a trained model, a network-free SDE or an MCMC chain all answer
//! `Sampler::sample`.
//!
//! Training-free methods (DwES, MALA/HMC chains, and later parallel tempering, ULA, SBTM) are a
//! component family of their own: a recipe names `sampler: Mala(...)` instead of `model` +
//! `objective` + `train`, and [`SamplerConfig::build`] makes the sampler for the counted target.

use crate::numerics::rng::RngStreams;
use crate::target::CountedTarget;

/// A batch of samples in data units, row-major `n x dim`, with optional per-sample log q(x)
/// (for samplers with a tractable density) and log importance weights.
#[derive(Debug, Clone)]
pub struct Samples {
    /// Row-major samples.
    pub x: Vec<f32>,
    /// Dimension of one sample.
    pub dim: usize,
    /// log q(x) of the sampler, where it has one.
    pub log_q: Option<Vec<f32>>,
}

impl Samples {
    /// Samples without a density.
    pub fn new(x: Vec<f32>, dim: usize) -> Self {
        assert!(
            dim > 0 && x.len().is_multiple_of(dim),
            "sample buffer is not n x dim"
        );
        Samples {
            x,
            dim,
            log_q: None,
        }
    }
    /// Number of samples.
    pub fn n(&self) -> usize {
        self.x.len() / self.dim
    }
}

/// Progress callback: (done, total).
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// Anything that produces samples of the target.
pub trait Sampler {
    /// Draws `n` samples. Randomness comes from `streams` (so results are reproducible), and
    /// energy evaluations go through the counted target the sampler was built with.
    fn sample(
        &mut self,
        n: usize,
        streams: &RngStreams,
        progress: Progress<'_>,
    ) -> anyhow::Result<Samples>;
    /// Named figures of the last `sample` call (acceptance rate, autocorrelation time, ...),
    /// reported beside the metrics. Default: none.
    fn report(&self) -> Vec<(String, f64)> {
        Vec::new()
    }
    /// A per-step trace of the last `sample` call (particle samplers' diagnostics over time),
    /// written to the run directory as trace.csv and plotted. Default: none.
    fn trace(&self) -> Option<Trace> {
        None
    }
    /// Whether the rows of `sample(n)` do not depend on n, so that a second call adds rows of
    /// the same law (default: true). A particle method whose n particles interact (SBTM fits its
    /// score to all of them) answers false: the evaluation then scores its TVDs on the n
    /// particles, not on a second, larger system (`eval.tvd_samples`).
    fn independent_rows(&self) -> bool {
        true
    }
}

/// Diagnostics over a sampler's time steps: one row per recorded step, one value per column
/// (non-finite where a diagnostic was not computed at that step).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Trace {
    /// Column names; the first is the time (or step) the others are plotted against.
    pub columns: Vec<String>,
    /// Rows of values, each as long as `columns`.
    pub rows: Vec<Vec<f64>>,
    /// For 2-D targets: the positions of a few particles at every step (one path per particle),
    /// drawn over the target's density.
    #[serde(default)]
    pub paths: Vec<Vec<(f32, f32)>>,
}

impl Trace {
    /// A trace with these columns and no rows.
    pub fn new(columns: &[&str]) -> Self {
        Trace {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: Vec::new(),
            paths: Vec::new(),
        }
    }
    /// The trace as CSV text (header, then one line per row).
    pub fn to_csv(&self) -> String {
        let mut s = self.columns.join(",");
        s.push('\n');
        for r in &self.rows {
            let cells: Vec<String> = r.iter().map(|v| format!("{v:.6e}")).collect();
            s.push_str(&cells.join(","));
            s.push('\n');
        }
        s
    }
}

/// What a draw returns: the samples, the sampler's report and its trace.
#[derive(Debug, Clone)]
pub struct Drawn {
    /// The samples.
    pub samples: Samples,
    /// [`Sampler::report`] after the draw.
    pub report: Vec<(String, f64)>,
    /// [`Sampler::trace`] after the draw.
    pub trace: Option<Trace>,
}

/// The config of a training-free sampler (`sampler: Name(...)` in a recipe); builds it.
pub trait SamplerConfig:
    erased_serde::Serialize + dyn_clone::DynClone + std::fmt::Debug + Send + Sync
{
    /// Builds the sampler over the counted target (its energy evaluations are the sampling cost).
    fn build(&self, target: &CountedTarget) -> anyhow::Result<Box<dyn Sampler>>;
}
