//! `nsamp bench`: times the hot paths on workloads built from the shipped recipes (the papers'
//! GMM-40 setting, the ScoreNF grid) and presets (LJ-55). Figures go to BENCHMARKS.md.

use nsamp_core::candle_nn::VarMap;
use nsamp_core::experiment::Assembled;
use nsamp_core::numerics::rng::RngStreams;
use nsamp_core::{train, Recipe};
use nsamp_plugin_diffusion::settings::{resolve_scale, DiffusionSettings};
use nsamp_plugin_diffusion::IdemConfig;
use std::time::Instant;

fn median_ms(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2] * 1e3, v[0] * 1e3)
}

/// A workload: a recipe shipped in recipes/ (compiled in, so `nsamp bench` runs anywhere) and
/// the overrides that make it a single-step measurement.
struct Workload {
    label: &'static str,
    path: &'static str,
    text: &'static str,
    sets: &'static [&'static str],
}

macro_rules! workload {
    ($label:literal, $path:literal, [$($set:literal),*]) => {
        Workload {
            label: $label,
            path: $path,
            text: include_str!(concat!("../../../", $path)),
            sets: &[$($set),*],
        }
    };
}

impl Workload {
    /// The recipe with its overrides.
    fn recipe(&self) -> anyhow::Result<Recipe> {
        let sets: Vec<String> = self.sets.iter().map(|s| s.to_string()).collect();
        Recipe::parse(self.text, self.path)?.with_overrides(&sets)
    }
}

/// The papers' GMM-40 settings (B = 512, K = 500, the 99k-parameter score MLP); the initial
/// buffer from the prior, so that assembly costs nothing.
const IDEM: Workload = workload!(
    "idem_step GMM-40 B=512 K=500 MLP99k",
    "recipes/table1/gmm40_idem.ron",
    ["objective.buffer.init=Prior"]
);
const IWSM: Workload = workload!(
    "iwsm_step GMM-40 B=512 K=500 J=5",
    "recipes/table1/gmm40_iwsm.ron",
    ["objective.buffer.init=Prior"]
);
/// DwES with L = 500: 10 reverse-SDE steps for 1,000 samples (reported per step).
const DWES: Workload = workload!(
    "dwes_sde_step GMM-40 n=1000 L=500",
    "recipes/table1/gmm40_dwes500.ron",
    ["sampler.sde.steps=10"]
);

/// FAB on GMM-40 (fab-torch's settings: B = 128, RealNvp 15 x 80, Metropolis AIS with one
/// intermediate, 4 minibatch steps per AIS batch).
const FAB: Workload = workload!(
    "fab_step GMM-40 B=128 RealNvp 15x80",
    "recipes/table1/gmm40_fab.ron",
    []
);

/// One PIS training step on GMM-40 (the DEM code's settings: B = 512, 100 Euler-Maruyama steps,
/// PisNet 37,827 parameters; 512 x 101 energy+grad evaluations, backpropagation through the
/// trajectory).
const PIS: Workload = workload!(
    "pis_step GMM-40 B=512 N=100 PisNet38k",
    "recipes/table1/gmm40_pis.ron",
    []
);

/// One DiKL training step on GMM-40 (the official MoG-40 settings: B = 1024, 50 DSM steps of the
/// 480k-parameter score MLP on fresh generator batches, then the posterior sampler's 159,744 energy
/// evaluations: 10 proposals per row, 14 AIS levels, 5 MALA steps; then the generator step).
const DIKL: Workload = workload!(
    "dikl_step GMM-40 B=1024 (50 DSM steps)",
    "recipes/table1/gmm40_dikl.ron",
    []
);

/// SBTM time steps (a score fit of >= 10 AdamW steps, the score, the move) on the paper's
/// heat flow (d = 5) and 2-D grid (d = 2) recipes, without pre-training.
const SBTM: [(Workload, usize); 2] = [
    (
        workload!(
            "sbtm_step heat flow d=5 n=1000",
            "recipes/sbtm/heat_flow_d5_sbtm.ron",
            ["sampler.pretrain_max_steps=0", "sampler.trace_every=1000"]
        ),
        1000,
    ),
    (
        workload!(
            "sbtm_step 2-D grid d=2 n=20000",
            "recipes/sbtm/grid2d_far_sbtm_none.ron",
            ["sampler.pretrain_max_steps=0", "sampler.trace_every=1000"]
        ),
        20000,
    ),
];

/// Flow training steps of the ScoreNF grid's recipes.
const FLOWS: [Workload; 4] = [
    workload!(
        "flow_rkl_step MOG-8 B=256 RealNvp 16x64",
        "recipes/flows/mog8_rkl.ron",
        []
    ),
    workload!(
        "flow_scorenf_step MOG-8 B=256 (RKL + 10 SM)",
        "recipes/flows/mog8_scorenf.ron",
        []
    ),
    workload!(
        "flow_rkl_step phi4 L=8 B=256 16x8 Conv",
        "recipes/flows/phi4_lambda8_rkl.ron",
        []
    ),
    workload!(
        "flow_scorenf_step phi4 L=8 B=256 16x8 Conv",
        "recipes/flows/phi4_lambda8_scorenf.ron",
        [
            "objective.ensemble.size=256",
            "objective.ensemble.sampler.burn_in=100",
            "objective.ensemble.sampler.pilot=50"
        ]
    ),
];

/// The DW-4 paper recipes' training steps (B = 512, K = 1,000, the EGNN with 3 layers of
/// H = 128; IW-SM with J = 2): the Monte Carlo score and the EGNN's forward and backward.
const DW4_STEPS: [Workload; 2] = [
    workload!(
        "dw4_idem_step B=512 K=1000 EGNN 3x128",
        "recipes/table2/dw4_idem.ron",
        []
    ),
    workload!(
        "dw4_iwsm_step B=512 K=1000 J=2 EGNN 3x128",
        "recipes/table2/dw4_iwsm.ron",
        []
    ),
];

/// Seconds of each of `timed` training steps of `w` after `warmup` untimed ones: batch, loss
/// (Monte Carlo score, AIS, inner fits: whatever the objective does), forward, backward, clip,
/// Adam (the trainer's own code path, [`train::step_once`] on rayon's pool as `train` runs it;
/// without the objective's `after_step`).
fn step_seconds(w: &Workload, warmup: u64, timed: u64) -> anyhow::Result<Vec<f64>> {
    let mut asm = Assembled::new(w.recipe()?)?;
    let vm: VarMap = asm
        .varmap
        .clone()
        .ok_or_else(|| anyhow::anyhow!("bench: {} trains no network", w.path))?;
    let settings = asm.recipe.train.clone();
    let mut trainer = train::Trainer::new(&vm, settings.lr, settings.grad_clip)?;
    let (objective, cx) = asm.split();
    let objective = objective.ok_or_else(|| anyhow::anyhow!("bench: not a trained method"))?;
    objective.init(&cx)?;
    let mut times = Vec::new();
    for step in 0..warmup + timed {
        let t = Instant::now();
        nsamp_core::threads::on_pool(|| train::step_once(objective, Some(&mut trainer), &cx, step))
            .map_err(|e| e.with_last(f64::NAN, f64::NAN))?;
        if step >= warmup {
            times.push(t.elapsed().as_secs_f64());
        }
    }
    Ok(times)
}

/// Median and min of one full training step of `recipe` (3 warm-up steps).
fn time_step(w: &Workload, iters: usize) -> anyhow::Result<(f64, f64)> {
    Ok(median_ms(step_seconds(w, 3, iters as u64)?))
}

/// Mean ms of one FAB training step over whole iterations (an AIS batch and 4 minibatch steps
/// each), after one warm-up iteration.
fn fab_step(iters: usize) -> anyhow::Result<f64> {
    let t = step_seconds(&FAB, 4, 4 * iters as u64)?;
    Ok(t.iter().sum::<f64>() * 1e3 / t.len() as f64)
}

/// Median and min (ms) of DiKL training steps: one warm-up step, then `iters` (at most 3: a step
/// takes seconds).
fn dikl_step(iters: usize) -> anyhow::Result<(f64, f64)> {
    Ok(median_ms(step_seconds(&DIKL, 1, iters.min(3) as u64)?))
}

/// LJ-55 energy and energy+gradient throughput at 512 x 100 configurations (a Monte Carlo
/// score batch of the LJ-55 setting): (median ms, configurations/s) for each.
/// On `Device::Cuda(0)` the figures include the host-device copies of x, E and grad E.
fn lj55(iters: usize, device: nsamp_core::Device) -> anyhow::Result<[(f64, f64); 2]> {
    let spec: nsamp_core::registry::Spec<nsamp_core::registry::families::Target> =
        nsamp_core::registry::Spec::from_ron("Lj55()").map_err(|e| anyhow::anyhow!("{e}"))?;
    let target = spec.config.build_on(device)?;
    let (n, dim) = (512 * 100, target.dim());
    // Liquid-like clusters: N(0, 1.2^2) per coordinate (the kernel has no data-dependent branch).
    let mut x = vec![0f32; n * dim];
    nsamp_core::numerics::rng::fill_normal(&mut RngStreams::new(0).stream("bench-lj55", 0), &mut x);
    x.iter_mut().for_each(|v| *v *= 1.2);
    let (mut e, mut g) = (vec![0f32; n], vec![0f32; n * dim]);
    let mut out = [(0.0, 0.0); 2];
    for (w, slot) in out.iter_mut().enumerate() {
        let mut times = Vec::new();
        for i in 0..iters.min(20) + 2 {
            let t = Instant::now();
            if w == 0 {
                target.energy(&x, &mut e)?;
            } else {
                target.energy_and_grad(&x, &mut e, &mut g)?;
            }
            if i >= 2 {
                times.push(t.elapsed().as_secs_f64());
            }
        }
        let (med, _) = median_ms(times);
        *slot = (med, n as f64 / (med / 1e3));
    }
    Ok(out)
}

/// The GMM-40 iDEM paper recipe assembled, and its objective's resolved settings.
fn idem_paper() -> anyhow::Result<(Assembled, DiffusionSettings)> {
    idem_recipe(&IDEM)
}

/// An iDEM recipe assembled, and its objective's resolved settings.
fn idem_recipe(w: &Workload) -> anyhow::Result<(Assembled, DiffusionSettings)> {
    let recipe = w.recipe()?;
    let asm = Assembled::new(recipe.clone())?;
    let objective = recipe
        .objective
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("bench: the iDEM recipe names no objective"))?;
    let json = serde_json::to_value(objective)?;
    let cfg: IdemConfig = serde_json::from_value(json["Idem"].clone())?;
    Ok((asm, cfg.settings()))
}

/// The Monte Carlo score S_K of the iDEM recipe on B points spread like a training batch
/// (x_0 exact, t uniform): (median ms, min ms).
fn mc_score(iters: usize) -> anyhow::Result<(f64, f64)> {
    let (asm, settings) = idem_paper()?;
    let target = asm.target.clone();
    let scale = resolve_scale(settings.scale, &target)?;
    let mc = settings.mc.mc_score(scale, target.inner().particles());
    let sched = settings.schedule.schedule()?;
    let b = asm.recipe.train.batch;
    let streams = RngStreams::new(0);
    let x0 = target
        .inner()
        .exact_sample(b, &mut streams.stream("bench", 0))
        .ok_or_else(|| anyhow::anyhow!("bench: GMM-40 has an exact sampler"))?;
    let x: Vec<f32> = x0.iter().map(|v| v / scale).collect();
    let h: Vec<f32> = (0..b)
        .map(|i| sched.h((i as f64 + 0.5) / b as f64) as f32)
        .collect();
    let (mut s, mut lp) = (vec![0f32; x.len()], vec![0f32; b]);
    let mut times = Vec::new();
    for i in 0..iters + 3 {
        let t = Instant::now();
        mc.estimate(&target, &x, &h, &streams, i as u64, &mut s, &mut lp)?;
        if i >= 3 {
            times.push(t.elapsed().as_secs_f64());
        }
    }
    Ok(median_ms(times))
}

/// One DwES reverse-SDE step (ms): the recipe's sampler over 1,000 samples and 10 steps.
fn dwes_step() -> anyhow::Result<f64> {
    let mut dw = Assembled::new(DWES.recipe()?)?;
    let t = Instant::now();
    dw.draw(1000, &RngStreams::new(0), &mut |_, _| {})?;
    Ok(t.elapsed().as_secs_f64() * 1e3 / 10.0)
}

/// One SBTM time step (ms): runs of 1 and 4 steps, the difference over 3 (setup, pre-training
/// and the last step's diagnostics cancel).
fn sbtm_step(w: &Workload, n: usize) -> anyhow::Result<f64> {
    let mut secs = [0.0; 2];
    for (slot, steps) in secs.iter_mut().zip([1, 4]) {
        let mut r = w.recipe()?;
        r = r.with_overrides(&[format!("sampler.steps={steps}")])?;
        let mut asm = Assembled::new(r)?;
        let t = Instant::now();
        asm.draw(n, &RngStreams::new(0), &mut |_, _| {})?;
        *slot = t.elapsed().as_secs_f64();
    }
    Ok((secs[1] - secs[0]) / 3.0 * 1e3)
}

/// The GMM-40 group: MC score, iDEM, IW-SM and DwES steps.
fn gmm(iters: usize, threads: usize) -> anyhow::Result<()> {
    let (mc_med, mc_min) = mc_score(iters)?;
    let idem = time_step(&IDEM, iters)?;
    let iwsm = time_step(&IWSM, iters)?;
    let dwes_ms = dwes_step()?;
    let fab_ms = fab_step(iters)?;
    println!("nsamp bench: threads={threads}, iters={iters} (median, min)");
    println!(
        "  {:<36} {mc_med:8.2} ms  {mc_min:8.2} ms  ({:.1} M energy+grad/s)",
        "mc_score  GMM-40 B=512 K=500",
        (512 * 500) as f64 / mc_med / 1e3
    );
    for (w, (med, min)) in [(&IDEM, idem), (&IWSM, iwsm)] {
        println!("  {:<36} {med:8.2} ms  {min:8.2} ms  ({})", w.label, w.path);
    }
    println!(
        "  {:<36} {dwes_ms:8.2} ms  (one reverse-SDE step, 500,000 energy+grad; {})",
        DWES.label, DWES.path
    );
    println!(
        "  {:<36} {fab_ms:8.2} ms  (mean over AIS + 4 minibatch steps; {})",
        FAB.label, FAB.path
    );
    Ok(())
}

/// A score model seen only through `score` (no inference path): the tensor route the reverse
/// SDE took before `ScoreModel::inference`, for the refill group's A/B.
struct TensorOnly<'a>(&'a dyn nsamp_core::ScoreModel);

impl nsamp_core::ScoreModel for TensorOnly<'_> {
    fn score(
        &self,
        t: &nsamp_core::candle::Tensor,
        x: &nsamp_core::candle::Tensor,
    ) -> nsamp_core::candle::Result<nsamp_core::candle::Tensor> {
        self.0.score(t, x)
    }
}

/// CPU seconds this process has used (all threads; Linux /proc, 100 ticks per second), so that
/// a figure can be read on a loaded machine.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// The score network of an assembled recipe.
fn score_model(asm: &Assembled) -> anyhow::Result<&dyn nsamp_core::ScoreModel> {
    asm.model
        .as_ref()
        .and_then(|m| m.as_score())
        .ok_or_else(|| anyhow::anyhow!("bench: the recipe has no score model"))
}

/// Wall seconds of one refill: `n` samples through `sde` driven by `net` (one chunk, sampler
/// units), from the seed `rep`.
fn time_refill(
    net: &dyn nsamp_core::ScoreModel,
    sde: nsamp_core::numerics::sde::ReverseSde,
    dim: usize,
    device: &nsamp_core::candle::Device,
    n: usize,
    rep: u64,
) -> anyhow::Result<f64> {
    use nsamp_core::score_sampler::ScoreSdeSampler;
    use nsamp_core::Sampler;
    let mut s = ScoreSdeSampler {
        score: net,
        sde,
        scale: 1.0,
        dim,
        device,
        chunk: n,
        normalised: true,
    };
    let t = Instant::now();
    s.sample(n, &RngStreams::new(rep), &mut |_, _| {})?;
    Ok(t.elapsed().as_secs_f64())
}

/// The refill group: one GMM-40 iDEM refill (the recipe's 1,000 samples x 1,000 reverse-SDE
/// steps driven by the paper's 99,074-parameter ScoreMlp, freshly initialised), through the
/// inference path and through candle's tensor forward, alternately; median and min of `reps`
/// each. FLOPs count the matrix products of one forward pass per step: n x 2 x (d E H + L H^2 +
/// H d) (the t-part of the input layer is computed once per step).
fn refill_group(threads: usize) -> anyhow::Result<()> {
    let (asm, settings) = idem_paper()?;
    let sde = settings.sde.reverse_sde(&settings.schedule, None)?;
    let n = settings.buffer.refill_samples;
    let score = score_model(&asm)?;
    let dim = asm.target.dim();
    let tensor_only = TensorOnly(score);
    let run = |net: &dyn nsamp_core::ScoreModel, rep: u64| -> anyhow::Result<(f64, f64)> {
        let cpu = process_cpu_seconds();
        let wall = time_refill(net, sde, dim, &asm.device, n, rep)?;
        let cpu = cpu.zip(process_cpu_seconds()).map(|(a, b)| b - a);
        Ok((wall, cpu.unwrap_or(f64::NAN)))
    };
    let reps = 3;
    let (mut fast, mut slow) = (Vec::new(), Vec::new());
    for rep in 0..reps {
        fast.push(run(score, rep)?);
        slow.push(run(&tensor_only, rep)?);
    }
    let (h, l, e) = (128.0, 3.0, 128.0);
    let d = dim as f64;
    let flops = sde.steps as f64 * n as f64 * 2.0 * (d * e * h + l * h * h + h * d);
    println!(
        "nsamp bench: threads={threads}, {reps} alternating reps (median, min); {:.1} GFLOP per refill",
        flops / 1e9
    );
    for (label, v) in [("inference", fast), ("candle tensors", slow)] {
        let (med, min) = median_ms(v.iter().map(|p| p.0).collect());
        let (cpu, _) = median_ms(v.iter().map(|p| p.1).collect());
        println!(
            "  refill GMM-40 {n} x {} steps, {label:<15} {med:9.1} ms  {min:9.1} ms  ({:.1} GFLOP/s; {:.2} CPU s)",
            sde.steps,
            flops / (med / 1e3) / 1e9,
            cpu / 1e3
        );
    }
    dw4_refill(threads)
}

/// Reverse-SDE steps timed per repetition of the DW-4 refill (a full refill's 1,000 steps take
/// minutes through candle's tensors; the cost per step does not depend on the step).
const DW4_REFILL_STEPS: usize = 20;

/// The refill group's DW-4 part: the DW-4 iDEM paper recipe's refill (1,000 samples; EGNN, 3
/// layers, H = 128, freshly initialised), [`DW4_REFILL_STEPS`] reverse-SDE steps through the
/// inference path and through candle's tensors, alternately, 3 reps; reported per step and
/// scaled to the recipe's 1,000 steps. FLOPs count the inference path's matrix products per
/// sample and layer: 2 (n H 2H + 2 P H^2 + n 2H H + n H^2), P = n (n - 1) pairs.
fn dw4_refill(threads: usize) -> anyhow::Result<()> {
    let w = workload!(
        "DW-4 iDEM EGNN",
        "recipes/table2/dw4_idem.ron",
        ["objective.buffer.init=Prior"]
    );
    let (asm, settings) = idem_recipe(&w)?;
    let particles = asm.target.inner().particles();
    let p = particles.ok_or_else(|| anyhow::anyhow!("bench: DW-4 is a particle target"))?;
    let mut sde = settings.sde.reverse_sde(&settings.schedule, particles)?;
    let full_steps = sde.steps;
    sde.steps = DW4_REFILL_STEPS;
    let n = settings.buffer.refill_samples;
    let score = score_model(&asm)?;
    let dim = asm.target.dim();
    let tensor_only = TensorOnly(score);
    let run = |net: &dyn nsamp_core::ScoreModel, rep: u64| {
        time_refill(net, sde, dim, &asm.device, n, rep)
    };
    let (mut fast, mut slow) = (Vec::new(), Vec::new());
    for rep in 0..3 {
        fast.push(run(score, rep)?);
        slow.push(run(&tensor_only, rep)?);
    }
    let (h, layers, nn) = (128.0, 3.0, p.n as f64);
    let pairs = nn * (nn - 1.0);
    let per_sample = 2.0 * layers * (nn * h * 2.0 * h + 2.0 * pairs * h * h + 3.0 * nn * h * h);
    let flops = per_sample * n as f64 * DW4_REFILL_STEPS as f64;
    println!(
        "nsamp bench: threads={threads}, 3 alternating reps of {n} samples x {DW4_REFILL_STEPS} steps (median, min); {:.2} MFLOP per sample and step",
        per_sample / 1e6
    );
    for (label, v) in [("inference", fast), ("candle tensors", slow)] {
        let (med, min) = median_ms(v);
        let per_step = med / DW4_REFILL_STEPS as f64;
        println!(
            "  refill DW-4 {n} samples, {label:<15} {per_step:8.1} ms a step  {:8.1} ms min  ({:.1} GFLOP/s; {:.1} s per {full_steps}-step refill)",
            min / DW4_REFILL_STEPS as f64,
            flops / (med / 1e3) / 1e9,
            per_step * full_steps as f64 / 1e3
        );
    }
    Ok(())
}

/// The LJ-55 group, on the CPU and, where this build and machine have one, on GPU 0.
fn lj55_group(iters: usize, threads: usize) -> anyhow::Result<()> {
    let [e, eg] = lj55(iters, nsamp_core::Device::Cpu)?;
    println!("nsamp bench: threads={threads} (median of up to 20)");
    println!(
        "  lj55_energy      512 x 100 configs   {:8.2} ms  ({:.3e} configs/s)",
        e.0, e.1
    );
    println!(
        "  lj55_energy_grad 512 x 100 configs   {:8.2} ms  ({:.3e} configs/s)",
        eg.0, eg.1
    );
    match lj55(iters, nsamp_core::Device::Cuda(0)) {
        Ok([e, eg]) => {
            println!(
                "  lj55_energy      Cuda(0), with copies {:8.2} ms  ({:.3e} configs/s)",
                e.0, e.1
            );
            println!(
                "  lj55_energy_grad Cuda(0), with copies {:8.2} ms  ({:.3e} configs/s)",
                eg.0, eg.1
            );
        }
        Err(err) => println!("  lj55 on Cuda(0): not measured ({err:#})"),
    }
    Ok(())
}

/// The W2 group: the exact W2 metric (`nsamp_core::metrics::transport::wasserstein`, p = 2) on
/// GMM-40 (the `Gmm40` target's exact sampler, dim 2) at n = 2,000, 5,000 and 10,000: an exact
/// draw against another exact draw (the reference), and a bad set (45% of the rows uniform in
/// [-80, 80]^2, the rest exact) against the same reference. One solve each: wall and CPU
/// seconds (CPU over wall > 1 where rayon's full-pair passes run in parallel).
fn w2_group(threads: usize) -> anyhow::Result<()> {
    use nsamp_core::metrics::transport::wasserstein;
    use nsamp_core::rand::Rng as _;
    let spec: nsamp_core::registry::Spec<nsamp_core::registry::families::Target> =
        nsamp_core::registry::Spec::from_ron("Gmm40()").map_err(|e| anyhow::anyhow!("{e}"))?;
    let target = spec.config.build()?;
    let streams = RngStreams::new(0);
    println!("nsamp bench: threads={threads}, W2 on GMM-40 (dim 2), one solve each");
    for n in [2000, 5000, 10_000] {
        let draw = |purpose: &str| {
            target
                .exact_sample(n, &mut streams.stream(purpose, n as u64))
                .ok_or_else(|| anyhow::anyhow!("bench: GMM-40 has an exact sampler"))
        };
        let reference = draw("bench-w2-reference")?;
        let exact = draw("bench-w2-exact")?;
        let mut bad = draw("bench-w2-bad")?;
        let mut rng = streams.stream("bench-w2-uniform", n as u64);
        bad[..2 * (n * 45 / 100)]
            .iter_mut()
            .for_each(|x| *x = rng.random_range(-80.0f32..80.0));
        for (label, set) in [("exact vs exact", &exact), ("45% uniform vs exact", &bad)] {
            let (t, cpu) = (Instant::now(), process_cpu_seconds());
            let w2 = wasserstein(set, &reference, 2, 2)?;
            let wall = t.elapsed().as_secs_f64();
            let cpu = cpu.zip(process_cpu_seconds()).map(|(a, b)| b - a);
            println!(
                "  w2 n={n:<6} {label:<22} {wall:8.2} s  ({:.2} CPU s; W2 = {w2:.4})",
                cpu.unwrap_or(f64::NAN)
            );
        }
    }
    Ok(())
}

/// Runs the benchmark and prints a table; `only` restricts it to one group (`gmm`, `lj55`,
/// `flow`, `sbtm`, `pis`, `dikl`, `refill`, `w2`). Every workload is built from a recipe in
/// recipes/ or a registered preset.
pub fn run(iters: usize, only: Option<&str>) -> anyhow::Result<()> {
    anyhow::ensure!(iters >= 3, "--iters must be at least 3");
    if let Some(o) = only {
        anyhow::ensure!(
            ["gmm", "lj55", "flow", "sbtm", "pis", "dikl", "refill", "w2", "dw4"].contains(&o),
            "--only: unknown group `{o}` (gmm, lj55, flow, sbtm, pis, dikl, refill, w2, dw4)"
        );
    }
    nsamp_core::experiment::ensure_registry()?;
    let threads = crate::threads::current();
    let wants = |g: &str| only.is_none() || only == Some(g);
    if wants("flow") {
        println!("nsamp bench: threads={threads}, iters={iters} (median, min)");
        for w in &FLOWS {
            let (med, min) = time_step(w, iters)?;
            println!("  {:<44} {med:8.2} ms  {min:8.2} ms  ({})", w.label, w.path);
        }
    }
    if wants("lj55") {
        lj55_group(iters, threads)?;
    }
    if wants("sbtm") {
        println!("nsamp bench: threads={threads} (one run of 1 and one of 4 steps)");
        for (w, n) in &SBTM {
            let ms = sbtm_step(w, *n)?;
            println!("  {:<36} {ms:8.1} ms  ({})", w.label, w.path);
        }
    }
    if wants("gmm") {
        gmm(iters, threads)?;
    }
    if wants("refill") {
        refill_group(threads)?;
    }
    if wants("w2") {
        w2_group(threads)?;
    }
    if wants("dw4") {
        println!("nsamp bench: threads={threads}, iters={iters} (median, min)");
        for w in &DW4_STEPS {
            let (med, min) = time_step(w, iters)?;
            println!("  {:<44} {med:8.1} ms  {min:8.1} ms  ({})", w.label, w.path);
        }
    }
    if wants("pis") {
        println!("nsamp bench: threads={threads}, iters={iters} (median, min)");
        let (med, min) = time_step(&PIS, iters)?;
        println!(
            "  {:<44} {med:8.2} ms  {min:8.2} ms  ({})",
            PIS.label, PIS.path
        );
    }
    if wants("dikl") {
        println!(
            "nsamp bench: threads={threads}, iters={} (median, min)",
            iters.min(3)
        );
        let (med, min) = dikl_step(iters)?;
        println!(
            "  {:<44} {med:8.0} ms  {min:8.0} ms  ({})",
            DIKL.label, DIKL.path
        );
    }
    Ok(())
}
