//! The general Gaussian mixture with diagonal covariances.

use crate::kernel::Kernel;
use nsamp_core::numerics::rng::Rng;
use nsamp_core::rand::Rng as _;
use nsamp_core::rand_distr::{Distribution, StandardNormal};
use nsamp_core::target::MixtureView;
use nsamp_core::{ExactSampler, Target, TargetConfig};

/// A normalised Gaussian mixture p(x) = sum_c w_c N(x; mu_c, diag sigma_c^2); E = -log p, Z = 1.
#[derive(Debug, Clone)]
pub struct Mixture {
    view: MixtureView,
    kernel: Kernel,
    cumulative: Vec<f64>,
    dim: usize,
    scale: f32,
}

impl Mixture {
    /// A mixture from row-major means and stds (K x dim) and weights (normalised here).
    /// `scale` is the sampler's length unit.
    pub fn new(
        means: Vec<f32>,
        stds: Vec<f32>,
        weights: Vec<f32>,
        dim: usize,
        scale: f32,
    ) -> anyhow::Result<Self> {
        let k = weights.len();
        anyhow::ensure!(
            k > 0 && dim > 0,
            "a mixture needs at least one component and dimension"
        );
        anyhow::ensure!(means.len() == k * dim, "means must be K x dim");
        anyhow::ensure!(stds.len() == k * dim, "stds must be K x dim");
        anyhow::ensure!(
            stds.iter().all(|s| s.is_finite() && *s > 0.0),
            "mixture standard deviations must be positive"
        );
        anyhow::ensure!(
            weights.iter().all(|w| w.is_finite() && *w > 0.0),
            "mixture weights must be positive"
        );
        anyhow::ensure!(
            means.iter().all(|m| m.is_finite()),
            "mixture means must be finite"
        );
        anyhow::ensure!(scale.is_finite() && scale > 0.0, "scale must be positive");
        let total: f64 = weights.iter().map(|&w| w as f64).sum();
        let weights: Vec<f32> = weights.iter().map(|&w| (w as f64 / total) as f32).collect();
        let mut acc = 0.0;
        let cumulative = weights
            .iter()
            .map(|&w| {
                acc += w as f64;
                acc
            })
            .collect();
        Ok(Mixture {
            kernel: Kernel::new(&means, &stds, &weights, dim),
            view: MixtureView {
                means,
                weights,
                stds,
            },
            cumulative,
            dim,
            scale,
        })
    }
}

impl Target for Mixture {
    fn dim(&self) -> usize {
        self.dim
    }
    fn energy(&self, x: &[f32], energy: &mut [f32]) -> anyhow::Result<()> {
        self.kernel
            .eval(x, energy, None, &mut self.kernel.scratch());
        Ok(())
    }
    fn energy_and_grad(
        &self,
        x: &[f32],
        energy: &mut [f32],
        grad: &mut [f32],
    ) -> anyhow::Result<()> {
        self.kernel
            .eval(x, energy, Some(grad), &mut self.kernel.scratch());
        Ok(())
    }
    fn exact(&self) -> Option<&dyn ExactSampler> {
        Some(self)
    }
    fn natural_scale(&self) -> f32 {
        self.scale
    }
}

/// Exact draws: a component by its weight, then its Gaussian; log Z = 0 (normalised density).
impl ExactSampler for Mixture {
    fn sample(&self, n: usize, rng: &mut Rng) -> Vec<f32> {
        let mut out = Vec::with_capacity(n * self.dim);
        for _ in 0..n {
            let u: f64 = rng.random();
            let c = self
                .cumulative
                .partition_point(|&cum| cum < u)
                .min(self.view.weights.len() - 1);
            for d in 0..self.dim {
                let z: f32 = StandardNormal.sample(rng);
                out.push(self.view.means[c * self.dim + d] + self.view.stds[c * self.dim + d] * z);
            }
        }
        out
    }
    fn log_z(&self) -> Option<f64> {
        Some(0.0)
    }
    fn mixture(&self) -> Option<&MixtureView> {
        Some(&self.view)
    }
}

nsamp_core::config! {
    /// `Mixture(...)`: a general Gaussian mixture with diagonal covariances.
    pub struct MixtureConfig {
        /// One mean per component; all of the same length (the dimension).
        means: Vec<Vec<f32>> = vec![vec![-2.0, 0.0], vec![2.0, 0.0]],
        /// Per component: per-axis stds, or one value (isotropic). A single entry is shared by all.
        stds: Vec<Vec<f32>> = vec![vec![0.5]],
        /// Component weights, normalised; None = equal weights.
        weights: Option<Vec<f32>> = None,
        /// Length unit of the sampler (it works in x / scale); energies stay in data units.
        scale: f32 = 1.0,
    }
}

impl TargetConfig for MixtureConfig {
    fn build(&self) -> anyhow::Result<Box<dyn Target>> {
        let k = self.means.len();
        anyhow::ensure!(k > 0, "Mixture: `means` is empty");
        let dim = self.means[0].len();
        anyhow::ensure!(
            self.means.iter().all(|m| m.len() == dim),
            "Mixture: every mean must have the same length"
        );
        anyhow::ensure!(
            self.stds.len() == k || self.stds.len() == 1,
            "Mixture: `stds` needs one entry per component or a single shared entry"
        );
        let mut stds = Vec::with_capacity(k * dim);
        for c in 0..k {
            let s = &self.stds[if self.stds.len() == 1 { 0 } else { c }];
            match s.len() {
                1 => stds.extend(std::iter::repeat_n(s[0], dim)),
                l if l == dim => stds.extend_from_slice(s),
                l => anyhow::bail!("Mixture: component {c} has {l} stds, expected 1 or {dim}"),
            }
        }
        let weights = match &self.weights {
            Some(w) => {
                anyhow::ensure!(
                    w.len() == k,
                    "Mixture: {} weights for {k} components",
                    w.len()
                );
                w.clone()
            }
            None => vec![1.0; k],
        };
        Ok(Box::new(Mixture::new(
            self.means.concat(),
            stds,
            weights,
            dim,
            self.scale,
        )?))
    }
}

nsamp_core::register!(
    Target,
    "Mixture",
    MixtureConfig,
    "general Gaussian mixture with diagonal covariances (exact density and sampler)"
);
