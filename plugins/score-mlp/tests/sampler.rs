//! The reverse SDE driven by ScoreMlp's inference path gives the samples of the tensor path
//! (the route every step took before `ScoreModel::inference`) to float rounding.

use nsamp_core::candle::{DType, Device, Tensor};
use nsamp_core::candle_nn::VarMap;
use nsamp_core::numerics::rng::RngStreams;
use nsamp_core::numerics::schedule::GeometricSchedule;
use nsamp_core::numerics::sde::ReverseSde;
use nsamp_core::params::seeded_var_builder;
use nsamp_core::registry::{families, Spec};
use nsamp_core::score_sampler::ScoreSdeSampler;
use nsamp_core::{ModelShape, Sampler, ScoreModel};
use nsamp_plugin_score_mlp as _; // links the `ScoreMlp` registration

/// A score model seen only through `score`: the sampler falls back to tensors.
struct TensorOnly<'a>(&'a dyn ScoreModel);

impl ScoreModel for TensorOnly<'_> {
    fn score(&self, t: &Tensor, x: &Tensor) -> nsamp_core::candle::Result<Tensor> {
        self.0.score(t, x)
    }
}

/// (samples of the inference path, of the tensor path) for a seeded ScoreMlp of dimension `dim`.
fn both(ron: &str, dim: usize, n: usize, steps: usize) -> (Vec<f32>, Vec<f32>) {
    nsamp_core::experiment::ensure_registry().unwrap();
    let vm = VarMap::new();
    let vb = seeded_var_builder(&vm, RngStreams::new(5), DType::F32, &Device::Cpu);
    let model = Spec::<families::Model>::from_ron(ron)
        .unwrap()
        .config
        .build(&ModelShape::flat(dim), vb)
        .unwrap();
    let score = model.as_score().unwrap();
    let sde = ReverseSde {
        schedule: GeometricSchedule::new(1e-5, 1.0).unwrap(),
        steps,
        noise_scale: 1.0,
        com_free: None,
    };
    let run = |s: &dyn ScoreModel| {
        let mut sampler = ScoreSdeSampler {
            score: s,
            sde,
            scale: 50.0,
            dim,
            device: &Device::Cpu,
            chunk: 300,
            normalised: false,
        };
        sampler
            .sample(n, &RngStreams::new(11), &mut |_, _| {})
            .unwrap()
            .x
    };
    (run(score), run(&TensorOnly(score)))
}

#[test]
fn inference_path_samples_equal_the_tensor_path_to_float_rounding() {
    for (ron, dim) in [
        ("ScoreMlp(hidden: 128, blocks: 3, embedding: 128)", 2),
        ("ScoreMlp(hidden: 64, blocks: 2, embedding: 32)", 8),
    ] {
        let (fast, slow) = both(ron, dim, 700, 200);
        assert_eq!(fast.len(), slow.len());
        let scale = (slow.iter().map(|v| v * v).sum::<f32>() / slow.len() as f32).sqrt();
        let worst = fast
            .iter()
            .zip(&slow)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        eprintln!("{ron} d {dim}: rms {scale:.3}, worst |difference| {worst:.3e}");
        assert!(
            worst <= 1e-4 * scale,
            "{ron}: worst {worst} against rms {scale}"
        );
    }
}
