//! `nsamp bench`: times the hot paths at the papers' GMM-40 setting. Figures go to BENCHMARKS.md.

use nsamp_core::candle_nn::VarMap;
use nsamp_core::experiment::Assembled;
use nsamp_core::numerics::mc_score::{McScore, ScoreClip};
use nsamp_core::numerics::rng::RngStreams;
use nsamp_core::numerics::schedule::GeometricSchedule;
use nsamp_core::{train, CountedTarget, Recipe};
use std::time::Instant;

fn median_ms(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2] * 1e3, v[0] * 1e3)
}

const RECIPE: &str = r#"Recipe(
    name: "bench-gmm40-idem", seed: 0,
    target: Gmm40(),
    model: ScoreMlp(),
    objective: Idem(mc: (samples: 500), buffer: (init: Prior)),
    train: (steps: 0, batch: 512, lr: 5e-4, grad_clip: 0.5),
    eval: (metrics: []),
)"#;

/// Flow training steps: (label, recipe).
const FLOW_RECIPES: [(&str, &str); 5] = [
    (
        "flow_rkl_step MOG-8 B=256 RealNvp 8x64 (37k)",
        r#"Recipe(name: "bench-flow-rkl", seed: 0, target: Mog8(), model: RealNvp(layers: 8, hidden: 64, scale: 3.0), objective: Rkl(), train: (steps: 0, batch: 256, lr: 1e-3), eval: (metrics: []))"#,
    ),
    (
        "flow_scorenf_step MOG-8 B=256 (RKL + SM)",
        r#"Recipe(name: "bench-flow-snf", seed: 0, target: Mog8(), model: RealNvp(layers: 8, hidden: 64, scale: 3.0), objective: ScoreNf(sm: 10.0, ensemble: Exact(1000)), train: (steps: 0, batch: 256, lr: 1e-3), eval: (metrics: []))"#,
    ),
    (
        "flow_rkl_step phi4 L=8 B=256 RealNvp 8x128 MLP",
        r#"Recipe(name: "bench-flow-phi4", seed: 0, target: Phi4(), model: RealNvp(layers: 8, hidden: 128), objective: Rkl(), train: (steps: 0, batch: 256, lr: 1e-3), eval: (metrics: []))"#,
    ),
    (
        "flow_rkl_step phi4 L=8 B=256 RealNvp 16x8 Conv",
        r#"Recipe(name: "bench-flow-phi4c", seed: 0, target: Phi4(), model: RealNvp(layers: 16, hidden: 8, conditioner: Conv), objective: Rkl(), train: (steps: 0, batch: 256, lr: 1e-3), eval: (metrics: []))"#,
    ),
    (
        "flow_scorenf_step phi4 L=8 B=256 16x8 Conv",
        r#"Recipe(name: "bench-flow-phi4c-snf", seed: 0, target: Phi4(), model: RealNvp(layers: 16, hidden: 8, conditioner: Conv), objective: ScoreNf(sm: 1.0, ensemble: Mcmc(size: 256, method: Hmc(10), chains: 64, burn_in: 100, pilot: 50)), train: (steps: 0, batch: 256, lr: 1e-3), eval: (metrics: []))"#,
    ),
];

/// Median and min of one full training step of `recipe`: batch, Monte Carlo score, forward,
/// backward, clip, Adam (the trainer's own code path).
fn time_step(recipe: &str, iters: usize) -> anyhow::Result<(f64, f64)> {
    let mut asm = Assembled::new(Recipe::parse(recipe, "bench")?)?;
    let vm: VarMap = asm.varmap.clone().unwrap();
    let mut trainer = train::Trainer::new(&vm, 5e-4, Some(0.5))?;
    let (objective, cx) = asm.split();
    let objective = objective.ok_or_else(|| anyhow::anyhow!("bench: not a trained method"))?;
    objective.init(&cx)?;
    let mut times = Vec::new();
    for step in 0..iters as u64 + 3 {
        let t = Instant::now();
        let out = objective.loss(step, &cx)?;
        let _loss = out.loss.to_scalar::<f32>()?;
        trainer.step(&out.loss)?;
        if step >= 3 {
            times.push(t.elapsed().as_secs_f64());
        }
    }
    Ok(median_ms(times))
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

/// Runs the benchmark and prints a table; `only` restricts it to one group (`gmm`, `lj55`,
/// `flow`).
pub fn run(iters: usize, only: Option<&str>) -> anyhow::Result<()> {
    anyhow::ensure!(iters >= 3, "--iters must be at least 3");
    let threads = crate::threads::current();
    if let Some(o) = only {
        anyhow::ensure!(
            o == "gmm" || o == "lj55" || o == "flow",
            "--only: unknown group `{o}` (gmm, lj55, flow)"
        );
    }
    if only.is_none() || only == Some("flow") {
        nsamp_core::experiment::ensure_registry()?;
        println!("nsamp bench: threads={threads}, iters={iters} (median, min)");
        for (what, recipe) in FLOW_RECIPES {
            let (med, min) = time_step(recipe, iters)?;
            println!("  {what:<44} {med:8.2} ms  {min:8.2} ms");
        }
        if only == Some("flow") {
            return Ok(());
        }
    }
    if only != Some("gmm") {
        nsamp_core::experiment::ensure_registry()?;
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
        // The same on GPU 0, where this build and machine have one.
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
        if only == Some("lj55") {
            return Ok(());
        }
    }
    let recipe = Recipe::parse(RECIPE, "bench")?;
    let asm = Assembled::new(recipe)?;
    let target: CountedTarget = asm.target.clone();
    let sched = GeometricSchedule::new(1e-5, 1.0)?;
    let streams = RngStreams::new(0);
    let b = 512;
    // Points spread like a training batch: x_t around the means, t uniform.
    let mut rng = streams.stream("bench", 0);
    let x0 = target.inner().exact_sample(b, &mut rng).unwrap();
    let x: Vec<f32> = x0.iter().map(|v| v / 50.0).collect();
    let h: Vec<f32> = (0..b)
        .map(|i| sched.h((i as f64 + 0.5) / b as f64) as f32)
        .collect();
    let mc = McScore {
        k: 500,
        scale: 50.0,
        clip: ScoreClip::Norm(70.0),
        com_free: None,
    };
    let mut s = vec![0f32; b * 2];
    let mut lp = vec![0f32; b];
    let mut times = Vec::new();
    for i in 0..iters + 3 {
        let t = Instant::now();
        mc.estimate(&target, &x, &h, &streams, i as u64, &mut s, &mut lp)?;
        if i >= 3 {
            times.push(t.elapsed().as_secs_f64());
        }
    }
    let (mc_med, mc_min) = median_ms(times);

    let idem = time_step(RECIPE, iters)?;
    let iwsm = time_step(&RECIPE.replace("Idem(", "IwSm(snis: 5, "), iters)?;

    // DwES: one reverse-SDE step (S_L with L = 500 for 1000 samples, then the update).
    let dwes = Recipe::parse(
        r#"Recipe(name: "bench-dwes", seed: 0, target: Gmm40(), sampler: Dwes(mc: (samples: 500), sde: (steps: 10)), eval: (metrics: []))"#,
        "bench",
    )?;
    let mut dw = Assembled::new(dwes)?;
    let t = Instant::now();
    dw.draw(1000, &streams, &mut |_, _| {})?;
    let dwes_ms = t.elapsed().as_secs_f64() * 1e3 / 10.0;
    println!("nsamp bench: threads={threads}, iters={iters} (median, min)");
    println!("  mc_score  GMM-40 B=512 K=500        {mc_med:8.2} ms  {mc_min:8.2} ms  ({:.1} M energy+grad/s)", (b * 500) as f64 / mc_med / 1e3);
    println!(
        "  idem_step GMM-40 B=512 K=500 MLP99k {:8.2} ms  {:8.2} ms",
        idem.0, idem.1
    );
    println!(
        "  iwsm_step GMM-40 B=512 K=500 J=5    {:8.2} ms  {:8.2} ms",
        iwsm.0, iwsm.1
    );
    println!("  dwes_sde_step GMM-40 n=1000 L=500   {dwes_ms:8.2} ms  (one reverse-SDE step, 500,000 energy+grad)");
    Ok(())
}
