#!/usr/bin/env bash
# The test command of the README (CI runs exactly this through .ci/run):
#  1. the whole workspace, default features (numeric tests optimised by [profile.test]);
#  2. the `cuda` feature: it must build without a CUDA toolkit, and every kernel must compile to
#     PTX with NVRTC. libnvrtc comes from PyPI (nvidia-cuda-nvrtc-cu12, no GPU needed) into
#     target/nvrtc; where it cannot be installed the PTX test says SKIPPED.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked 2>&1

NVRTC_DIR="${NVRTC_DIR:-$PWD/target/nvrtc}"
NVRTC_LIB="$NVRTC_DIR/nvidia/cuda_nvrtc/lib"
if [ ! -e "$NVRTC_LIB/libnvrtc.so.12" ]; then
    echo "installing libnvrtc (pip: nvidia-cuda-nvrtc-cu12) into $NVRTC_DIR"
    python3 -m pip install --quiet --disable-pip-version-check --target "$NVRTC_DIR" \
        nvidia-cuda-nvrtc-cu12 2>&1 ||
        echo "WARNING: could not install libnvrtc; the PTX compile test will be SKIPPED"
fi
LD_LIBRARY_PATH="$NVRTC_LIB:${LD_LIBRARY_PATH:-}" \
    cargo test --locked -p nsamp-plugin-particles --features cuda 2>&1
