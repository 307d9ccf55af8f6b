"""Reading a run directory that ``nsamp run`` (or :func:`nsamp.run`) wrote."""

import json
import os
from typing import Any, Dict

import numpy as np


def load_run(run_dir: "os.PathLike[str] | str") -> Dict[str, Any]:
    """The run in ``run_dir``: a dict with

    - ``recipe``: the recipe's RON text as run (``recipe.ron``, overrides applied);
    - ``metrics``: the report (``metrics.json``: metrics, exact floor, evaluation protocol, seed,
      energy evaluations, wall times, ...), or ``None`` if the run has not finished;
    - ``samples``: the evaluated samples (``samples.npy``, float32 ``(n, dim)``: the TVD set of
      ``eval.tvd_samples`` rows, whose first ``eval.samples`` rows the other metrics score), or
      ``None``;
    - ``loss``: the training log (``loss.csv``) as a dict of column name -> float64 array, or
      ``None`` for a training-free sampler;
    - ``run_dir``: the directory.
    """
    d = os.fspath(run_dir)
    recipe_path = os.path.join(d, "recipe.ron")
    if not os.path.isfile(recipe_path):
        raise ValueError(f"{d} is not a run directory (no recipe.ron)")
    with open(recipe_path, encoding="utf-8") as f:
        recipe = f.read()

    def optional(name):
        p = os.path.join(d, name)
        return p if os.path.isfile(p) else None

    metrics = None
    if optional("metrics.json"):
        with open(optional("metrics.json"), encoding="utf-8") as f:
            metrics = json.load(f)
    samples = np.load(optional("samples.npy")) if optional("samples.npy") else None
    loss = None
    if optional("loss.csv"):
        table = np.genfromtxt(optional("loss.csv"), delimiter=",", names=True, ndmin=1)
        loss = {name: np.asarray(table[name], dtype=np.float64) for name in table.dtype.names}
    return {"recipe": recipe, "metrics": metrics, "samples": samples, "loss": loss, "run_dir": d}
