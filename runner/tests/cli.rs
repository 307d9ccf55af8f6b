//! The `nsamp` binary end to end: listing, checking, bad input, a short run, sampling, and
//! scoring external samples with `eval --json`.

use nsamp as _; // link the built-in plugins into this test process too
mod common;
use common::{nsamp, scratch};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TINY: &str = r#"Recipe(
    name: "tiny",
    seed: 3,
    threads: 2,
    target: Gmm40(),
    model: ScoreMlp(hidden: 32, blocks: 1, embedding: 16),
    objective: Idem(mc: (samples: 32), buffer: (initial: 256, init: Prior, refill_every: 10, refill_samples: 100), sde: (steps: 20)),
    train: (steps: 20, batch: 64, lr: 1e-3, grad_clip: 0.5, log_every: 10, checkpoint_every: 10),
    eval: (samples: 200, metrics: [W1(), W2(), ETvd(), STvd(), ModeCoverage()]),
)"#;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn list_shows_every_builtin_plugin() {
    let o = nsamp(&["list"], Path::new("."));
    assert!(o.status.success());
    let s = String::from_utf8_lossy(&o.stdout);
    for name in [
        "Gmm40",
        "Gmm80",
        "Gmm120",
        "Mog4",
        "Mog8",
        "Mixture",
        "ScoreMlp",
        "Idem",
        "Pdem",
        "W1",
        "W2",
        "ETvd",
        "STvd",
        "ModeCoverage",
    ] {
        assert!(s.contains(name), "`nsamp list` lacks {name}:\n{s}");
    }
    assert!(
        s.contains("fields: schedule, mc, lambda, buffer, sde, scale"),
        "{s}"
    );
}

fn expect_clean_failure(o: &Output, must_contain: &[&str]) {
    let e = stderr(o);
    assert!(!o.status.success(), "expected failure, got success: {e}");
    assert!(!e.contains("panicked"), "panicked: {e}");
    for m in must_contain {
        assert!(e.contains(m), "message lacks `{m}`: {e}");
    }
    assert_eq!(
        e.lines().filter(|l| l.starts_with("error")).count(),
        1,
        "one message: {e}"
    );
}

#[test]
fn bad_input_gives_one_clear_message() {
    let d = scratch("bad");
    let write = |name: &str, text: &str| {
        let p = d.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let typo = write("typo.ron", &TINY.replace("Gmm40()", "Gmm04()"));
    expect_clean_failure(
        &nsamp(&["check", &typo], &d),
        &["typo.ron:5:", "unknown target `Gmm04`", "Gmm40"],
    );
    let missing = write("missing.ron", &TINY.replace("steps: 20, ", ""));
    expect_clean_failure(&nsamp(&["check", &missing], &d), &["missing.ron:", "steps"]);
    let negative = write(
        "negative.ron",
        &TINY.replace("train: (steps: 20", "train: (steps: -5"),
    );
    expect_clean_failure(&nsamp(&["run", &negative], &d), &["negative.ron:8:"]);
    let field = write(
        "field.ron",
        &TINY.replace("mc: (samples: 32)", "mc: (sampels: 32)"),
    );
    expect_clean_failure(&nsamp(&["check", &field], &d), &["sampels", "`samples`"]);
    let noref = write(
        "noref.ron",
        &TINY.replace(
            "eval: (samples: 200,",
            "eval: (samples: 200, reference: File(\"missing.npy\"),",
        ),
    );
    expect_clean_failure(
        &nsamp(&["run", &noref], &d),
        &["eval.reference", "missing.npy"],
    );
    let good = write("good.ron", TINY);
    expect_clean_failure(
        &nsamp(&["run", &good, "--out", "/nonexistent/dir/run"], &d),
        &["does not exist"],
    );
    expect_clean_failure(
        &nsamp(&["run", "no-such-recipe.ron"], &d),
        &["cannot read recipe"],
    );
    expect_clean_failure(
        &nsamp(&["check", &good, "--set", "train.stepz=3"], &d),
        &["stepz"],
    );
    expect_clean_failure(
        &nsamp(&["check", &good, "--set", "train.lr=-1"], &d),
        &["lr"],
    );
    let ok = nsamp(&["check", &good], &d);
    assert!(ok.status.success(), "{}", stderr(&ok));
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn run_sample_and_eval_end_to_end() {
    let d = scratch("run");
    std::fs::write(d.join("tiny.ron"), TINY).unwrap();
    let o = nsamp(&["run", "tiny.ron", "--out", "run1"], &d);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = d.join("run1");
    for f in [
        "recipe.ron",
        "metrics.json",
        "metrics.ron",
        "samples.npy",
        "model.safetensors",
        "loss.csv",
        "log.txt",
        "samples.png",
        "energy_hist.png",
        "loss.png",
        "occupancy.png",
    ] {
        assert!(run.join(f).is_file(), "missing {f}");
    }
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("metrics.json")).unwrap()).unwrap();
    // Every component's share: 40 shares summing to 1, whose worst share over its weight is the
    // reported min_occupancy_ratio (no corrector: nothing before it).
    let occ = &m["mode_occupancy"];
    let shares: Vec<f64> = serde_json::from_value(occ["samples"].clone()).unwrap();
    let weights: Vec<f64> = serde_json::from_value(occ["weights"].clone()).unwrap();
    assert_eq!((shares.len(), weights.len()), (40, 40));
    assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    let worst = shares
        .iter()
        .zip(&weights)
        .map(|(s, w)| s / w)
        .fold(f64::INFINITY, f64::min);
    let reported = m["metrics"]["min_occupancy_ratio"].as_f64().unwrap();
    assert!((worst - reported).abs() < 1e-5, "{worst} vs {reported}");
    assert!(occ["before_corrector"].is_null());
    // 20 steps x 64 rows x 32 MC samples of training energy evaluations.
    assert_eq!(m["energy_evals"]["training"], 20 * 64 * 32);
    assert!(m["exact_floor"]["W2"].as_f64().unwrap() > 0.0);
    // The resolved recipe re-runs: `check` accepts it.
    assert!(nsamp(&["check", "run1/recipe.ron"], &d).status.success());

    let o = nsamp(&["sample", "run1", "-n", "50", "-o", "more.npy"], &d);
    assert!(o.status.success(), "{}", stderr(&o));
    let a = nsamp_core::io::read_npy(&d.join("more.npy")).unwrap();
    assert_eq!((a.rows, a.cols), (50, 2));

    // Score external samples (float64 file, as numpy writes by default): a run's own samples
    // score exactly what the run reported.
    let o = nsamp(&["eval", "run1", "--json"], &d);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["metrics"]["W2"], m["metrics"]["W2"]);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn curve_scores_the_kept_weights_and_ends_at_the_run_metrics() {
    let d = scratch("curve");
    std::fs::write(d.join("tiny.ron"), TINY).unwrap();
    let o = nsamp(
        &[
            "run",
            "tiny.ron",
            "--out",
            "run1",
            "--set",
            "train.snapshot_every=10",
        ],
        &d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let index = std::fs::read_to_string(d.join("run1/snapshots/index.csv")).unwrap();
    let steps: Vec<&str> = index
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(steps, ["10", "20"], "{index}");
    let o = nsamp(&["curve", "run1", "--metrics", "W2,modes_covered"], &d);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(d.join("run1/curve.png").is_file());
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("run1/metrics.json")).unwrap())
            .unwrap();
    let c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("run1/curve.json")).unwrap()).unwrap();
    let points = c["points"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    // 10 steps x 64 rows x 32 MC samples per snapshot; the last one is the run's end: the same
    // samples (same stream), so the same metrics and floor.
    assert_eq!(points[0]["energy_evals"], 10 * 64 * 32);
    assert_eq!(points[1]["metrics"], m["metrics"]);
    assert_eq!(c["exact_floor"], m["exact_floor"]);
    let csv = std::fs::read_to_string(d.join("run1/curve.csv")).unwrap();
    assert!(
        csv.starts_with("step,energy_evals,training_seconds,E-TVD"),
        "{csv}"
    );
    // A run that kept no weights, and a bad snapshot_every, are clear errors.
    std::fs::rename(d.join("run1/snapshots"), d.join("kept")).unwrap();
    expect_clean_failure(
        &nsamp(&["curve", "run1"], &d),
        &["kept no weights", "train.snapshot_every"],
    );
    expect_clean_failure(
        &nsamp(
            &["check", "tiny.ron", "--set", "train.snapshot_every=15"],
            &d,
        ),
        &["must be a positive multiple of `train.checkpoint_every` (10)"],
    );
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn eval_scores_an_external_npy_against_the_recipe_reference() {
    let d = scratch("eval");
    std::fs::write(d.join("tiny.ron"), TINY).unwrap();
    // Reference-like samples: the reference itself must score 0 against itself.
    let out = nsamp(&["eval", "tiny.ron", "--json"], &d);
    assert!(
        !out.status.success(),
        "eval of a recipe without --samples must fail"
    );
    let refset = {
        use nsamp_core::registry::{families, Spec};
        let t = Spec::<families::Target>::from_ron("Gmm40()")
            .unwrap()
            .config
            .build()
            .unwrap();
        let mut rng = nsamp_core::numerics::rng::RngStreams::new(0).stream("reference", 0);
        t.exact_sample(200, &mut rng).unwrap()
    };
    nsamp_core::io::write_npy(&d.join("ref.npy"), &refset, 2).unwrap();
    let o = nsamp(&["eval", "tiny.ron", "--samples", "ref.npy", "--json"], &d);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["metrics"]["W2"].as_f64().unwrap(), 0.0);
    assert_eq!(v["metrics"]["E-TVD"].as_f64().unwrap(), 0.0);
    // Overrides as for run: fewer metrics.
    let o = nsamp(
        &[
            "eval",
            "tiny.ron",
            "--samples",
            "ref.npy",
            "--json",
            "--set",
            "eval.exact_floor=false",
        ],
        &d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["exact_floor"].is_null(), "{v}");
    // Wrong width is a clear error.
    nsamp_core::io::write_npy(&d.join("bad.npy"), &[0.0; 9], 3).unwrap();
    let o = nsamp(&["eval", "tiny.ron", "--samples", "bad.npy"], &d);
    expect_clean_failure(&o, &["3 values", "dimension is 2"]);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn sweep_writes_one_table_and_table_rebuilds_it() {
    let d = scratch("sweep");
    std::fs::write(d.join("tiny.ron"), TINY).unwrap();
    let o = nsamp(
        &[
            "sweep",
            "tiny.ron",
            "--seeds",
            "2",
            "--out",
            "sw",
            "--set",
            "train.steps=5",
        ],
        &d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let t: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("sw/table.json")).unwrap()).unwrap();
    let row = &t["rows"][0];
    assert_eq!(row["method"], "tiny");
    assert_eq!(row["seeds"], serde_json::json!([3, 4]));
    // The mean is the mean of the two runs' values.
    let w2 = |s: &str| -> f64 {
        let m: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(d.join(format!("sw/seed-{s}/metrics.json"))).unwrap(),
        )
        .unwrap();
        m["metrics"]["W2"].as_f64().unwrap()
    };
    let mean = row["metrics"]["W2"]["mean"].as_f64().unwrap();
    assert!((mean - (w2("3") + w2("4")) / 2.0).abs() < 1e-12);
    let o = nsamp(&["table", "sw/seed-3", "sw/seed-4"], &d);
    assert!(o.status.success());
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(
        md.contains("| tiny | Gmm40 | 2 |") && md.contains("| exact floor | Gmm40 | 2 |"),
        "{md}"
    );
    // The table names the protocol its runs were scored under.
    assert!(
        md.starts_with("Protocol: W1, W2 and the other metrics on ") && md.contains("community/"),
        "{md}"
    );
    // One rule for every output path: the parent must exist, the path itself is created.
    let o = nsamp(&["table", "sw/seed-3", "--out", "tables"], &d);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(d.join("tables/table.md").is_file());
    // Every metric against the energy evaluations spent, one figure.
    assert!(d.join("tables/budget.png").is_file());
    for args in [
        &["table", "sw/seed-3", "--out", "no/such/dir"][..],
        &["run", "tiny.ron", "--out", "no/such/dir"][..],
        &["sample", "sw/seed-3", "-n", "5", "--out", "no/such/x.npy"][..],
        &["schema", "--out", "no/such/schema.md"][..],
    ] {
        expect_clean_failure(
            &nsamp(args, &d),
            &["parent directory no/such does not exist"],
        );
    }
    std::fs::remove_dir_all(&d).ok();
}

const DW4: &str = r#"Recipe(
    name: "dw4-ref",
    seed: 5,
    target: Dw4(),
    sampler: Dwes(mc: (samples: 16), sde: (steps: 4)),
    eval: (samples: 64, reference: File("ref.npy"), metrics: [DTvd()]),
)"#;

/// `nsamp reference` writes the set and its provenance, and the set then serves as a reference.
#[test]
fn reference_writes_samples_and_provenance() {
    let dir = scratch("reference");
    std::fs::write(dir.join("dw4.ron"), DW4).unwrap();
    let o = nsamp(
        &[
            "--threads",
            "2",
            "reference",
            "dw4.ron",
            "-n",
            "200",
            "-o",
            "ref.npy",
            "--chains",
            "40",
            "--burn-in",
            "300",
            "--pilot",
            "200",
            "--method",
            "hmc:5",
        ],
        &dir,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let prov: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("ref.npy.json")).unwrap()).unwrap();
    let m = &prov["mcmc"];
    assert_eq!(m["samples"], 200);
    assert_eq!(m["seed"], 5);
    assert!(m["acceptance"].as_f64().unwrap() > 0.5, "{prov}");
    assert!(m["energy_evals"].as_u64().unwrap() > 40 * 500);
    assert_eq!(prov["target"], "Dw4()");
    let e = m["energy_mean"].as_f64().unwrap();
    assert!((-26.0..-19.0).contains(&e), "DW-4 mean energy {e}");
    // The written set is a valid reference for the recipe.
    let o = nsamp(&["eval", "dw4.ron", "--samples", "ref.npy"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    // Bad method names are refused with the choices.
    let o = nsamp(
        &["reference", "dw4.ron", "-n", "10", "--method", "gibbs"],
        &dir,
    );
    expect_clean_failure(&o, &["mala", "hmc:L"]);
}

/// `device: Cuda(0)` fails with a clear message on a build without the `cuda` feature, and on a
/// target without GPU kernels.
#[test]
fn cuda_device_is_a_clear_error_here() {
    let dir = scratch("cuda");
    let lj = DW4
        .replace("Dw4()", "Lj13()")
        .replace("seed: 5,", "seed: 5, device: Cuda(0),");
    std::fs::write(dir.join("lj.ron"), &lj).unwrap();
    let o = nsamp(&["reference", "lj.ron", "-n", "10"], &dir);
    expect_clean_failure(&o, &["Cuda(0)"]);
    let dw = DW4.replace("seed: 5,", "seed: 5, device: Cuda(0),");
    std::fs::write(dir.join("dw.ron"), &dw).unwrap();
    let o = nsamp(&["reference", "dw.ron", "-n", "10"], &dir);
    expect_clean_failure(&o, &["no CUDA kernels"]);
}

fn nsamp_cached(args: &[&str], cwd: &Path, cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nsamp"))
        .args(args)
        .current_dir(cwd)
        .env("NSAMP_CACHE", cache)
        .output()
        .unwrap()
}

const TINY_MALA: &str = r#"Recipe(
    name: "tiny-mala",
    seed: 3,
    threads: 2,
    target: Gmm40(),
    sampler: Mala(chains: 50, burn_in: 200, pilot: 100, thin: Some(2)),
    eval: (samples: 200, metrics: [W1(), W2(), ETvd(), STvd(), ModeCoverage()]),
)"#;

/// A training-free sampler writes the same run directory as a trained method, reports its
/// energy evaluations and its own figures, and `nsamp table` shows it beside iDEM.
#[test]
fn training_free_sampler_runs_and_sits_in_the_table_beside_idem() {
    let dir = scratch("mala");
    std::fs::write(dir.join("tiny.ron"), TINY).unwrap();
    std::fs::write(dir.join("mala.ron"), TINY_MALA).unwrap();
    for (recipe, out) in [("tiny.ron", "idem"), ("mala.ron", "mala")] {
        let o = nsamp(&["run", recipe, "--out", out], &dir);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let run = dir.join("mala");
    for f in [
        "recipe.ron",
        "metrics.json",
        "metrics.ron",
        "samples.npy",
        "log.txt",
        "samples.png",
        "energy_hist.png",
        "occupancy.png",
    ] {
        assert!(run.join(f).is_file(), "the Mala run lacks {f}");
    }
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(m["sampler"], "Mala");
    assert!(m["objective"].is_null());
    // 50 chains: 500 descent + 200 burn-in + 100 pilot + 4 x 2 production steps (MALA: one
    // energy+gradient per chain and step) plus the initial evaluation of every chain.
    assert_eq!(
        m["energy_evals"]["sampling"],
        50 * (500 + 200 + 100 + 8 + 1)
    );
    let acc = m["sampler_report"]["acceptance"].as_f64().unwrap();
    assert!(acc > 0.2 && acc < 0.95, "acceptance {acc}");
    let o = nsamp(&["table", "idem", "mala"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    let row = |name: &str| {
        table
            .lines()
            .find(|l| l.starts_with(&format!("| {name} |")))
            .unwrap_or_else(|| panic!("no row {name}:\n{table}"))
            .to_string()
    };
    assert!(row("tiny-mala").ends_with(&format!("| {:.3e} |", 50.0 * 809.0)));
    assert!(row("tiny").contains("| Gmm40 | 1 |"));

    // An equal-budget table: a second MALA run of the same seed with 200 more burn-in steps
    // spends 50 x 1009 evaluations, the tiny iDEM run 40,960. At 40,500 the smaller MALA run is
    // kept and iDEM is listed below the table as over the budget; at 60,000 the larger MALA run
    // and iDEM are kept.
    let o = nsamp(
        &[
            "run",
            "mala.ron",
            "--set",
            "sampler.burn_in=400",
            "--out",
            "mala2",
        ],
        &dir,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    for (budget, kept, idem_in) in [(40_500.0, 809.0, false), (60_000.0, 1009.0, true)] {
        let b = format!("{budget}");
        let o = nsamp(&["table", "idem", "mala", "mala2", "--budget", &b], &dir);
        assert!(o.status.success(), "{}", stderr(&o));
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        let line = text
            .lines()
            .find(|l| l.starts_with("| tiny-mala |"))
            .unwrap_or_else(|| panic!("no MALA row:\n{text}"));
        assert!(line.contains("| Gmm40 | 1 |"), "one run per seed: {line}");
        assert!(
            line.ends_with(&format!("| {:.3e} |", 50.0 * kept)),
            "{line}"
        );
        assert_eq!(
            text.lines().any(|l| l.starts_with("| tiny |")),
            idem_in,
            "{text}"
        );
        assert_eq!(
            text.contains("- tiny: its runs spent 4.096e4 or more"),
            !idem_in,
            "{text}"
        );
    }
    let o = nsamp(&["table", "idem", "--budget", "1000"], &dir);
    assert!(!o.status.success() && stderr(&o).contains("no run within the budget"));
}

const DW4_CACHED: &str = r#"Recipe(
    name: "dw4-cached",
    seed: 1,
    threads: 2,
    target: Dw4(),
    sampler: Mala(chains: 20, burn_in: 100, pilot: 50),
    eval: (samples: 100, reference: Mcmc(n: 100, sampler: Mala(chains: 20, burn_in: 150, pilot: 50)), metrics: [W2(), ETvd(), DTvd()]),
)"#;

/// `eval.reference: Mcmc(...)` draws the set on first use, caches it under NSAMP_CACHE with its
/// provenance, and a second run reuses it (its log says so) and scores against the same rows.
#[test]
fn mcmc_reference_is_drawn_once_then_reused_from_the_cache() {
    let dir = scratch("cache");
    let cache = dir.join("cache");
    std::fs::write(dir.join("dw4.ron"), DW4_CACHED).unwrap();
    let mut metrics = Vec::new();
    for out in ["first", "second"] {
        let o = nsamp_cached(&["run", "dw4.ron", "--out", out], &dir, &cache);
        assert!(o.status.success(), "{}", stderr(&o));
        let log = std::fs::read_to_string(dir.join(out).join("log.txt")).unwrap();
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join(out).join("metrics.json")).unwrap())
                .unwrap();
        metrics.push(m["metrics"].clone());
        if out == "first" {
            assert!(
                log.contains("reference: drew the 100 x 8 Mala reference"),
                "{log}"
            );
        } else {
            assert!(
                log.contains("reference: reused the cached 100 x 8 Mala reference"),
                "{log}"
            );
        }
    }
    assert_eq!(metrics[0], metrics[1]);
    let files: Vec<PathBuf> = std::fs::read_dir(cache.join("references"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    let json = files
        .iter()
        .find(|p| p.extension().unwrap() == "json")
        .unwrap();
    let prov: serde_json::Value = serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap();
    assert_eq!(prov["n"], 100);
    assert_eq!(prov["target"], "Dw4()");
    assert!(prov["sampler"].as_str().unwrap().contains("burn_in: 150"));
    assert!(prov["energy_evals"].as_u64().unwrap() > 0);
    // Another reference_seed is another key: drawn anew.
    let o = nsamp_cached(
        &[
            "run",
            "dw4.ron",
            "--out",
            "third",
            "--set",
            "eval.reference_seed=9",
        ],
        &dir,
        &cache,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let log = std::fs::read_to_string(dir.join("third").join("log.txt")).unwrap();
    assert!(log.contains("reference: drew"), "{log}");
}

/// Particle samplers write trace.csv and trace.png; `nsamp table --out` puts the traces of all
/// runs on one figure (traces.png).
#[test]
fn particle_sampler_traces_and_one_figure_for_several_runs() {
    let dir = scratch("traces");
    let recipe = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../recipes/sbtm/heat_flow_d5_ula.ron"
    );
    for (out, ann) in [("off", "Off"), ("geo", "Geometric")] {
        let o = nsamp(
            &[
                "run",
                recipe,
                "--out",
                out,
                "--set",
                "sampler.steps=60",
                "--set",
                "eval.samples=200",
                "--set",
                &format!("sampler.annealing={ann}"),
            ],
            &dir,
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let csv = std::fs::read_to_string(dir.join(out).join("trace.csv")).unwrap();
        assert!(
            csv.starts_with("t,fisher,fisher_dkl,kl_kde,kl_gauss"),
            "{csv}"
        );
        assert_eq!(
            csv.lines().count(),
            1 + 4,
            "rows at steps 0, 25, 50 and the last, 59"
        );
        assert!(dir.join(out).join("trace.png").is_file());
    }
    let o = nsamp(&["table", "off", "geo", "--out", "t"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.join("t").join("traces.png").is_file());
}
