//! The trained PIS sampler: n paths of the controlled SDE (chunked), the terminal states in data
//! units, and the path weights' ESS and log Z (the DEM code's `pis_logZ`).

use crate::objective::log_z_data_units;
use crate::sde::{ControlledSde, ScaledTarget};
use nsamp_core::candle::{DType, Device};
use nsamp_core::numerics::lse::ess_fraction;
use nsamp_core::numerics::rng::{fill_normal, RngStreams};
use nsamp_core::sampler::Progress;
use nsamp_core::{ControlModel, CountedTarget, Sampler, Samples};

/// Draws x = s y_1 from the controlled SDE; noise of chunk c from the stream ("pis-sample", c).
pub struct PisSampler<'a> {
    control: &'a dyn ControlModel,
    target: &'a CountedTarget,
    device: &'a Device,
    sde: ControlledSde,
    scale: f32,
    chunk: usize,
    log_w: Vec<f64>,
}

impl<'a> PisSampler<'a> {
    /// The sampler over a trained drift.
    pub fn new(
        control: &'a dyn ControlModel,
        target: &'a CountedTarget,
        device: &'a Device,
        sde: ControlledSde,
        scale: f32,
        chunk: usize,
    ) -> Self {
        PisSampler {
            control,
            target,
            device,
            sde,
            scale,
            chunk: chunk.max(1),
            log_w: Vec::new(),
        }
    }
    /// The path log-weights of the last draw (sampler units y = x / s).
    pub fn log_weights(&self) -> &[f64] {
        &self.log_w
    }
}

impl Sampler for PisSampler<'_> {
    fn sample(
        &mut self,
        n: usize,
        streams: &RngStreams,
        progress: Progress<'_>,
    ) -> anyhow::Result<Samples> {
        let d = self.target.dim();
        let mut x = Vec::with_capacity(n * d);
        self.log_w.clear();
        let mut target = ScaledTarget::new(self.target, self.scale);
        let mut done = 0;
        for (c, start) in (0..n).step_by(self.chunk).enumerate() {
            let m = self.chunk.min(n - start);
            let mut rng = streams.stream("pis-sample", c as u64);
            let mut noise = |buf: &mut [f32]| fill_normal(&mut rng, buf);
            let paths = self.sde.simulate(
                self.control,
                &mut target,
                &mut noise,
                m,
                d,
                DType::F32,
                self.device,
                false,
            )?;
            x.extend(paths.y1.iter().map(|v| v * self.scale));
            self.log_w.extend_from_slice(&paths.log_w);
            done += m;
            progress(done as u64, n as u64);
        }
        Ok(Samples::new(x, d))
    }

    /// `ess` (fraction of n) and `log_z` = LSE(log w) - ln n in data units (+ d ln s) of the last
    /// draw's path weights, and `log_z_lower` = mean log w (+ d ln s), the ELBO.
    fn report(&self) -> Vec<(String, f64)> {
        if self.log_w.is_empty() {
            return Vec::new();
        }
        let d = self.target.dim();
        let shift = d as f64 * (self.scale as f64).ln();
        let mean = self.log_w.iter().sum::<f64>() / self.log_w.len() as f64;
        vec![
            ("ess".into(), ess_fraction(&self.log_w)),
            ("log_z".into(), log_z_data_units(&self.log_w, d, self.scale)),
            ("log_z_lower".into(), mean + shift),
        ]
    }
}
