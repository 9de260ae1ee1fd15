//! Hardware selection: which ONNX Runtime execution provider runs the model. Every
//! provider-specific line of the runtime lives here.
//!
//! `auto` tries CUDA when the loaded ONNX Runtime has it and falls back to the CPU,
//! logging what it used. An explicitly requested provider that cannot start is an
//! error, never a silent fallback.

use ort::ep::{self, ExecutionProvider};
use ort::session::builder::SessionBuilder;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// CUDA when available, else CPU.
    #[default]
    Auto,
    /// The CPU (every machine).
    Cpu,
    /// An NVIDIA GPU through CUDA (needs an ONNX Runtime built with it).
    Cuda,
    /// An NVIDIA GPU through TensorRT (builds an engine on the first run; needs TensorRT).
    Tensorrt,
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Provider::Auto => "auto",
            Provider::Cpu => "cpu",
            Provider::Cuda => "cuda",
            Provider::Tensorrt => "tensorrt",
        })
    }
}

impl Provider {
    /// The concrete providers to try, in order, for this request.
    pub fn candidates(self) -> Vec<Provider> {
        match self {
            Provider::Auto if ep::CUDA::is_available().unwrap_or(false) => vec![Provider::Cuda, Provider::Cpu],
            Provider::Auto => vec![Provider::Cpu],
            other => vec![other],
        }
    }

    /// Registers this (concrete) provider on a session builder; registration errors are
    /// returned, not swallowed.
    pub fn register(self, builder: SessionBuilder) -> Result<SessionBuilder> {
        let unavailable = |reason: String| Error::Provider { provider: self.to_string(), reason };
        let missing = |name: &str| {
            unavailable(format!(
                "the loaded ONNX Runtime was built without {name} support; install onnxruntime-gpu==1.31.1 \
                 (with the CUDA/cuDNN{} libraries it needs) and point ORT_DYLIB_PATH at its libonnxruntime.so",
                if name == "TensorRT" { "/TensorRT" } else { "" }
            ))
        };
        let dispatch = match self {
            Provider::Cpu | Provider::Auto => return Ok(builder),
            Provider::Cuda => {
                if !ep::CUDA::is_available().unwrap_or(false) {
                    return Err(missing("CUDA"));
                }
                vec![ep::CUDA::default().build().error_on_failure()]
            }
            Provider::Tensorrt => {
                if !ep::TensorRT::is_available().unwrap_or(false) {
                    return Err(missing("TensorRT"));
                }
                // CUDA takes any node TensorRT cannot.
                vec![ep::TensorRT::default().build().error_on_failure(), ep::CUDA::default().build().error_on_failure()]
            }
        };
        builder.with_execution_providers(dispatch).map_err(|e| unavailable(e.to_string()))
    }
}
