//! DiKL's one-step generator for flat targets (DiKL `models/mlp.py`, `LVM` / `network`):
//! x = g(z) = W_out SiLU(W_L ... SiLU(W_1 z + b_1) ... + b_L) + b_out, z ~ N(0, I) of the data's
//! dimension; the official GMM network has L = 4 hidden layers of 400 (`layer_num: 5`).

use nsamp_core::candle::{Module, Tensor};
use nsamp_core::candle_nn::{linear, Linear, VarBuilder};
use nsamp_core::{GeneratorModel, Model, ModelConfig, ModelShape};

nsamp_core::config! {
    /// `GeneratorMlp(hidden: [400, 400, 400, 400])`.
    pub struct GeneratorMlpConfig {
        /// Widths of the hidden layers, each followed by SiLU (DiKL GMM: four of 400).
        hidden: Vec<usize> = vec![400; 4],
    }
}

/// The generator network.
pub struct GeneratorMlp {
    layers: Vec<Linear>,
    output: Linear,
    dim: usize,
    params: usize,
}

impl GeneratorModel for GeneratorMlp {
    fn generate(&self, z: &Tensor) -> nsamp_core::candle::Result<Tensor> {
        let mut h = z.clone();
        for l in &self.layers {
            h = l.forward(&h)?.silu()?;
        }
        self.output.forward(&h)
    }
}

impl Model for GeneratorMlp {
    fn as_generator(&self) -> Option<&dyn GeneratorModel> {
        Some(self)
    }
    fn describe(&self) -> String {
        format!(
            "GeneratorMlp: dim {}, {} hidden layers, {} parameters",
            self.dim,
            self.layers.len(),
            self.params
        )
    }
}

/// Checks a list of hidden widths (each 1..=65536, at most 64 layers).
pub(crate) fn check_widths(who: &str, hidden: &[usize]) -> anyhow::Result<()> {
    anyhow::ensure!(
        !hidden.is_empty() && hidden.len() <= 64,
        "{who}: `hidden` needs 1 to 64 layers, got {}",
        hidden.len()
    );
    for &w in hidden {
        anyhow::ensure!(
            (1..=1 << 16).contains(&w),
            "{who}: every hidden width must be between 1 and 65536, got {w}"
        );
    }
    Ok(())
}

impl ModelConfig for GeneratorMlpConfig {
    fn build(&self, shape: &ModelShape, vb: VarBuilder) -> anyhow::Result<Box<dyn Model>> {
        check_widths("GeneratorMlp", &self.hidden)?;
        let d = shape.dim;
        let mut layers = Vec::with_capacity(self.hidden.len());
        let (mut fan_in, mut params) = (d, 0);
        for (i, &w) in self.hidden.iter().enumerate() {
            layers.push(linear(fan_in, w, vb.pp(format!("layer{i}")))?);
            params += (fan_in + 1) * w;
            fan_in = w;
        }
        let output = linear(fan_in, d, vb.pp("output"))?;
        params += (fan_in + 1) * d;
        Ok(Box::new(GeneratorMlp {
            layers,
            output,
            dim: d,
            params,
        }))
    }
}
