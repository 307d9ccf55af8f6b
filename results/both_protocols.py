#!/usr/bin/env python3
"""The rows of RESULTS.md, "The papers' rows under both protocols", from the files in
results/ (standard library only):

- `<run>-community.json`: `nsamp eval RUN --json --set eval.tvd_samples=1000 --set
  'eval.metrics=[...]'` on the run's own final samples.npy: every metric of both protocols on the
  first 1,000 samples against the 1,000-row reference (GMM-40: exact, reference_seed 0; DW-4: the
  first 1,000 rows of the 10,000-state MALA set), with the floor of the same size;
- `<run>-metrics.json` and `final-tvd-set.csv` / `*-tvd-set-metrics.json` / `*-tvd-set-curve.json`:
  the nsamp protocol's TVDs on 10,000 samples (Freedman-Diaconis bins), budgets and wall times.

    python3 results/both_protocols.py > /tmp/tables.md
"""

import csv
import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def load(p):
    return json.loads(Path(p).read_text())


def ms(values, digits):
    v = [x for x in values if x is not None]
    if not v:
        return "-"
    if len(v) == 1:
        return f"{v[0]:.{digits}f}"
    return f"{statistics.mean(v):.{digits}f} ± {statistics.stdev(v):.{digits}f}"


def rng(values, digits):
    v = [x for x in values if x is not None]
    if not v:
        return "-"
    lo, hi = min(v), max(v)
    return f"{lo:.{digits}f}" if f"{lo:.{digits}f}" == f"{hi:.{digits}f}" else f"{lo:.{digits}f}-{hi:.{digits}f}"


def sci(x):
    m, e = f"{x:.2e}".split("e")
    return f"{m}e{int(e)}"


def gmm40():
    d = HERE / "gmm40-full"
    tvd = {r["run"]: r for r in csv.DictReader(open(d / "final-tvd-set.csv"))}
    for s in (12345, 12346, 12347):
        m = load(d / f"dwes1000-{s}-tvd-set-metrics.json")
        f = m["exact_floor"]
        tvd[f"dwes1000-{s}"] = {
            "E-TVD": m["metrics"]["E-TVD"], "S-TVD": m["metrics"]["S-TVD"],
            "floor_E-TVD": f["E-TVD"], "floor_S-TVD": f["S-TVD"],
            "modes_covered": m["metrics"]["modes_covered"],
            "between_modes": m["metrics"]["between_modes"],
        }
    rows = [
        ("iDEM", "idem", (12345, 12346, 12347), "100,000 steps", ("2.52", "4.40", "0.07", "0.23")),
        ("pDEM", "pdem", (12345, 12346, 12347), "100,000 steps", ("3.44", "5.62", "0.10", "0.30")),
        ("IW-SM, J = 5", "iwsm", (12345,), "100,000 steps", ("1.43", "3.12", "0.05", "0.19")),
        ("DwES, L = 1000", "dwes1000", (12345, 12346, 12347), "training-free", ("1.23", "2.81", "0.05", "0.28")),
    ]
    out = [
        "| method, budget (seeds) | protocol | W1 | W2 | E-TVD | S-TVD | MMD_rbf | modes | between_modes | energy evals | wall (threads) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    floors_c, floors_n = [], []
    for name, key, seeds, budget, paper in rows:
        runs = [f"{key}-{s}" for s in seeds]
        com = [load(d / f"{r}-community.json") for r in runs]
        met = [load(d / f"{r}-metrics.json") for r in runs]
        ev = met[0]["energy_evals"]
        evals = ev["training"] + ev["sampling"]
        walls = [m["wall_time_s"]["training"] + m["wall_time_s"]["sampling"] for m in met]
        threads = sorted({m["threads"] for m in met})
        wall = f"{rng([w / 60 for w in walls], 1)} min ({'/'.join(map(str, threads))})"
        seeds_s = ", ".join(str(s) for s in seeds)
        out.append(
            f"| {name}, {budget} | paper ({'DwES, appendix Table 3' if key.startswith('dwes') else 'IW-SM, Table 1'}) "
            f"| {paper[0]} | {paper[1]} | {paper[2]} | {paper[3]} | - | - | - | - | - |"
        )
        g = lambda k: [c["metrics"].get(k) for c in com]
        out.append(
            f"| ({seeds_s}) | community: 1,000 vs 1,000, E-TVD 200 bins, out-of-range dropped "
            f"| {ms(g('W1'), 2)} | {ms(g('W2'), 2)} | {ms(g('community/E-TVD'), 3)} | - "
            f"| {ms(g('MMD_rbf'), 4)} | - | - | {sci(evals)} | {wall} |"
        )
        t = [tvd[r] for r in runs]
        tv = lambda k: [float(x[k]) for x in t]
        out.append(
            f"| | nsamp: W1, W2 on 1,000; TVDs on 10,000, Freedman-Diaconis bins "
            f"| {ms(g('W1'), 2)} | {ms(g('W2'), 2)} | {ms(tv('E-TVD'), 3)} | {ms(tv('S-TVD'), 3)} "
            f"| - | {ms(tv('modes_covered'), 1)} | {ms(tv('between_modes'), 3)} | | |"
        )
        floors_c += [c["exact_floor"] for c in com]
        floors_n += t
    fc = lambda k: [f.get(k) for f in floors_c]
    fn = lambda k: [float(x[k]) for x in floors_n]
    out.append(
        "| exact floor, 1,000 exact samples (exact seeds 12345-12347) | community "
        f"| {rng(fc('W1'), 2)} | {rng(fc('W2'), 2)} | {rng(fc('community/E-TVD'), 3)} | - "
        f"| {rng(fc('MMD_rbf'), 4)} | 40 | 0.000 | - | - |"
    )
    out.append(
        "| exact floor, 10,000 exact samples for the TVDs | nsamp "
        f"| {rng(fc('W1'), 2)} | {rng(fc('W2'), 2)} | {rng(fn('floor_E-TVD'), 3)} | {rng(fn('floor_S-TVD'), 3)} "
        "| - | 40 | 0.000 | - | - |"
    )
    return "\n".join(out)


def dw4():
    d = HERE / "dw4-budget"
    rows = [
        ("iDEM", "idem-5000", "5,000 of 100,000 steps", ("1.58", "0.08", "0.05")),
        ("IW-SM, J = 2", "iwsm-2000", "2,000 of 100,000 steps", ("1.57", "0.05", "0.04")),
    ]
    out = [
        "| method, budget (seed) | protocol | W2 | E-TVD | D-TVD | Eq-EMD2 / EqW2 | MMD_rbf | mean E | energy evals | wall (1 thread) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    floor = None
    for name, key, budget, paper in rows:
        out.append(
            f"| {name}, {budget} | paper (IW-SM Table 2, 100,000 steps) | {paper[0]} | {paper[1]} | {paper[2]} | - | - | - | - | - |"
        )
        for suffix, seed in (("", 12345), ("-s12346", 12346)):
            run = f"{key}{suffix}"
            p = d / f"{run}-community.json"
            if not p.exists():
                continue
            c = load(p)
            m = load(d / f"{run}-metrics.json")
            t = load(d / f"{run}-final-tvd-set-curve.json")["points"][-1]["metrics"]
            ev = m["energy_evals"]["training"] + m["energy_evals"]["sampling"]
            wall = (m["wall_time_s"]["training"] + m["wall_time_s"]["sampling"]) / 60
            cm = c["metrics"]
            out.append(
                f"| seed {seed} | community: 1,000 vs 1,000 | {cm['W2']:.2f} | {cm['community/E-TVD']:.3f} "
                f"| {cm['community/D-TVD']:.3f} | {cm['community/Eq-EMD2']:.3f} | {cm['MMD_rbf']:.4f} "
                f"| {cm['mean_energy']:.2f} | {sci(ev)} | {wall:.1f} min |"
            )
            out.append(
                f"| | nsamp: W2, EqW2 on 1,000; TVDs on 10,000 | {cm['W2']:.2f} | {t['E-TVD']:.3f} "
                f"| {t['D-TVD']:.3f} | {cm['EqW2']:.3f} | | | | |"
            )
            floor = (c["split_half_floor"], load(d / f"{run}-final-tvd-set-curve.json")["split_half_floor"])
    fc, fn = floor
    out.append(
        "| split-half floor: MALA rows 5,001-6,000 against rows 1-1,000 | community "
        f"| {fc['W2']:.2f} | {fc['community/E-TVD']:.3f} | {fc['community/D-TVD']:.3f} "
        f"| {fc['community/Eq-EMD2']:.3f} | {fc['MMD_rbf']:.4f} | {fc['mean_energy']:.2f} | - | - |"
    )
    out.append(
        "| split-half floor; its TVDs 5,000 against 5,000 rows | nsamp "
        f"| {fc['W2']:.2f} | {fn['E-TVD']:.3f} | {fn['D-TVD']:.3f} | {fc['EqW2']:.3f} | | | | |"
    )
    return "\n".join(out)


if __name__ == "__main__":
    which = sys.argv[1:] or ["gmm40", "dw4"]
    for w in which:
        print({"gmm40": gmm40, "dw4": dw4}[w]())
        print()
