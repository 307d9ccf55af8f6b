//! `Fab(...)`: the recipe settings of FAB (defaults: fab-torch @ b1586a9,
//! `experiments/config/gmm.yaml`, with the prioritised buffer of the paper's GMM runs).

use nsamp_core::mcmc::ais::{AisKernel, AisSettings};

nsamp_core::config! {
    /// `Fab(alpha: 2.0, intermediates: 1, kernel: Metropolis(step: 5.0), ...)`: FAB with the
    /// prioritised replay buffer; one nsamp training step is one minibatch gradient step, and a
    /// new AIS batch of `train.batch` points enters the buffer every `minibatches` steps.
    pub struct FabConfig {
        /// alpha of the divergence D_alpha(p || q) FAB minimises; AIS targets
        /// g = p^alpha q^(1 - alpha) (paper and fab-torch: 2.0). Must be >= 1.
        alpha: f64 = 2.0,
        /// AIS intermediate distributions between q and g, beta linear over intermediates + 2
        /// points (fab-torch GMM: 1).
        intermediates: usize = 1,
        /// AIS transition kernel at every intermediate level: Metropolis(step: 5.0) (fab-torch
        /// GMM, fixed step), Hmc(leapfrog: 5, step: .., target_accept: Some(0.65)) (step adapted
        /// per level and carried from one AIS batch to the next, saved in checkpoints), or
        /// Mala(step: ..).
        kernel: AisKernel = AisKernel::Metropolis { step: 5.0 },
        /// Kernel moves per intermediate level (fab-torch n_inner_steps: 1).
        moves: usize = 1,
        /// Element-wise clip of grad log q and grad log g in gradient kernels (fab-torch's HMC
        /// clips at 1e3); None: no clip.
        max_grad: Option<f64> = None,
        /// Replay buffer capacity in rows, FIFO (fab-torch maximum_buffer_length, GMM: 12800).
        buffer_max: usize = 12800,
        /// Rows of AIS samples the buffer is filled with before the first step
        /// (fab-torch min_buffer_length, GMM: 1280); at least minibatches * train.batch.
        buffer_min: usize = 1280,
        /// Minibatches k drawn (without replacement, one set of k * batch rows) per AIS batch
        /// (fab-torch n_batches_buffer_sampling: 4).
        minibatches: usize = 4,
        /// Clip of the loss weight w_adj = exp(log w_adj) from above (fab-torch w_adjust_max_clip:
        /// null for GMM; the SE(3) FAB configs for DW-4/LJ-13: 10); the buffer's weights are
        /// adjusted unclipped. None: no clip.
        w_adjust_clip: Option<f64> = None,
        /// Whether the trained sampler's report runs AIS from its flow samples towards p
        /// (ais_ess, ais_log_z; energy evaluations counted as sampling). false: only flow_ess.
        eval_ais: bool = true,
    }
}

impl FabConfig {
    /// Range checks with messages naming the field.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.alpha.is_finite() && self.alpha >= 1.0,
            "Fab: `alpha` must be >= 1 (the paper's alpha = 2), got {}",
            self.alpha
        );
        anyhow::ensure!(
            self.intermediates <= 10_000,
            "Fab: `intermediates` must be at most 10000, got {}",
            self.intermediates
        );
        anyhow::ensure!(
            (1..=10_000).contains(&self.moves),
            "Fab: `moves` must be between 1 and 10000, got {}",
            self.moves
        );
        anyhow::ensure!(
            (1..=1024).contains(&self.minibatches),
            "Fab: `minibatches` must be between 1 and 1024, got {}",
            self.minibatches
        );
        if let Some(c) = self.w_adjust_clip {
            anyhow::ensure!(
                c.is_finite() && c > 0.0,
                "Fab: `w_adjust_clip` must be positive, got {c}"
            );
        }
        if let Some(m) = self.max_grad {
            anyhow::ensure!(
                m.is_finite() && m > 0.0,
                "Fab: `max_grad` must be positive, got {m}"
            );
        }
        self.kernel.validate()
    }

    /// The AIS settings at kernel step `step`.
    pub fn ais(&self, step: f64) -> AisSettings {
        AisSettings {
            intermediates: self.intermediates,
            kernel: self.kernel.with_step(step),
            moves: self.moves,
        }
    }
}
