//! Seeded parameter initialisation. candle's CPU generator cannot be seeded, so a `VarBuilder`
//! over a plain `VarMap` gives different initial weights on every run. [`seeded_var_builder`]
//! honours the same `Init` hints (constant, uniform, normal, Kaiming) but draws from a stream of
//! the run seed keyed by the parameter's name, so initial weights depend only on (seed, name).

use crate::numerics::rng::{fill_normal, RngStreams};
use candle_core::{DType, Device, Shape, Tensor, Var};
use candle_nn::init::{Init, NormalOrUniform};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{VarBuilder, VarMap};
use rand::Rng as _;

struct Seeded {
    varmap: VarMap,
    streams: RngStreams,
    /// Values created so far (for [`MAX_PARAMETERS`]).
    created: std::sync::atomic::AtomicUsize,
}

/// The most parameter values one model may have (2^28, 1 GiB as f32): a recipe asking for more
/// (a mistyped `hidden` or `layers`) gets an error naming the parameter, not an aborted
/// allocation.
pub const MAX_PARAMETERS: usize = 1 << 28;

/// The most parameter tensors one model may have (2^16): `layers: 1000000` is refused early,
/// before a million small tensors are made.
pub const MAX_TENSORS: usize = 1 << 16;

fn name_index(name: &str) -> u64 {
    crate::numerics::rng::fnv1a64(name)
}

impl Seeded {
    fn draw(&self, shape: &Shape, name: &str, h: Init) -> Vec<f32> {
        let n = shape.elem_count();
        let mut rng = self.streams.stream("param-init", name_index(name));
        let uniform = |rng: &mut crate::numerics::rng::Rng, lo: f64, up: f64| -> Vec<f32> {
            (0..n).map(|_| rng.random_range(lo..up) as f32).collect()
        };
        let normal = |rng: &mut crate::numerics::rng::Rng, mean: f64, sd: f64| -> Vec<f32> {
            let mut v = vec![0f32; n];
            fill_normal(rng, &mut v);
            v.iter().map(|z| (mean + sd * *z as f64) as f32).collect()
        };
        match h {
            Init::Const(c) => vec![c as f32; n],
            Init::Uniform { lo, up } => uniform(&mut rng, lo, up),
            Init::Randn { mean, stdev } => normal(&mut rng, mean, stdev),
            Init::Kaiming {
                dist,
                fan,
                non_linearity,
            } => {
                let std = non_linearity.gain() / (fan.for_shape(shape) as f64).sqrt();
                match dist {
                    NormalOrUniform::Uniform => {
                        let b = 3f64.sqrt() * std;
                        uniform(&mut rng, -b, b)
                    }
                    NormalOrUniform::Normal => normal(&mut rng, 0.0, std),
                }
            }
        }
    }
}

impl SimpleBackend for Seeded {
    fn get(
        &self,
        s: Shape,
        name: &str,
        h: Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let mut data = self.varmap.data().lock().unwrap();
        if let Some(v) = data.get(name) {
            let t = v.as_tensor();
            if t.shape() != &s {
                candle_core::bail!(
                    "parameter {name}: shape {:?} exists, {:?} requested",
                    t.shape(),
                    s
                );
            }
            return Ok(t.clone());
        }
        if data.len() >= MAX_TENSORS {
            candle_core::bail!(
                "parameter `{name}` would be the model's tensor number {}, past {MAX_TENSORS}; \
                 check its size fields (layers, blocks, ...)",
                data.len() + 1
            );
        }
        let Some(n) = s.dims().iter().try_fold(1usize, |a, &b| a.checked_mul(b)) else {
            candle_core::bail!(
                "parameter `{name}` of shape {:?} has more values than fit in memory; check the \
                 model's size fields",
                s.dims()
            );
        };
        let total = self
            .created
            .load(std::sync::atomic::Ordering::Relaxed)
            .saturating_add(n);
        if total > MAX_PARAMETERS {
            candle_core::bail!(
                "parameter `{name}` of shape {:?} takes the model past {MAX_PARAMETERS} values; \
                 check its size fields (hidden, layers, blocks, width, ...)",
                s.dims()
            );
        }
        self.created
            .store(total, std::sync::atomic::Ordering::Relaxed);
        let values = self.draw(&s, name, h);
        let var = Var::from_tensor(&Tensor::from_vec(values, s, dev)?.to_dtype(dtype)?)?;
        let t = var.as_tensor().clone();
        data.insert(name.to_string(), var);
        Ok(t)
    }
    fn get_unchecked(&self, name: &str, _: DType, _: &Device) -> candle_core::Result<Tensor> {
        candle_core::bail!("parameter {name} must be created with a shape")
    }
    fn contains_tensor(&self, name: &str) -> bool {
        self.varmap.data().lock().unwrap().contains_key(name)
    }
}

/// A `VarBuilder` that creates parameters in `varmap` with seeded initial values.
pub fn seeded_var_builder(
    varmap: &VarMap,
    streams: RngStreams,
    dtype: DType,
    device: &Device,
) -> VarBuilder<'static> {
    VarBuilder::from_backend(
        Box::new(Seeded {
            varmap: varmap.clone(),
            streams: streams.derive("parameters"),
            created: std::sync::atomic::AtomicUsize::new(0),
        }),
        dtype,
        device.clone(),
    )
}

/// Total number of scalar parameters in a `VarMap`.
pub fn count_parameters(varmap: &VarMap) -> usize {
    varmap.all_vars().iter().map(|v| v.elem_count()).sum()
}
