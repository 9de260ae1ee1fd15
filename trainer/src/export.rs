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
        painting_picture: None,
        blend: None,
        quantization: None,
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

/// The painting's picture for a model's metadata, from the painting's file.
pub fn painting_picture(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read the painting", path.display()))?;
    Ok(nst_runtime::contract::painting_picture(&bytes, path)?)
}

/// Changes an nst model's metadata in place (atomically), leaving its network as it is:
/// each `(key, Some(value))` is set, each `(key, None)` removed. Only models this exporter
/// wrote are changed (their bytes must read back exactly), so nothing else in the file
/// is lost; the result must still be a valid nst model.
pub fn set_metadata(path: &Path, changes: &[(&str, Option<String>)]) -> anyhow::Result<ModelInfo> {
    use prost::Message;
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read the model", path.display()))?;
    let mut model = crate::onnx::proto::ModelProto::decode(bytes.as_slice()).map_err(|e| anyhow::anyhow!("{}: not an ONNX model ({e})", path.display()))?;
    if model.encode_to_vec() != bytes {
        anyhow::bail!("{}: this model was not written by nst-train (it holds ONNX fields nst-train does not write); export it again with nst-train", path.display());
    }
    for (key, value) in changes {
        model.metadata_props.retain(|p| p.key != *key);
        if let Some(value) = value {
            model.metadata_props.push(crate::onnx::proto::StringStringEntryProto { key: key.to_string(), value: value.clone() });
        }
    }
    let props = model.metadata_props.iter().map(|p| (p.key.clone(), p.value.clone())).collect();
    let info = ModelInfo::from_props(&props).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let out = model.encode_to_vec();
    nst_runtime::fsio::write_atomic(path, |w| w.write_all(&out)).with_context(|| format!("{}: cannot write the model", path.display()))?;
    Ok(info)
}
