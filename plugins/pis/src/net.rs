//! `PisNet`: the PIS drift network of the DEM code (jarridrb/DEM @ 26c930b,
//! `dem/models/components/mlp.py` `FourierMLP` and `TimeConder`, combined as in
//! `dem/models/pis_module.py` `PISLitModule.drift`, with `configs/model/pis.yaml`'s widths):
//!
//! u(x, t) = clip(NN1(x, t), -c_nn, c_nn) + NN2(t) * clip(grad log p~(x), -c_s, c_s)
//!
//! (clips element-wise; the PIS paper's "NN1 + NN2 * grad log mu" parameterisation).
//!
//! - Fourier time features: f(t) = [sin(w t + phi), cos(w t + phi)] with w = linspace(0.1, 100,
//!   C) fixed and a learned phase phi (C values, initialised N(0, 1)).
//! - NN1 (`FourierMLP`, C = `channels`, L = `layers`): h = Linear(d, C)(x) + T(f(t)) with
//!   T = Linear(2C, C) -> GELU -> Linear(C, C); then GELU -> L x [Linear(C, C) -> GELU] ->
//!   Linear(C, d), the last layer zero-initialised (so NN1 = 0 at initialisation).
//! - NN2 (`TimeConder`, C = `t_channels`, `t_layers` linear layers before the output):
//!   Linear(2C, C) -> (t_layers - 1) x [GELU -> Linear(C, C)] -> GELU -> Linear(C, 1), the last
//!   layer's weight 0 and bias 0.01 (so NN2 = 0.01 at initialisation).
//! - GELU in the exact (erf) form, as torch's `nn.GELU()`. Linear layers initialised as torch's
//!   `nn.Linear` (weight and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in))), drawn from the run's
//!   seeded streams.
//!
//! With d = 2 and the DEM widths (C = 64, L = 2; NN2: 64 channels, 3 layers): 21,122 + 16,705 =
//! 37,827 parameters.
//!
//! Differences from the DEM code: DEM multiplies the whole drift by `pis_scale` (sigma) inside the
//! SDE; here the objective's SDE is dx = u dt + sigma dW with u the network's output (identical
//! for sigma = 1, DEM's setting). DEM's `nan_to_num` on the drift is not applied (a non-finite
//! drift stops the run with an error instead). The time features are computed once per call when
//! every row has the same t (an exact shortcut: the SDE uses one t per step).

use nsamp_core::candle::{DType, Module, Tensor, D};
use nsamp_core::candle_nn::{Init, Linear, VarBuilder};
use nsamp_core::{ControlModel, Model, ModelConfig, ModelShape};

nsamp_core::config! {
    /// `PisNet(...)` config: the PIS drift network (DEM `configs/model/pis.yaml`).
    pub struct PisNetConfig {
        /// Width C of NN1 (FourierMLP `channels`); DEM: 64.
        channels: usize = 64,
        /// Hidden Linear(C, C) -> GELU layers of NN1 (FourierMLP `num_layers`); DEM: 2.
        layers: usize = 2,
        /// Width of NN2 (TimeConder `channel`); DEM: 64.
        t_channels: usize = 64,
        /// Linear layers of NN2 before its output layer (TimeConder `num_layers`); DEM: 3.
        t_layers: usize = 3,
        /// Element-wise clip of NN1's output (DEM: 1e4).
        nn_clip: f64 = 1e4,
        /// Element-wise clip of the target score before NN2 multiplies it (DEM: 1e4).
        score_clip: f64 = 1e4,
    }
}

/// A torch-initialised linear layer: weight (out, in) and bias U(-1/sqrt(in), 1/sqrt(in)), or
/// `last` = Some((w, b)): weight and bias constants.
fn torch_linear(
    fan_in: usize,
    fan_out: usize,
    last: Option<(f64, f64)>,
    vb: VarBuilder,
) -> nsamp_core::candle::Result<Linear> {
    let bound = 1.0 / (fan_in as f64).sqrt();
    let (wi, bi) = match last {
        Some((w, b)) => (Init::Const(w), Init::Const(b)),
        None => {
            let u = Init::Uniform {
                lo: -bound,
                up: bound,
            };
            (u, u)
        }
    };
    let w = vb.get_with_hints((fan_out, fan_in), "weight", wi)?;
    let b = vb.get_with_hints(fan_out, "bias", bi)?;
    Ok(Linear::new(w, Some(b)))
}

/// GELU (erf form): nsamp's vectorised op for f32, candle's for other dtypes (f64 tests).
fn gelu(x: &Tensor) -> nsamp_core::candle::Result<Tensor> {
    if x.dtype() == DType::F32 {
        nsamp_core::nn::gelu::gelu_erf(x)
    } else {
        x.gelu_erf()
    }
}

/// Fourier features of time with a learned phase: [sin(w t + phi), cos(w t + phi)], w =
/// linspace(0.1, 100, C).
struct FourierTime {
    coeff: Tensor,
    phase: Tensor,
}

impl FourierTime {
    fn new(c: usize, vb: &VarBuilder) -> nsamp_core::candle::Result<Self> {
        let w: Vec<f64> = (0..c)
            .map(|i| {
                if c == 1 {
                    0.1
                } else {
                    0.1 + (100.0 - 0.1) * i as f64 / (c - 1) as f64
                }
            })
            .collect();
        let coeff = Tensor::from_vec(w, (1, c), vb.device())?.to_dtype(vb.dtype())?;
        let phase = vb.get_with_hints(
            (1, c),
            "timestep_phase",
            Init::Randn {
                mean: 0.0,
                stdev: 1.0,
            },
        )?;
        Ok(FourierTime { coeff, phase })
    }
    /// Features of t (m, 1) -> (m, 2C).
    fn forward(&self, t: &Tensor) -> nsamp_core::candle::Result<Tensor> {
        let arg = t.broadcast_mul(&self.coeff)?.broadcast_add(&self.phase)?;
        Tensor::cat(&[arg.sin()?, arg.cos()?], D::Minus1)
    }
}

/// The network (see the module docs).
pub struct PisNet {
    // NN1
    f_time: FourierTime,
    input_embed: Linear,
    time_embed: [Linear; 2],
    hidden: Vec<Linear>,
    output: Linear,
    // NN2
    g_time: FourierTime,
    t_layers: Vec<Linear>,
    t_output: Linear,
    nn_clip: f64,
    score_clip: f64,
    params: usize,
}

impl PisNet {
    /// NN1(x, t) before the clip: `t` (m, 1) with m = n or m = 1 (broadcast over the rows).
    pub fn nn1(&self, t: &Tensor, x: &Tensor) -> nsamp_core::candle::Result<Tensor> {
        let f = self.f_time.forward(t)?;
        let te = self.time_embed[1].forward(&gelu(&self.time_embed[0].forward(&f)?)?)?;
        let mut h = gelu(&self.input_embed.forward(x)?.broadcast_add(&te)?)?;
        for l in &self.hidden {
            h = gelu(&l.forward(&h)?)?;
        }
        self.output.forward(&h)
    }
    /// NN2(t): `t` (m, 1) -> (m, 1).
    pub fn nn2(&self, t: &Tensor) -> nsamp_core::candle::Result<Tensor> {
        let mut h = self.g_time.forward(t)?;
        for (i, l) in self.t_layers.iter().enumerate() {
            if i > 0 {
                h = gelu(&h)?;
            }
            h = l.forward(&h)?;
        }
        self.t_output.forward(&gelu(&h)?)
    }
}

impl ControlModel for PisNet {
    fn drift(
        &self,
        t: &Tensor,
        x: &Tensor,
        target_score: &Tensor,
    ) -> nsamp_core::candle::Result<Tensor> {
        let n = x.dim(0)?;
        // One t for the whole batch (the SDE's case): features of one row, broadcast.
        let tv = t.to_dtype(DType::F64)?.to_vec1::<f64>()?;
        let t = if !tv.is_empty() && tv.iter().all(|v| *v == tv[0]) {
            t.narrow(0, 0, 1)?.reshape((1, 1))?
        } else {
            t.reshape((n, 1))?
        };
        let f = self.nn1(&t, x)?.clamp(-self.nn_clip, self.nn_clip)?;
        let s = target_score.clamp(-self.score_clip, self.score_clip)?;
        f + self.nn2(&t)?.broadcast_mul(&s)?
    }
}

impl Model for PisNet {
    fn as_control(&self) -> Option<&dyn ControlModel> {
        Some(self)
    }
    fn describe(&self) -> String {
        format!(
            "PisNet: NN1 {} hidden layers, NN2 {} layers, {} parameters",
            self.hidden.len(),
            self.t_layers.len(),
            self.params
        )
    }
}

/// Parameter count of a `PisNet` for dimension `d`.
pub fn parameter_count(c: &PisNetConfig, d: usize) -> usize {
    let (ch, tc) = (c.channels, c.t_channels);
    let nn1 = ch
        + (d + 1) * ch
        + (2 * ch + 1) * ch
        + (ch + 1) * ch
        + c.layers * (ch + 1) * ch
        + (ch + 1) * d;
    let nn2 = tc + (2 * tc + 1) * tc + (c.t_layers - 1) * (tc + 1) * tc + tc + 1;
    nn1 + nn2
}

impl ModelConfig for PisNetConfig {
    fn build(&self, shape: &ModelShape, vb: VarBuilder) -> anyhow::Result<Box<dyn Model>> {
        let d = shape.dim;
        for (name, v) in [("channels", self.channels), ("t_channels", self.t_channels)] {
            anyhow::ensure!(
                (1..=1 << 14).contains(&v),
                "PisNet: `{name}` must be between 1 and 16384, got {v}"
            );
        }
        anyhow::ensure!(
            self.layers <= 64,
            "PisNet: `layers` must be at most 64, got {}",
            self.layers
        );
        anyhow::ensure!(
            (1..=64).contains(&self.t_layers),
            "PisNet: `t_layers` must be between 1 and 64, got {}",
            self.t_layers
        );
        anyhow::ensure!(
            self.nn_clip > 0.0 && self.score_clip > 0.0,
            "PisNet: `nn_clip` and `score_clip` must be positive"
        );
        let (c, tc) = (self.channels, self.t_channels);
        let nn1 = vb.pp("nn1");
        let nn2 = vb.pp("nn2");
        let net = PisNet {
            f_time: FourierTime::new(c, &nn1)?,
            input_embed: torch_linear(d, c, None, nn1.pp("input_embed"))?,
            time_embed: [
                torch_linear(2 * c, c, None, nn1.pp("timestep_embed0"))?,
                torch_linear(c, c, None, nn1.pp("timestep_embed1"))?,
            ],
            hidden: (0..self.layers)
                .map(|i| torch_linear(c, c, None, nn1.pp(format!("hidden{i}"))))
                .collect::<Result<_, _>>()?,
            output: torch_linear(c, d, Some((0.0, 0.0)), nn1.pp("output"))?,
            g_time: FourierTime::new(tc, &nn2)?,
            t_layers: (0..self.t_layers)
                .map(|i| {
                    let fan_in = if i == 0 { 2 * tc } else { tc };
                    torch_linear(fan_in, tc, None, nn2.pp(format!("layer{i}")))
                })
                .collect::<Result<_, _>>()?,
            t_output: torch_linear(tc, 1, Some((0.0, 0.01)), nn2.pp("output"))?,
            nn_clip: self.nn_clip,
            score_clip: self.score_clip,
            params: parameter_count(self, d),
        };
        Ok(Box::new(net))
    }
}

nsamp_core::register!(
    Model,
    "PisNet",
    PisNetConfig,
    "PIS drift network u = NN1(x, t) + NN2(t) * clip(grad log p~): Fourier time features, zero-initialised output (DEM's FourierMLP + TimeConder)"
);
