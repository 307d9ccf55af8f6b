"""nsamp.evaluate against the command line's JSON, a short run, load_run, resume, errors."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import nsamp

RECIPES = os.path.join(os.path.dirname(__file__), "..", "..", "recipes")
QUICKSTART = os.path.join(RECIPES, "quickstart.ron")
# A trained recipe (the quickstart is training-free DwES since issue 15) and a few seconds of it.
TRAINED = os.path.join(RECIPES, "short", "gmm40_idem_short.ron")
SHORT = {
    "train.steps": 30,
    "train.log_every": 10,
    "train.checkpoint_every": 10,
    "objective.buffer.refill_every": 10,
    "objective.buffer.refill_samples": 100,
    "objective.sde.steps": 20,
    "eval.samples": 200,
}


def cli(*args):
    """nsamp's command line in a subprocess (`python -m nsamp`)."""
    return subprocess.run(
        [sys.executable, "-m", "nsamp", *args], capture_output=True, text=True, check=False
    )


def test_evaluate_equals_the_cli_json(tmp_path):
    t = nsamp.Target("Gmm40()")
    x = t.sample(1000, seed=99).astype(np.float32)
    path = tmp_path / "samples.npy"
    np.save(path, x)
    out = cli("eval", QUICKSTART, "--samples", str(path), "--json")
    assert out.returncode == 0, out.stderr
    from_cli = json.loads(out.stdout)
    from_py = nsamp.evaluate(QUICKSTART, x)
    assert from_py["samples"] == "<array>"
    from_cli.pop("samples"), from_py.pop("samples")
    assert from_py == from_cli
    assert set(from_py["metrics"]) >= {"W1", "W2", "E-TVD", "S-TVD"}
    assert from_py["exact_floor"] is not None


def test_evaluate_with_overrides_and_bad_input():
    x = nsamp.Target("Gmm40()").sample(300, seed=1)
    e = nsamp.evaluate(QUICKSTART, x, overrides={"eval.samples": 300, "eval.reference_seed": 5})
    assert e["n_reference"] == 300 and "reference_seed 5" in e["reference"]
    with pytest.raises(ValueError, match="shape"):
        nsamp.evaluate(QUICKSTART, x[:, :1])
    with pytest.raises(ValueError, match="no recipe file"):
        nsamp.evaluate("no/such/recipe.ron", x)
    with pytest.raises(ValueError):
        nsamp.evaluate(QUICKSTART, x, overrides={"train.no_such_field": 1})
    with pytest.raises(TypeError):
        nsamp.evaluate(QUICKSTART, x, overrides={"train.steps": [1, 2]})


def test_short_run_load_run_and_cli_agree(tmp_path):
    report = nsamp.run(TRAINED, overrides=SHORT, out=tmp_path / "py", progress=False)
    assert report["run_dir"] == str(tmp_path / "py")
    assert report["seed"] == 12345
    assert np.isfinite(report["metrics"]["W2"])
    run = nsamp.load_run(tmp_path / "py")
    assert run["metrics"] == json.loads((tmp_path / "py" / "metrics.json").read_text())
    # samples.npy holds the nsamp protocol's TVD set, its first eval.samples rows first.
    protocol = run["metrics"]["eval_protocol"]
    assert protocol["samples"] == 200 and protocol["tvd_samples"] == 10_000
    assert run["samples"].shape == (10_000, 2)
    assert len(run["loss"]["step"]) == 30 and np.isfinite(run["loss"]["loss"]).all()
    assert "steps: 30" in run["recipe"]
    # The same recipe and seed through the command line: the same metrics and samples.
    sets = [a for k, v in SHORT.items() for a in ("--set", f"{k}={v}")]
    out = cli("--threads", str(report["threads"]), "run", TRAINED, "--out", str(tmp_path / "cli"), *sets)
    assert out.returncode == 0, out.stderr
    by_cli = nsamp.load_run(tmp_path / "cli")
    assert by_cli["metrics"]["metrics"] == run["metrics"]["metrics"]
    assert np.array_equal(by_cli["samples"], run["samples"])


def test_run_errors(tmp_path):
    with pytest.raises(ValueError, match="no recipe file"):
        nsamp.run(tmp_path / "missing.ron")
    with pytest.raises(ValueError):
        nsamp.run("Recipe(name: \"x\")")
    with pytest.raises(ValueError, match="not a run directory"):
        nsamp.load_run(tmp_path)
    with pytest.raises(ValueError, match="not a run directory"):
        nsamp.resume(tmp_path)


def test_cli_entry_point():
    out = cli("list")
    assert out.returncode == 0 and "Gmm40" in out.stdout
    bad = cli("no-such-command")
    assert bad.returncode == 2 and "error" in bad.stderr
