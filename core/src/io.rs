//! Files: atomic writes (temp file + rename, so a killed run never leaves a half-written file)
//! and `.npy` arrays (n x d, float32 or float64) that numpy reads and writes.

use anyhow::{bail, Context as _};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `path` atomically: the bytes go to a temporary sibling which is then renamed over it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = tmp_sibling(path);
    {
        let mut f = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// A temporary sibling path for `path` (same directory, so rename is atomic).
pub fn tmp_sibling(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// A 2-D array read from `.npy`: row-major values and the row width.
#[derive(Debug, Clone)]
pub struct Array2 {
    /// Row-major values as f32.
    pub data: Vec<f32>,
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
}

/// Checks a `.npy` header before it is parsed: the magic, a header length within the file and
/// of at most 10,000 bytes, and at most 3 opening brackets (a numeric array's header is `{'descr': '<f4', 'fortran_order':
/// False, 'shape': (n, d), }`). The header parser backtracks exponentially on deeply nested
/// brackets (found by fuzzing: 60 bytes of `{` took minutes), so those are refused first.
pub fn check_npy_header(bytes: &[u8]) -> anyhow::Result<()> {
    anyhow::ensure!(
        bytes.len() >= 10 && bytes.starts_with(b"\x93NUMPY"),
        "not a .npy file (no \\x93NUMPY magic)"
    );
    let (start, len): (usize, usize) = match bytes[6] {
        1 => (10, u16::from_le_bytes([bytes[8], bytes[9]]) as usize),
        2 | 3 if bytes.len() >= 12 => (
            12,
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
        ),
        v => bail!(".npy format version {v} is not supported (1, 2 or 3)"),
    };
    let header = bytes.get(start..start.saturating_add(len)).ok_or_else(|| {
        anyhow::anyhow!(".npy header of {len} bytes runs past the end of the file")
    })?;
    // Opening brackets are counted wherever they are (a closing one inside a quoted string
    // must not lower a depth count): a numeric array's header opens exactly 2, `{` and `(`.
    let opened = header
        .iter()
        .filter(|b| matches!(b, b'{' | b'[' | b'('))
        .count();
    anyhow::ensure!(
        opened <= 3,
        ".npy header opens {opened} brackets, more than 3 (only plain float32/float64 arrays \
         are read)"
    );
    Ok(())
}

/// Reads an `n x d` (or 1-D, read as `n x 1`) float32 or float64 `.npy` file, C order.
pub fn read_npy(path: &Path) -> anyhow::Result<Array2> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    anyhow::ensure!(
        meta.is_file(),
        "{} is not a regular file (a .npy file is expected)",
        path.display()
    );
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    check_npy_header(&bytes)
        .with_context(|| format!("{} is not a readable .npy file", path.display()))?;
    let file = npyz::NpyFile::new(&bytes[..])
        .with_context(|| format!("{} is not a .npy file", path.display()))?;
    let shape = file.shape().to_vec();
    let (rows, cols) = match shape.as_slice() {
        [n] => (*n as usize, 1),
        [n, d] => (*n as usize, *d as usize),
        _ => bail!(
            "{}: expected a 2-D array (n x d), got shape {:?}",
            path.display(),
            shape
        ),
    };
    if file.order() != npyz::Order::C && cols > 1 {
        bail!(
            "{}: Fortran-ordered arrays are not supported; save with numpy.ascontiguousarray",
            path.display()
        );
    }
    let data: Vec<f32> = match file.try_data::<f32>() {
        Ok(r) => r.into_iter().collect::<std::io::Result<_>>()?,
        Err(file) => match file.try_data::<f64>() {
            Ok(r) => r
                .into_iter()
                .map(|v| v.map(|v| v as f32))
                .collect::<std::io::Result<_>>()?,
            Err(file) => bail!(
                "{}: dtype {:?} is not float32 or float64",
                path.display(),
                file.dtype()
            ),
        },
    };
    if let Some(i) = data.iter().position(|v| !v.is_finite()) {
        bail!(
            "{}: non-finite value at row {}",
            path.display(),
            i / cols.max(1)
        );
    }
    Ok(Array2 { data, rows, cols })
}

/// Writes `data` (rows x cols, row-major) as a float32 `.npy` file, atomically.
pub fn write_npy(path: &Path, data: &[f32], cols: usize) -> anyhow::Result<()> {
    use npyz::WriterBuilder;
    assert!(cols > 0 && data.len().is_multiple_of(cols));
    let mut buf = Vec::new();
    {
        let mut w = npyz::WriteOptions::new()
            .default_dtype()
            .shape(&[(data.len() / cols) as u64, cols as u64])
            .writer(&mut buf)
            .begin_nd()?;
        w.extend(data.iter().copied())?;
        w.finish()?;
    }
    write_atomic(path, &buf)
}

/// Writes named tensors (a model's weights) as safetensors, atomically (temporary file +
/// rename).
pub fn write_weights(
    path: &Path,
    weights: &std::collections::HashMap<String, candle_core::Tensor>,
) -> anyhow::Result<()> {
    let tmp = tmp_sibling(path);
    candle_core::safetensors::save(weights, &tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_round_trip() {
        let dir = std::env::temp_dir().join(format!("nsamp-io-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.npy");
        write_npy(&p, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3).unwrap();
        let a = read_npy(&p).unwrap();
        assert_eq!((a.rows, a.cols), (2, 3));
        assert_eq!(a.data, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        std::fs::remove_dir_all(&dir).ok();
    }

    /// Found by fuzzing (fuzz/regressions/npy-timeout-nested-braces.npy): a header of nested
    /// brackets made the header parser backtrack for minutes; now a clear error at once.
    #[test]
    fn deeply_nested_npy_header_is_refused_at_once() {
        let dir = std::env::temp_dir().join(format!("nsamp-io-nest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("nested.npy");
        let header = format!("{}'descr': '<f4', 'shape': (2, 2), }}\n", "{".repeat(60));
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend((header.len() as u16).to_le_bytes());
        bytes.extend(header.as_bytes());
        bytes.extend([0u8; 16]);
        std::fs::write(&p, &bytes).unwrap();
        let started = std::time::Instant::now();
        let e = format!("{:#}", read_npy(&p).unwrap_err());
        assert!(e.contains("more than 3"), "{e}");
        // Closing brackets inside strings do not hide nesting (found in review).
        let header = format!("{}'descr': '<f4'}}\n", "[']', ".repeat(40));
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend((header.len() as u16).to_le_bytes());
        bytes.extend(header.as_bytes());
        std::fs::write(&p, &bytes).unwrap();
        assert!(format!("{:#}", read_npy(&p).unwrap_err()).contains("more than 3"));
        assert!(started.elapsed().as_secs_f64() < 1.0);
        // A header longer than the file and a bad magic are errors too.
        std::fs::write(&p, b"\x93NUMPY\x01\x00\xff\x00{").unwrap();
        assert!(format!("{:#}", read_npy(&p).unwrap_err()).contains("past the end"));
        std::fs::write(&p, b"PK\x03\x04 not npy").unwrap();
        assert!(format!("{:#}", read_npy(&p).unwrap_err()).contains("magic"));
        // Found by hand while fuzzing: `File("/dev/zero")` read until memory ran out.
        let e = format!("{:#}", read_npy(Path::new("/dev/zero")).unwrap_err());
        assert!(e.contains("not a regular file"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
