//! FAB's trained sampler: the flow's own samples (with log q, core's [`FlowSampler`]), and a
//! report of the importance weights the paper evaluates with (fab-torch `get_eval_info` with
//! the AIS target set to p, its kernel in eval mode: no step adaptation):
//!
//! - `flow_ess`: ESS of w = p~/q over the flow samples, 1 / sum_i wbar_i^2 / N;
//! - `ais_ess`, `ais_log_z`: AIS from those N samples towards p with the trained kernel and
//!   step; ESS as above, log Z = LSE(log w) - ln N;
//! - `ais_acceptance`: mean acceptance of the kernel moves.
//!
//! With `eval_ais: false` only `flow_ess` is reported (N energy evaluations).

use crate::config::FabConfig;
use crate::ends::FlowEnds;
use crate::objective::{ais_streams, finite_or_zero_weight};
use nsamp_core::candle::Device;
use nsamp_core::flow_sampler::FlowSampler;
use nsamp_core::mcmc::ais::{ais, AisKernel, AisSettings};
use nsamp_core::numerics::lse::{ess_fraction, log_sum_exp_f64};
use nsamp_core::numerics::rng::RngStreams;
use nsamp_core::sampler::Progress;
use nsamp_core::{CountedTarget, FlowModel, Sampler, Samples};

/// Flow samples plus the AIS evaluation report.
pub struct FabSampler<'a> {
    inner: FlowSampler<'a>,
    target: &'a CountedTarget,
    settings: AisSettings,
    max_grad: Option<f64>,
    eval_ais: bool,
    report: Vec<(String, f64)>,
}

impl<'a> FabSampler<'a> {
    /// The sampler of a trained flow; `step` is the AIS kernel's step after training.
    pub fn new(
        flow: &'a dyn FlowModel,
        target: &'a CountedTarget,
        device: &'a Device,
        cfg: &FabConfig,
        step: f64,
    ) -> Self {
        let mut settings = cfg.ais(step);
        // Evaluation mode: the step is fixed.
        if let AisKernel::Hmc { leapfrog, step, .. } = settings.kernel {
            settings.kernel = AisKernel::Hmc {
                leapfrog,
                step,
                target_accept: None,
            };
        }
        FabSampler {
            inner: FlowSampler {
                flow,
                dim: target.dim(),
                device,
                chunk: 4096,
            },
            target,
            settings,
            max_grad: cfg.max_grad,
            eval_ais: cfg.eval_ais,
            report: Vec::new(),
        }
    }
}

impl Sampler for FabSampler<'_> {
    fn sample(
        &mut self,
        n: usize,
        streams: &RngStreams,
        progress: Progress<'_>,
    ) -> anyhow::Result<Samples> {
        let s = self.inner.sample(n, streams, progress)?;
        self.report.clear();
        let flow_log_w = if self.eval_ais {
            let ends = FlowEnds::new(
                self.inner.flow,
                self.target,
                self.inner.device,
                1.0,
                self.max_grad,
            );
            let run = ais(
                s.x.clone(),
                &ends,
                &self.settings,
                &ais_streams(streams, "fab-eval-ais", 0),
            )?;
            let mut log_w = run.log_w;
            finite_or_zero_weight(&mut log_w);
            self.report.push(("ais_ess".into(), ess_fraction(&log_w)));
            self.report.push((
                "ais_log_z".into(),
                log_sum_exp_f64(&log_w) - (n as f64).ln(),
            ));
            self.report.push(("ais_acceptance".into(), run.acceptance));
            let first = ends.first.borrow_mut().take();
            first.unwrap_or_default()
        } else {
            let mut e = vec![0f32; n];
            self.target.energy(&s.x, &mut e)?;
            let lq = s.log_q.as_deref().unwrap_or_default();
            e.iter()
                .zip(lq)
                .map(|(e, q)| -(*e as f64) - *q as f64)
                .collect()
        };
        let mut flow_log_w = flow_log_w;
        finite_or_zero_weight(&mut flow_log_w);
        self.report
            .insert(0, ("flow_ess".into(), ess_fraction(&flow_log_w)));
        Ok(s)
    }

    fn report(&self) -> Vec<(String, f64)> {
        self.report.clone()
    }
}
