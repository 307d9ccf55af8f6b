//! The experiment as a library: `Experiment::from_recipe(recipe)?.run(&mut observer)` trains,
//! samples, corrects and evaluates, and returns a typed [`RunReport`]. Progress bars, logs, the
//! run directory and plots are [`Observer`]s; the runner is a CLI over this.
//!
//! The protocol of one run:
//! 1. the evaluation context (metrics, the reference set and its energies) is built first, so a
//!    missing reference fails before any training and an MCMC reference is drawn or reused;
//! 2. training (trained methods): the objective's initialisation, then `train.steps` steps,
//!    checkpoints every `train.checkpoint_every` steps and at the end;
//! 3. sampling: `eval.samples` x k samples (k: the corrector's proposals per sample), then the
//!    corrector, if any; then, for the nsamp protocol's TVDs, the rows up to `eval.tvd_samples`
//!    from streams of their own (so the first `eval.samples` rows, and every other metric, do
//!    not depend on it);
//! 4. evaluation of the final samples, of the sampler's own output when a corrector ran, and
//!    the floor (exact samples, else the reference's split halves), all against the one context.

pub mod assemble;
pub mod curve;
pub mod observer;
pub mod report;

pub use assemble::{build_target, ensure_registry, Assembled};
pub use observer::{Checkpoint, Fanout, Observer, SampleSet, Silent};
pub use report::{
    final_diagnostics, EnergyEvals, EvalProtocol, Figures, ModeOccupancy, RunReport, WallTimes,
};

use crate::checkpoint::Saved;
use crate::error::NsampError;
use crate::eval::{EvalContext, Floor};
use crate::metric::ModelDensity;
use crate::recipe::Recipe;
use crate::sampler::Samples;
use crate::train::{self, StepRecord, TrainObserver, TrainSettings, TrainView, Trainer};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

/// One run of a recipe.
pub struct Experiment {
    /// The assembled components.
    pub parts: Assembled,
    /// Worker threads (recorded in the report; the caller configures the pools).
    pub threads: usize,
    /// Set (by a signal handler, another thread) to stop training before the next step.
    pub stop: Arc<AtomicBool>,
    /// True from the objective's initialisation until training ends well: while it is, the
    /// training loop answers `stop` (with a checkpoint); outside it a caller's handler may
    /// simply exit (the state is whatever was last written).
    pub training: Arc<AtomicBool>,
    /// A checkpoint to go on from instead of starting training afresh.
    resume: Option<Saved>,
    /// Training wall time of the earlier segments of a resumed run.
    earlier_seconds: f64,
}

/// What sampling and correction produced.
struct Final {
    /// The scored rows: the first `n` are the `eval.samples` set, all of them the wide set of
    /// the nsamp protocol's TVDs.
    samples: Samples,
    /// Rows of the `eval.samples` set.
    n: usize,
    /// The sampler's first eval.samples rows and their log q, kept for the density metrics of
    /// a flow and, with a corrector, for the metrics before it.
    raw: Option<(Vec<f32>, Option<Vec<f32>>)>,
    /// With a corrector and a wide set: the sampler's own rows of the wide set.
    raw_wide: Option<Vec<f32>>,
    corrector: Vec<(String, f64)>,
    sampler: Vec<(String, f64)>,
    evals: EnergyEvals,
    /// Energy evaluations of the wide set's further rows (evaluation, not the method's budget).
    wide_evals: u64,
    seconds: f64,
}

impl Final {
    /// The `eval.samples` rows.
    fn narrow(&self) -> &[f32] {
        &self.samples.x[..self.n * self.samples.dim]
    }
    /// All rows when there are more than the `eval.samples` set.
    fn wide(&self) -> Option<&[f32]> {
        (self.samples.n() > self.n).then_some(&self.samples.x[..])
    }
}

/// What the evaluation produced.
struct Scored {
    metrics: Figures,
    floor: Option<crate::eval::Floor>,
    before: Option<Figures>,
    occupancy: Option<ModeOccupancy>,
    seconds: f64,
}

impl Experiment {
    /// Assembles every component of `recipe` (records rayon's current thread count until
    /// [`Self::with_threads`]).
    pub fn from_recipe(recipe: Recipe) -> anyhow::Result<Self> {
        Ok(Experiment {
            parts: Assembled::new(recipe)?,
            threads: crate::threads::current(),
            stop: Arc::new(AtomicBool::new(false)),
            training: Arc::new(AtomicBool::new(false)),
            resume: None,
            earlier_seconds: 0.0,
        })
    }

    /// Goes on from `saved` (read by [`crate::checkpoint::read`] from the run directory of the
    /// same recipe): training restarts at its step with its parameters, optimiser moments,
    /// objective state and energy count, so the run ends as the uninterrupted one would.
    pub fn resuming(mut self, saved: Saved) -> anyhow::Result<Self> {
        anyhow::ensure!(
            self.parts.objective.is_some(),
            "only trained methods have checkpoints; this recipe names a training-free sampler"
        );
        anyhow::ensure!(
            saved.steps_done <= self.parts.recipe.train.steps,
            "the checkpoint is at step {}, past the recipe's train.steps {}",
            saved.steps_done,
            self.parts.recipe.train.steps
        );
        self.earlier_seconds = saved.training_seconds;
        self.resume = Some(saved);
        Ok(self)
    }

    /// Uses `stop` and `training` (see the fields) instead of the experiment's own flags, e.g.
    /// process-wide ones that signal handlers set and read.
    pub fn with_flags(mut self, stop: Arc<AtomicBool>, training: Arc<AtomicBool>) -> Self {
        self.stop = stop;
        self.training = training;
        self
    }

    /// Records the worker-thread count in the report.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// The recipe.
    pub fn recipe(&self) -> &Recipe {
        &self.parts.recipe
    }

    /// The target's config as compact RON (part of a reference cache key).
    pub fn target_ron(&self) -> anyhow::Result<String> {
        target_ron(&self.parts.recipe)
    }

    /// Trains, samples, corrects, evaluates; every event goes to `obs`.
    pub fn run(&mut self, obs: &mut dyn Observer) -> anyhow::Result<RunReport> {
        self.header(obs);
        let cx = EvalContext::new(
            &self.parts.target,
            &self.target_ron()?,
            &self.parts.recipe.eval,
            obs,
        )?;
        let started = Instant::now();
        let history = self.train(obs)?;
        let train_time = self.earlier_seconds + started.elapsed().as_secs_f64();
        let train_evals = self.parts.target.evals();
        let drawn = self.sample_and_correct(train_evals, self.wide_rows(&cx), obs)?;
        obs.samples(&SampleSet {
            samples: &drawn.samples,
            raw: self.raw_if_corrected(&drawn),
            reference: cx.reference(),
            reference_energy: cx.reference_energy(),
            target: self.parts.target.inner(),
        })?;
        let scored = self.evaluate(&cx, &drawn)?;
        let report = self.report(&cx, &history, train_time, drawn, scored);
        self.footer(&report, obs);
        obs.finished(&report)?;
        Ok(report)
    }

    fn header(&self, obs: &mut dyn Observer) {
        let r = &self.parts.recipe;
        let method = match &r.sampler {
            Some(s) => format!("sampler {}", s.name),
            None => format!(
                "{} | objective {}",
                self.parts.describe_model(),
                r.method_name()
            ),
        };
        obs.log(&format!(
            "nsamp {} | recipe {} | seed {} | threads {} | target {} | {method}",
            env!("CARGO_PKG_VERSION"),
            r.name,
            r.seed,
            self.threads,
            r.target.name,
        ));
    }

    /// The objective's initialisation (or the checkpoint's state when resuming) and the
    /// training steps; checkpoints through `obs`.
    fn train(&mut self, obs: &mut dyn Observer) -> anyhow::Result<Vec<StepRecord>> {
        let settings = self.parts.recipe.train.clone();
        let varmap = self.parts.varmap.clone();
        let threads = self.threads;
        let earlier = self.earlier_seconds;
        let stop = Arc::clone(&self.stop);
        let resume = self.resume.take();
        let training_flag = Arc::clone(&self.training);
        let (objective, cx) = self.parts.split();
        let Some(objective) = objective else {
            return Ok(Vec::new());
        };
        let mut trainer = varmap
            .as_ref()
            .map(|vm| Trainer::new(vm, settings.lr, settings.grad_clip)?.with_ema(settings.ema))
            .transpose()?;
        let started = Instant::now();
        training_flag.store(true, std::sync::atomic::Ordering::SeqCst);
        let history = match resume {
            Some(saved) => {
                let h = saved.restore(varmap.as_ref(), trainer.as_mut(), objective, &cx)?;
                obs.log(&format!(
                    "resumed from the checkpoint after step {} ({} energy evals so far)",
                    h.len(),
                    cx.target.evals()
                ));
                h
            }
            None => {
                obs.log("initialising the objective (e.g. the initial replay buffer)...");
                objective.init(&cx)?;
                obs.log(&format!(
                    "initialised in {:.1}s ({} energy evals); training {} steps",
                    started.elapsed().as_secs_f64(),
                    cx.target.evals(),
                    settings.steps
                ));
                Vec::with_capacity(settings.steps as usize)
            }
        };
        let start = history.len() as u64;
        obs.phase("training", settings.steps);
        obs.progress(start, settings.steps);
        let mut watch = Watch {
            obs,
            history,
            settings: &settings,
            varmap: varmap.as_ref(),
            threads,
            earlier,
            started,
        };
        let res = train::train(
            objective,
            trainer.as_mut(),
            &cx,
            &settings,
            start,
            &stop,
            &mut watch,
        );
        let Watch { obs, history, .. } = watch;
        obs.phase_done();
        // The state is one to go on from unless a step failed half-way.
        let resumable = match &res {
            Ok(()) => true,
            Err(e) => matches!(
                e.downcast_ref::<NsampError>(),
                Some(NsampError::Interrupted { .. })
            ),
        };
        let view = TrainView {
            steps_done: history.len() as u64,
            energy_evals: cx.target.evals(),
            trainer: trainer.as_ref(),
            objective: &*objective,
        };
        obs.checkpoint(&Checkpoint {
            varmap: varmap.as_ref(),
            history: &history,
            last: true,
            state: resumable.then_some(&view),
            threads,
            seconds: earlier + started.elapsed().as_secs_f64(),
        })?;
        if res.is_ok() {
            training_flag.store(false, std::sync::atomic::Ordering::SeqCst);
            // Sample with the averaged weights (train.ema); the checkpoint above kept both.
            if let Some(t) = &trainer {
                t.load_ema_into_parameters()?;
            }
        }
        res.map(|()| history)
    }

    /// Rows of the TVD set the sampler draws: the context's, except for a training-free sampler
    /// whose rows depend on how many it draws (interacting particles): those score their TVDs
    /// on the `eval.samples` particles.
    fn wide_rows(&self, cx: &EvalContext) -> usize {
        match &self.parts.sampler {
            Some(s) if !s.independent_rows() => 0,
            _ => cx.wide_rows(),
        }
    }

    /// Draws eval.samples (x the corrector's proposals per sample) and corrects them; then the
    /// further rows up to `wide_rows` (the nsamp protocol's TVD set) the same way from streams
    /// of their own.
    fn sample_and_correct(
        &mut self,
        train_evals: u64,
        wide_rows: usize,
        obs: &mut dyn Observer,
    ) -> anyhow::Result<Final> {
        let started = Instant::now();
        let n = self.parts.recipe.eval.samples;
        let per_sample = self
            .parts
            .corrector
            .as_ref()
            .map_or(1, |c| c.proposals_per_sample());
        let streams = self.parts.streams.derive("final-sample");
        obs.phase("sampling", 1);
        let drawn = self
            .parts
            .draw(n * per_sample, &streams, &mut |d, t| obs.progress(d, t));
        obs.phase_done();
        let crate::sampler::Drawn {
            samples,
            report: sampler,
            trace,
        } = drawn?;
        if let Some(t) = &trace {
            obs.trace(t)?;
        }
        let target = &self.parts.target;
        let sample_evals = target.evals() - train_evals;
        let has_corrector = self.parts.corrector.is_some();
        let raw = (has_corrector || samples.log_q.is_some()).then(|| {
            (
                samples.x[..n * samples.dim].to_vec(),
                samples.log_q.as_ref().map(|l| l[..n].to_vec()),
            )
        });
        let (mut samples, corrector) = match self.parts.corrector.as_mut() {
            Some(c) => {
                let out = c.correct(samples, target, &self.parts.streams.derive("corrector"))?;
                (out.samples, out.report)
            }
            None => (samples, Vec::new()),
        };
        let evals = EnergyEvals {
            training: train_evals,
            sampling: sample_evals,
            correction: target.evals() - train_evals - sample_evals,
        };
        let before_wide = target.evals();
        let mut raw_wide = None;
        let extra = wide_rows.saturating_sub(n);
        if extra > 0 {
            obs.phase("sampling the TVD set", 1);
            let more = self.parts.draw(
                extra * per_sample,
                &streams.derive("tvd-set"),
                &mut |d, t| obs.progress(d, t),
            );
            obs.phase_done();
            let more = more?.samples;
            let dim = more.dim;
            if let Some((x, _)) = &raw {
                raw_wide = Some([&x[..], &more.x[..extra * dim]].concat());
            }
            let more = match self.parts.corrector.as_mut() {
                Some(c) => {
                    let streams = self.parts.streams.derive("corrector").derive("tvd-set");
                    c.correct(more, &self.parts.target, &streams)?.samples
                }
                None => more,
            };
            // The wide set's log q is not used (the density metrics read `raw`).
            samples.log_q = None;
            samples.x.extend_from_slice(&more.x[..extra * dim]);
        }
        Ok(Final {
            samples,
            n,
            raw,
            raw_wide,
            corrector,
            sampler,
            evals,
            wide_evals: self.parts.target.evals() - before_wide,
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    fn raw_if_corrected<'a>(&self, drawn: &'a Final) -> Option<&'a [f32]> {
        match (&drawn.raw, self.parts.corrector.is_some()) {
            (Some((x, _)), true) => Some(x),
            _ => None,
        }
    }

    /// A flow's density at its own raw samples and at the reference.
    fn density(&self, cx: &EvalContext, drawn: &Final) -> anyhow::Result<Option<ModelDensity>> {
        let flow = self.parts.model.as_deref().and_then(|m| m.as_flow());
        let (Some(flow), Some((x, Some(log_q)))) = (flow, &drawn.raw) else {
            return Ok(None);
        };
        let d = self.parts.target.dim();
        let device = &self.parts.device;
        let log_prob = |rows: &[f32]| -> anyhow::Result<Vec<f32>> {
            let mut out = Vec::with_capacity(rows.len() / d);
            for c in rows.chunks(4096 * d) {
                let x = candle_core::Tensor::from_slice(c, (c.len() / d, d), device)?;
                out.extend(flow.log_prob(&x)?.to_vec1::<f32>()?);
            }
            Ok(out)
        };
        Ok(Some(cx.density(x, log_q, &log_prob)?))
    }

    /// Scores the final samples, the sampler's own output (with a corrector) and the floor.
    fn evaluate(&self, cx: &EvalContext, drawn: &Final) -> anyhow::Result<Scored> {
        let started = Instant::now();
        let density = self.density(cx, drawn)?;
        let metrics = cx.score_with(drawn.narrow(), None, drawn.wide(), density.as_ref())?;
        let raw = self.raw_if_corrected(drawn);
        // The raw samples are the flow's own samples of `density`: their energies are known.
        let known = density.as_ref().map(|d| &d.sample_energy[..]);
        let before = raw
            .map(|x| cx.score_with(x, known, drawn.raw_wide.as_deref(), density.as_ref()))
            .transpose()?;
        let floor = if self.parts.recipe.eval.exact_floor {
            let streams = self.parts.streams.derive("exact-floor");
            let n_wide = drawn.wide().map_or(0, |_| drawn.samples.n());
            cx.floor(drawn.n, n_wide, &streams)?
        } else {
            None
        };
        let occupancy = self.parts.target.inner().mixture().map(|mix| {
            let share = |x: &[f32]| crate::metrics::modes::mode_coverage(mix, x, None).occupancy;
            ModeOccupancy {
                weights: mix.weights.clone(),
                samples: share(drawn.narrow()),
                before_corrector: raw.map(share),
            }
        });
        Ok(Scored {
            metrics,
            floor,
            before,
            occupancy,
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    fn report(
        &self,
        cx: &EvalContext,
        history: &[StepRecord],
        train_time: f64,
        drawn: Final,
        scored: Scored,
    ) -> RunReport {
        let eval_protocol = EvalProtocol {
            samples: drawn.n,
            reference: cx.description.clone(),
            n_reference: cx.n_reference(),
            tvd_samples: drawn.samples.n(),
            tvd_reference: if drawn.wide().is_some() {
                cx.n_wide_reference()
            } else {
                cx.n_reference()
            },
            tvd_sampling_energy_evals: drawn.wide_evals,
            floor_tvd_rows: scored.floor.as_ref().map_or(0, |f| f.tvd_rows),
        };
        let (exact_floor, split_half_floor) = Floor::into_fields(scored.floor);
        let r = &self.parts.recipe;
        RunReport {
            recipe: r.name.clone(),
            seed: r.seed,
            threads: self.threads,
            nsamp_version: env!("CARGO_PKG_VERSION").into(),
            target: r.target.name.into(),
            model: self.parts.describe_model(),
            parameters: self.parts.parameters(),
            objective: r.objective.as_ref().map(|o| o.name.to_string()),
            sampler: r.sampler.as_ref().map(|s| s.name.to_string()),
            train_steps: r.train.steps,
            train_diagnostics: final_diagnostics(history),
            metrics: scored.metrics,
            exact_floor,
            split_half_floor,
            metrics_before_corrector: scored.before,
            mode_occupancy: scored.occupancy,
            corrector: drawn.corrector.into_iter().collect(),
            sampler_report: drawn.sampler.into_iter().collect(),
            energy_evals: drawn.evals,
            evaluation_energy_evals: cx.energy_evals(),
            wall_time_s: WallTimes {
                training: train_time,
                sampling: drawn.seconds,
                evaluation: scored.seconds,
            },
            eval_protocol,
        }
    }

    fn footer(&self, report: &RunReport, obs: &mut dyn Observer) {
        if let Some(occ) = &report.mode_occupancy {
            let fmt = |v: &[f64]| {
                v.iter()
                    .map(|o| format!("{o:.3}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            obs.log(&format!("share per component: {}", fmt(&occ.samples)));
            if let Some(b) = &occ.before_corrector {
                obs.log(&format!("  before the corrector: {}", fmt(b)));
            }
        }
        let (e, w) = (&report.energy_evals, &report.wall_time_s);
        obs.log(&format!(
            "done: training {:.1}s ({} energy evals), sampling {:.1}s ({}), evaluation {:.1}s",
            w.training, e.training, w.sampling, e.sampling, w.evaluation
        ));
    }
}

/// A recipe's target config as compact RON (`Phi4(l: 8, m2: -4.0, lambda: 8.0)`).
pub fn target_ron(recipe: &Recipe) -> anyhow::Result<String> {
    Ok(crate::registry::to_ron_compact(&recipe.target)?)
}

/// Forwards the trainer's steps to the observer: log lines every `log_every` steps, checkpoints
/// every `checkpoint_every` steps.
struct Watch<'a, 'o> {
    obs: &'o mut dyn Observer,
    history: Vec<StepRecord>,
    settings: &'a TrainSettings,
    varmap: Option<&'a candle_nn::VarMap>,
    threads: usize,
    earlier: f64,
    started: Instant,
}

impl TrainObserver for Watch<'_, '_> {
    fn on_step(&mut self, r: &StepRecord, state: &TrainView<'_>) -> anyhow::Result<()> {
        self.history.push(r.clone());
        self.obs.step(r)?;
        self.obs.progress(r.step + 1, self.settings.steps);
        let step = r.step + 1;
        if step.is_multiple_of(self.settings.log_every) || step == self.settings.steps {
            self.obs.log(&format!(
                "step {step}/{} loss {:.4e} grad_norm {:.3e} energy_evals {} elapsed {:.1}s",
                self.settings.steps,
                r.loss,
                r.grad_norm,
                r.energy_evals,
                self.started.elapsed().as_secs_f64()
            ));
        }
        if step.is_multiple_of(self.settings.checkpoint_every) {
            self.obs.checkpoint(&Checkpoint {
                varmap: self.varmap,
                history: &self.history,
                last: false,
                state: Some(state),
                threads: self.threads,
                seconds: self.earlier + self.started.elapsed().as_secs_f64(),
            })?;
        }
        Ok(())
    }
}
