//! The target's score along a run, with optional annealing lambda(t) = t / t_end
//! (Ilin, Hosseini, Hu 2025; DESIGN.md, "SBTM"):
//!
//! - `Off`: grad log pi_t = grad log pi = -grad E;
//! - `Geometric`: grad log pi_t = lambda grad log pi + (1 - lambda) grad log pi_0, pi_0 the prior;
//! - `Dilation`: pi_t(x) = pi(x / lambda) / lambda^d with lambda clipped to [0.2, 1], so
//!   grad log pi_t(x) = (1 / lambda) grad log pi(x / lambda). The public SBTM code omits the
//!   1 / lambda factor (its `dilation` score is grad log pi(x / lambda)); nsamp keeps it, which is
//!   the score of the density it names;
//! - `TemperedDilation`: the public code's `dilation_score`, grad log pi(x / lambda) (lambda clipped
//!   to [0.2, 1]). It is the exact score of pi_t(x) ∝ pi(x / lambda)^lambda: the dilated target at
//!   temperature 1 / lambda. For the 2-D far grid (unit components 10 apart) at lambda = 0.2 the
//!   barrier between neighbouring modes is 12.5 nats under `Dilation` (components at lambda mu of
//!   std lambda) and 2.5 nats under `TemperedDilation` (std sqrt(lambda)), which is why only the
//!   latter lets particles from N(0, I) spread over all modes before they separate.

use nsamp_core::CountedTarget;
use serde::{Deserialize, Serialize};

/// How the target is annealed from the prior over the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Annealing {
    /// No annealing: the target itself from the start.
    #[default]
    Off,
    /// Geometric interpolation of the log-densities of prior and target.
    Geometric,
    /// The target dilated by 1 / lambda (lambda clipped to [0.2, 1]).
    Dilation,
    /// The public code's dilation: grad log pi(x / lambda), the score of pi(x / lambda)^lambda.
    TemperedDilation,
}

/// The isotropic Gaussian prior N(mean, std^2 I) the particles start from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Prior {
    /// Mean of every coordinate.
    pub mean: f32,
    /// Standard deviation of every coordinate.
    pub std: f32,
}

impl Default for Prior {
    fn default() -> Self {
        Prior {
            mean: 0.0,
            std: 1.0,
        }
    }
}

impl Prior {
    /// grad log pi_0(x) = -(x - mean) / std^2, row-major.
    pub fn score(&self, x: &[f32], out: &mut [f32]) {
        let v = self.std * self.std;
        for (o, xi) in out.iter_mut().zip(x) {
            *o = -(xi - self.mean) / v;
        }
    }
}

/// grad log pi_t(x) at annealing level `lambda` (in [0, 1]) for every row of `x` into `out`;
/// `scratch` has x's length. Energy evaluations are counted on `target`.
pub fn annealed_score(
    target: &CountedTarget,
    annealing: Annealing,
    prior: &Prior,
    lambda: f32,
    x: &[f32],
    out: &mut [f32],
    scratch: &mut Vec<f32>,
) -> anyhow::Result<()> {
    let n = x.len() / target.dim();
    let mut e = vec![0f32; n];
    match annealing {
        Annealing::Off => {
            target.grad_energy(x, out)?;
            out.iter_mut().for_each(|g| *g = -*g);
        }
        Annealing::Geometric => {
            target.energy_and_grad(x, &mut e, out)?;
            scratch.resize(x.len(), 0.0);
            prior.score(x, scratch);
            for (o, p) in out.iter_mut().zip(scratch.iter()) {
                *o = -lambda * *o + (1.0 - lambda) * p;
            }
        }
        Annealing::Dilation => {
            let l = lambda.clamp(0.2, 1.0);
            scratch.clear();
            scratch.extend(x.iter().map(|v| v / l));
            target.energy_and_grad(scratch, &mut e, out)?;
            out.iter_mut().for_each(|g| *g = -*g / l);
        }
        Annealing::TemperedDilation => {
            let l = lambda.clamp(0.2, 1.0);
            scratch.clear();
            scratch.extend(x.iter().map(|v| v / l));
            target.energy_and_grad(scratch, &mut e, out)?;
            out.iter_mut().for_each(|g| *g = -*g);
        }
    }
    Ok(())
}
