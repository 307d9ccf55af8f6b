//! The nsamp protocol's TVD set (`eval.tvd_samples`) and the floors: the wide set moves no other
//! metric, shrinks the TVDs' noise on exact samples, and a target without an exact sampler gets
//! the split-half floor (a reference made of one set twice has a floor of exactly 0).

use nsamp as _;
use nsamp_core::eval::{evaluate, EvalSettings, Reference};
use nsamp_core::experiment::Silent;
use nsamp_core::numerics::rng::{fill_normal, RngStreams};
use nsamp_core::registry::{families, Spec};
use nsamp_core::CountedTarget;

fn target(ron: &str) -> CountedTarget {
    CountedTarget::new(
        Spec::<families::Target>::from_ron(ron)
            .unwrap()
            .config
            .build()
            .unwrap(),
    )
}

fn settings(
    samples: usize,
    tvd_samples: usize,
    reference: Reference,
    metrics: &[&str],
) -> EvalSettings {
    EvalSettings {
        samples,
        reference,
        reference_seed: 0,
        tvd_samples,
        metrics: metrics.iter().map(|m| Spec::from_ron(m).unwrap()).collect(),
        exact_floor: true,
    }
}

/// 10,000 exact GMM-40 samples scored with and without the wide set: W1, W2 and the mode
/// figures are the same numbers (they read the first 1,000 rows either way); E-TVD and S-TVD of
/// exact samples fall (less histogram noise), as does the floor's; the counts are reported.
#[test]
fn tvd_set_moves_no_other_metric_and_shrinks_tvd_noise() {
    let t = target("Gmm40()");
    let streams = RngStreams::new(7);
    let mut rng = streams.stream("samples", 0);
    let x = t.inner().exact_sample(10_000, &mut rng).unwrap();
    let metrics = ["W1()", "W2()", "ETvd()", "STvd()", "ModeCoverage()"];
    let narrow = settings(1000, 0, Reference::Exact, &metrics);
    let wide = settings(1000, 10_000, Reference::Exact, &metrics);
    let a = evaluate(&t, "Gmm40()", &x, &narrow, &streams, &mut Silent).unwrap();
    let b = evaluate(&t, "Gmm40()", &x, &wide, &streams, &mut Silent).unwrap();
    for k in [
        "W1",
        "W2",
        "modes_covered",
        "between_modes",
        "mode_tvd",
        "mean_energy",
    ] {
        assert_eq!(a.metrics[k], b.metrics[k], "{k}");
        assert_eq!(
            a.exact_floor.as_ref().unwrap()[k],
            b.exact_floor.as_ref().unwrap()[k],
            "floor {k}"
        );
    }
    assert_eq!(
        (a.n_samples, a.tvd_samples, a.tvd_reference),
        (1000, 1000, 1000)
    );
    assert_eq!(
        (b.n_samples, b.tvd_samples, b.tvd_reference),
        (1000, 10_000, 10_000)
    );
    // Exact samples: at 1,000 rows the TVDs are histogram noise; at 10,000 about a third of it.
    for k in ["E-TVD", "S-TVD"] {
        let (na, wb) = (a.metrics[k], b.metrics[k]);
        assert!(wb < 0.7 * na, "{k}: {wb} at 10,000 vs {na} at 1,000");
        let floor = b.exact_floor.as_ref().unwrap()[k];
        assert!(wb < 0.1 && floor < 0.1, "{k}: {wb}, floor {floor}");
    }
}

/// DW-4 has no exact sampler: the floor is the reference's second half against its first. A
/// reference made of 500 configurations twice scores a floor of exactly 0 on every metric, and
/// those 500 configurations scored as samples score 0 too.
#[test]
fn split_half_floor_of_a_doubled_reference_is_zero() {
    let t = target("Dw4()");
    let mut rng = RngStreams::new(3).stream("rows", 0);
    let mut half = vec![0f32; 500 * 8];
    fill_normal(&mut rng, &mut half);
    half.iter_mut().for_each(|v| *v *= 2.0);
    let rows = [&half[..], &half[..]].concat();
    let dir = std::env::temp_dir().join(format!("nsamp-split-half-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("ref.npy");
    nsamp_core::io::write_npy(&file, &rows, 8).unwrap();
    let reference = Reference::File(file.display().to_string());
    let s = settings(500, 10_000, reference, &["W2()", "ETvd()", "DTvd()"]);
    let streams = RngStreams::new(1);
    let e = evaluate(&t, "Dw4()", &half, &s, &streams, &mut Silent).unwrap();
    assert!(e.exact_floor.is_none());
    assert_eq!((e.tvd_samples, e.floor_tvd_rows), (500, 500));
    let floor = e.split_half_floor.expect("a split-half floor");
    for k in ["W2", "E-TVD", "D-TVD"] {
        assert!(floor[k].abs() < 1e-6, "floor {k} = {}", floor[k]);
        assert!(e.metrics[k].abs() < 1e-6, "{k} = {}", e.metrics[k]);
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// The floor reports the rows its TVDs compared: an exact floor as many as the scored TVD set
/// (800), a split-half floor at most half the reference (500 of a 1,000-row reference) even
/// when the scored set is larger.
#[test]
fn floor_reports_the_rows_of_its_tvds() {
    let streams = RngStreams::new(5);
    let gmm = target("Gmm40()");
    let x = gmm
        .inner()
        .exact_sample(800, &mut streams.stream("samples", 0))
        .unwrap();
    let s = settings(400, 800, Reference::Exact, &["ETvd()"]);
    let e = evaluate(&gmm, "Gmm40()", &x, &s, &streams, &mut Silent).unwrap();
    assert!(e.exact_floor.is_some());
    assert_eq!((e.tvd_samples, e.floor_tvd_rows), (800, 800));

    let dw4 = target("Dw4()");
    let mut rows = vec![0f32; 1000 * 8];
    fill_normal(&mut streams.stream("reference", 0), &mut rows);
    let dir = std::env::temp_dir().join(format!("nsamp-floor-rows-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("ref.npy");
    nsamp_core::io::write_npy(&file, &rows, 8).unwrap();
    let mut x = vec![0f32; 800 * 8];
    fill_normal(&mut streams.stream("samples", 1), &mut x);
    let s = settings(
        400,
        800,
        Reference::File(file.display().to_string()),
        &["ETvd()", "DTvd()"],
    );
    let e = evaluate(&dw4, "Dw4()", &x, &s, &streams, &mut Silent).unwrap();
    assert!(e.split_half_floor.is_some());
    assert_eq!((e.tvd_samples, e.floor_tvd_rows), (800, 500));
    std::fs::remove_dir_all(&dir).ok();
}
