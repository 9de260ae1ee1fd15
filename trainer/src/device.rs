//! Hardware selection for everything that runs on libtorch (training, the classic
//! optimisation, evaluation), in one place: `--device` and `--threads`.

use anyhow::bail;
use tch::Device;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceArg {
    /// CUDA when libtorch sees a GPU, else CPU.
    Auto,
    /// The CPU.
    Cpu,
    /// An NVIDIA GPU (needs a CUDA build of libtorch).
    Cuda,
}

/// The `--device` and `--threads` options, shared by the trainer's binaries.
#[derive(Debug, Clone, clap::Args)]
pub struct DeviceArgs {
    /// Where libtorch runs.
    #[arg(long, value_enum, default_value_t = DeviceArg::Auto)]
    pub device: DeviceArg,
    /// CPU threads for libtorch [default: all cores, or OMP_NUM_THREADS].
    #[arg(long)]
    pub threads: Option<i32>,
}

impl DeviceArgs {
    /// Applies `--threads` and returns the device; an explicit `cuda` without a GPU is an
    /// error, never a silent fallback.
    pub fn select(&self) -> anyhow::Result<Device> {
        if let Some(n) = self.threads {
            if n < 1 {
                bail!("--threads must be at least 1, got {n}");
            }
            tch::set_num_threads(n);
        }
        match self.device {
            DeviceArg::Auto => Ok(Device::cuda_if_available()),
            DeviceArg::Cpu => Ok(Device::Cpu),
            DeviceArg::Cuda if tch::Cuda::is_available() => Ok(Device::Cuda(0)),
            DeviceArg::Cuda => bail!("--device cuda: libtorch sees no CUDA GPU (driver missing, or a CPU-only libtorch); use --device cpu"),
        }
    }
}
