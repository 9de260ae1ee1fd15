//! The bundled style models: `<name>.onnx` files in the weights folder.
//!
//! The weights folder is, first existing wins: `NST_WEIGHTS_DIR`, `weights/` next to the
//! executable, `weights/` two levels up from it (a `target/release` build in a checkout),
//! and the checkout this binary was built from.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The style used when `--model` is not given.
pub const DEFAULT_STYLE: &str = "vg_starry_night";

/// Files in the weights folder that are not style models.
const NOT_STYLES: &[&str] = &["vgg19"];

const BUILD_WEIGHTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../weights");

/// The folders searched for bundled styles, in order.
pub fn weights_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os("NST_WEIGHTS_DIR") {
        dirs.push(PathBuf::from(d));
    }
    if let Some(exe_dir) = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf)) {
        dirs.push(exe_dir.join("weights"));
        dirs.push(exe_dir.join("../../weights"));
    }
    dirs.push(PathBuf::from(BUILD_WEIGHTS));
    dirs
}

/// The searched folders as one line, for messages.
pub fn searched() -> String {
    weights_dirs().iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// The weights folder in use, if any exists.
pub fn weights_dir() -> Option<PathBuf> {
    weights_dirs().into_iter().find(|d| d.is_dir()).map(|d| d.canonicalize().unwrap_or(d))
}

/// A bundled style model.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BundledStyle {
    pub name: String,
    pub path: PathBuf,
    pub bytes: u64,
}

/// The bundled styles, sorted by name.
pub fn list() -> Vec<BundledStyle> {
    let Some(dir) = weights_dir() else { return Vec::new() };
    let mut styles: Vec<BundledStyle> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let path = e.path();
            let name = path.file_stem()?.to_str()?.to_string();
            let is_onnx = path.extension().is_some_and(|x| x == "onnx");
            (is_onnx && !NOT_STYLES.contains(&name.as_str())).then(|| BundledStyle { bytes: e.metadata().map(|m| m.len()).unwrap_or(0), name, path })
        })
        .collect();
    styles.sort_by(|a, b| a.name.cmp(&b.name));
    styles
}

/// Resolves `--model`: an existing path, a path ending in `.onnx`, or a bundled style
/// name; the default style when `None`.
pub fn resolve(spec: Option<&str>) -> Result<PathBuf> {
    let spec = spec.unwrap_or(DEFAULT_STYLE);
    let as_path = Path::new(spec);
    if as_path.exists() || as_path.extension().is_some_and(|x| x == "onnx") || spec.contains('/') {
        return Ok(as_path.to_path_buf());
    }
    let styles = list();
    if let Some(style) = styles.iter().find(|s| s.name == spec) {
        return Ok(style.path.clone());
    }
    let available = if styles.is_empty() {
        format!("none found; looked in {}", searched())
    } else {
        styles.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
    };
    Err(Error::UnknownStyle { name: spec.to_string(), available })
}
