//! Helpers shared by the snapshot tests.

/// Every number in `v` rounded to `digits` decimals (snapshots pin figures to a stated precision).
pub fn round(v: &serde_json::Value, digits: i32) -> serde_json::Value {
    let f = 10f64.powi(digits);
    match v {
        serde_json::Value::Number(n) => serde_json::json!((n.as_f64().unwrap() * f).round() / f),
        serde_json::Value::Object(m) => serde_json::Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), round(v, digits)))
                .collect(),
        ),
        other => other.clone(),
    }
}
