//! Observers of an experiment: everything a caller shows or writes while a run goes on (progress
//! bars, the log, checkpoints, the run directory, plots) sees the run through [`Observer`].

use super::report::RunReport;
use crate::sampler::Samples;
use crate::target::Target;
use crate::train::{StepRecord, TrainView};
use candle_nn::VarMap;

/// A training checkpoint: the parameters and the history so far, and with `state` everything a
/// resumed run needs ([`crate::checkpoint::write`] writes it).
pub struct Checkpoint<'a> {
    /// The model's parameters (None for methods without a network).
    pub varmap: Option<&'a VarMap>,
    /// Every step record so far.
    pub history: &'a [StepRecord],
    /// Whether training has ended (successfully, stopped on request, or failed).
    pub last: bool,
    /// The optimiser, the objective, the step and the energy count: present when the state is
    /// one a run can go on from (every `checkpoint_every` steps, at the end, when stopped on
    /// request), absent after a failed step.
    pub state: Option<&'a TrainView<'a>>,
    /// Worker threads of the run (a resumed run uses the same by default).
    pub threads: usize,
    /// Training wall time so far, earlier segments of a resumed run included.
    pub seconds: f64,
}

impl Checkpoint<'_> {
    /// The weights a sampler built from this checkpoint uses, by parameter name: the moving
    /// averages under `train.ema` (when the state is present), else the parameters; None
    /// without a model.
    pub fn sampling_weights(
        &self,
    ) -> anyhow::Result<Option<std::collections::HashMap<String, candle_core::Tensor>>> {
        if let Some(avg) = self.state.and_then(|s| s.trainer).and_then(|t| t.ema()) {
            return Ok(Some(avg.map(|(k, v)| (k.to_string(), v.clone())).collect()));
        }
        let Some(vm) = self.varmap else {
            return Ok(None);
        };
        let data = vm
            .data()
            .lock()
            .map_err(|_| anyhow::anyhow!("parameter map poisoned"))?;
        Ok(Some(
            data.iter()
                .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
                .collect(),
        ))
    }
}

/// The final samples of a run, with what they are compared to.
pub struct SampleSet<'a> {
    /// The evaluated samples (after the corrector, if any), data units.
    pub samples: &'a Samples,
    /// The sampler's own output before the corrector (the first eval.samples rows), if a
    /// corrector ran.
    pub raw: Option<&'a [f32]>,
    /// The reference rows as scored (centre-of-mass free for particles).
    pub reference: &'a [f32],
    /// Their energies (computed once, by the evaluation context).
    pub reference_energy: &'a [f32],
    /// The target, for plot windows, mixtures and particle structure.
    pub target: &'a dyn Target,
}

/// Receives a run's events. Every method has a default that ignores the event.
pub trait Observer {
    /// One line of the run's log.
    fn log(&mut self, _line: &str) {}
    /// A phase with progress starts ("training", "sampling", "reference", ...).
    fn phase(&mut self, _name: &str, _total: u64) {}
    /// Progress within the current phase.
    fn progress(&mut self, _done: u64, _total: u64) {}
    /// The current phase ended.
    fn phase_done(&mut self) {}
    /// One training step's figures.
    fn step(&mut self, _record: &StepRecord) -> anyhow::Result<()> {
        Ok(())
    }
    /// A checkpoint: every `train.checkpoint_every` steps and when training ends.
    fn checkpoint(&mut self, _cp: &Checkpoint<'_>) -> anyhow::Result<()> {
        Ok(())
    }
    /// A training-free sampler's per-step trace, after sampling.
    fn trace(&mut self, _trace: &crate::sampler::Trace) -> anyhow::Result<()> {
        Ok(())
    }
    /// The final samples, before evaluation.
    fn samples(&mut self, _set: &SampleSet<'_>) -> anyhow::Result<()> {
        Ok(())
    }
    /// The finished run's report.
    fn finished(&mut self, _report: &RunReport) -> anyhow::Result<()> {
        Ok(())
    }
}

/// An observer that ignores everything.
pub struct Silent;

impl Observer for Silent {}

/// Hands every event to each observer in turn (the first error stops the rest).
pub struct Fanout<'a>(pub Vec<&'a mut dyn Observer>);

impl Observer for Fanout<'_> {
    fn log(&mut self, line: &str) {
        self.0.iter_mut().for_each(|o| o.log(line));
    }
    fn phase(&mut self, name: &str, total: u64) {
        self.0.iter_mut().for_each(|o| o.phase(name, total));
    }
    fn progress(&mut self, done: u64, total: u64) {
        self.0.iter_mut().for_each(|o| o.progress(done, total));
    }
    fn phase_done(&mut self) {
        self.0.iter_mut().for_each(|o| o.phase_done());
    }
    fn step(&mut self, record: &StepRecord) -> anyhow::Result<()> {
        self.0.iter_mut().try_for_each(|o| o.step(record))
    }
    fn checkpoint(&mut self, cp: &Checkpoint<'_>) -> anyhow::Result<()> {
        self.0.iter_mut().try_for_each(|o| o.checkpoint(cp))
    }
    fn trace(&mut self, trace: &crate::sampler::Trace) -> anyhow::Result<()> {
        self.0.iter_mut().try_for_each(|o| o.trace(trace))
    }
    fn samples(&mut self, set: &SampleSet<'_>) -> anyhow::Result<()> {
        self.0.iter_mut().try_for_each(|o| o.samples(set))
    }
    fn finished(&mut self, report: &RunReport) -> anyhow::Result<()> {
        self.0.iter_mut().try_for_each(|o| o.finished(report))
    }
}
