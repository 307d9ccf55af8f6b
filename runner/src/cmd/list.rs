//! `nsamp list`: every registered component, its kind and its config fields.

use nsamp_core::experiment::ensure_registry;
use nsamp_core::registry;

/// Prints the listing.
pub fn command(full: bool) -> anyhow::Result<()> {
    ensure_registry()?;
    print!("{}", list_text(full));
    Ok(())
}

/// The text of `nsamp list`: per family, each component's name and doc, then its fields (or,
/// with `full`, its commented RON example at the defaults).
pub fn list_text(full: bool) -> String {
    let mut s = String::new();
    let mut last = "";
    for l in registry::list_all() {
        if l.kind != last {
            s.push_str(&format!("\n{}s:\n", l.kind));
            last = l.kind;
        }
        s.push_str(&format!("  {:<14} {}\n", l.name, l.doc));
        if full {
            for line in l.example.lines() {
                s.push_str(&format!("      {line}\n"));
            }
        } else {
            let f: Vec<&str> = l.fields.iter().map(|f| f.name).collect();
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
