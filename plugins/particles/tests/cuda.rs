//! CUDA feature tests. Without libnvrtc the PTX test is skipped with a message (install it with
//! `pip install nvidia-cuda-nvrtc-cu12` and put its lib/ on LD_LIBRARY_PATH, as .ci/run
//! does); without a driver and GPU the comparison test is skipped and `Cuda(0)` must fail cleanly.
#![cfg(feature = "cuda")]

use nsamp_core::numerics::rng::{fill_normal, RngStreams};
use nsamp_core::registry::{families, Spec};
use nsamp_core::Device;
use nsamp_plugin_particles::cuda;

fn spec(ron: &str) -> Spec<families::Target> {
    Spec::from_ron(ron).unwrap()
}

/// Every kernel compiles to PTX with NVRTC (no GPU needed), and a broken kernel is an error with
/// the compiler's log, not a panic.
#[test]
fn kernels_compile_to_ptx() {
    if !cuda::nvrtc_available() {
        eprintln!(
            "SKIPPED: libnvrtc not found (pip install nvidia-cuda-nvrtc-cu12; LD_LIBRARY_PATH)"
        );
        return;
    }
    for (name, src) in cuda::KERNELS {
        let ptx = cuda::compile(src).unwrap_or_else(|e| panic!("kernel {name}: {e:#}"));
        assert!(
            ptx.to_src().contains(name),
            "the PTX of {name} does not define it"
        );
    }
    let err = cuda::compile("extern \"C\" __global__ void broken(float* x) { x[0] = y; }")
        .expect_err("a kernel with an undefined name must not compile");
    assert!(format!("{err:#}").contains("NVRTC"), "{err:#}");
}

/// Where no GPU is present, asking for one is a clear error.
#[test]
fn cuda_device_without_gpu_is_an_error() {
    if cuda::gpu_count() > 0 {
        eprintln!("SKIPPED: a GPU is present");
        return;
    }
    let err = match spec("Lj13()").config.build_on(Device::Cuda(0)) {
        Ok(_) => panic!("Cuda(0) without a GPU must fail"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("Cuda(0)"), "{err}");
}

/// Kernel and CPU agree (relative error < 1e-5 in f32) on LJ-13 and LJ-55 batches.
#[test]
fn gpu_matches_cpu() {
    if cuda::gpu_count() == 0 || !cuda::nvrtc_available() {
        eprintln!("SKIPPED: no CUDA driver, GPU or libnvrtc on this machine");
        return;
    }
    for name in [
        "Lj13()",
        "Lj55()",
        "LennardJones(n: 7, dim: 2, harmonic: 0.5)",
    ] {
        let cpu = spec(name).config.build_on(Device::Cpu).unwrap();
        let gpu = spec(name).config.build_on(Device::Cuda(0)).unwrap();
        let (rows, dim) = (300, cpu.dim());
        let mut x = vec![0f32; rows * dim];
        fill_normal(&mut RngStreams::new(5).stream("cuda-test", 0), &mut x);
        x.iter_mut().for_each(|v| *v *= 1.3);
        let (mut e1, mut e2) = (vec![0f32; rows], vec![0f32; rows]);
        let (mut g1, mut g2) = (vec![0f32; rows * dim], vec![0f32; rows * dim]);
        cpu.energy_and_grad(&x, &mut e1, &mut g1).unwrap();
        gpu.energy_and_grad(&x, &mut e2, &mut g2).unwrap();
        let mut e3 = vec![0f32; rows];
        gpu.energy(&x, &mut e3).unwrap();
        for r in 0..rows {
            let rel = (e1[r] - e2[r]).abs() / e1[r].abs().max(1.0);
            assert!(rel < 1e-5, "{name} row {r}: cpu {} gpu {}", e1[r], e2[r]);
            assert_eq!(e2[r], e3[r]);
            let row = r * dim..(r + 1) * dim;
            let norm = g1[row.clone()]
                .iter()
                .map(|v| v * v)
                .sum::<f32>()
                .sqrt()
                .max(1.0);
            for (a, b) in g1[row.clone()].iter().zip(&g2[row]) {
                assert!(
                    (a - b).abs() / norm < 1e-5,
                    "{name} row {r}: grad {a} vs {b}"
                );
            }
        }
    }
}
