//! A 2-D isotropic Gaussian target with closed-form energy and gradient, shared by the
//! estimator tests.

use nsamp_core::Target;

/// N(mu, v I) in 2-D: E = |x - mu|^2 / (2 v).
pub struct Gauss {
    /// Mean.
    pub mu: [f32; 2],
    /// Variance per axis.
    pub v: f32,
}

impl Target for Gauss {
    fn dim(&self) -> usize {
        2
    }
    fn energy(&self, x: &[f32], e: &mut [f32]) -> anyhow::Result<()> {
        for (r, e) in x.chunks(2).zip(e) {
            *e = ((r[0] - self.mu[0]).powi(2) + (r[1] - self.mu[1]).powi(2)) / (2.0 * self.v);
        }
        Ok(())
    }
    fn energy_and_grad(&self, x: &[f32], e: &mut [f32], g: &mut [f32]) -> anyhow::Result<()> {
        self.energy(x, e)?;
        for (r, g) in x.chunks(2).zip(g.chunks_mut(2)) {
            g[0] = (r[0] - self.mu[0]) / self.v;
            g[1] = (r[1] - self.mu[1]) / self.v;
        }
        Ok(())
    }
}
