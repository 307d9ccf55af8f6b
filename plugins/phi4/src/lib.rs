//! The phi^4 lattice field theory on an L x L periodic lattice (the lattice-flow tutorial's
//! convention, DESIGN.md):
//!
//! S(phi) = sum_x [ sum_{mu=1,2} phi_x (2 phi_x - phi_{x+mu} - phi_{x-mu}) + m2 phi_x^2 + lambda phi_x^4 ]
//!        = sum_x [ (4 + m2) phi_x^2 + lambda phi_x^4 - 2 sum_mu phi_x phi_{x+mu} ],
//!
//! p(phi) proportional to exp(-S). Gradient:
//! dS/dphi_x = 2 (4 + m2) phi_x + 4 lambda phi_x^3 - 2 sum_mu (phi_{x+mu} + phi_{x-mu}).
//! Sites are row-major: phi[i * L + j]. Known values at L = 8, m2 = -4: chi_2 = 0.743(1) at
//! lambda = 8 (symmetric phase); chi_2 = 15.37(2) at lambda = 4 (effectively broken: two modes
//! of opposite magnetisation).

pub mod observables;

use nsamp_core::rayon::prelude::*;
use nsamp_core::{Target, TargetConfig, TargetStructure};

/// The phi^4 action on an L x L periodic lattice.
#[derive(Debug, Clone)]
pub struct Phi4 {
    l: usize,
    m2: f32,
    lambda: f32,
}

/// Configurations per parallel chunk.
const CHUNK: usize = 64;

impl Phi4 {
    /// The theory at side `l`, bare mass `m2` and coupling `lambda`.
    pub fn new(l: usize, m2: f32, lambda: f32) -> anyhow::Result<Self> {
        anyhow::ensure!(
            (2..=1024).contains(&l),
            "Phi4: the lattice side `l` must be between 2 and 1024, got {l}"
        );
        anyhow::ensure!(
            lambda > 0.0 || (lambda == 0.0 && m2 > 0.0),
            "Phi4: lambda must be > 0 (or lambda = 0 with m2 > 0) for a normalisable density"
        );
        Ok(Phi4 { l, m2, lambda })
    }

    /// Action and (optionally) its gradient for one configuration.
    #[inline]
    fn one(&self, phi: &[f32], grad: Option<&mut [f32]>) -> f32 {
        let l = self.l;
        let (a, lam) = (4.0 + self.m2, self.lambda);
        let mut s = 0f32;
        for i in 0..l {
            let row = &phi[i * l..(i + 1) * l];
            let down = &phi[((i + 1) % l) * l..((i + 1) % l + 1) * l];
            for j in 0..l {
                let p = row[j];
                let p2 = p * p;
                // Each bond once: right neighbour and down neighbour.
                s += a * p2 + lam * p2 * p2 - 2.0 * p * (row[(j + 1) % l] + down[j]);
            }
        }
        if let Some(g) = grad {
            for i in 0..l {
                let up = ((i + l - 1) % l) * l;
                let down = ((i + 1) % l) * l;
                for j in 0..l {
                    let p = phi[i * l + j];
                    let nb = phi[i * l + (j + 1) % l]
                        + phi[i * l + (j + l - 1) % l]
                        + phi[up + j]
                        + phi[down + j];
                    g[i * l + j] = 2.0 * a * p + 4.0 * lam * p * p * p - 2.0 * nb;
                }
            }
        }
        s
    }
}

impl Target for Phi4 {
    fn dim(&self) -> usize {
        self.l * self.l
    }
    fn structure(&self) -> TargetStructure {
        TargetStructure::Lattice { side: self.l }
    }
    fn energy(&self, x: &[f32], energy: &mut [f32]) -> anyhow::Result<()> {
        let d = self.dim();
        energy
            .par_chunks_mut(CHUNK)
            .zip(x.par_chunks(CHUNK * d))
            .for_each(|(e, x)| {
                for (ei, xi) in e.iter_mut().zip(x.chunks_exact(d)) {
                    *ei = self.one(xi, None);
                }
            });
        Ok(())
    }
    fn energy_and_grad(
        &self,
        x: &[f32],
        energy: &mut [f32],
        grad: &mut [f32],
    ) -> anyhow::Result<()> {
        let d = self.dim();
        energy
            .par_chunks_mut(CHUNK)
            .zip(x.par_chunks(CHUNK * d))
            .zip(grad.par_chunks_mut(CHUNK * d))
            .for_each(|((e, x), g)| {
                for ((ei, xi), gi) in e
                    .iter_mut()
                    .zip(x.chunks_exact(d))
                    .zip(g.chunks_exact_mut(d))
                {
                    *ei = self.one(xi, Some(gi));
                }
            });
        Ok(())
    }
}

nsamp_core::config! {
    /// `Phi4(l: 8, m2: -4.0, lambda: 8.0)` config.
    pub struct Phi4Config {
        /// Lattice side L (V = L^2 sites).
        l: usize = 8,
        /// Bare mass squared m2.
        m2: f32 = -4.0,
        /// Quartic coupling lambda.
        lambda: f32 = 8.0,
    }
}

impl TargetConfig for Phi4Config {
    fn build(&self) -> anyhow::Result<Box<dyn Target>> {
        Ok(Box::new(Phi4::new(self.l, self.m2, self.lambda)?))
    }
}

nsamp_core::register!(
    Target,
    "Phi4",
    Phi4Config,
    "phi^4 lattice field theory on an L x L periodic lattice: S = sum_x [sum_mu phi_x (2 phi_x - phi_{x+mu} - phi_{x-mu}) + m2 phi_x^2 + lambda phi_x^4]"
);
