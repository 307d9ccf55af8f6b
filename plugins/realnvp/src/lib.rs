//! `RealNvp`: a RealNVP normalising flow (Dinh et al. 2017) for vector and lattice targets.
//!
//! x = scale * T_K(... T_1(z)), z ~ N(0, I), each T_k an affine [`coupling::Coupling`] with
//! alternating masks: checkerboard ((i + j) mod 2) on lattices, index parity otherwise, swapped
//! from one layer to the next. Scales s = c tanh(.) are bounded (training cannot blow up) and the
//! last layer of each conditioner starts at zero, so the untrained flow is the identity.
//!
//! log q(x) = log N(z; 0, I) - sum_k log|det dT_k/dz_k| - d log(scale) (exact), and
//! score(x) = grad_x log q(x) is a hand-written input-gradient through the inverse pass
//! (tensor ops: training on it, as SM and ScoreNF do, differentiates it to first order only).

pub mod conv;
pub mod coupling;

use coupling::Coupling;
use nsamp_core::candle::{Result, Tensor, D};
use nsamp_core::candle_nn::VarBuilder;
use nsamp_core::{FlowModel, Model, ModelConfig, ModelShape};
use serde::{Deserialize, Serialize};

nsamp_core::config! {
    /// `RealNvp(...)` config.
    pub struct RealNvpConfig {
        /// Number of coupling layers (masks alternate).
        layers: usize = 8,
        /// Hidden width of each conditioner MLP.
        hidden: usize = 64,
        /// Bound c of the log-scale s = c tanh(.).
        scale_bound: f64 = 2.0,
        /// Fixed output scale: x = scale * T(z) (the target's length unit).
        scale: f64 = 1.0,
        /// Conditioner networks: `Mlp`, or `Conv` (circular 3 x 3 convolutions; lattice targets).
        conditioner: ConditionerKind = ConditionerKind::Mlp,
    }
}

/// Which conditioner network the couplings use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ConditionerKind {
    /// Fully connected (any target).
    #[default]
    Mlp,
    /// Circular convolutions with `hidden` channels (lattice targets).
    Conv,
}

/// The flow.
pub struct RealNvp {
    layers: Vec<Coupling>,
    dim: usize,
    scale: f64,
    params: usize,
}

/// The 0/1 mask of layer `k`: checkerboard on an L x L lattice, index parity otherwise.
pub fn mask(dim: usize, lattice_side: Option<usize>, k: usize) -> Vec<f32> {
    (0..dim)
        .map(|i| {
            let parity = match lattice_side {
                Some(l) => (i / l + i % l) % 2,
                None => i % 2,
            };
            ((parity + k) % 2) as f32
        })
        .collect()
}

impl ModelConfig for RealNvpConfig {
    fn build(&self, shape: &ModelShape, vb: VarBuilder) -> anyhow::Result<Box<dyn Model>> {
        anyhow::ensure!(shape.dim >= 2, "RealNvp needs dim >= 2");
        anyhow::ensure!(
            (1..=4096).contains(&self.layers) && (1..=1 << 16).contains(&self.hidden),
            "RealNvp: `layers` must be between 1 and 4096 and `hidden` between 1 and 65536, \
             got {} and {}",
            self.layers,
            self.hidden
        );
        anyhow::ensure!(
            self.scale > 0.0 && self.scale_bound > 0.0,
            "RealNvp: scale and scale_bound must be > 0"
        );
        let conv_side = match self.conditioner {
            ConditionerKind::Mlp => None,
            ConditionerKind::Conv => Some(shape.lattice_side().ok_or_else(|| {
                anyhow::anyhow!("RealNvp: conditioner Conv needs a lattice target (Phi4); use Mlp")
            })?),
        };
        let layers = (0..self.layers)
            .map(|k| {
                Coupling::new(
                    &mask(shape.dim, shape.lattice_side(), k),
                    self.hidden,
                    self.scale_bound,
                    conv_side,
                    vb.pp(format!("coupling{k}")),
                )
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let (d, h) = (shape.dim, self.hidden);
        let params = self.layers
            * match conv_side {
                None => (d * h + h) + (h * h + h) + (h * 2 * d + 2 * d),
                Some(_) => (9 * h + h) + (9 * h * h + h) + (9 * h * 2 + 2),
            };
        Ok(Box::new(RealNvp {
            layers,
            dim: shape.dim,
            scale: self.scale,
            params,
        }))
    }
}

fn log_normal(z: &Tensor) -> Result<Tensor> {
    let d = z.dim(D::Minus1)? as f64;
    (z.sqr()?.sum(D::Minus1)? * -0.5)? - 0.5 * d * (2.0 * std::f64::consts::PI).ln()
}

impl RealNvp {
    fn inverse_with_tapes(
        &self,
        x: &Tensor,
    ) -> Result<(Tensor, Tensor, Vec<coupling::InverseTape>)> {
        let mut y = (x / self.scale)?;
        let mut logq_det = Tensor::zeros(x.dim(0)?, x.dtype(), x.device())?;
        let mut tapes = Vec::with_capacity(self.layers.len());
        for c in self.layers.iter().rev() {
            let (z, ld, tape) = c.inverse(&y)?;
            logq_det = (logq_det + ld)?;
            tapes.push(tape);
            y = z;
        }
        let logq = ((log_normal(&y)? + logq_det)? - self.dim as f64 * self.scale.ln())?;
        Ok((y, logq, tapes))
    }
}

impl FlowModel for RealNvp {
    fn sample_with_log_prob(&self, z: &Tensor) -> Result<(Tensor, Tensor)> {
        let mut logq = log_normal(z)?;
        let mut y = z.clone();
        for c in &self.layers {
            let (next, ld) = c.forward(&y)?;
            logq = (logq - ld)?;
            y = next;
        }
        let logq = (logq - self.dim as f64 * self.scale.ln())?;
        Ok(((y * self.scale)?, logq))
    }
    fn log_prob(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.inverse_with_tapes(x)?.1)
    }
    fn score(&self, x: &Tensor) -> Result<Tensor> {
        let (z, _, tapes) = self.inverse_with_tapes(x)?;
        // d log N / dz = -z, then back through the couplings in generative order.
        let mut g = z.neg()?;
        for (c, tape) in self.layers.iter().zip(tapes.iter().rev()) {
            g = c.input_gradient(tape, &g)?;
        }
        g / self.scale
    }
}

impl Model for RealNvp {
    fn as_flow(&self) -> Option<&dyn FlowModel> {
        Some(self)
    }
    fn describe(&self) -> String {
        format!(
            "RealNvp: {} couplings, {} parameters",
            self.layers.len(),
            self.params
        )
    }
}

nsamp_core::register!(
    Model,
    "RealNvp",
    RealNvpConfig,
    "RealNVP flow: affine couplings (tanh-bounded scales, zero-initialised), checkerboard masks on lattices; exact log q and score"
);
