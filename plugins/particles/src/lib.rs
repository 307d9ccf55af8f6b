//! Particle-system targets with the conventions of the community's reference sets
//! (shared/data/README.md), batched energy and gradient as tight loops over particle pairs:
//!
//! - `DoubleWell { n, dim }` / `Dw4`: E(x) = sum_{i<j} a u + b u^2 + c u^4, u = |x_i - x_j| - d0
//!   (a = 0, b = -4, c = 0.9, d0 = 4).
//! - `LennardJones { n, dim }` / `Lj13` / `Lj55`: E(x) = 2 sum_{i<j} eps [(rm/r)^12 - 2 (rm/r)^6]
//!   plus (k/2) sum_i |x_i - x_mean|^2, with r = sqrt(|x_i - x_j|^2 + 1e-6) (the pair term summed
//!   over ordered pairs, as the reference sets were generated), eps = rm = 1, k = 1.
//!
//! Configurations are row-major `[x0, y0, (z0), x1, ...]`. Large batches are split over rayon.

#[cfg(feature = "cuda")]
pub mod cuda;
pub mod kernel;
pub mod lanes;
pub mod pair;

use nsamp_core::rayon::prelude::*;
use nsamp_core::target::Particles;
use nsamp_core::{Device, Target, TargetConfig, TargetStructure};
pub use pair::{DoubleWellPair, LjPair, PairPotential};

/// Configurations per parallel chunk.
const CHUNK: usize = 32;

/// A pairwise-potential particle system with an optional harmonic restraint to the centre of mass.
#[derive(Debug, Clone)]
pub struct PairSystem<P: PairPotential> {
    particles: Particles,
    pair: P,
    /// Spring constant k of (k/2) sum_i |x_i - x_mean|^2 (0 for none).
    harmonic: f32,
}

impl<P: PairPotential> PairSystem<P> {
    /// A system of `n` particles in `dim` dimensions.
    pub fn new(n: usize, dim: usize, pair: P, harmonic: f32) -> anyhow::Result<Self> {
        anyhow::ensure!(
            (2..=100_000).contains(&n) && (1..=16).contains(&dim),
            "a particle system needs `n` between 2 and 100000 and `dim` between 1 and 16, got \
             n = {n}, dim = {dim}"
        );
        Ok(PairSystem {
            particles: Particles {
                n,
                spatial_dim: dim,
            },
            pair,
            harmonic,
        })
    }

    /// E and (optionally) grad E of up to `kernel::BLOCK` configurations: the vectorised kernel
    /// for 2-D and 3-D, the plain loops otherwise.
    fn block(&self, x: &[f32], e: &mut [f32], grad: Option<&mut [f32]>, sc: &mut kernel::Scratch) {
        let n = self.particles.n;
        let dim = self.dim();
        let mut g = grad;
        match self.particles.spatial_dim {
            2 => kernel::pair_sum_block::<P, 2>(&self.pair, self.harmonic, n, x, e, g, sc),
            3 => kernel::pair_sum_block::<P, 3>(&self.pair, self.harmonic, n, x, e, g, sc),
            _ => {
                for (r, ei) in e.iter_mut().enumerate() {
                    let xr = &x[r * dim..(r + 1) * dim];
                    let mut gr = g.as_deref_mut().map(|g| &mut g[r * dim..(r + 1) * dim]);
                    *ei = self.pair_loop(xr, gr.as_deref_mut()) + self.restraint(xr, gr);
                }
            }
        }
    }

    /// The pair sum as a plain double loop (any dimension; the reference for the kernel).
    pub fn pair_loop(&self, x: &[f32], grad: Option<&mut [f32]>) -> f32 {
        let Particles { n, spatial_dim: d } = self.particles;
        let mut e = 0f32;
        let mut g = grad;
        if let Some(g) = g.as_deref_mut() {
            g.iter_mut().for_each(|v| *v = 0.0);
        }
        for i in 0..n {
            let xi = &x[i * d..(i + 1) * d];
            for j in i + 1..n {
                let xj = &x[j * d..(j + 1) * d];
                let mut s = 0f32;
                for k in 0..d {
                    let t = xi[k] - xj[k];
                    s += t * t;
                }
                let (v, dv_ds) = self.pair.value_and_ds(s);
                e += v;
                if let Some(g) = g.as_deref_mut() {
                    // d/dx_i of v(s) = v'(s) 2 (x_i - x_j); opposite for x_j.
                    let f = 2.0 * dv_ds;
                    for k in 0..d {
                        let t = f * (xi[k] - xj[k]);
                        g[i * d + k] += t;
                        g[j * d + k] -= t;
                    }
                }
            }
        }
        e
    }

    /// (k/2) sum_i |x_i - x_mean|^2, its gradient added to `grad`.
    fn restraint(&self, x: &[f32], grad: Option<&mut [f32]>) -> f32 {
        let Particles { n, spatial_dim: d } = self.particles;
        let mut e = 0f32;
        let mut g = grad;
        if self.harmonic != 0.0 {
            for k in 0..d {
                let m = (0..n).map(|i| x[i * d + k]).sum::<f32>() / n as f32;
                for i in 0..n {
                    let c = x[i * d + k] - m;
                    e += 0.5 * self.harmonic * c * c;
                    if let Some(g) = g.as_deref_mut() {
                        // The mean's own dependence cancels: sum_i (x_i - m) = 0.
                        g[i * d + k] += self.harmonic * c;
                    }
                }
            }
        }
        e
    }
}

impl<P: PairPotential> Target for PairSystem<P> {
    fn dim(&self) -> usize {
        self.particles.n * self.particles.spatial_dim
    }
    fn structure(&self) -> TargetStructure {
        TargetStructure::Particles(self.particles)
    }
    fn energy(&self, x: &[f32], energy: &mut [f32]) -> anyhow::Result<()> {
        let dim = self.dim();
        energy
            .par_chunks_mut(CHUNK)
            .zip(x.par_chunks(CHUNK * dim))
            .for_each(|(e, x)| {
                let mut sc = kernel::Scratch::default();
                for (eb, xb) in e
                    .chunks_mut(kernel::BLOCK)
                    .zip(x.chunks(kernel::BLOCK * dim))
                {
                    self.block(xb, eb, None, &mut sc);
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
        let dim = self.dim();
        energy
            .par_chunks_mut(CHUNK)
            .zip(x.par_chunks(CHUNK * dim))
            .zip(grad.par_chunks_mut(CHUNK * dim))
            .for_each(|((e, x), g)| {
                let mut sc = kernel::Scratch::default();
                for ((eb, xb), gb) in e
                    .chunks_mut(kernel::BLOCK)
                    .zip(x.chunks(kernel::BLOCK * dim))
                    .zip(g.chunks_mut(kernel::BLOCK * dim))
                {
                    self.block(xb, eb, Some(gb), &mut sc);
                }
            });
        Ok(())
    }
}

nsamp_core::config! {
    /// `LennardJones(n: 13, dim: 3, ...)`: 2 sum_{i<j} eps[(rm/r)^12 - 2 (rm/r)^6]
    /// + (k/2) sum_i |x_i - x_mean|^2 with r = sqrt(d^2 + softening). The default is LJ-13.
    pub struct LennardJonesConfig {
        /// Number of particles.
        n: usize = 13,
        /// Spatial dimension.
        dim: usize = 3,
        /// Well depth eps.
        eps: f32 = 1.0,
        /// Distance of the minimum rm.
        rm: f32 = 1.0,
        /// Spring constant k of the restraint (k/2) sum_i |x_i - x_mean|^2.
        harmonic: f32 = 1.0,
        /// Softening: r = sqrt(|x_i - x_j|^2 + softening).
        softening: f32 = 1e-6,
    }
}

impl LennardJonesConfig {
    fn preset(n: usize) -> Self {
        LennardJonesConfig {
            n,
            ..Default::default()
        }
    }
}

impl LennardJonesConfig {
    fn system(&self) -> anyhow::Result<PairSystem<LjPair>> {
        anyhow::ensure!(
            self.eps > 0.0 && self.rm > 0.0,
            "LennardJones: eps and rm must be positive"
        );
        anyhow::ensure!(
            self.softening >= 0.0 && self.harmonic >= 0.0,
            "LennardJones: softening and harmonic must be >= 0"
        );
        PairSystem::new(
            self.n,
            self.dim,
            LjPair {
                eps: self.eps,
                rm: self.rm,
                softening: self.softening,
            },
            self.harmonic,
        )
    }
}

/// The Lennard-Jones system on `device`.
fn lj_on(sys: PairSystem<LjPair>, device: Device) -> anyhow::Result<Box<dyn Target>> {
    match device {
        Device::Cpu => Ok(Box::new(sys)),
        #[cfg(feature = "cuda")]
        Device::Cuda(i) => Ok(Box::new(cuda::CudaLennardJones::new(sys, i)?)),
        #[cfg(not(feature = "cuda"))]
        Device::Cuda(i) => anyhow::bail!(
            "device Cuda({i}): this nsamp was built without CUDA support; rebuild with \
             `cargo build --release --features cuda` (needs no CUDA toolkit) or use `device: Cpu`"
        ),
    }
}

impl TargetConfig for LennardJonesConfig {
    fn build(&self) -> anyhow::Result<Box<dyn Target>> {
        self.build_on(Device::Cpu)
    }
    fn build_on(&self, device: Device) -> anyhow::Result<Box<dyn Target>> {
        lj_on(self.system()?, device)
    }
}

nsamp_core::config! {
    /// `DoubleWell(n: 4, dim: 2, ...)`: pair energy a u + b u^2 + c u^4 with u = |x_i - x_j| - d0.
    /// The default is DW-4.
    pub struct DoubleWellConfig {
        /// Number of particles.
        n: usize = 4,
        /// Spatial dimension.
        dim: usize = 2,
        /// Linear coefficient a.
        a: f32 = 0.0,
        /// Quadratic coefficient b.
        b: f32 = -4.0,
        /// Quartic coefficient c.
        c: f32 = 0.9,
        /// Offset d0.
        d0: f32 = 4.0,
    }
}

impl TargetConfig for DoubleWellConfig {
    fn build(&self) -> anyhow::Result<Box<dyn Target>> {
        Ok(Box::new(PairSystem::new(
            self.n,
            self.dim,
            DoubleWellPair {
                a: self.a,
                b: self.b,
                c: self.c,
                d0: self.d0,
            },
            0.0,
        )?))
    }
}

nsamp_core::config! {
    /// `Dw4()`: DW-4, 4 particles in 2-D in the double-well pair potential.
    pub struct Dw4Config {}
}
nsamp_core::config! {
    /// `Lj13()`: the 13-particle Lennard-Jones cluster in 3-D.
    pub struct Lj13Config {}
}
nsamp_core::config! {
    /// `Lj55()`: the 55-particle Lennard-Jones cluster in 3-D.
    pub struct Lj55Config {}
}

impl TargetConfig for Dw4Config {
    fn build(&self) -> anyhow::Result<Box<dyn Target>> {
        DoubleWellConfig::default().build()
    }
    fn build_on(&self, device: Device) -> anyhow::Result<Box<dyn Target>> {
        match device {
            Device::Cpu => self.build(),
            Device::Cuda(_) => anyhow::bail!(
                "Dw4 has no CUDA kernels (the Lennard-Jones targets have): use `device: Cpu`"
            ),
        }
    }
}

macro_rules! lj_preset {
    ($cfg:ident, $n:expr) => {
        impl TargetConfig for $cfg {
            fn build(&self) -> anyhow::Result<Box<dyn Target>> {
                LennardJonesConfig::preset($n).build()
            }
            fn build_on(&self, device: Device) -> anyhow::Result<Box<dyn Target>> {
                LennardJonesConfig::preset($n).build_on(device)
            }
        }
    };
}
lj_preset!(Lj13Config, 13);
lj_preset!(Lj55Config, 55);

nsamp_core::register!(
    Target,
    "Dw4",
    Dw4Config,
    "4 particles in 2-D in the double-well pair potential (a = 0, b = -4, c = 0.9, d0 = 4)"
);
nsamp_core::register!(
    Target,
    "Lj13",
    Lj13Config,
    "13-particle Lennard-Jones cluster in 3-D (pair term x2, harmonic 0.5, r^2 softened by 1e-6)"
);
nsamp_core::register!(
    Target,
    "Lj55",
    Lj55Config,
    "55-particle Lennard-Jones cluster in 3-D (the LJ-13 conventions)"
);

nsamp_core::register!(
    Target,
    "LennardJones",
    LennardJonesConfig,
    "n Lennard-Jones particles: 2 sum_{i<j} eps[(rm/r)^12 - 2(rm/r)^6] + (k/2) sum |x_i - mean|^2"
);
nsamp_core::register!(
    Target,
    "DoubleWell",
    DoubleWellConfig,
    "n particles in the double-well pair potential a u + b u^2 + c u^4, u = |x_i - x_j| - d0"
);

#[cfg(test)]
mod tests {
    use super::*;
    use nsamp_core::numerics::rng::{fill_normal, RngStreams};

    fn compare<P: PairPotential>(sys: PairSystem<P>, spread: f32) {
        let dim = sys.dim();
        // 37 configurations: two full blocks and a padded one.
        let rows = 37;
        let mut x = vec![0f32; rows * dim];
        fill_normal(&mut RngStreams::new(1).stream("kernel", dim as u64), &mut x);
        x.iter_mut().for_each(|v| *v *= spread);
        let (mut e1, mut e0) = (vec![0f32; rows], vec![0f32; rows]);
        let mut g1 = vec![0f32; rows * dim];
        sys.energy_and_grad(&x, &mut e1, &mut g1).unwrap();
        sys.energy(&x, &mut e0).unwrap();
        for r in 0..rows {
            let xr = &x[r * dim..(r + 1) * dim];
            let mut g2 = vec![0f32; dim];
            let e2 = sys.pair_loop(xr, Some(&mut g2)) + sys.restraint(xr, Some(&mut g2));
            let tol = |a: f32| 1e-5 * a.abs().max(1.0);
            assert!(
                (e1[r] - e2).abs() < tol(e2) && e0[r] == e1[r],
                "{} {e2} {}",
                e1[r],
                e0[r]
            );
            let gmax = g2.iter().fold(0f32, |m, v| m.max(v.abs()));
            for (a, b) in g1[r * dim..(r + 1) * dim].iter().zip(&g2) {
                assert!((a - b).abs() < tol(gmax), "{a} vs {b}");
            }
        }
    }

    /// The vectorised kernel agrees with the plain double loop (2-D, 3-D, and the 1-D fallback).
    #[test]
    fn kernel_matches_pair_loop() {
        let lj = LjPair {
            eps: 1.0,
            rm: 1.0,
            softening: 1e-6,
        };
        let dw = DoubleWellPair {
            a: 0.0,
            b: -4.0,
            c: 0.9,
            d0: 4.0,
        };
        for n in [2, 13, 17, 55] {
            compare(PairSystem::new(n, 3, lj, 1.0).unwrap(), 1.5);
            compare(PairSystem::new(n, 2, dw, 0.0).unwrap(), 3.0);
            compare(PairSystem::new(n, 1, dw, 0.0).unwrap(), 3.0);
        }
    }
}
