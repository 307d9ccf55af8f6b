//! Particle energies against independent facts: closed-form minima, finite differences of an
//! independent f64 implementation, symmetry, and the community's reference sets (virial identity
//! and energy means; skipped with a message when ../shared/data is absent).

use nsamp_core::numerics::rng::{fill_normal, RngStreams};
use nsamp_core::registry::{families, Spec};
use nsamp_core::Target;
use nsamp_plugin_particles as _;

fn build(ron: &str) -> Box<dyn Target> {
    Spec::<families::Target>::from_ron(ron)
        .unwrap()
        .config
        .build()
        .unwrap()
}

/// Independent f64 energies, written from shared/data/README.md.
fn lj_f64(x: &[f64], n: usize, d: usize) -> f64 {
    let mut e = 0.0;
    for i in 0..n {
        for j in i + 1..n {
            let s: f64 = (0..d).map(|k| (x[i * d + k] - x[j * d + k]).powi(2)).sum();
            let r = (s + 1e-6).sqrt();
            e += 2.0 * (r.powi(-12) - 2.0 * r.powi(-6));
        }
    }
    for k in 0..d {
        let m = (0..n).map(|i| x[i * d + k]).sum::<f64>() / n as f64;
        e += 0.5 * (0..n).map(|i| (x[i * d + k] - m).powi(2)).sum::<f64>();
    }
    e
}

fn dw_f64(x: &[f64], n: usize, d: usize) -> f64 {
    let mut e = 0.0;
    for i in 0..n {
        for j in i + 1..n {
            let r = (0..d)
                .map(|k| (x[i * d + k] - x[j * d + k]).powi(2))
                .sum::<f64>()
                .sqrt();
            let u = r - 4.0;
            e += -4.0 * u * u + 0.9 * u.powi(4);
        }
    }
    e
}

/// Configurations on a jittered lattice (no overlapping particles).
fn configs(n: usize, d: usize, count: usize, spacing: f32, seed: u64) -> Vec<f32> {
    let mut rng = RngStreams::new(seed).stream("configs", 0);
    let mut jitter = vec![0f32; n * d * count];
    fill_normal(&mut rng, &mut jitter);
    let side = (n as f64).powf(1.0 / d as f64).ceil() as usize;
    (0..count * n * d)
        .map(|i| {
            let (p, k) = ((i / d) % n, i % d);
            let coord = (p / side.pow(k as u32)) % side;
            coord as f32 * spacing + 0.08 * spacing * jitter[i]
        })
        .collect()
}

#[test]
fn closed_form_minima() {
    // LJ dimer at r = rm: 2 (1 - 2) = -2, plus (1/2)(2 (1/2)^2) = 0.25 of the restraint.
    let lj = build("LennardJones(n: 2, dim: 3)");
    let mut e = [0f32];
    lj.energy(&[0.0, 0.0, 0.0, 1.0, 0.0, 0.0], &mut e).unwrap();
    assert!((e[0] - (-1.75)).abs() < 2e-5, "{}", e[0]);
    // Double-well pair minimum at u^2 = -b / (2c): v = -b^2 / (4c).
    let dw = build("DoubleWell(n: 2, dim: 2)");
    let u = (4.0f64 / 1.8).sqrt();
    dw.energy(&[0.0, 0.0, (4.0 + u) as f32, 0.0], &mut e)
        .unwrap();
    assert!((e[0] as f64 - (-16.0 / 3.6)).abs() < 1e-5, "{}", e[0]);
}

#[test]
fn energies_and_gradients_match_f64_finite_differences() {
    for (ron, n, d, spacing, f) in [
        (
            "Lj13()",
            13,
            3,
            1.1f32,
            lj_f64 as fn(&[f64], usize, usize) -> f64,
        ),
        ("Dw4()", 4, 2, 3.5, dw_f64),
        ("Lj55()", 55, 3, 1.1, lj_f64),
    ] {
        let t = build(ron);
        let count = 8;
        let x = configs(n, d, count, spacing, 3);
        let mut e = vec![0f32; count];
        let mut g = vec![0f32; x.len()];
        t.energy_and_grad(&x, &mut e, &mut g).unwrap();
        let mut e2 = vec![0f32; count];
        t.energy(&x, &mut e2).unwrap();
        for c in 0..count {
            let xc: Vec<f64> = x[c * n * d..(c + 1) * n * d]
                .iter()
                .map(|&v| v as f64)
                .collect();
            let want = f(&xc, n, d);
            assert!(
                (e[c] as f64 - want).abs() < 1e-4 * (1.0 + want.abs()),
                "{ron} config {c}: {} vs {want}",
                e[c]
            );
            assert_eq!(e[c], e2[c]);
            for k in (0..n * d).step_by(5) {
                let h = 1e-5;
                let mut a = xc.clone();
                let mut b = xc.clone();
                a[k] += h;
                b[k] -= h;
                let fd = (f(&a, n, d) - f(&b, n, d)) / (2.0 * h);
                let an = g[c * n * d + k] as f64;
                assert!(
                    (an - fd).abs() < 1e-3 * (1.0 + fd.abs()),
                    "{ron} config {c} coord {k}: {an} vs {fd}"
                );
            }
        }
    }
}

#[test]
fn energy_is_invariant_under_translation_and_permutation() {
    let t = build("Lj13()");
    let x = configs(13, 3, 1, 1.1, 9);
    let mut e = [0f32; 3];
    let shifted: Vec<f32> = x
        .iter()
        .enumerate()
        .map(|(i, v)| v + [0.7, -1.3, 2.1][i % 3])
        .collect();
    let mut perm = x.clone();
    perm[..3].copy_from_slice(&x[36..39]);
    perm[36..39].copy_from_slice(&x[..3]);
    let all: Vec<f32> = [x.clone(), shifted, perm].concat();
    t.energy(&all, &mut e).unwrap();
    assert!(
        (e[0] - e[1]).abs() < 1e-4 && (e[0] - e[2]).abs() < 1e-4,
        "{e:?}"
    );
}

fn shared(name: &str) -> Option<nsamp_core::io::Array2> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(name);
    match nsamp_core::io::read_npy(&p) {
        Ok(a) => Some(a),
        Err(_) => {
            eprintln!(
                "skipped: {} not present (the product does not need it)",
                p.display()
            );
            None
        }
    }
}

#[test]
fn lj13_reference_set_virial_and_energy_mean() {
    let Some(a) = shared("test_split_LJ13-1000.npy") else {
        return;
    };
    assert_eq!(a.cols, 39);
    let t = build("Lj13()");
    let mut e = vec![0f32; a.rows];
    let mut g = vec![0f32; a.data.len()];
    t.energy_and_grad(&a.data, &mut e, &mut g).unwrap();
    let n = a.rows as f64;
    let mean_e = e.iter().map(|&v| v as f64).sum::<f64>() / n;
    // The README's figure for this very set: -43.13 (std 7.02).
    assert!((mean_e - (-43.13)).abs() < 0.01, "energy mean {mean_e}");
    // Virial identity <x . grad E> = 3 (N - 1) = 36 at temperature 1.
    let v: Vec<f64> = a
        .data
        .chunks(39)
        .zip(g.chunks(39))
        .map(|(x, g)| x.iter().zip(g).map(|(a, b)| (a * b) as f64).sum())
        .collect();
    let mean_v = v.iter().sum::<f64>() / n;
    let se = (v.iter().map(|x| (x - mean_v).powi(2)).sum::<f64>() / (n - 1.0) / n).sqrt();
    eprintln!("LJ-13 reference set: energy mean {mean_e:.4}, virial {mean_v:.3} +- {se:.3}");
    assert!((mean_v - 36.0).abs() < 3.0 * se, "virial {mean_v} +- {se}");
    // Counting each pair once (the common porting error) gives 27: the test can tell them apart.
    assert!((mean_v - 27.0).abs() > 10.0 * se);
}

#[test]
fn dw4_reference_set_energy_mean() {
    let Some(a) = shared("test_split_DW4.npy") else {
        return;
    };
    assert_eq!(a.cols, 8);
    let mut x = a.data.clone();
    nsamp_core::numerics::pairwise::remove_mean(&mut x, 4, 2);
    let t = build("Dw4()");
    let mut e = vec![0f32; a.rows];
    t.energy(&x, &mut e).unwrap();
    let mean = e.iter().map(|&v| v as f64).sum::<f64>() / a.rows as f64;
    eprintln!("DW-4 reference set: energy mean {mean:.4}");
    assert!((mean - (-22.45)).abs() < 0.01, "DW-4 energy mean {mean}");
}
