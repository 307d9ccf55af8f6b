//! The community-protocol metrics as a recipe names them: parsed from RON, checked against their
//! target, reported under `community/<name>` beside nsamp's figures, which keep their names and
//! values.

use nsamp as _;
use nsamp_core::metric::MetricInput;
use nsamp_core::numerics::pairwise::remove_mean;
use nsamp_core::numerics::rng::{fill_normal, RngStreams};
use nsamp_core::registry::{families, Spec};
use nsamp_core::Target;
use std::collections::BTreeMap;

fn target(ron: &str) -> Box<dyn Target> {
    Spec::<families::Target>::from_ron(ron)
        .unwrap()
        .config
        .build()
        .unwrap()
}

fn energies(t: &dyn Target, x: &[f32]) -> Vec<f32> {
    let mut e = vec![0f32; x.len() / t.dim()];
    t.energy(x, &mut e).unwrap();
    e
}

/// Runs the metrics named in `specs` on (samples, reference) and collects every figure.
fn run(
    t: &dyn Target,
    samples: &[f32],
    reference: &[f32],
    specs: &[&str],
) -> BTreeMap<String, f64> {
    let (es, er) = (energies(t, samples), energies(t, reference));
    let input = MetricInput {
        samples,
        reference,
        dim: t.dim(),
        sample_energy: &es,
        reference_energy: &er,
        target: t,
        density: None,
    };
    let mut out = BTreeMap::new();
    for s in specs {
        let m = Spec::<families::Metric>::from_ron(s)
            .unwrap()
            .config
            .build()
            .unwrap();
        m.check(t).unwrap();
        for (k, v) in m.compute(&input).unwrap() {
            assert!(out.insert(k.clone(), v).is_none(), "{k} reported twice");
        }
    }
    out
}

/// DW-4-shaped configurations: centred Gaussian particles scaled by `scale`.
fn configs(seed: u64, rows: usize, scale: f32) -> Vec<f32> {
    let mut rng = RngStreams::new(seed).stream("community-metrics", 0);
    let mut v = vec![0f32; rows * 8];
    fill_normal(&mut rng, &mut v);
    v.iter_mut().for_each(|x| *x *= scale);
    remove_mean(&mut v, 4, 2);
    v
}

const ALL: [&str; 10] = [
    "ETvd()",
    "ETvd(protocol: Community)",
    "DTvd()",
    "DTvd(protocol: Community)",
    "EnergyW2()",
    "EnergyW2(protocol: Community)",
    "DistanceW2()",
    "DistanceW2(protocol: Community)",
    "EqW2()",
    "EqW2(protocol: Community)",
];

#[test]
fn both_protocols_side_by_side_on_dw4() {
    let t = target("Dw4()");
    let (a, b) = (configs(1, 300, 1.5), configs(2, 300, 1.5));
    let m = run(&*t, &a, &b, &ALL);
    let keys: Vec<&str> = m.keys().map(|k| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "D-TVD",
            "D-W2",
            "E-TVD",
            "E-W2",
            "EqW2",
            "community/D-TVD",
            "community/D-W2",
            "community/E-TVD",
            "community/E-W2",
            "community/Eq-EMD2"
        ]
    );
    // The community's energy and distance W2 are squared W2s.
    assert!((m["community/E-W2"] - m["E-W2"].powi(2)).abs() < 1e-9 * m["community/E-W2"]);
    assert!((m["community/D-W2"] - m["D-W2"].powi(2)).abs() < 1e-9 * m["community/D-W2"]);
    for (k, v) in &m {
        assert!(v.is_finite() && *v >= 0.0, "{k} = {v}");
    }
    // Identical sets: every figure is 0 (the alignments up to rounding).
    let z = run(&*t, &a, &a, &ALL);
    for (k, v) in &z {
        assert!(v.abs() < 1e-6, "{k} = {v}");
    }
}

#[test]
fn community_tvd_drops_what_nsamp_counts() {
    // Half the samples are the reference rows, half are far outside its range: nsamp's E-TVD
    // counts the far half in the overflow bin (0.5); the community's drops it (0).
    let t = target("Gmm40()");
    let reference = configs(3, 200, 10.0)[..400].to_vec();
    let mut samples = reference.clone();
    samples.extend([1e4f32; 400]);
    let m = run(
        &*t,
        &samples,
        &reference,
        &["ETvd()", "ETvd(protocol: Community)"],
    );
    // 0.5 up to one reference row: nsamp's axis can put the reference maximum in the overflow
    // slot by rounding ((max - lo) / width slightly above the bin count), here 0.4975.
    assert!((m["E-TVD"] - 0.5).abs() <= 1.0 / 200.0, "{m:?}");
    assert_eq!(m["community/E-TVD"], 0.0, "{m:?}");
}

#[test]
fn metrics_refuse_targets_they_do_not_fit() {
    let t = target("Gmm40()");
    for s in [
        "EqW2()",
        "DistanceW2(protocol: Community)",
        "DTvd(protocol: Community)",
    ] {
        let m = Spec::<families::Metric>::from_ron(s)
            .unwrap()
            .config
            .build()
            .unwrap();
        let e = m.check(&*t).unwrap_err().to_string();
        assert!(e.contains("particle target"), "{s}: {e}");
    }
}

/// The community figures compare equal-size sets, as DEM's evaluation does (`eval_batch_size`
/// samples against as many test rows): against a reference 10 times larger, every community
/// figure equals the one against the reference's first rows, while nsamp's TVDs and W2s use the
/// whole reference.
#[test]
fn community_figures_cut_the_reference_to_the_samples_size() {
    let t = target("Dw4()");
    let samples = configs(11, 200, 1.3);
    let reference = configs(12, 2000, 1.2);
    let whole = run(t.as_ref(), &samples, &reference, &ALL);
    let first = run(t.as_ref(), &samples, &reference[..200 * 8], &ALL);
    for k in [
        "community/E-TVD",
        "community/D-TVD",
        "community/E-W2",
        "community/D-W2",
        "community/Eq-EMD2",
    ] {
        assert_eq!(whole[k], first[k], "{k}");
    }
    for k in ["E-TVD", "D-TVD", "E-W2", "D-W2"] {
        assert_ne!(whole[k], first[k], "{k} should read the whole reference");
    }
}
