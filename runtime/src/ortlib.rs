//! Finding and loading libonnxruntime (the `ort` crate loads it dynamically), once per
//! process.
//!
//! Search order, first existing file wins:
//! 1. `ORT_DYLIB_PATH` (a file, or a folder holding `libonnxruntime.so*`),
//! 2. next to the executable (`libonnxruntime.so*`, then `../lib/`),
//! 3. the project environment made by `make setup` (`.venv/onnxruntime/capi/`),
//! 4. the system library path (`libonnxruntime.so`).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;

use crate::error::{Error, Result};

const LIB_PREFIX: &str = "libonnxruntime.so";
/// The project root at build time (runtime/..), for the `.venv` made by `make setup`.
const PROJECT_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

static ENVIRONMENT: OnceLock<std::result::Result<Environment, String>> = OnceLock::new();

/// The process-wide ONNX Runtime environment, loading the library on first use.
pub fn environment() -> Result<&'static Environment> {
    ENVIRONMENT.get_or_init(init).as_ref().map_err(|e| Error::Runtime(e.clone()))
}

fn init() -> std::result::Result<Environment, String> {
    let candidates = library_candidates();
    // Last resort: the bare name, resolved by the dynamic loader (LD_LIBRARY_PATH, ld.so.cache).
    let path = candidates.iter().find(|p| p.is_file()).cloned().unwrap_or_else(|| PathBuf::from(LIB_PREFIX));
    let not_found = || {
        let looked: Vec<String> = candidates.iter().map(|p| format!("  {}", p.display())).collect();
        format!(
            "ONNX Runtime (libonnxruntime.so) was not found. Looked in:\n{}\n  the system library path\n\
             Fix: run `make setup` in the nst checkout, or `pip install onnxruntime==1.31.1` \
             (onnxruntime-gpu for CUDA/TensorRT) and set ORT_DYLIB_PATH to its onnxruntime/capi/libonnxruntime.so.1.31.1",
            looked.join("\n")
        )
    };
    tracing::debug!("loading ONNX Runtime from {}", path.display());
    let builder = ort::init_from(&path).map_err(|e| {
        if path.as_os_str() == LIB_PREFIX {
            return not_found();
        }
        format!("cannot load ONNX Runtime from {}: {e}\nFix: install onnxruntime==1.31.1 (see README) or point ORT_DYLIB_PATH to a working libonnxruntime.so", path.display())
    })?;
    builder.with_name("nst").build().map_err(|e| format!("cannot start ONNX Runtime ({}): {e}", path.display()))
}

/// The places searched for libonnxruntime, in order (see the module docs).
pub fn library_candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        let p = PathBuf::from(p);
        if p.is_dir() {
            out.extend(find_in(&p));
        }
        out.push(p);
    }
    if let Some(exe_dir) = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf)) {
        out.extend(find_in(&exe_dir));
        out.extend(find_in(&exe_dir.join("../lib")));
    }
    let venv = Path::new(PROJECT_ROOT).join(".venv/onnxruntime/capi");
    match find_in(&venv) {
        Some(p) => out.push(p),
        None => out.push(venv.join(LIB_PREFIX)),
    }
    out
}

/// The newest-named `libonnxruntime.so*` in `dir`, if any.
fn find_in(dir: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(LIB_PREFIX)))
        .collect();
    found.sort();
    found.pop()
}

