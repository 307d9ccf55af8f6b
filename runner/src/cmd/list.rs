//! `nsamp list`: every registered component, its kind and its config fields.

use nsamp_core::experiment::ensure_registry;
use nsamp_core::registry::{self, Listing};

/// Prints the listing.
pub fn command(full: bool) -> anyhow::Result<()> {
    ensure_registry()?;
    print!("{}", list_text(full));
    Ok(())
}

/// Config field names of a component, read from its example.
pub fn example_fields(example: &str) -> Vec<String> {
    example
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("//"))
        .filter_map(|l| l.split_once(':').map(|(k, _)| k.trim()))
        .filter(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .map(str::to_string)
        .collect()
}

/// The text of `nsamp list`.
pub fn list_text(full: bool) -> String {
    let mut s = String::new();
    let mut last = "";
    for Listing {
        kind,
        name,
        doc,
        example,
    } in registry::list_all()
    {
        if kind != last {
            s.push_str(&format!("\n{kind}s:\n"));
            last = kind;
        }
        s.push_str(&format!("  {name:<14} {doc}\n"));
        if full {
            for l in example.lines() {
                s.push_str(&format!("      {l}\n"));
            }
        } else {
            let f = example_fields(example);
            let f = if f.is_empty() {
                "(none)".into()
            } else {
                f.join(", ")
            };
            s.push_str(&format!("  {:<14} fields: {f}\n", ""));
        }
    }
    s
}
