"""Energy-and-gradient throughput from Python: nsamp against a vectorised PyTorch implementation
on the same threads (BENCHMARKS.md, "Python").

    python python/examples/bench_energies.py --threads 1
    python python/examples/bench_energies.py --threads 2

Workloads: GMM-40 at 256,000 points and LJ-13 at 51,200 configurations (float32 in torch, as nsamp
computes), E and grad_x E. torch takes the gradient by autograd, as a sampler written in torch
would. Each figure is the median of --reps timed calls after one warm-up; the two
implementations' energies are checked to agree first.
"""

import argparse
import math
import statistics
import time

import numpy as np
import torch

import nsamp

parser = argparse.ArgumentParser()
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--reps", type=int, default=5)
args = parser.parse_args()
torch.set_num_threads(args.threads)
assert nsamp.set_threads(args.threads) == args.threads



def torch_gmm40(x, means, std):
    diff = x[:, None, :] - means[None]
    logc = -0.5 * (diff**2).sum(-1) / std**2 - 2 * math.log(std) - math.log(2 * math.pi)
    return -(torch.logsumexp(logc, dim=1) - math.log(len(means)))


def torch_lj13(x):
    p = x.reshape(len(x), 13, 3)
    diff = p[:, :, None, :] - p[:, None, :, :]
    r2 = (diff**2).sum(-1) + 1e-6
    mask = ~torch.eye(13, dtype=torch.bool)
    inv6 = torch.where(mask, r2.pow(-3), torch.zeros((), dtype=x.dtype))
    e = (inv6**2 - 2 * inv6).sum((1, 2))
    centred = p - p.mean(1, keepdim=True)
    return e + 0.5 * (centred**2).sum((1, 2))


def torch_energy_and_grad(fn, x):
    x = x.clone().requires_grad_(True)
    e = fn(x)
    (g,) = torch.autograd.grad(e.sum(), x)
    return e.detach(), g


def timed(f):
    f()
    times = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


rng = np.random.default_rng(0)
gmm = nsamp.Target("Gmm40()")
means = torch.tensor(
    np.loadtxt(__file__.replace("bench_energies.py", "gmm40_means.txt")), dtype=torch.float32
)
std = math.log1p(math.e)
xg = (80 * rng.random((256_000, 2)) - 40).astype(np.float32)

lj = nsamp.Target("Lj13()")
side = np.stack(np.meshgrid(*[np.arange(3)] * 3, indexing="ij"), -1).reshape(-1, 3)[:13]
xl = (1.1 * side[None] + 0.1 * rng.standard_normal((51_200, 13, 3))).reshape(51_200, 39).astype(np.float32)

for name, target, x, fn in [("GMM-40, 256,000 points", gmm, xg, lambda t: torch_gmm40(t, means, std)),
                            ("LJ-13, 51,200 configurations", lj, xl, torch_lj13)]:
    xt = torch.from_numpy(x)
    e_ref, _ = torch_energy_and_grad(fn, xt)
    e = target.energy(x)
    assert np.allclose(e, e_ref.numpy(), rtol=1e-3, atol=1e-3), np.abs(e - e_ref.numpy()).max()
    t_nsamp = timed(lambda: target.energy_and_grad(x))
    t_torch = timed(lambda: torch_energy_and_grad(fn, xt))
    print(f"{name:<30} threads {args.threads}: nsamp {1e3 * t_nsamp:8.1f} ms   torch {1e3 * t_torch:8.1f} ms   "
          f"ratio {t_torch / t_nsamp:5.1f}x")
