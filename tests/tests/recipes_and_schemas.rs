//! Every recipe in recipes/ and every registered component's example parses; the schema
//! documentation in schemas/ is the registry's current output; resolved recipes round-trip.

use nsamp as _;
use nsamp_core::registry::{self, families, Spec};
use nsamp_core::Recipe;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

#[test]
fn every_recipe_parses_and_assembles() {
    let mut n = 0;
    for dir in [
        "recipes",
        "recipes/table1",
        "recipes/short",
        "recipes/table2",
        "recipes/flows",
        "examples/custom-objective",
    ] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "ron") {
                let text = std::fs::read_to_string(&p).unwrap();
                if text.contains("ExactDsm") {
                    continue; // registered by the example crate, tested there
                }
                let r = Recipe::from_file(&p).unwrap_or_else(|e| panic!("{}: {e:#}", p.display()));
                nsamp::Assembled::new(r).unwrap_or_else(|e| panic!("{}: {e:#}", p.display()));
                n += 1;
            }
        }
    }
    assert!(
        n >= 3,
        "expected the quickstart and GMM-40 recipes, found {n}"
    );
}

#[test]
fn every_registered_example_parses_and_documents_every_field() {
    for l in registry::list_all() {
        let fields = nsamp::cmd::list::example_fields(l.example);
        let json = match l.kind {
            "target" => {
                serde_json::to_value(Spec::<families::Target>::from_ron(l.example).unwrap())
            }
            "model" => serde_json::to_value(Spec::<families::Model>::from_ron(l.example).unwrap()),
            "objective" => {
                serde_json::to_value(Spec::<families::Objective>::from_ron(l.example).unwrap())
            }
            "sampler" => {
                serde_json::to_value(Spec::<families::Sampler>::from_ron(l.example).unwrap())
            }
            "corrector" => {
                serde_json::to_value(Spec::<families::Corrector>::from_ron(l.example).unwrap())
            }
            "metric" => {
                serde_json::to_value(Spec::<families::Metric>::from_ron(l.example).unwrap())
            }
            k => panic!("unknown kind {k}"),
        }
        .unwrap();
        let cfg = json[l.name]
            .as_object()
            .unwrap_or_else(|| panic!("{}: config is not a struct", l.name));
        for path in field_paths(cfg, "") {
            assert!(
                fields.contains(&path),
                "{} `{}`: example does not document field `{path}`",
                l.kind,
                l.name
            );
        }
    }
}

/// The dotted paths of a config's fields, nested structs included (`schedule.sigma_min`). A JSON
/// object whose keys are snake_case is a nested struct; one keyed by a CamelCase name is an enum
/// variant (`McScoreSde(steps: 1000)`), a value documented on its field's line.
fn field_paths(obj: &serde_json::Map<String, serde_json::Value>, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (key, value) in obj {
        let path = format!("{prefix}{key}");
        match value.as_object() {
            Some(inner)
                if !inner.is_empty()
                    && inner
                        .keys()
                        .all(|k| k.starts_with(|c: char| c.is_ascii_lowercase())) =>
            {
                out.extend(field_paths(inner, &format!("{path}.")))
            }
            _ => out.push(path),
        }
    }
    out
}

#[test]
fn schema_documentation_is_current() {
    let want = nsamp::cmd::schema::schema_markdown();
    let path = root().join("schemas/components.md");
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "schemas/components.md is stale: run `cargo run -p nsamp -- schema --out schemas/components.md`"
    );
}

#[test]
fn resolved_recipe_round_trips() {
    let r = Recipe::from_file(&root().join("recipes/quickstart.ron")).unwrap();
    let text = r.to_ron().unwrap();
    let again = Recipe::parse(&text, "resolved").unwrap();
    assert_eq!(again.to_ron().unwrap(), text);
    let o = r
        .with_overrides(&[
            "train.steps=7".into(),
            "objective.mc.samples=9".into(),
            "seed=5".into(),
        ])
        .unwrap();
    assert_eq!((o.train.steps, o.seed), (7, 5));
    let json = serde_json::to_value(&o).unwrap();
    assert_eq!(json["objective"]["Idem"]["mc"]["samples"], 9);
    assert!(o.to_ron().unwrap().contains("samples: 9"));
    // Unit enum variants by name, and a bad one named in the error.
    let f = Recipe::from_file(&root().join("recipes/flows/phi4_lambda8_rkl.ron")).unwrap();
    assert!(f.to_ron().unwrap().contains("conditioner: Conv"));
    let o = f.with_overrides(&["model.conditioner=Mlp".into()]).unwrap();
    assert!(o.to_ron().unwrap().contains("conditioner: Mlp"));
    let e = f
        .with_overrides(&["model.conditioner=Cnv".into()])
        .unwrap_err();
    assert!(format!("{e:#}").contains("Cnv"), "{e:#}");
}

/// A metric's sample limit (W1/W2: an exact n x n assignment) fails when the recipe is
/// assembled, before any training, and names the metric and the setting.
#[test]
fn too_many_samples_for_w2_fail_at_assembly() {
    let r = Recipe::from_file(&root().join("recipes/flows/mog8_rkl.ron")).unwrap();
    nsamp::Assembled::new(r.with_overrides(&["eval.samples=5000".into()]).unwrap()).unwrap();
    let e = nsamp::Assembled::new(r.with_overrides(&["eval.samples=5001".into()]).unwrap())
        .err()
        .expect("5,001 samples with W2 must be refused");
    let e = format!("{e:#}");
    assert!(
        e.contains("W2") && e.contains("eval.samples is 5001"),
        "{e}"
    );
}
