//! The reverse-time VE-SDE, integrated by Euler-Maruyama from t = 1 to t = 1/N:
//!   x <- x + g(t)^2 s(t, x) dt + c g(t) sqrt(dt) z,   dt = 1/N,
//! with prior N(0, h(1) I). For particle systems the prior, the noise and every step are made
//! centre-of-mass free (the per-configuration particle mean is removed).

use super::pairwise::remove_mean;
use super::rng::{fill_normal, RngStreams};
use super::schedule::GeometricSchedule;
use crate::target::Particles;

/// Reverse-SDE settings.
#[derive(Debug, Clone, Copy)]
pub struct ReverseSde {
    /// The noise schedule.
    pub schedule: GeometricSchedule,
    /// Number of Euler-Maruyama steps N.
    pub steps: usize,
    /// Noise scale c (1 is the exact reverse SDE).
    pub noise_scale: f64,
    /// Remove the centre of mass for particle systems.
    pub com_free: Option<Particles>,
}

/// A score function for the integrator: (t, x rows, out rows).
pub type ScoreFn<'a> = dyn FnMut(f64, &[f32], &mut [f32]) -> anyhow::Result<()> + 'a;

impl ReverseSde {
    /// `n` draws from the prior N(0, h(1) I) (centre-of-mass free for particles).
    pub fn prior(&self, n: usize, dim: usize, streams: &RngStreams, call: u64) -> Vec<f32> {
        let mut x = vec![0f32; n * dim];
        let mut rng = streams.stream("sde-prior", call);
        fill_normal(&mut rng, &mut x);
        if let Some(p) = self.com_free {
            remove_mean(&mut x, p.n, p.spatial_dim);
        }
        let sd = self.schedule.h(1.0).sqrt() as f32;
        x.iter_mut().for_each(|v| *v *= sd);
        x
    }

    /// Integrates `x` (n x dim) in place from t = 1 down to t = 1/N. `progress(i, N)` is called
    /// after each step.
    pub fn integrate(
        &self,
        x: &mut [f32],
        dim: usize,
        streams: &RngStreams,
        call: u64,
        score: &mut ScoreFn<'_>,
        progress: &mut dyn FnMut(u64, u64),
    ) -> anyhow::Result<()> {
        let n_steps = self.steps as u64;
        self.integrate_observed(x, dim, streams, call, score, &mut |i, _| {
            progress(i as u64, n_steps)
        })
    }

    /// [`ReverseSde::integrate`], with `observe(i, x)` called after step i (1..=N) with the
    /// state then, at t = 1 - i / N (trajectory analyses).
    pub fn integrate_observed(
        &self,
        x: &mut [f32],
        dim: usize,
        streams: &RngStreams,
        call: u64,
        score: &mut ScoreFn<'_>,
        observe: &mut dyn FnMut(usize, &[f32]),
    ) -> anyhow::Result<()> {
        anyhow::ensure!(self.steps > 0, "reverse SDE needs at least one step");
        let n_steps = self.steps;
        let dt = 1.0 / n_steps as f64;
        let mut s = vec![0f32; x.len()];
        let mut z = vec![0f32; x.len()];
        let mut rng = streams.stream("sde-noise", call);
        for i in 0..n_steps {
            let t = 1.0 - i as f64 * dt;
            score(t, x, &mut s)?;
            let g2 = self.schedule.g2(t);
            let drift = (g2 * dt) as f32;
            let diff = (self.noise_scale * (g2 * dt).sqrt()) as f32;
            fill_normal(&mut rng, &mut z);
            if let Some(p) = self.com_free {
                remove_mean(&mut z, p.n, p.spatial_dim);
            }
            for ((xv, sv), zv) in x.iter_mut().zip(&s).zip(&z) {
                *xv += drift * sv + diff * zv;
            }
            if let Some(p) = self.com_free {
                remove_mean(x, p.n, p.spatial_dim);
            }
            observe(i + 1, x);
        }
        debug_assert_eq!(x.len() % dim, 0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// For a Gaussian target N(0, v I), the exact score of p_t is -x / (v + h(t)); the reverse
    /// SDE driven by it must return samples of variance v.
    #[test]
    fn exact_score_recovers_gaussian_variance() {
        let sched = GeometricSchedule::new(1e-3, 5.0).unwrap();
        let sde = ReverseSde {
            schedule: sched,
            steps: 500,
            noise_scale: 1.0,
            com_free: None,
        };
        let v = 0.25f64;
        let streams = RngStreams::new(7);
        let n = 20000;
        let mut x = sde.prior(n, 1, &streams, 0);
        let mut score = |t: f64, x: &[f32], out: &mut [f32]| {
            let f = 1.0 / (v + sched.h(t));
            for (o, &xv) in out.iter_mut().zip(x) {
                *o = -(xv as f64 * f) as f32;
            }
            Ok(())
        };
        sde.integrate(&mut x, 1, &streams, 0, &mut score, &mut |_, _| {})
            .unwrap();
        let var = x.iter().map(|a| (*a as f64).powi(2)).sum::<f64>() / n as f64;
        // Euler-Maruyama bias at 500 steps plus sampling error (sd ~ v sqrt(2/n) = 0.0025).
        assert!((var - v).abs() < 0.02, "variance {var}");
    }
}
