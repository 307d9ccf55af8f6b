//! `nsamp list`: every registered component, its kind and its config fields.

use nsamp_core::experiment::ensure_registry;
use nsamp_core::registry::{self, Listing};

/// Prints the listing.
pub fn command(full: bool) -> anyhow::Result<()> {
    ensure_registry()?;
    print!("{}", list_text(full));
    Ok(())
}

/// Config field names of a component, read from its example: one `name: value` per line; a
/// nested struct written `name: (` on its own line, its fields one a line and `)` to close, gives
/// dotted paths (`schedule.sigma_min`), as `--set objective.schedule.sigma_min=...` addresses them.
pub fn example_fields(example: &str) -> Vec<String> {
    let mut prefix: Vec<&str> = Vec::new();
    let mut fields = Vec::new();
    for line in example.lines().map(str::trim) {
        if line.starts_with("//") {
            continue;
        }
        if line.starts_with(')') {
            prefix.pop();
            continue;
        }
        let Some((key, value)) = line.split_once(':').map(|(k, v)| (k.trim(), v.trim())) else {
            continue;
        };
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        if value == "(" {
            prefix.push(key);
        } else {
            let mut path = prefix.join(".");
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(key);
            fields.push(path);
        }
    }
    fields
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

#[cfg(test)]
mod tests {
    use super::example_fields;

    #[test]
    fn nested_fields_read_as_dotted_paths() {
        let example = "Idem(\n    // K.\n    snis: 5,\n    mc: (\n        samples: 500,\n        \
                       clip: Some(70.0),\n    ),\n    init: McScoreSde(steps: 1000),\n    scale: None,\n)";
        assert_eq!(
            example_fields(example),
            ["snis", "mc.samples", "mc.clip", "init", "scale"]
        );
    }
}
