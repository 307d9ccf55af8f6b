#!/usr/bin/env python3
"""Where the far samples of a trained GMM-40 sampler come from (RESULTS.md, "What the remaining
between-mode share ... is"). Reads the states that `tests/examples/sde_trajectories.rs` wrote
(6 n rows, sampler units x / 50: the prior draw, t = 0.9, 0.8, 0.7, 0.5, the end) and the 40 means
of ../shared/data/gmm40_means.csv; needs numpy.

    cargo run --release -p nsamp-tests --example sde_trajectories -- RUN_DIR traj.npy
    python3 results/far_samples.py traj.npy [means.csv]

A sample is "tail" at 4.24-8 mode standard deviations from the nearest mean, "far" beyond 8
(the between_modes criterion is 4.24, README "between_modes").
"""

import sys

import numpy as np

traj = np.load(sys.argv[1])
means = sys.argv[2] if len(sys.argv) > 2 else "../shared/data/gmm40_means.csv"
mu = np.loadtxt(means, delimiter=",", skiprows=1)[:, 1:]
scale, std = 50.0, np.log1p(np.e)
n = traj.shape[0] // 6
x0, x9, x8, x7, x5, x1 = (traj[i * n:(i + 1) * n] * scale for i in range(6))


def nearest(x):
    return np.sqrt(((x[:, None, :] - mu[None]) ** 2).sum(-1)).min(1)


d1 = nearest(x1) / std
far, tail = d1 > 8, (d1 > np.sqrt(18)) & (d1 <= 8)
ok = ~(far | tail)
r0 = np.linalg.norm(x0, axis=1) / scale  # in prior standard deviations (h(1) = 1)
print(f"{n} samples: between_modes {np.mean(far | tail):.4f}, tail {tail.sum()}, far {far.sum()}")
for name, m in (("on a mode", ok), ("tail", tail), ("far", far)):
    if not m.any():
        continue
    d8 = np.median(nearest(x8[m]))
    move = np.median(np.linalg.norm(x1[m] - x7[m], axis=1))
    print(
        f"  {name:9s}: start |x| median {np.median(r0[m]):.2f} prior sd, beyond 2.5 sd {np.mean(r0[m] > 2.5):.2f}; "
        f"nearest mean at t = 0.8 median {d8:.1f}; moved after t = 0.7 median {move:.2f}"
    )
out = r0 > 2.5
print(
    f"  far rate: {far[out].mean():.4f} for starts beyond 2.5 prior sd ({out.sum()} starts), "
    f"{far[~out].mean():.4f} for the others"
)
