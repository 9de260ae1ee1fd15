//! Writing a trained (or freshly initialised) network as an nst ONNX model, with the
//! metadata the runtime checks (see `nst_runtime::contract`).

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use nst_runtime::contract::{ModelInfo, FORMAT_VERSION};

use crate::transformer::{min_side, TransformerConfig, TransformerNet};

/// Metadata for a network of this configuration. `training` carries the training
/// settings, command and final losses (`None` for an untrained network).
pub fn model_info(
    config: TransformerConfig,
    style_name: &str,
    style_image: Option<&str>,
    painting: Option<&str>,
    training: Option<serde_json::Value>,
) -> ModelInfo {
    ModelInfo {
        format_version: FORMAT_VERSION,
        architecture: config.family.architecture().to_string(),
        variant: config.family.variant(),
        hyperparameters: serde_json::to_value(config).expect("config serialises"),
        style_name: style_name.to_string(),
        style_image: style_image.map(str::to_string),
        painting: painting.map(str::to_string),
        trained: training.is_some(),
        training,
        min_side: min_side(config.family).max(nst_runtime::contract::DEFAULT_MIN_SIDE),
    }
}

/// Exports `net` to `path` atomically (no half-written file on failure).
pub fn write_onnx(path: &Path, net: &TransformerNet, info: &ModelInfo) -> anyhow::Result<()> {
    let bytes = tch::no_grad(|| net.to_onnx(info.to_props()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create the folder", dir.display()))?;
    }
    nst_runtime::fsio::write_atomic(path, |w| w.write_all(&bytes)).with_context(|| format!("{}: cannot write the model", path.display()))
}
