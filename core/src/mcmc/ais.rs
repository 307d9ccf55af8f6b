//! Annealed importance sampling (Neal 2001) along a geometric path, for any pair of batched
//! log densities: FAB's path from the flow towards p^alpha q^(1 - alpha) and towards p, DiKL's
//! path from a Gaussian proposal towards a diffusion posterior.
//!
//! Path: log pi_beta(x) = (1 - beta) log pi_0(x) + beta log pi_1(x), beta_j = j / (K + 1),
//! j = 0..K+1 (K intermediates). From x ~ pi_0 (exact, pi_0 normalised):
//! log w += (beta_j - beta_{j-1}) (log pi_1 - log pi_0)(x) at every level j, then `moves` kernel
//! moves that leave pi_{beta_j} invariant at the intermediate levels (j <= K) only. Then
//! E[w] = Z_1 / Z_0, so LSE(log w) - ln n estimates log Z_1 when pi_0 is normalised.

use super::chains::metropolis;
use crate::numerics::pairwise::remove_mean;
use crate::numerics::rng::{fill_normal, RngStreams};
use crate::target::Particles;
use rand::Rng as _;
use serde::{Deserialize, Serialize};

/// The two ends of a geometric annealing path, as batched unnormalised log densities.
pub trait AnnealEnds {
    /// Dimension of one row.
    fn dim(&self) -> usize;
    /// Particle layout: noise and momenta are then centre-of-mass free. Default: flat.
    fn particles(&self) -> Option<Particles> {
        None
    }
    /// For the n rows of `x` (n * d): log pi_0 into `log0`, log pi_1 into `log1` (n each) and,
    /// when `grads` is `Some((g0, g1))`, their gradients with respect to x (n * d each).
    fn eval(
        &self,
        x: &[f32],
        log0: &mut [f64],
        log1: &mut [f64],
        grads: Option<(&mut [f32], &mut [f32])>,
    ) -> anyhow::Result<()>;
}

/// The transition kernel used at every intermediate level.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum AisKernel {
    /// Random-walk Metropolis: x' = x + step xi, xi ~ N(0, I) (no gradients).
    Metropolis {
        /// Proposal standard deviation.
        step: f64,
    },
    /// Hamiltonian Monte Carlo, unit mass: `leapfrog` steps of size `step`. With
    /// `target_accept: Some(a)` the step is multiplied by 1.1 after every level whose mean
    /// acceptance exceeds a and divided by 1.1 otherwise (fab-torch's rule); the adapted step
    /// comes back in [`AisRun::step`].
    Hmc {
        /// Leapfrog steps per move.
        leapfrog: usize,
        /// Step size.
        step: f64,
        /// Mean acceptance the step is adapted towards (None: fixed step).
        target_accept: Option<f64>,
    },
    /// Metropolis-adjusted Langevin: x' = x + step grad log pi(x) + sqrt(2 step) xi.
    Mala {
        /// Step size.
        step: f64,
    },
}

impl AisKernel {
    /// The kernel's step size.
    pub fn step(&self) -> f64 {
        match *self {
            AisKernel::Metropolis { step } | AisKernel::Mala { step } => step,
            AisKernel::Hmc { step, .. } => step,
        }
    }
    /// The same kernel with another step size (to carry an adapted step to the next call).
    pub fn with_step(self, step: f64) -> Self {
        match self {
            AisKernel::Metropolis { .. } => AisKernel::Metropolis { step },
            AisKernel::Mala { .. } => AisKernel::Mala { step },
            AisKernel::Hmc {
                leapfrog,
                target_accept,
                ..
            } => AisKernel::Hmc {
                leapfrog,
                step,
                target_accept,
            },
        }
    }
    fn needs_grad(&self) -> bool {
        !matches!(self, AisKernel::Metropolis { .. })
    }
    /// Range checks with a message naming the field.
    pub fn validate(&self) -> anyhow::Result<()> {
        let step = self.step();
        anyhow::ensure!(
            step.is_finite() && step > 0.0,
            "AIS kernel: `step` must be positive, got {step}"
        );
        if let AisKernel::Hmc {
            leapfrog,
            target_accept,
            ..
        } = *self
        {
            anyhow::ensure!(
                (1..=10_000).contains(&leapfrog),
                "AIS kernel Hmc: `leapfrog` must be between 1 and 10000, got {leapfrog}"
            );
            if let Some(a) = target_accept {
                anyhow::ensure!(
                    a > 0.0 && a < 1.0,
                    "AIS kernel Hmc: `target_accept` must be in (0, 1), got {a}"
                );
            }
        }
        Ok(())
    }
}

/// AIS settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AisSettings {
    /// Intermediate distributions K (0: plain importance sampling from pi_0).
    pub intermediates: usize,
    /// Transition kernel.
    pub kernel: AisKernel,
    /// Kernel moves per intermediate level.
    pub moves: usize,
}

/// What an AIS run returns.
#[derive(Debug, Clone)]
pub struct AisRun {
    /// Final states, row-major n x d.
    pub x: Vec<f32>,
    /// Log importance weights (-inf where a density was not finite).
    pub log_w: Vec<f64>,
    /// log pi_1 at the final states.
    pub log1: Vec<f64>,
    /// Mean acceptance probability over all moves (NaN without moves).
    pub acceptance: f64,
    /// The kernel's step after adaptation (the input step when not adapted).
    pub step: f64,
}

/// States with both ends' log densities and (for gradient kernels) their gradients.
struct Points {
    x: Vec<f32>,
    log0: Vec<f64>,
    log1: Vec<f64>,
    g0: Vec<f32>,
    g1: Vec<f32>,
}

impl Points {
    fn evaluate(x: Vec<f32>, ends: &dyn AnnealEnds, grad: bool) -> anyhow::Result<Self> {
        let n = x.len() / ends.dim();
        let gl = if grad { x.len() } else { 0 };
        let mut p = Points {
            x,
            log0: vec![0.0; n],
            log1: vec![0.0; n],
            g0: vec![0.0; gl],
            g1: vec![0.0; gl],
        };
        p.refresh(ends, grad)?;
        Ok(p)
    }
    fn refresh(&mut self, ends: &dyn AnnealEnds, grad: bool) -> anyhow::Result<()> {
        let grads = grad.then_some((&mut self.g0[..], &mut self.g1[..]));
        ends.eval(&self.x, &mut self.log0, &mut self.log1, grads)
    }
    /// log pi_beta of row i (NaN when not finite, so that a move there is rejected).
    fn log_pi(&self, beta: f64, i: usize) -> f64 {
        let v = (1.0 - beta) * self.log0[i] + beta * self.log1[i];
        if v.is_finite() {
            v
        } else {
            f64::NAN
        }
    }
    /// grad log pi_beta, element k.
    fn grad(&self, beta: f64, k: usize) -> f32 {
        ((1.0 - beta) * self.g0[k] as f64 + beta * self.g1[k] as f64) as f32
    }
    /// Copies row i of `other` where `accept[i]`.
    fn accept(&mut self, other: &Points, accept: &[bool], d: usize, grad: bool) {
        for (i, &a) in accept.iter().enumerate() {
            if a {
                let r = i * d..(i + 1) * d;
                self.x[r.clone()].copy_from_slice(&other.x[r.clone()]);
                if grad {
                    self.g0[r.clone()].copy_from_slice(&other.g0[r.clone()]);
                    self.g1[r.clone()].copy_from_slice(&other.g1[r]);
                }
                self.log0[i] = other.log0[i];
                self.log1[i] = other.log1[i];
            }
        }
    }
}

/// Standard normals for n rows (centre-of-mass free for particles).
fn normals(
    streams: &RngStreams,
    purpose: &str,
    call: u64,
    out: &mut [f32],
    d: usize,
    p: Option<Particles>,
) {
    fill_normal(&mut streams.stream(purpose, call), out);
    if let Some(p) = p {
        for row in out.chunks_mut(d) {
            remove_mean(row, p.n, p.spatial_dim);
        }
    }
}

fn uniforms(streams: &RngStreams, call: u64, n: usize) -> Vec<f64> {
    let mut rng = streams.stream("ais-accept", call);
    (0..n).map(|_| rng.random::<f64>()).collect()
}

/// Runs AIS from the rows `x0` (exact draws of pi_0) along the geometric path to pi_1.
pub fn ais(
    x0: Vec<f32>,
    ends: &dyn AnnealEnds,
    settings: &AisSettings,
    streams: &RngStreams,
) -> anyhow::Result<AisRun> {
    let d = ends.dim();
    anyhow::ensure!(
        d > 0 && !x0.is_empty() && x0.len().is_multiple_of(d),
        "AIS: the start is not a non-empty n x {d} batch"
    );
    settings.kernel.validate()?;
    anyhow::ensure!(
        settings.moves >= 1 || settings.intermediates == 0,
        "AIS: `moves` must be at least 1"
    );
    let n = x0.len() / d;
    let grad = settings.kernel.needs_grad();
    let levels = settings.intermediates + 1;
    let mut cur = Points::evaluate(x0, ends, grad)?;
    // Proposal scratch space (evaluated at each move's proposals only).
    let gl = if grad { n * d } else { 0 };
    let mut prop = Points {
        x: cur.x.clone(),
        log0: vec![0.0; n],
        log1: vec![0.0; n],
        g0: vec![0.0; gl],
        g1: vec![0.0; gl],
    };
    let mut log_w = vec![0f64; n];
    let mut step = settings.kernel.step();
    let (mut acc_sum, mut acc_count) = (0f64, 0u64);
    let mut noise = vec![0f32; n * d];
    let mut mom = vec![0f32; if grad { n * d } else { 0 }];
    for j in 1..=levels {
        let (b_prev, b) = ((j - 1) as f64 / levels as f64, j as f64 / levels as f64);
        for (i, w) in log_w.iter_mut().enumerate() {
            *w += (b - b_prev) * (cur.log1[i] - cur.log0[i]);
            if w.is_nan() {
                *w = f64::NEG_INFINITY;
            }
        }
        if j == levels {
            break;
        }
        let mut level_acc = 0f64;
        for m in 0..settings.moves {
            let call = (j * settings.moves + m) as u64;
            let log_alpha: Vec<f64> = match settings.kernel {
                AisKernel::Metropolis { .. } => {
                    normals(streams, "ais-noise", call, &mut noise, d, ends.particles());
                    for (k, y) in prop.x.iter_mut().enumerate() {
                        *y = cur.x[k] + step as f32 * noise[k];
                    }
                    prop.refresh(ends, false)?;
                    (0..n)
                        .map(|i| prop.log_pi(b, i) - cur.log_pi(b, i))
                        .collect()
                }
                AisKernel::Mala { .. } => {
                    normals(streams, "ais-noise", call, &mut noise, d, ends.particles());
                    let s = (2.0 * step).sqrt() as f32;
                    for (k, (y, xi)) in prop.x.iter_mut().zip(&noise).enumerate() {
                        *y = cur.x[k] + step as f32 * cur.grad(b, k) + s * xi;
                    }
                    prop.refresh(ends, true)?;
                    (0..n)
                        .map(|i| {
                            let (mut fwd, mut bwd) = (0f64, 0f64);
                            for k in i * d..(i + 1) * d {
                                let f =
                                    (prop.x[k] - cur.x[k]) as f64 - step * cur.grad(b, k) as f64;
                                let r =
                                    (cur.x[k] - prop.x[k]) as f64 - step * prop.grad(b, k) as f64;
                                fwd += f * f;
                                bwd += r * r;
                            }
                            prop.log_pi(b, i) - cur.log_pi(b, i) - (bwd - fwd) / (4.0 * step)
                        })
                        .collect()
                }
                AisKernel::Hmc { leapfrog, .. } => {
                    normals(streams, "ais-momentum", call, &mut mom, d, ends.particles());
                    let kinetic = |p: &[f32], i: usize| {
                        0.5 * p[i * d..(i + 1) * d]
                            .iter()
                            .map(|&v| v as f64 * v as f64)
                            .sum::<f64>()
                    };
                    let h0: Vec<f64> = (0..n)
                        .map(|i| -cur.log_pi(b, i) + kinetic(&mom, i))
                        .collect();
                    prop.x.copy_from_slice(&cur.x);
                    prop.g0.copy_from_slice(&cur.g0);
                    prop.g1.copy_from_slice(&cur.g1);
                    let e = step as f32;
                    for _ in 0..leapfrog {
                        for (k, p) in mom.iter_mut().enumerate() {
                            *p += 0.5 * e * prop.grad(b, k);
                            prop.x[k] += e * *p;
                        }
                        prop.refresh(ends, true)?;
                        for (k, p) in mom.iter_mut().enumerate() {
                            *p += 0.5 * e * prop.grad(b, k);
                        }
                    }
                    (0..n)
                        .map(|i| h0[i] - (-prop.log_pi(b, i) + kinetic(&mom, i)))
                        .collect()
                }
            };
            let (accept, prob) = metropolis(&log_alpha, &uniforms(streams, call, n));
            cur.accept(&prop, &accept, d, grad);
            level_acc += prob.iter().sum::<f64>() / n as f64;
            acc_sum += prob.iter().sum::<f64>();
            acc_count += n as u64;
        }
        if let AisKernel::Hmc {
            target_accept: Some(a),
            ..
        } = settings.kernel
        {
            if level_acc / settings.moves as f64 > a {
                step *= 1.1;
            } else {
                step /= 1.1;
            }
        }
    }
    Ok(AisRun {
        x: cur.x,
        log_w,
        log1: cur.log1,
        acceptance: if acc_count == 0 {
            f64::NAN
        } else {
            acc_sum / acc_count as f64
        },
        step,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numerics::lse::{ess_fraction, log_sum_exp_f64};

    /// pi_0 = N(0, 1) (normalised), pi_1 = Z * N(3, 0.5^2) written unnormalised as
    /// exp(-(x - 3)^2 / (2 * 0.25)) * c; the exact log Z_1 = ln c + ln(sqrt(2 pi) 0.5).
    struct Gauss1d {
        ln_c: f64,
    }
    impl AnnealEnds for Gauss1d {
        fn dim(&self) -> usize {
            1
        }
        fn eval(
            &self,
            x: &[f32],
            log0: &mut [f64],
            log1: &mut [f64],
            grads: Option<(&mut [f32], &mut [f32])>,
        ) -> anyhow::Result<()> {
            let ln2pi = (2.0 * std::f64::consts::PI).ln();
            for (i, &v) in x.iter().enumerate() {
                let v = v as f64;
                log0[i] = -0.5 * v * v - 0.5 * ln2pi;
                log1[i] = -(v - 3.0).powi(2) / 0.5 + self.ln_c;
            }
            if let Some((g0, g1)) = grads {
                for (i, &v) in x.iter().enumerate() {
                    g0[i] = -v;
                    g1[i] = -(v - 3.0) / 0.25;
                }
            }
            Ok(())
        }
    }

    fn start(n: usize) -> Vec<f32> {
        let mut x = vec![0f32; n];
        fill_normal(&mut RngStreams::new(7).stream("start", 0), &mut x);
        x
    }

    /// log Z estimate and its standard error (delta method on the mean weight).
    fn log_z(log_w: &[f64]) -> (f64, f64) {
        let n = log_w.len() as f64;
        let lz = log_sum_exp_f64(log_w) - n.ln();
        let w: Vec<f64> = log_w.iter().map(|l| (l - lz).exp()).collect();
        let var = w.iter().map(|v| (v - 1.0).powi(2)).sum::<f64>() / (n - 1.0);
        (lz, (var / n).sqrt())
    }

    #[test]
    fn log_z_within_its_error_bar_for_every_kernel() {
        let ends = Gauss1d { ln_c: 1.7 };
        let exact = 1.7 + ((2.0 * std::f64::consts::PI).sqrt() * 0.5).ln();
        let kernels = [
            AisKernel::Metropolis { step: 0.5 },
            AisKernel::Mala { step: 0.05 },
            AisKernel::Hmc {
                leapfrog: 3,
                step: 0.2,
                target_accept: Some(0.65),
            },
        ];
        let plain = AisSettings {
            intermediates: 0,
            kernel: kernels[0],
            moves: 1,
        };
        let is_ess = ess_fraction(
            &ais(start(4000), &ends, &plain, &RngStreams::new(3))
                .unwrap()
                .log_w,
        );
        for kernel in kernels {
            let s = AisSettings {
                intermediates: 100,
                kernel,
                moves: 2,
            };
            let run = ais(start(4000), &ends, &s, &RngStreams::new(3)).unwrap();
            let (lz, se) = log_z(&run.log_w);
            assert!(se < 0.05, "{kernel:?}: standard error {se}");
            assert!(
                (lz - exact).abs() < 4.0 * se,
                "{kernel:?}: log Z {lz} vs exact {exact} (se {se})"
            );
            // The final states follow N(3, 0.5^2): AIS with many levels leaves them close.
            let mean = run.x.iter().map(|&v| v as f64).sum::<f64>() / 4000.0;
            assert!((mean - 3.0).abs() < 0.1, "{kernel:?}: mean {mean}");
            assert!(
                run.acceptance > 0.3,
                "{kernel:?}: acceptance {}",
                run.acceptance
            );
            // Plain importance sampling is far worse at this distance: AIS must be better.
            let ess = ess_fraction(&run.log_w);
            eprintln!("{kernel:?}: log Z {lz:.4} +- {se:.4} (exact {exact:.4}), ESS {ess:.3} (plain IS {is_ess:.4})");
            assert!(
                ess > 5.0 * is_ess,
                "{kernel:?}: ESS {ess}, plain IS {is_ess}"
            );
        }
    }

    #[test]
    fn no_intermediates_is_importance_sampling() {
        let ends = Gauss1d { ln_c: 0.0 };
        let x = start(50);
        let s = AisSettings {
            intermediates: 0,
            kernel: AisKernel::Metropolis { step: 1.0 },
            moves: 1,
        };
        let run = ais(x.clone(), &ends, &s, &RngStreams::new(1)).unwrap();
        let (mut l0, mut l1) = (vec![0.0; 50], vec![0.0; 50]);
        ends.eval(&x, &mut l0, &mut l1, None).unwrap();
        for i in 0..50 {
            assert_eq!(run.log_w[i], l1[i] - l0[i]);
            assert_eq!(run.x[i], x[i]);
        }
        assert!(run.acceptance.is_nan());
    }

    /// Counts the rows `eval` sees.
    struct Counting(Gauss1d, std::cell::Cell<usize>);
    impl AnnealEnds for Counting {
        fn dim(&self) -> usize {
            1
        }
        fn eval(
            &self,
            x: &[f32],
            log0: &mut [f64],
            log1: &mut [f64],
            grads: Option<(&mut [f32], &mut [f32])>,
        ) -> anyhow::Result<()> {
            self.1.set(self.1.get() + x.len());
            self.0.eval(x, log0, log1, grads)
        }
    }

    #[test]
    fn evaluations_are_the_start_plus_one_per_proposal_or_leapfrog_step() {
        for (kernel, per_move) in [
            (AisKernel::Metropolis { step: 0.5 }, 1),
            (AisKernel::Mala { step: 0.05 }, 1),
            (
                AisKernel::Hmc {
                    leapfrog: 3,
                    step: 0.2,
                    target_accept: None,
                },
                3,
            ),
        ] {
            let ends = Counting(Gauss1d { ln_c: 0.0 }, std::cell::Cell::new(0));
            let s = AisSettings {
                intermediates: 4,
                kernel,
                moves: 2,
            };
            ais(start(10), &ends, &s, &RngStreams::new(0)).unwrap();
            assert_eq!(ends.1.get(), 10 * (1 + 4 * 2 * per_move), "{kernel:?}");
        }
    }

    #[test]
    fn hmc_adaptation_moves_the_step_towards_the_target_acceptance() {
        let ends = Gauss1d { ln_c: 0.0 };
        let kernel = AisKernel::Hmc {
            leapfrog: 5,
            step: 3.0,
            target_accept: Some(0.65),
        };
        let s = AisSettings {
            intermediates: 20,
            kernel,
            moves: 1,
        };
        let run = ais(start(500), &ends, &s, &RngStreams::new(2)).unwrap();
        assert!(
            run.step < 3.0,
            "a step of 3 is far too long here: {}",
            run.step
        );
        assert!(kernel.with_step(run.step).step() == run.step);
    }

    #[test]
    fn bad_settings_are_refused() {
        let ends = Gauss1d { ln_c: 0.0 };
        let s = AisSettings {
            intermediates: 2,
            kernel: AisKernel::Mala { step: -1.0 },
            moves: 1,
        };
        let e = ais(start(5), &ends, &s, &RngStreams::new(0)).unwrap_err();
        assert!(e.to_string().contains("step"), "{e}");
    }
}
