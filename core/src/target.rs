//! The `Target` trait: an unnormalised density p(x) = exp(-E(x)) / Z known through E and grad E.

use crate::numerics::rng::Rng;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Particle structure of a target whose state is `n` particles in `spatial_dim` dimensions,
/// stored row-major `[x0, y0, (z0), x1, ...]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Particles {
    /// Number of particles.
    pub n: usize,
    /// Spatial dimension of each particle.
    pub spatial_dim: usize,
}

/// A mixture's components, for mode-coverage metrics (`means` row-major, K x dim).
#[derive(Debug, Clone)]
pub struct MixtureView {
    /// Component means, K x dim row-major.
    pub means: Vec<f32>,
    /// Component weights (sum to 1).
    pub weights: Vec<f32>,
    /// Per-component diagonal standard deviations, K x dim.
    pub stds: Vec<f32>,
}

impl MixtureView {
    /// Number of components.
    pub fn len(&self) -> usize {
        self.weights.len()
    }
    /// Whether there are no components.
    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }
    /// Index of the component with the largest posterior responsibility
    /// log w_c + log N(x; mu_c, diag sigma_c^2) for each row of `x`.
    pub fn assign(&self, x: &[f32], out: &mut [usize]) {
        let dim = self.means.len() / self.len();
        for (row, o) in x.chunks_exact(dim).zip(out.iter_mut()) {
            let mut best = (f32::NEG_INFINITY, 0);
            for c in 0..self.len() {
                let mut l = self.weights[c].ln();
                let stds = &self.stds[c * dim..(c + 1) * dim];
                let means = &self.means[c * dim..(c + 1) * dim];
                for ((&x, &m), &s) in row.iter().zip(means).zip(stds) {
                    let z = (x - m) / s;
                    l -= 0.5 * z * z + s.ln();
                }
                if l > best.0 {
                    best = (l, c);
                }
            }
            *o = best.1;
        }
    }
}

/// How a target's coordinates are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum TargetStructure {
    /// A flat vector (mixtures, 2-D densities).
    Flat,
    /// `n` particles in `spatial_dim` dimensions, row-major `[x0, y0, (z0), x1, ...]`.
    Particles(Particles),
    /// A square periodic lattice of side L, sites row-major (dim = L^2; phi^4).
    Lattice {
        /// Side L.
        side: usize,
    },
}

/// A target's exact side: independent samples, and log Z and the mixture view where known.
pub trait ExactSampler: Send + Sync {
    /// n independent exact samples (row-major, n x dim) from `rng`.
    fn sample(&self, n: usize, rng: &mut Rng) -> Vec<f32>;
    /// log Z, where known.
    fn log_z(&self) -> Option<f64> {
        None
    }
    /// The mixture's components, for mode-coverage metrics (mixture targets).
    fn mixture(&self) -> Option<&MixtureView> {
        None
    }
}

/// An unnormalised target density. Batches are row-major `n x dim` slices of `f32`.
///
/// `energy` and `energy_and_grad` are the hot path: implement them as tight loops without
/// per-sample allocation. Implementations must be deterministic and thread-safe (the Monte Carlo
/// score estimator calls them from several threads on disjoint chunks). They return an error
/// instead of panicking where evaluation can fail (a GPU target's CUDA call).
///
/// A target describes itself through [`Target::structure`] and [`Target::exact`]; the accessors
/// `particles`, `lattice_side`, `exact_sample`, `log_z` and `mixture` of `dyn Target` are derived
/// from those two (inherent methods, so no target can answer them differently).
pub trait Target: Send + Sync {
    /// Dimension of one configuration.
    fn dim(&self) -> usize;
    /// Writes E(x_i) for each row of `x` into `energy` (`energy.len()` rows).
    fn energy(&self, x: &[f32], energy: &mut [f32]) -> anyhow::Result<()>;
    /// Writes E(x_i) and grad_x E(x_i) for each row.
    fn energy_and_grad(
        &self,
        x: &[f32],
        energy: &mut [f32],
        grad: &mut [f32],
    ) -> anyhow::Result<()>;
    /// The layout of a configuration (default: flat).
    fn structure(&self) -> TargetStructure {
        TargetStructure::Flat
    }
    /// The exact sampler, log Z and mixture view, where the target has them (mixtures do).
    fn exact(&self) -> Option<&dyn ExactSampler> {
        None
    }
    /// The natural length scale: samplers work in units of x / scale (GMM-40: 50).
    fn natural_scale(&self) -> f32 {
        1.0
    }
}

impl dyn Target + '_ {
    /// Particle structure, if the configuration is a set of particles (from `structure`).
    pub fn particles(&self) -> Option<Particles> {
        match self.structure() {
            TargetStructure::Particles(p) => Some(p),
            _ => None,
        }
    }
    /// Side L of a square periodic lattice, if the target is one (from `structure`).
    pub fn lattice_side(&self) -> Option<usize> {
        match self.structure() {
            TargetStructure::Lattice { side } => Some(side),
            _ => None,
        }
    }
    /// n exact independent samples, if the target has an exact sampler (from `exact`).
    pub fn exact_sample(&self, n: usize, rng: &mut Rng) -> Option<Vec<f32>> {
        self.exact().map(|e| e.sample(n, rng))
    }
    /// log Z, where known (from `exact`).
    pub fn log_z(&self) -> Option<f64> {
        self.exact().and_then(|e| e.log_z())
    }
    /// Mixture structure, for mode coverage (from `exact`).
    pub fn mixture(&self) -> Option<&MixtureView> {
        self.exact().and_then(|e| e.mixture())
    }
}

/// Where a target evaluates its energies (`device: Cuda(0)` in a recipe). Networks stay on the CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Device {
    /// The CPU kernels (always built).
    #[default]
    Cpu,
    /// The CUDA kernels on this GPU ordinal (needs the `cuda` cargo feature, a driver and a GPU).
    Cuda(usize),
}

impl Device {
    /// Whether this is the CPU.
    pub fn is_cpu(&self) -> bool {
        *self == Device::Cpu
    }
}

/// The config of a target: deserialised from a recipe, it builds the target.
pub trait TargetConfig:
    erased_serde::Serialize + dyn_clone::DynClone + std::fmt::Debug + Send + Sync
{
    /// Builds the target (CPU).
    fn build(&self) -> anyhow::Result<Box<dyn Target>>;
    /// Builds the target with its energies on `device`. Targets without GPU kernels refuse
    /// `Cuda` with an error.
    fn build_on(&self, device: Device) -> anyhow::Result<Box<dyn Target>> {
        match device {
            Device::Cpu => self.build(),
            Device::Cuda(_) => anyhow::bail!(
                "this target has no CUDA kernels (the Lennard-Jones targets have): use `device: Cpu`"
            ),
        }
    }
}

/// A target that counts its energy evaluations: every caller in nsamp goes through it, so a run
/// reports exactly how many energy (and energy+gradient) evaluations training and sampling spent.
#[derive(Clone)]
pub struct CountedTarget {
    inner: Arc<dyn Target>,
    evals: Arc<AtomicU64>,
}

impl CountedTarget {
    /// Wraps a target with a fresh counter.
    pub fn new(inner: Box<dyn Target>) -> Self {
        CountedTarget {
            inner: Arc::from(inner),
            evals: Arc::new(AtomicU64::new(0)),
        }
    }
    /// The same target with a fresh counter of its own (evaluation and reference draws are
    /// counted apart from the sampler's budget).
    pub fn recount(&self) -> Self {
        CountedTarget {
            inner: Arc::clone(&self.inner),
            evals: Arc::new(AtomicU64::new(0)),
        }
    }
    /// Another target (e.g. a tempered view of this one) counted on this target's counter.
    pub fn sharing_counter(&self, inner: Arc<dyn Target>) -> Self {
        CountedTarget {
            inner,
            evals: Arc::clone(&self.evals),
        }
    }
    /// The wrapped target, shared (to build a view of it that [`Self::sharing_counter`] counts).
    pub fn inner_arc(&self) -> Arc<dyn Target> {
        Arc::clone(&self.inner)
    }
    /// Sets the counter (a resumed run continues the count its checkpoint recorded).
    pub fn set_evals(&self, n: u64) {
        self.evals.store(n, Ordering::Relaxed);
    }
    /// The wrapped target, for metadata (dim, structure, exact sampler). Calls to its energy are not counted.
    pub fn inner(&self) -> &dyn Target {
        &*self.inner
    }
    /// Dimension.
    pub fn dim(&self) -> usize {
        self.inner.dim()
    }
    /// Energy evaluations so far (one per configuration, with or without gradient).
    pub fn evals(&self) -> u64 {
        self.evals.load(Ordering::Relaxed)
    }
    /// Counted E(x).
    pub fn energy(&self, x: &[f32], energy: &mut [f32]) -> anyhow::Result<()> {
        debug_assert_eq!(x.len(), energy.len() * self.inner.dim());
        self.evals.fetch_add(energy.len() as u64, Ordering::Relaxed);
        self.inner.energy(x, energy)
    }
    /// Counted E(x) and grad E(x).
    pub fn energy_and_grad(
        &self,
        x: &[f32],
        energy: &mut [f32],
        grad: &mut [f32],
    ) -> anyhow::Result<()> {
        debug_assert_eq!(x.len(), energy.len() * self.inner.dim());
        debug_assert_eq!(x.len(), grad.len());
        self.evals.fetch_add(energy.len() as u64, Ordering::Relaxed);
        self.inner.energy_and_grad(x, energy, grad)
    }
    /// grad E(x) (counted as one evaluation per row).
    pub fn grad_energy(&self, x: &[f32], grad: &mut [f32]) -> anyhow::Result<()> {
        let mut e = vec![0f32; x.len() / self.inner.dim()];
        self.energy_and_grad(x, &mut e, grad)
    }
}
