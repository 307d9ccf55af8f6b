//! A property test on stable: every recipe in `recipes/`, mutated (tokens deleted, duplicated and
//! swapped, numbers replaced by extreme values, NaN, negative, huge), goes through what
//! `nsamp check` does (parse, assemble every component, check the reference) without a panic,
//! and every error says what is wrong: a position in the recipe, a field or component name in
//! backticks, or the value it refuses.

use nsamp as _; // link the built-in plugins
use std::path::{Path, PathBuf};

/// What `nsamp check` does, in process.
fn check(text: &str) -> anyhow::Result<()> {
    let recipe = nsamp_core::Recipe::parse(text, "mutant.ron")?;
    let exp = nsamp_core::Experiment::from_recipe(recipe)?;
    exp.recipe().eval.reference.check(&exp.parts.target)?;
    Ok(())
}

fn recipes(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            recipes(&p, out);
        } else if p.extension().is_some_and(|x| x == "ron") {
            out.push(p);
        }
    }
}

/// A token of a recipe: (start, end) byte offsets.
fn tokens(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'"' {
            let s = i;
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += 1;
            }
            i = (i + 1).min(b.len());
            out.push((s, i));
        } else if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-' {
            let s = i;
            while i < b.len()
                && (b[i].is_ascii_alphanumeric()
                    || b[i] == b'_'
                    || b[i] == b'.'
                    || (b[i] == b'-' && i == s)
                    || ((b[i] == b'-' || b[i] == b'+') && (b[i - 1] == b'e' || b[i - 1] == b'E')))
            {
                i += 1;
            }
            out.push((s, i));
        } else {
            out.push((i, i + 1));
            i += 1;
        }
    }
    out
}

fn is_number(t: &str) -> bool {
    t.parse::<f64>().is_ok()
        && t.chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || c == '-')
}

const EXTREMES: &[&str] = &[
    "NaN",
    "inf",
    "-inf",
    "-1",
    "-0.5",
    "0",
    "1e300",
    "-1e300",
    "1e-300",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "1000000000000",
];

/// A small deterministic generator (SplitMix64).
struct Mix(u64);
impl Mix {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % n as u64) as usize
    }
}

/// Mutants of `text`: every number replaced by every extreme value, and `random` token edits.
fn mutants(text: &str, rng: &mut Mix, random: usize) -> Vec<(String, String)> {
    let toks = tokens(text);
    let mut out = Vec::new();
    let splice = |a: usize, b: usize, with: &str| format!("{}{}{}", &text[..a], with, &text[b..]);
    for &(a, b) in &toks {
        if is_number(&text[a..b]) {
            for v in EXTREMES {
                out.push((
                    format!("{} -> {v} at byte {a}", &text[a..b]),
                    splice(a, b, v),
                ));
            }
        }
    }
    for _ in 0..random {
        let k = rng.next(toks.len());
        let (a, b) = toks[k];
        let tok = &text[a..b];
        match rng.next(3) {
            0 => out.push((format!("delete `{tok}` at byte {a}"), splice(a, b, ""))),
            1 => out.push((
                format!("duplicate `{tok}` at byte {a}"),
                splice(a, b, &format!("{tok} {tok}")),
            )),
            _ if k + 1 < toks.len() => {
                let (c, d) = toks[k + 1];
                let swapped = format!("{}{}{}", &text[c..d], &text[b..c], tok);
                out.push((
                    format!("swap `{tok}` and `{}` at byte {a}", &text[c..d]),
                    format!("{}{}{}", &text[..a], swapped, &text[d..]),
                ));
            }
            _ => {}
        }
    }
    out
}

/// Where the last panic happened.
static WHERE: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

/// Whether an error message says what is wrong.
fn names_the_problem(msg: &str) -> bool {
    let position = msg
        .split(|c: char| !c.is_ascii_digit() && c != ':')
        .any(|w| {
            let parts: Vec<&str> = w.split(':').filter(|p| !p.is_empty()).collect();
            parts.len() >= 2
        });
    position || msg.contains('`')
}

#[test]
fn mutated_recipes_never_panic_and_every_error_names_the_problem() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../recipes");
    let mut files = Vec::new();
    recipes(&root, &mut files);
    files.sort();
    assert!(files.len() > 50, "found {} recipes", files.len());
    let mut rng = Mix(20261130);
    let (mut tried, mut errors) = (0usize, 0usize);
    let mut bad = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let name = f.strip_prefix(&root).unwrap_or(f).display().to_string();
        if std::env::var_os("NSAMP_MUTATION_TRACE").is_some() {
            eprintln!("{name}");
        }
        for (what, mutant) in mutants(&text, &mut rng, 40) {
            tried += 1;
            if std::env::var_os("NSAMP_MUTATION_TRACE").is_some() {
                eprintln!("  {what}");
            }
            // Quiet: a panic is reported below, not printed by the default hook.
            let hook = std::panic::take_hook();
            std::panic::set_hook(Box::new(|info| {
                if let Some(l) = info.location() {
                    *WHERE.lock().unwrap() = format!("{}:{}", l.file(), l.line());
                }
            }));
            let result = std::panic::catch_unwind(|| check(&mutant));
            std::panic::set_hook(hook);
            match result {
                Err(p) => {
                    let msg = p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    let at = WHERE.lock().unwrap().clone();
                    bad.push(format!("{name}: {what}: PANIC at {at}: {msg}"));
                }
                Ok(Err(e)) => {
                    errors += 1;
                    let msg = format!("{e:#}");
                    if !names_the_problem(&msg) {
                        bad.push(format!("{name}: {what}: vague error: {msg}"));
                    }
                }
                Ok(Ok(())) => {}
            }
        }
    }
    eprintln!(
        "{tried} mutants of {} recipes: {errors} rejected",
        files.len()
    );
    assert!(
        bad.is_empty(),
        "{} of {tried} mutants:\n{}",
        bad.len(),
        bad.join("\n")
    );
}
