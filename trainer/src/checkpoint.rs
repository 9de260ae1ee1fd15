//! Training checkpoints: the network's weights, the optimiser state, the iteration and
//! the run's settings, in one safetensors file (settings as JSON in its metadata),
//! written atomically so that no checkpoint is ever left half-written.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::train::TrainSettings;

/// Bumped when the checkpoint layout changes.
pub const CHECKPOINT_VERSION: u32 = 1;
const META_KEY: &str = "nst_checkpoint";

/// File name of the latest checkpoint inside a run folder.
pub const LATEST: &str = "checkpoint.safetensors";

/// A checkpoint given as a file or as a run folder (its latest checkpoint).
pub fn in_run(path: &Path) -> PathBuf {
    if path.is_dir() { path.join(LATEST) } else { path.to_path_buf() }
}

/// What a checkpoint says about itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckpointMeta {
    pub version: u32,
    pub architecture: String,
    pub iteration: u64,
    pub adam_step: i64,
    pub settings: TrainSettings,
    /// Last losses (content, style, tv, total).
    pub losses: Option<[f64; 4]>,
    pub elapsed_secs: f64,
}

/// A loaded checkpoint: metadata plus named tensors (`model/…`, `adam_m/…`, `adam_v/…`).
pub struct Checkpoint {
    pub meta: CheckpointMeta,
    pub tensors: HashMap<String, Tensor>,
}

/// Writes a checkpoint atomically.
pub fn save(path: &Path, meta: &CheckpointMeta, tensors: &[(String, Tensor)]) -> anyhow::Result<()> {
    let data: Vec<(String, Vec<u8>, Vec<usize>)> = tensors
        .iter()
        .map(|(name, t)| {
            let t = t.detach().to_device(tch::Device::Cpu).to_kind(Kind::Float).contiguous();
            let values = Vec::<f32>::try_from(t.flatten(0, -1)).expect("float tensor");
            let shape = t.size().iter().map(|&d| d as usize).collect();
            (name.clone(), values.iter().flat_map(|v| v.to_le_bytes()).collect(), shape)
        })
        .collect();
    let views: Vec<(String, TensorView<'_>)> = data
        .iter()
        .map(|(name, bytes, shape)| Ok((name.clone(), TensorView::new(Dtype::F32, shape.clone(), bytes)?)))
        .collect::<Result<_, safetensors::SafeTensorError>>()?;
    let metadata = HashMap::from([(META_KEY.to_string(), serde_json::to_string(meta)?)]);
    let bytes = safetensors::serialize(views, &Some(metadata))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create the checkpoint folder", dir.display()))?;
    }
    nst_runtime::fsio::write_atomic(path, |w| std::io::Write::write_all(w, &bytes))
        .with_context(|| format!("{}: cannot write the checkpoint", path.display()))
}

/// The weights an `--init-from` starts from: a checkpoint (a file or a run folder), or a
/// trained nst model file (`.onnx`, for example a bundled style: its weights and the
/// training settings in its metadata; no optimiser state).
pub fn load_init(path: &Path) -> anyhow::Result<Checkpoint> {
    let is_onnx = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("onnx"));
    if is_onnx { load_onnx(path) } else { load(&in_run(path)) }
}

/// The name of a network variable in an exported model's initializers (the export names
/// the output conv `out.c.conv.*` where the network's variable is `out.conv.*`).
fn variable_name(initializer: &str) -> String {
    match initializer.strip_prefix("out.c.") {
        Some(rest) => format!("out.{rest}"),
        None => initializer.to_string(),
    }
}

/// Reads a trained nst model (written by nst-train) as a checkpoint without optimiser
/// state.
fn load_onnx(path: &Path) -> anyhow::Result<Checkpoint> {
    use crate::onnx::proto::{data_type, ModelProto};
    use nst_runtime::contract::keys;
    use prost::Message;
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read the model", path.display()))?;
    let model = ModelProto::decode(bytes.as_slice()).map_err(|_| anyhow::anyhow!("{}: not an ONNX model (it cannot be decoded)", path.display()))?;
    let meta = |key: &str| model.metadata_props.iter().find(|p| p.key == key).map(|p| p.value.as_str());
    let training = meta(keys::TRAINING).with_context(|| {
        format!("{}: not a model trained by nst-train (no '{}' metadata): --init-from needs its settings", path.display(), keys::TRAINING)
    })?;
    let hyper = meta(keys::HYPERPARAMETERS).with_context(|| format!("{}: no '{}' metadata", path.display(), keys::HYPERPARAMETERS))?;
    let mut settings: TrainSettings =
        serde_json::from_str(training).with_context(|| format!("{}: its training settings cannot be read", path.display()))?;
    settings.model = serde_json::from_str(hyper).with_context(|| format!("{}: its network settings cannot be read", path.display()))?;
    let training: serde_json::Value = serde_json::from_str(training)?;
    let iteration = training.get("iterations_done").and_then(|v| v.as_u64()).unwrap_or(settings.iterations);
    let graph = model.graph.as_ref().with_context(|| format!("{}: the model has no graph", path.display()))?;
    let mut tensors = HashMap::new();
    for init in graph.initializer.iter().filter(|t| t.data_type == data_type::FLOAT) {
        let count: i64 = init.dims.iter().product();
        if init.raw_data.len() as i64 != count * 4 {
            bail!("{}: weight '{}' holds {} bytes for shape {:?}", path.display(), init.name, init.raw_data.len(), init.dims);
        }
        tensors.insert(format!("model/{}", variable_name(&init.name)), Tensor::from_data_size(&init.raw_data, &init.dims, Kind::Float));
    }
    let meta = CheckpointMeta {
        version: CHECKPOINT_VERSION,
        architecture: settings.model.family.architecture().to_string(),
        iteration,
        adam_step: 0,
        settings,
        losses: None,
        elapsed_secs: 0.0,
    };
    Ok(Checkpoint { meta, tensors })
}

/// Reads a checkpoint, refusing files that are not nst checkpoints of a known version.
pub fn load(path: &Path) -> anyhow::Result<Checkpoint> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read the checkpoint", path.display()))?;
    // safetensors' own words ("HeaderTooLarge") say nothing to a user: it is not a checkpoint.
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|_| anyhow::anyhow!("{}: not an nst-train checkpoint (not a safetensors file); pass the run folder or its checkpoint.safetensors", path.display()))?;
    let (_, header) = SafeTensors::read_metadata(&bytes)?;
    let json = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get(META_KEY))
        .with_context(|| format!("{}: a safetensors file, but not an nst-train checkpoint (no '{META_KEY}' metadata)", path.display()))?;
    let meta: CheckpointMeta =
        serde_json::from_str(json).with_context(|| format!("{}: the checkpoint's settings cannot be read", path.display()))?;
    if meta.version != CHECKPOINT_VERSION {
        bail!("{}: checkpoint version {} is not supported (this nst-train reads version {CHECKPOINT_VERSION})", path.display(), meta.version);
    }
    let mut tensors = HashMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            bail!("{}: tensor {name} is {:?}, expected F32", path.display(), view.dtype());
        }
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        tensors.insert(name, Tensor::from_data_size(view.data(), &shape, Kind::Float));
    }
    Ok(Checkpoint { meta, tensors })
}
