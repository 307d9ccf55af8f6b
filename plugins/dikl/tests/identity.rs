//! The diffused target's score from posterior samples: (a) exact posterior draws of a Gaussian
//! mixture reproduce the closed-form grad log p_t through the mixed (and the target) score
//! identity within Monte Carlo error; (b) DiKL's posterior sampler (truncated proposals, AIS with
//! HMC, Gumbel-max, MALA) does within a looser tolerance, and its energy evaluations are counted
//! exactly.

mod common;

use common::three_modes;
use nsamp_core::numerics::rng::RngStreams;
use nsamp_core::CountedTarget;
use nsamp_plugin_dikl::schedule::{VpSchedule, VpScheduleConfig};
use nsamp_plugin_dikl::{sample_posterior, Noisy, PosteriorConfig, ScoreIdentity};

/// Mean and standard error per coordinate of rows (n x d).
fn mean_se(rows: &[Vec<f64>]) -> (Vec<f64>, Vec<f64>) {
    let n = rows.len() as f64;
    let d = rows[0].len();
    let mean: Vec<f64> = (0..d)
        .map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / n)
        .collect();
    let se = (0..d)
        .map(|j| {
            (rows.iter().map(|r| (r[j] - mean[j]).powi(2)).sum::<f64>() / (n - 1.0) / n).sqrt()
        })
        .collect();
    (mean, se)
}

/// A noisy point near the mixture's modes at step t.
fn noisy_point(sched: &VpSchedule, t: usize) -> Vec<f64> {
    let (a, s) = (sched.a[t], sched.sigma[t]);
    vec![a * 2.0 + s * 0.3, a * 2.5 - s * 0.5]
}

#[test]
fn exact_posterior_draws_give_the_diffused_score() {
    let mix = three_modes();
    let sched = VpSchedule::new(&VpScheduleConfig::default()).unwrap();
    let mut rng = RngStreams::new(11).stream("posterior", 0);
    for t in [1, 3, 8, 14, 22, 29] {
        let (a, s) = (sched.a[t], sched.sigma[t]);
        let xt = noisy_point(&sched, t);
        let (_, exact) = mix.log_and_score(&xt, a, s * s);
        let draws = mix.posterior_draws(&xt, a, s, 40_000, &mut rng);
        let xt32: Vec<f32> = xt.iter().map(|&v| v as f32).collect();
        for identity in [ScoreIdentity::Mixed, ScoreIdentity::TargetScore] {
            let est: Vec<Vec<f64>> = draws
                .iter()
                .map(|x0| {
                    let (_, g) = mix.log_and_score(x0, 1.0, 0.0);
                    let x0f: Vec<f32> = x0.iter().map(|&v| v as f32).collect();
                    let gf: Vec<f32> = g.iter().map(|&v| v as f32).collect();
                    let mut out = vec![0f32; 2];
                    identity.estimate(a, &xt32, &x0f, &gf, &mut out);
                    out.iter().map(|&v| v as f64).collect()
                })
                .collect();
            let (mean, se) = mean_se(&est);
            for j in 0..2 {
                // 5 standard errors plus f32 rounding of the inputs.
                let tol = 5.0 * se[j] + 1e-5 * (1.0 + exact[j].abs()) / a.min(1.0);
                assert!(
                    (mean[j] - exact[j]).abs() < tol,
                    "{identity:?} t = {t}, coordinate {j}: {} vs exact {} (se {})",
                    mean[j],
                    exact[j],
                    se[j]
                );
            }
            eprintln!("{identity:?} t = {t}: estimate {mean:?} exact {exact:?} se {se:?}");
        }
    }
}

#[test]
fn the_posterior_sampler_gives_the_diffused_score() {
    let mix = three_modes();
    let target = CountedTarget::new(Box::new(mix.clone()));
    let sched = VpSchedule::new(&VpScheduleConfig::default()).unwrap();
    let cfg = PosteriorConfig::default();
    let rows = 2000;
    for (i, t) in [2usize, 6, 12, 20, 27].into_iter().enumerate() {
        let (a, s) = (sched.a[t], sched.sigma[t]);
        let xt = noisy_point(&sched, t);
        let (_, exact) = mix.log_and_score(&xt, a, s * s);
        let xt_rows: Vec<f32> = (0..rows)
            .flat_map(|_| xt.iter().map(|&v| v as f32))
            .collect();
        let av = vec![a; rows];
        let sv = vec![s; rows];
        let before = target.evals();
        let draw = sample_posterior(
            &target,
            Noisy {
                xt: &xt_rows,
                a: &av,
                sigma: &sv,
            },
            &cfg,
            cfg.mala_step,
            &RngStreams::new(3).derive(&format!("case-{i}")),
        )
        .unwrap();
        // Proposals (E and grad E at the AIS start), one HMC leapfrog per level,
        // then the MALA start and steps.
        let n = (cfg.n_is * rows) as u64;
        let expected =
            n * (1 + cfg.ais_intermediates as u64) + rows as u64 * (1 + cfg.mala_steps as u64);
        assert_eq!(target.evals() - before, expected);
        let est: Vec<Vec<f64>> = (0..rows)
            .map(|r| {
                let mut out = vec![0f32; 2];
                ScoreIdentity::Mixed.estimate(
                    a,
                    &xt_rows[r * 2..r * 2 + 2],
                    &draw.x0[r * 2..r * 2 + 2],
                    &draw.grad_log_pi[r * 2..r * 2 + 2],
                    &mut out,
                );
                out.iter().map(|&v| v as f64).collect()
            })
            .collect();
        let (mean, se) = mean_se(&est);
        eprintln!(
            "t = {t}: estimate {mean:?} exact {exact:?} se {se:?}; AIS acc {:.3} ESS {:.3}, MALA acc {:.3}",
            draw.ais_acceptance, draw.ais_ess, draw.mala_acceptance
        );
        for j in 0..2 {
            // Sampling-importance-resampling from 10 AIS particles is biased for finite n_is;
            // allow 5 standard errors plus 10% of the score's scale.
            let scale = exact.iter().map(|v| v * v).sum::<f64>().sqrt().max(1.0);
            let tol = 5.0 * se[j] + 0.1 * scale;
            assert!(
                (mean[j] - exact[j]).abs() < tol,
                "t = {t}, coordinate {j}: {} vs exact {} (se {}, tol {tol})",
                mean[j],
                exact[j],
                se[j]
            );
        }
    }
}
