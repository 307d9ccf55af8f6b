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

/// A custom op's `cpu_fwd` body for f32 and f64 storage: `f32`/`f64` map the contiguous input
/// elements to the output's; other dtypes are an error naming `op`.
pub fn map_float_storage(
    s: &candle_core::CpuStorage,
    l: &candle_core::Layout,
    op: &str,
    f32: impl FnOnce(&[f32]) -> Vec<f32>,
    f64: impl FnOnce(&[f64]) -> Vec<f64>,
) -> candle_core::Result<candle_core::CpuStorage> {
    use candle_core::CpuStorage;
    Ok(match s {
        CpuStorage::F32(v) => CpuStorage::F32(f32(contiguous_slice(v, l, op)?)),
        CpuStorage::F64(v) => CpuStorage::F64(f64(contiguous_slice(v, l, op)?)),
        _ => candle_core::bail!("{op}: f32 or f64 tensors only"),
    })
}
