//! `Ula`: the unadjusted Langevin algorithm, x <- x + dt grad log pi_t(x) + sqrt(2 dt) xi, with the
//! same prior, time grid and annealing as `Sbtm` (annealed ULA: `annealing: Geometric` or
//! `Dilation`). Its particles have SBTM's law along the exact flow, but move noisily; the Fisher
//! information in its trace uses a KDE score of the particles.

use crate::diagnostics::kde_score;
use crate::dynamics::particle_config;
use nsamp_core::numerics::rng::{fill_normal, RngStreams};
use nsamp_core::sampler::Progress;
use nsamp_core::{CountedTarget, Sampler, SamplerConfig, Samples, Trace};

particle_config! {
    /// `Ula(...)`: unadjusted Langevin particles (annealed with `annealing`).
    pub struct UlaConfig {}
}

impl SamplerConfig for UlaConfig {
    fn build(&self, target: &CountedTarget) -> anyhow::Result<Box<dyn Sampler>> {
        Ok(Box::new(Ula {
            cfg: self.clone(),
            target: target.clone(),
            trace: None,
            report: Vec::new(),
        }))
    }
}

/// The ULA sampler.
pub struct Ula {
    cfg: UlaConfig,
    target: CountedTarget,
    trace: Option<Trace>,
    report: Vec<(String, f64)>,
}

impl Sampler for Ula {
    fn sample(
        &mut self,
        n: usize,
        streams: &RngStreams,
        progress: Progress<'_>,
    ) -> anyhow::Result<Samples> {
        let c = &self.cfg;
        let dim = self.target.dim();
        let (mut x, mut dynamics) = c.start(&self.target, n, streams, &[])?;
        let (mut g, mut xi, mut s) = (
            vec![0f32; x.len()],
            vec![0f32; x.len()],
            vec![0f32; x.len()],
        );
        let dt = dynamics.dt as f32;
        let noise = (2.0 * dt).sqrt();
        for k in 0..c.steps {
            dynamics.track(&x);
            if dynamics.records(k) {
                kde_score(&x, dim, &mut s);
                dynamics.record(k, &x, &s, &[])?;
            }
            dynamics.drift(k, &x, &mut g)?;
            fill_normal(&mut streams.stream("ula-noise", k as u64), &mut xi);
            for ((x, g), z) in x.iter_mut().zip(&g).zip(&xi) {
                *x += dt * g + noise * z;
            }
            anyhow::ensure!(
                x.iter().all(|v| v.is_finite()),
                "Ula: particles diverged at step {k}; lower dt"
            );
            progress(k as u64 + 1, c.steps as u64);
        }
        dynamics.track(&x);
        self.report = dynamics.final_figures();
        self.trace = Some(dynamics.trace);
        Ok(Samples::new(x, dim))
    }

    fn report(&self) -> Vec<(String, f64)> {
        self.report.clone()
    }

    fn trace(&self) -> Option<Trace> {
        self.trace.clone()
    }
}
