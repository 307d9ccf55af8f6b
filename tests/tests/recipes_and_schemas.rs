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
        "recipes/sbtm",
        "examples/custom-objective",
    ] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "ron") {
                let text = std::fs::read_to_string(&p).unwrap();
                if text.contains("ExactDsm") {
                    continue; // registered by the example crate, tested there
                }
                // A user's clone has no ../shared and no pre-drawn reference files: every
                // recipe draws (and caches) what it needs.
                let body: String = text
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("//"))
                    .collect();
                assert!(
                    !body.contains("../shared") && !body.contains("File("),
                    "{} names an external file; use `reference: Mcmc(...)`",
                    p.display()
                );
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

/// Each registered component's RON example (rendered from its config's defaults and field
/// docs) parses back to exactly the default config, and documents every field the config has.
fn check_entries<F: registry::Family>() -> usize {
    let mut n = 0;
    for e in F::entries() {
        let example = (e.example)(e.name);
        let parsed = Spec::<F>::from_ron(&example)
            .unwrap_or_else(|err| panic!("{} `{}`: {err}\n{example}", F::KIND, e.name));
        let default = Spec::<F> {
            name: e.name,
            config: (e.default)(),
        };
        let (p, d) = (
            serde_json::to_value(&parsed).unwrap(),
            serde_json::to_value(&default).unwrap(),
        );
        assert_eq!(
            p,
            d,
            "{} `{}`: example != default\n{example}",
            F::KIND,
            e.name
        );
        let documented: Vec<&str> = e.fields.iter().map(|f| f.name).collect();
        if let Some(cfg) = d[e.name].as_object() {
            for key in cfg.keys() {
                assert!(
                    documented.contains(&key.as_str()),
                    "{} `{}`: field `{key}` is not documented",
                    F::KIND,
                    e.name
                );
            }
            assert_eq!(cfg.len(), documented.len(), "{} `{}`", F::KIND, e.name);
        }
        assert!(
            e.fields.iter().all(|f| !f.doc.trim().is_empty()),
            "{} `{}`: a field without doc",
            F::KIND,
            e.name
        );
        n += 1;
    }
    n
}

#[test]
fn every_registered_example_parses_to_its_default_and_documents_every_field() {
    let n = check_entries::<families::Target>()
        + check_entries::<families::Model>()
        + check_entries::<families::Objective>()
        + check_entries::<families::Sampler>()
        + check_entries::<families::Corrector>()
        + check_entries::<families::Metric>();
    assert_eq!(n, registry::list_all().len());
    assert!(n >= 30, "{n} components");
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
    let r = Recipe::from_file(&root().join("recipes/short/gmm40_idem_short.ron")).unwrap();
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
    // Components in RON syntax, in a list and in a slot.
    let o = r
        .with_overrides(&[
            "eval.metrics=[W1(), ETvd(protocol: Community, bins: Some(50))]".into(),
            "target=Gmm40(std: 2.0)".into(),
        ])
        .unwrap();
    let text = o.to_ron().unwrap();
    assert!(
        text.contains("ETvd(\n                bins: 50,\n                protocol: Community,"),
        "{text}"
    );
    assert!(text.contains("std: 2.0"), "{text}");
    assert_eq!(o.eval.metrics.len(), 2);
}

/// A metric's sample limit (W1/W2: an exact assignment, up to 20,000 points) fails when the
/// recipe is assembled, before any training, and names the metric and the setting.
#[test]
fn too_many_samples_for_w2_fail_at_assembly() {
    let r = Recipe::from_file(&root().join("recipes/flows/mog8_rkl.ron")).unwrap();
    nsamp::Assembled::new(r.with_overrides(&["eval.samples=20000".into()]).unwrap()).unwrap();
    let e = nsamp::Assembled::new(r.with_overrides(&["eval.samples=20001".into()]).unwrap())
        .err()
        .expect("20,001 samples with W2 must be refused");
    let e = format!("{e:#}");
    assert!(
        e.contains("W2") && e.contains("eval.samples is 20001"),
        "{e}"
    );
}
