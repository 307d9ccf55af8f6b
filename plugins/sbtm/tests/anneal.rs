//! The annealed scores grad log pi_t against central finite differences of the log-densities they
//! name: geometric lambda log pi + (1 - lambda) log pi_0, dilation log pi(x / lambda) (the score
//! carries 1 / lambda), tempered dilation lambda log pi(x / lambda) (the public code's score).

use nsamp_core::{CountedTarget, Target};
use nsamp_plugin_sbtm::anneal::{annealed_score, Annealing, Prior};

/// E(x) = sum_j (x_j^2 - 1)^2 / 4 + 0.3 x_0 x_1 on R^2 (a coupled double well).
struct Wells;

fn energy(x: &[f32]) -> f64 {
    let (a, b) = (x[0] as f64, x[1] as f64);
    (a * a - 1.0).powi(2) / 4.0 + (b * b - 1.0).powi(2) / 4.0 + 0.3 * a * b
}

impl Target for Wells {
    fn dim(&self) -> usize {
        2
    }
    fn energy(&self, x: &[f32], e: &mut [f32]) -> anyhow::Result<()> {
        for (r, o) in x.chunks_exact(2).zip(e.iter_mut()) {
            *o = energy(r) as f32;
        }
        Ok(())
    }
    fn energy_and_grad(&self, x: &[f32], e: &mut [f32], g: &mut [f32]) -> anyhow::Result<()> {
        self.energy(x, e)?;
        for (r, o) in x.chunks_exact(2).zip(g.chunks_exact_mut(2)) {
            let (a, b) = (r[0], r[1]);
            o[0] = (a * a - 1.0) * a + 0.3 * b;
            o[1] = (b * b - 1.0) * b + 0.3 * a;
        }
        Ok(())
    }
}

/// A log-density up to a constant.
type LogDensity = Box<dyn Fn(&[f32]) -> f64>;

/// grad of `logp` at `x` by central differences (f64).
fn fd(logp: impl Fn(&[f32]) -> f64, x: &[f32]) -> Vec<f64> {
    let h = 1e-3f32;
    (0..x.len())
        .map(|j| {
            let (mut p, mut m) = (x.to_vec(), x.to_vec());
            p[j] += h;
            m[j] -= h;
            (logp(&p) - logp(&m)) / (2.0 * h as f64)
        })
        .collect()
}

#[test]
fn annealed_scores_match_finite_differences() {
    let target = CountedTarget::new(Box::new(Wells));
    let prior = Prior {
        mean: 0.5,
        std: 1.5,
    };
    let log_prior = |x: &[f32]| -> f64 {
        x.iter()
            .map(|v| -0.5 * ((*v as f64 - 0.5) / 1.5).powi(2))
            .sum()
    };
    let points: [[f32; 2]; 3] = [[0.3, -0.7], [1.2, 0.4], [-0.9, -1.1]];
    // lambda 0.1 lies under the dilation clip: both dilations use 0.2 there.
    for lambda in [0.1f32, 0.5, 0.8] {
        let l = lambda as f64;
        let lc = lambda.clamp(0.2, 1.0);
        let dil = move |x: &[f32]| -> f64 {
            let y: Vec<f32> = x.iter().map(|v| v / lc).collect();
            -energy(&y)
        };
        let cases: [(Annealing, LogDensity); 4] = [
            (Annealing::Off, Box::new(|x: &[f32]| -energy(x))),
            (
                Annealing::Geometric,
                Box::new(move |x: &[f32]| -l * energy(x) + (1.0 - l) * log_prior(x)),
            ),
            (Annealing::Dilation, Box::new(dil)),
            (
                Annealing::TemperedDilation,
                Box::new(move |x: &[f32]| lc as f64 * dil(x)),
            ),
        ];
        for (annealing, logp) in cases {
            for x in &points {
                let mut out = vec![0f32; 2];
                let mut scratch = Vec::new();
                annealed_score(
                    &target,
                    annealing,
                    &prior,
                    lambda,
                    x,
                    &mut out,
                    &mut scratch,
                )
                .unwrap();
                let want = fd(&logp, x);
                for j in 0..2 {
                    assert!(
                        (out[j] as f64 - want[j]).abs() < 2e-3 * want[j].abs().max(1.0),
                        "{annealing:?} lambda {lambda} x {x:?}: score {out:?} vs {want:?}"
                    );
                }
            }
        }
    }
}
