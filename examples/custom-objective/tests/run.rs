//! The example binary lists its own objective beside the built-in ones and runs it from a recipe.

use std::process::Command;

#[test]
fn the_example_objective_registers_and_runs() {
    let exe = env!("CARGO_BIN_EXE_custom-objective");
    let list = Command::new(exe).arg("list").output().unwrap();
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(list.status.success());
    assert!(
        text.contains("ExactDsm") && text.contains("Idem") && text.contains("Gmm40"),
        "{text}"
    );

    let out = std::env::temp_dir().join(format!("nsamp-example-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let recipe = concat!(env!("CARGO_MANIFEST_DIR"), "/exact_dsm.ron");
    let run = Command::new(exe)
        .args(["--threads", "2", "run", recipe, "--out"])
        .arg(&out)
        .args([
            "--set",
            "train.steps=40",
            "--set",
            "eval.samples=200",
            "--set",
            "objective.sde_steps=30",
        ])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["objective"], "ExactDsm");
    assert!(metrics["metrics"]["W2"].as_f64().unwrap().is_finite());
    std::fs::remove_dir_all(&out).ok();
}
