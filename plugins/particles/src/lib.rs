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

pub mod pair;

use nsamp_core::rayon::prelude::*;
use nsamp_core::target::Particles;
use nsamp_core::{Target, TargetConfig};
pub use pair::{DoubleWellPair, LjPair, PairPotential};
use serde::{Deserialize, Serialize};

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
            n >= 2 && dim >= 1,
            "a particle system needs n >= 2 and dim >= 1"
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

    /// E and (optionally) grad E of one configuration.
    #[inline]
    fn one(&self, x: &[f32], grad: Option<&mut [f32]>) -> f32 {
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
    fn particles(&self) -> Option<Particles> {
        Some(self.particles)
    }
    fn energy(&self, x: &[f32], energy: &mut [f32]) {
        let dim = self.dim();
        energy
            .par_chunks_mut(CHUNK)
            .zip(x.par_chunks(CHUNK * dim))
            .for_each(|(e, x)| {
                for (ei, xi) in e.iter_mut().zip(x.chunks_exact(dim)) {
                    *ei = self.one(xi, None);
                }
            });
    }
    fn energy_and_grad(&self, x: &[f32], energy: &mut [f32], grad: &mut [f32]) {
        let dim = self.dim();
        energy
            .par_chunks_mut(CHUNK)
            .zip(x.par_chunks(CHUNK * dim))
            .zip(grad.par_chunks_mut(CHUNK * dim))
            .for_each(|((e, x), g)| {
                for ((ei, xi), gi) in e
                    .iter_mut()
                    .zip(x.chunks_exact(dim))
                    .zip(g.chunks_exact_mut(dim))
                {
                    *ei = self.one(xi, Some(gi));
                }
            });
    }
}

/// `LennardJones(n: 13, dim: 3, ...)` config.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LennardJonesConfig {
    /// Number of particles.
    pub n: usize,
    /// Spatial dimension.
    pub dim: usize,
    /// Well depth eps.
    #[serde(default = "one")]
    pub eps: f32,
    /// Distance of the minimum rm.
    #[serde(default = "one")]
    pub rm: f32,
    /// Spring constant of the harmonic restraint to the centre of mass.
    #[serde(default = "one")]
    pub harmonic: f32,
    /// Softening: r = sqrt(d^2 + softening).
    #[serde(default = "softening")]
    pub softening: f32,
}

fn one() -> f32 {
    1.0
}
fn softening() -> f32 {
    1e-6
}

impl LennardJonesConfig {
    fn preset(n: usize) -> Self {
        LennardJonesConfig {
            n,
            dim: 3,
            eps: 1.0,
            rm: 1.0,
            harmonic: 1.0,
            softening: 1e-6,
        }
    }
}

impl TargetConfig for LennardJonesConfig {
    fn build(&self) -> anyhow::Result<Box<dyn Target>> {
        anyhow::ensure!(
            self.eps > 0.0 && self.rm > 0.0,
            "LennardJones: eps and rm must be positive"
        );
        anyhow::ensure!(
            self.softening >= 0.0 && self.harmonic >= 0.0,
            "LennardJones: softening and harmonic must be >= 0"
        );
        Ok(Box::new(PairSystem::new(
            self.n,
            self.dim,
            LjPair {
                eps: self.eps,
                rm: self.rm,
                softening: self.softening,
            },
            self.harmonic,
        )?))
    }
}

/// `DoubleWell(n: 4, dim: 2, ...)` config.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoubleWellConfig {
    /// Number of particles.
    pub n: usize,
    /// Spatial dimension.
    pub dim: usize,
    /// Linear coefficient a.
    #[serde(default)]
    pub a: f32,
    /// Quadratic coefficient b.
    #[serde(default = "dw_b")]
    pub b: f32,
    /// Quartic coefficient c.
    #[serde(default = "dw_c")]
    pub c: f32,
    /// Offset d0.
    #[serde(default = "dw_d0")]
    pub d0: f32,
}

fn dw_b() -> f32 {
    -4.0
}
fn dw_c() -> f32 {
    0.9
}
fn dw_d0() -> f32 {
    4.0
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

/// `Dw4()` / `Lj13()` / `Lj55()`: the benchmark systems (no fields).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresetConfig {
    #[serde(skip)]
    which: Preset,
}

#[derive(Debug, Clone, Copy, Default)]
enum Preset {
    #[default]
    Dw4,
    Lj13,
    Lj55,
}

impl TargetConfig for PresetConfig {
    fn build(&self) -> anyhow::Result<Box<dyn Target>> {
        match self.which {
            Preset::Dw4 => DoubleWellConfig {
                n: 4,
                dim: 2,
                a: 0.0,
                b: -4.0,
                c: 0.9,
                d0: 4.0,
            }
            .build(),
            Preset::Lj13 => LennardJonesConfig::preset(13).build(),
            Preset::Lj55 => LennardJonesConfig::preset(55).build(),
        }
    }
}

fn preset(
    d: &mut dyn nsamp_core::erased_serde::Deserializer,
    which: Preset,
) -> Result<Box<dyn TargetConfig>, nsamp_core::erased_serde::Error> {
    let mut c: PresetConfig = nsamp_core::erased_serde::deserialize(d)?;
    c.which = which;
    Ok(Box::new(c))
}

macro_rules! submit_preset {
    ($name:literal, $which:expr, $doc:literal) => {
        nsamp_core::inventory::submit! {
            nsamp_core::registry::Entry::<nsamp_core::registry::families::Target> {
                name: $name,
                doc: $doc,
                example: concat!("// No fields.\n", $name, "()"),
                deserialize: |d| preset(d, $which),
            }
        }
    };
}
submit_preset!(
    "Dw4",
    Preset::Dw4,
    "4 particles in 2-D in the double-well pair potential (a = 0, b = -4, c = 0.9, d0 = 4)"
);
submit_preset!(
    "Lj13",
    Preset::Lj13,
    "13-particle Lennard-Jones cluster in 3-D (pair term x2, harmonic 0.5, r^2 softened by 1e-6)"
);
submit_preset!(
    "Lj55",
    Preset::Lj55,
    "55-particle Lennard-Jones cluster in 3-D (the LJ-13 conventions)"
);

nsamp_core::register!(
    Target,
    "LennardJones",
    LennardJonesConfig,
    "n Lennard-Jones particles: 2 sum_{i<j} eps[(rm/r)^12 - 2(rm/r)^6] + (k/2) sum |x_i - mean|^2",
    r#"LennardJones(
    // Number of particles and spatial dimension.
    n: 13,
    dim: 3,
    // Well depth and distance of the minimum.
    eps: 1.0,
    rm: 1.0,
    // Spring constant k of the restraint (k/2) sum_i |x_i - x_mean|^2.
    harmonic: 1.0,
    // r = sqrt(|x_i - x_j|^2 + softening).
    softening: 1e-6,
)"#
);
nsamp_core::register!(
    Target,
    "DoubleWell",
    DoubleWellConfig,
    "n particles in the double-well pair potential a u + b u^2 + c u^4, u = |x_i - x_j| - d0",
    r#"DoubleWell(
    // Number of particles and spatial dimension.
    n: 4,
    dim: 2,
    // Pair energy a u + b u^2 + c u^4 with u = |x_i - x_j| - d0.
    a: 0.0,
    b: -4.0,
    c: 0.9,
    d0: 4.0,
)"#
);
