//! Network building blocks shared by model plugins.

pub mod gelu;
pub mod tanh;

/// The elements of a contiguous CPU tensor's storage `v` under layout `l` (custom ops' `cpu_fwd`);
/// an error naming `op` for a strided layout.
pub fn contiguous_slice<'a, T>(
    v: &'a [T],
    l: &candle_core::Layout,
    op: &str,
) -> candle_core::Result<&'a [T]> {
    let (a, b) = l
        .contiguous_offsets()
        .ok_or_else(|| candle_core::Error::Msg(format!("{op}: non-contiguous input")))?;
    Ok(&v[a..b])
}
