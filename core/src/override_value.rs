//! The value of a `--set key.path=VALUE` override, read as RON but keeping component names.
//!
//! Overrides are applied to the recipe's JSON form, where a component is `{"Name": {fields}}`
//! and a unit enum variant is `"Name"`. RON's untyped reading of `ETvd(protocol: Community)`
//! drops the name `ETvd`, so the text is first rewritten into that form:
//! `Name(field: v, ...)` -> `{"Name": {"field": v, ...}}`, `Name()` -> `{"Name": {}}`,
//! `Name(v)` -> `{"Name": v}` (a newtype variant such as `Variance(1e-3)`), a bare `Name` ->
//! `"Name"`; `Some(v)`, `true`, `false`, `None`, numbers and strings are kept as they are.

/// Rewrites RON `text` into the JSON-shaped RON that the recipe's override tree expects, then
/// parses it; None if it does not parse (the caller then takes the text as a string).
pub fn parse(text: &str) -> Option<serde_json::Value> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 16);
    let mut i = 0;
    rewrite(&chars, &mut i, &mut out, None)?;
    if i != chars.len() {
        return None;
    }
    crate::recipe::ron_options().from_str(&out).ok()
}

const KEPT: [&str; 6] = ["true", "false", "None", "inf", "NaN", "Some"];

/// Copies `c[*i..]` into `out` until the closing bracket `close` (consumed by the caller) or
/// the end, rewriting identifiers. None on unbalanced brackets.
fn rewrite(c: &[char], i: &mut usize, out: &mut String, close: Option<char>) -> Option<()> {
    while *i < c.len() {
        let ch = c[*i];
        if Some(ch) == close {
            return Some(());
        }
        match ch {
            '"' => {
                let start = *i;
                *i += 1;
                while *i < c.len() && c[*i] != '"' {
                    *i += if c[*i] == '\\' { 2 } else { 1 };
                }
                *i = (*i + 1).min(c.len());
                out.extend(&c[start..*i]);
            }
            '(' | '[' | '{' => {
                let end = match ch {
                    '(' => ')',
                    '[' => ']',
                    _ => '}',
                };
                // An unnamed struct `(field: v, ...)` becomes a map.
                let mut k = *i + 1;
                while k < c.len() && c[k].is_whitespace() {
                    k += 1;
                }
                let as_map = ch == '(' && is_field_start(c, k);
                out.push(if as_map { '{' } else { ch });
                *i += 1;
                rewrite(c, i, out, Some(end))?;
                (*i < c.len()).then_some(())?;
                out.push(if as_map { '}' } else { end });
                *i += 1;
            }
            ')' | ']' | '}' => return None,
            c0 if c0.is_ascii_digit() => {
                while *i < c.len() && (c[*i].is_ascii_alphanumeric() || matches!(c[*i], '_' | '.'))
                {
                    out.push(c[*i]);
                    *i += 1;
                }
            }
            c0 if c0.is_ascii_alphabetic() || c0 == '_' => identifier(c, i, out)?,
            _ => {
                out.push(ch);
                *i += 1;
            }
        }
    }
    close.is_none().then_some(())
}

/// An identifier at `c[*i]`: a field name (`name:`), a component (`Name(...)`), a unit variant,
/// or a kept keyword.
fn identifier(c: &[char], i: &mut usize, out: &mut String) -> Option<()> {
    let start = *i;
    while *i < c.len() && (c[*i].is_ascii_alphanumeric() || c[*i] == '_') {
        *i += 1;
    }
    let name: String = c[start..*i].iter().collect();
    let mut j = *i;
    while j < c.len() && c[j].is_whitespace() {
        j += 1;
    }
    let next = c.get(j).copied();
    if KEPT.contains(&name.as_str()) {
        out.push_str(&name);
        return Some(());
    }
    match next {
        // A field name (not a `::` path, which RON does not have).
        Some(':') => out.push_str(&format!("\"{name}\"")),
        Some('(') => {
            *i = j + 1;
            let mut k = *i;
            while k < c.len() && c[k].is_whitespace() {
                k += 1;
            }
            let has_fields = is_field_start(c, k);
            let empty = c.get(k) == Some(&')');
            out.push_str(&format!("{{\"{name}\": "));
            if empty || has_fields {
                out.push('{');
            }
            rewrite(c, i, out, Some(')'))?;
            (*i < c.len()).then_some(())?;
            *i += 1;
            if empty || has_fields {
                out.push('}');
            }
            out.push('}');
        }
        _ => out.push_str(&format!("\"{name}\"")),
    }
    Some(())
}

/// Whether `c[k..]` starts with `identifier :` (a struct field).
fn is_field_start(c: &[char], mut k: usize) -> bool {
    let start = k;
    while k < c.len() && (c[k].is_ascii_alphanumeric() || c[k] == '_') {
        k += 1;
    }
    if k == start || !(c[start].is_ascii_alphabetic() || c[start] == '_') {
        return false;
    }
    while k < c.len() && c[k].is_whitespace() {
        k += 1;
    }
    c.get(k) == Some(&':')
}

#[cfg(test)]
mod tests {
    use super::parse;
    use serde_json::json;

    #[test]
    fn components_keep_their_names() {
        assert_eq!(
            parse("[W1(), ETvd(protocol: Community, bins: Some(200)), Mmd(sigmas: [1.0, 2e-1])]"),
            Some(json!([
                {"W1": {}},
                {"ETvd": {"protocol": "Community", "bins": 200}},
                {"Mmd": {"sigmas": [1.0, 0.2]}}
            ]))
        );
        assert_eq!(parse("Variance(1e-3)"), Some(json!({"Variance": 0.001})));
        assert_eq!(parse("PerSample"), Some(json!("PerSample")));
        assert_eq!(
            parse("Gmm40(std: 2.0)"),
            Some(json!({"Gmm40": {"std": 2.0}}))
        );
    }

    #[test]
    fn plain_values_are_unchanged() {
        assert_eq!(parse("500"), Some(json!(500)));
        assert_eq!(parse("-4.5e-2"), Some(json!(-0.045)));
        assert_eq!(parse("None"), Some(json!(null)));
        assert_eq!(parse("true"), Some(json!(true)));
        assert_eq!(parse("Some(70.0)"), Some(json!(70.0)));
        assert_eq!(parse("\"a(b: c)\""), Some(json!("a(b: c)")));
        assert_eq!(parse("[1, 2]"), Some(json!([1, 2])));
        assert_eq!(parse("(a: 1, b: [2])"), Some(json!({"a": 1, "b": [2]})));
    }

    #[test]
    fn unbalanced_text_does_not_parse() {
        assert_eq!(parse("W1("), None);
        assert_eq!(parse("W1())"), None);
        assert_eq!(parse("[1, 2"), None);
    }
}
