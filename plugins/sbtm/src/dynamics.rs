//! What SBTM and ULA share: the particles' start, the time grid, the annealed target score and
//! the per-step diagnostics (module `diagnostics`) recorded into a [`Trace`].

use crate::anneal::{annealed_score, Annealing, Prior};
use crate::diagnostics::{exact_gaussian_flow, fisher, gaussian_fit_kl, kde_kl};
use nsamp_core::numerics::rng::{fill_normal, RngStreams};
use nsamp_core::{CountedTarget, Trace};

/// Declares a particle sampler's config with [`nsamp_core::config!`]: its own fields, then the
/// fields every particle sampler shares.
macro_rules! particle_config {
    (
        $(#[doc = $doc:literal])*
        pub struct $name:ident {
            $( $(#[doc = $fdoc:literal])+ $field:ident: $ty:ty = $default:expr, )*
        }
    ) => {
        nsamp_core::config! {
            $(#[doc = $doc])*
            pub struct $name {
                /// The Gaussian prior N(mean, std^2 I) the particles start from.
                prior: $crate::anneal::Prior = Default::default(),
                /// Time steps.
                steps: usize = 1000,
                /// Step size dt; None = 0.1 n / sum_i |grad log pi(x_i)|^2 at the start.
                dt: Option<f64> = None,
                /// Annealing of the target: Off, Geometric, Dilation or TemperedDilation (the public
                /// code's dilation), lambda(t) = t / t_end.
                annealing: $crate::anneal::Annealing = Default::default(),
                /// Record the diagnostics every this many steps (the KDE costs n^2 d).
                trace_every: usize = 10,
                $( $(#[doc = $fdoc])+ $field: $ty = $default, )*
            }
        }

        impl $name {
            /// n prior particles and the run over them (`extra` trace columns of the sampler).
            pub fn start(
                &self,
                target: &nsamp_core::CountedTarget,
                n: usize,
                streams: &nsamp_core::numerics::rng::RngStreams,
                extra: &[&str],
            ) -> anyhow::Result<(Vec<f32>, $crate::dynamics::Dynamics)> {
                $crate::dynamics::Dynamics::start(
                    target,
                    self.prior,
                    self.annealing,
                    self.dt,
                    (self.steps, self.trace_every),
                    n,
                    streams,
                    extra,
                )
            }
        }
    };
}
pub(crate) use particle_config;

/// A particle run over a target: the time grid and the diagnostics.
pub struct Dynamics {
    /// The counted target (the sampler's cost).
    pub target: CountedTarget,
    /// The same target on a counter of its own: diagnostics are not part of the budget.
    diag: CountedTarget,
    /// The prior.
    pub prior: Prior,
    /// The annealing.
    pub annealing: Annealing,
    /// Step size.
    pub dt: f64,
    /// Steps.
    pub steps: usize,
    trace_every: usize,
    /// For a single isotropic Gaussian target: (mean, variance).
    gaussian: Option<(Vec<f32>, f64)>,
    /// Whether the exact law of the flow is known (Gaussian target, centred prior, no annealing).
    exact: bool,
    /// The trace so far.
    pub trace: Trace,
    scratch: Vec<f32>,
}

impl Dynamics {
    /// n draws of the prior (the `particles-prior` stream) and the run over them.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        target: &CountedTarget,
        prior: Prior,
        annealing: Annealing,
        dt: Option<f64>,
        (steps, trace_every): (usize, usize),
        n: usize,
        streams: &RngStreams,
        extra: &[&str],
    ) -> anyhow::Result<(Vec<f32>, Self)> {
        let mut x = vec![0f32; n * target.dim()];
        fill_normal(&mut streams.stream("particles-prior", 0), &mut x);
        x.iter_mut().for_each(|v| *v = prior.mean + prior.std * *v);
        let d = Dynamics::new(target, prior, annealing, dt, steps, trace_every, &x, extra)?;
        Ok((x, d))
    }

    /// Sets up the run; `dt` None takes 0.1 n / sum_i |grad log pi(x_i)|^2 at the prior draws `x`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        target: &CountedTarget,
        prior: Prior,
        annealing: Annealing,
        dt: Option<f64>,
        steps: usize,
        trace_every: usize,
        x: &[f32],
        extra_columns: &[&str],
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(steps >= 1, "steps must be at least 1");
        anyhow::ensure!(prior.std > 0.0, "prior.std must be positive");
        anyhow::ensure!(trace_every >= 1, "trace_every must be at least 1");
        let diag = target.recount();
        let dt = match dt {
            Some(dt) => dt,
            None => {
                let mut g = vec![0f32; x.len()];
                diag.grad_energy(x, &mut g)?;
                let sq: f64 = g.iter().map(|v| (*v as f64).powi(2)).sum();
                0.1 * (x.len() / target.dim()) as f64 / sq.max(1e-300)
            }
        };
        anyhow::ensure!(dt > 0.0 && dt.is_finite(), "dt must be positive, got {dt}");
        let gaussian = target.inner().mixture().and_then(|m| {
            let iso = m.stds.iter().all(|s| *s == m.stds[0]);
            (m.len() == 1 && iso).then(|| (m.means.clone(), (m.stds[0] as f64).powi(2)))
        });
        let mut columns = vec!["t", "fisher", "fisher_dkl", "kl_kde", "kl_gauss"];
        // The exact flow is known from a prior centred on the Gaussian target's mean.
        let exact = annealing == Annealing::Off
            && gaussian
                .as_ref()
                .is_some_and(|(mu, _)| mu.iter().all(|m| *m == prior.mean));
        if exact {
            columns.extend(["kl_exact", "fisher_exact"]);
        }
        columns.extend(extra_columns);
        Ok(Dynamics {
            target: target.clone(),
            diag,
            prior,
            annealing,
            dt,
            steps,
            trace_every,
            gaussian,
            exact,
            trace: Trace::new(&columns),
            scratch: Vec::new(),
        })
    }

    /// lambda(t) = t / t_end at the start of step k.
    pub fn lambda(&self, k: usize) -> f32 {
        k as f32 / self.steps as f32
    }

    /// grad log pi_t at step k for the particles `x`, counted as the sampler's cost.
    pub fn drift(&mut self, k: usize, x: &[f32], out: &mut [f32]) -> anyhow::Result<()> {
        let lambda = self.lambda(k);
        annealed_score(
            &self.target,
            self.annealing,
            &self.prior,
            lambda,
            x,
            out,
            &mut self.scratch,
        )
    }

    /// Whether step k records the diagnostics (every `trace_every` steps and the last).
    pub fn records(&self, k: usize) -> bool {
        k.is_multiple_of(self.trace_every) || k + 1 == self.steps
    }

    /// Records one row at step k: the Fisher information of `score` (the learned or KDE score of
    /// the particles) against the target, the KLs, and the sampler's `extra` figures.
    pub fn record(
        &mut self,
        k: usize,
        x: &[f32],
        score: &[f32],
        extra: &[f64],
    ) -> anyhow::Result<()> {
        let dim = self.target.dim();
        let n = x.len() / dim;
        let t = k as f64 * self.dt;
        let (mut e, mut g) = (vec![0f32; n], vec![0f32; x.len()]);
        self.diag.energy_and_grad(x, &mut e, &mut g)?;
        g.iter_mut().for_each(|v| *v = -*v);
        let fi = fisher(score, &g, dim);
        let kl_kde = match self.target.inner().log_z() {
            Some(log_z) => kde_kl(x, dim, &e, log_z),
            None => f64::NAN,
        };
        let kl_gauss = match &self.gaussian {
            Some((mu, s2)) => gaussian_fit_kl(x, dim, mu, *s2),
            None => f64::NAN,
        };
        let mut row = vec![t, fi, f64::NAN, kl_kde, kl_gauss];
        if let (Some((_, s2)), true) = (&self.gaussian, self.exact) {
            let p2 = (self.prior.std as f64).powi(2);
            let (_, kl, fe) = exact_gaussian_flow(p2, *s2, dim, t);
            row.extend([kl, fe]);
        }
        row.extend_from_slice(extra);
        // -dKL/dt by a backward difference of the Gaussian-fit KL (else the KDE KL).
        if let Some(prev) = self.trace.rows.last() {
            let (kl_now, kl_prev) = if kl_gauss.is_finite() {
                (kl_gauss, prev[4])
            } else {
                (kl_kde, prev[3])
            };
            row[2] = -(kl_now - kl_prev) / (t - prev[0]);
        }
        self.trace.rows.push(row);
        Ok(())
    }

    /// Appends the positions of the first 8 particles to their paths (2-D targets only).
    pub fn track(&mut self, x: &[f32]) {
        if self.target.dim() != 2 {
            return;
        }
        let k = (x.len() / 2).min(8);
        self.trace.paths.resize(k, Vec::new());
        for (i, path) in self.trace.paths.iter_mut().enumerate() {
            path.push((x[2 * i], x[2 * i + 1]));
        }
    }

    /// The last recorded row's named values, for the sampler's report.
    pub fn final_figures(&self) -> Vec<(String, f64)> {
        let mut out = vec![("dt".to_string(), self.dt)];
        if let Some(last) = self.trace.rows.last() {
            for (c, v) in self.trace.columns.iter().zip(last).skip(1) {
                if v.is_finite() && c != "fisher_dkl" {
                    out.push((c.clone(), *v));
                }
            }
        }
        out
    }
}
