//! CUDA kernels for the Lennard-Jones energy and gradient (cargo feature `cuda`), compiled at run
//! time with NVRTC through cudarc (dynamic loading: no CUDA toolkit at build time).
//!
//! One thread block per configuration: the block copies its configuration into shared memory,
//! computes the centre of mass, and each thread takes particles i = tid, tid + blockDim, ...,
//! summing the ordered pairs (i, j != i): its energy share eps [(rm/r)^12 - 2 (rm/r)^6] (half the
//! 2 eps pair term, since each pair is seen from both ends), the restraint (k/2)|x_i - mean|^2,
//! and its own full gradient row, so no atomics are needed. A shared-memory tree sums the
//! energy. Dimensions up to [`MAX_DIM`].

use crate::pair::LjPair;
use crate::PairSystem;
use cudarc::driver::{CudaContext, CudaFunction, CudaStream, LaunchConfig, PushKernelArg};
use nsamp_core::target::Particles;
use nsamp_core::{Target, TargetStructure};
use std::sync::{Arc, Mutex};

/// Largest spatial dimension the kernel handles.
pub const MAX_DIM: usize = 4;

/// Threads per block (a power of two, for the reduction).
pub const THREADS: u32 = 64;

/// The kernel source (CUDA C), one function for energy with or without gradient.
pub const LJ_KERNEL: &str = r#"
#define MAX_DIM 4
extern "C" __global__ void lj_energy_grad(
    const float* __restrict__ x, float* __restrict__ energy, float* __restrict__ grad,
    int n, int dim, float eps, float rm, float softening, float spring, int with_grad)
{
    extern __shared__ float sh[];
    float* xs = sh;                    // n * dim coordinates
    float* red = sh + n * dim;         // blockDim.x partial energies
    __shared__ float mean[MAX_DIM];
    const int c = blockIdx.x;
    const int nd = n * dim;
    const float* xc = x + (size_t)c * nd;
    for (int q = threadIdx.x; q < nd; q += blockDim.x) xs[q] = xc[q];
    __syncthreads();
    if (threadIdx.x < dim) {
        float m = 0.0f;
        for (int i = 0; i < n; ++i) m += xs[i * dim + threadIdx.x];
        mean[threadIdx.x] = m / (float)n;
    }
    __syncthreads();
    const float inv_rm2 = 1.0f / (rm * rm);
    float acc = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        float xi[MAX_DIM], gi[MAX_DIM];
        for (int k = 0; k < dim; ++k) { xi[k] = xs[i * dim + k]; gi[k] = 0.0f; }
        for (int j = 0; j < n; ++j) {
            if (j == i) continue;
            float d[MAX_DIM];
            float s = 0.0f;
            for (int k = 0; k < dim; ++k) { d[k] = xi[k] - xs[j * dim + k]; s += d[k] * d[k]; }
            const float inv2 = 1.0f / ((s + softening) * inv_rm2);
            const float inv6 = inv2 * inv2 * inv2;
            acc += eps * (inv6 * inv6 - 2.0f * inv6);
            // 2 dv/ds of the full pair term 2 eps [...]: the force on i from j.
            const float f = 24.0f * eps * (inv6 - inv6 * inv6) * inv2 * inv_rm2;
            for (int k = 0; k < dim; ++k) gi[k] += f * d[k];
        }
        for (int k = 0; k < dim; ++k) {
            const float cd = xi[k] - mean[k];
            acc += 0.5f * spring * cd * cd;
            gi[k] += spring * cd;
        }
        if (with_grad) {
            for (int k = 0; k < dim; ++k) grad[(size_t)c * nd + i * dim + k] = gi[k];
        }
    }
    red[threadIdx.x] = acc;
    __syncthreads();
    for (int w = blockDim.x / 2; w > 0; w >>= 1) {
        if (threadIdx.x < w) red[threadIdx.x] += red[threadIdx.x + w];
        __syncthreads();
    }
    if (threadIdx.x == 0) energy[c] = red[0];
}
"#;

/// Every kernel source of this crate, by name (the PTX compile test compiles each).
pub const KERNELS: &[(&str, &str)] = &[("lj_energy_grad", LJ_KERNEL)];

/// Whether libnvrtc can be loaded (cudarc panics on first use otherwise).
pub fn nvrtc_available() -> bool {
    // SAFETY: only tries to open the shared library.
    unsafe { cudarc::nvrtc::sys::is_culib_present() }
}

/// Whether the CUDA driver library can be loaded.
pub fn driver_available() -> bool {
    // SAFETY: only tries to open the shared library.
    unsafe { cudarc::driver::sys::is_culib_present() }
}

/// Number of CUDA devices (0 without a driver or GPU; never panics).
pub fn gpu_count() -> usize {
    if !driver_available() {
        return 0;
    }
    CudaContext::device_count().map_or(0, |c| c.max(0) as usize)
}

/// Compiles a kernel source to PTX, with the compiler log in the error.
pub fn compile(src: &str) -> anyhow::Result<cudarc::nvrtc::Ptx> {
    anyhow::ensure!(
        nvrtc_available(),
        "libnvrtc not found: install it (e.g. `pip install nvidia-cuda-nvrtc-cu12`) and put its \
         lib/ directory on LD_LIBRARY_PATH"
    );
    cudarc::nvrtc::compile_ptx(src).map_err(|e| anyhow::anyhow!("NVRTC: {e}"))
}

struct Gpu {
    stream: Arc<CudaStream>,
    func: CudaFunction,
}

/// A Lennard-Jones system whose energies run on a GPU (the CPU system keeps its metadata).
pub struct CudaLennardJones {
    cpu: PairSystem<LjPair>,
    gpu: Mutex<Gpu>,
}

impl CudaLennardJones {
    /// Compiles the kernel and loads it on GPU `ordinal`; clear errors when the driver, the GPU or
    /// NVRTC is missing.
    pub fn new(cpu: PairSystem<LjPair>, ordinal: usize) -> anyhow::Result<Self> {
        anyhow::ensure!(
            cpu.particles.spatial_dim <= MAX_DIM,
            "the CUDA Lennard-Jones kernel handles dim <= {MAX_DIM}"
        );
        anyhow::ensure!(
            driver_available(),
            "device Cuda({ordinal}): the CUDA driver (libcuda) is not installed on this machine; \
             use `device: Cpu`"
        );
        let count = CudaContext::device_count()
            .map_err(|e| anyhow::anyhow!("device Cuda({ordinal}): {e}"))?;
        anyhow::ensure!(
            (ordinal as i64) < count as i64,
            "device Cuda({ordinal}): this machine has {count} CUDA device(s)"
        );
        let ctx = CudaContext::new(ordinal)
            .map_err(|e| anyhow::anyhow!("device Cuda({ordinal}): {e}"))?;
        let ptx = compile(LJ_KERNEL)?;
        let module = ctx
            .load_module(ptx)
            .map_err(|e| anyhow::anyhow!("loading the LJ kernel: {e}"))?;
        let func = module
            .load_function("lj_energy_grad")
            .map_err(|e| anyhow::anyhow!("loading the LJ kernel: {e}"))?;
        Ok(CudaLennardJones {
            gpu: Mutex::new(Gpu {
                stream: ctx.default_stream(),
                func,
            }),
            cpu,
        })
    }

    fn run(&self, x: &[f32], energy: &mut [f32], grad: Option<&mut [f32]>) -> anyhow::Result<()> {
        let rows = energy.len();
        if rows == 0 {
            return Ok(());
        }
        let Particles { n, spatial_dim } = self.cpu.particles;
        let gpu = self
            .gpu
            .lock()
            .map_err(|_| anyhow::anyhow!("the GPU state is poisoned by an earlier failure"))?;
        let s = &gpu.stream;
        let xd = s.clone_htod(x)?;
        let mut ed = s.alloc_zeros::<f32>(rows)?;
        let mut gd = s.alloc_zeros::<f32>(if grad.is_some() { x.len() } else { 1 })?;
        let (n_i, dim_i) = (n as i32, spatial_dim as i32);
        let with_grad = grad.is_some() as i32;
        let cfg = LaunchConfig {
            grid_dim: (rows as u32, 1, 1),
            block_dim: (THREADS, 1, 1),
            shared_mem_bytes: ((n * spatial_dim) as u32 + THREADS) * 4,
        };
        let p = self.cpu.pair;
        let mut launch = s.launch_builder(&gpu.func);
        launch
            .arg(&xd)
            .arg(&mut ed)
            .arg(&mut gd)
            .arg(&n_i)
            .arg(&dim_i)
            .arg(&p.eps)
            .arg(&p.rm)
            .arg(&p.softening)
            .arg(&self.cpu.harmonic)
            .arg(&with_grad);
        // SAFETY: the argument list matches the kernel's signature; buffers hold rows x n x dim
        // floats (x, grad) and rows floats (energy); shared memory is sized as the kernel reads it.
        unsafe { launch.launch(cfg) }?;
        s.memcpy_dtoh(&ed, energy)?;
        if let Some(g) = grad {
            s.memcpy_dtoh(&gd, g)?;
        }
        s.synchronize()?;
        Ok(())
    }
}

impl Target for CudaLennardJones {
    fn dim(&self) -> usize {
        self.cpu.dim()
    }
    fn structure(&self) -> TargetStructure {
        TargetStructure::Particles(self.cpu.particles)
    }
    fn energy(&self, x: &[f32], energy: &mut [f32]) -> anyhow::Result<()> {
        // A failing GPU call (a lost device) is an error with CUDA's message, not a panic.
        self.run(x, energy, None)
            .map_err(|e| e.context("CUDA Lennard-Jones energy"))
    }
    fn energy_and_grad(
        &self,
        x: &[f32],
        energy: &mut [f32],
        grad: &mut [f32],
    ) -> anyhow::Result<()> {
        self.run(x, energy, Some(grad))
            .map_err(|e| e.context("CUDA Lennard-Jones energy and gradient"))
    }
}
