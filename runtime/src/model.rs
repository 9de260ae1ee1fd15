//! A style model: an ONNX file that follows [`crate::contract`], loaded into an ONNX
//! Runtime session and checked before use.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::RgbImage;
pub use ort::session::RunOptions;
use ort::session::Session;
use ort::value::{Tensor, TensorElementType, ValueType};

use crate::contract::{ModelInfo, INPUT_NAME, OUTPUT_NAME};
use crate::ep::Provider;
use crate::error::{Error, Result};
use crate::imageio;
use crate::tiling::{TiledSessions, Tiling};

/// How to run a model.
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionConfig {
    pub provider: Provider,
    /// Intra-op threads; `None` lets ONNX Runtime use one per physical core.
    pub threads: Option<usize>,
    /// Large pictures in tiles (bounded memory); `None`: the default for the model's
    /// variant (see [`Tiling::for_variant`]).
    pub tiling: Option<Tiling>,
}

/// Where a model's graph came from.
#[derive(Clone)]
enum Origin {
    File(PathBuf),
    /// Made in memory (a weight-space blend, see [`crate::blend`]), with its name.
    Memory { label: String, bytes: Arc<Vec<u8>> },
}

pub struct StyleModel {
    session: Session,
    info: ModelInfo,
    origin: Origin,
    /// Output blending: models whose outputs are mixed with this one's, with their
    /// weights, and this one's weight (see [`crate::blend`]).
    mix: Vec<(StyleModel, f32)>,
    own_weight: f32,
    provider: Provider,
    config: SessionConfig,
    tiling: Tiling,
    /// The tiling graphs, loaded on the first picture that needs them (or why they
    /// cannot be).
    tiled: Option<std::result::Result<TiledSessions, String>>,
}

impl std::fmt::Debug for StyleModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StyleModel").field("source", &self.label()).field("info", &self.info).field("provider", &self.provider).finish()
    }
}

impl StyleModel {
    /// Loads and validates a model. Errors name the file and say what is wrong with it.
    pub fn load(path: &Path, config: &SessionConfig) -> Result<Self> {
        let meta = std::fs::metadata(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
        if meta.len() == 0 {
            return Err(Error::Model { path: path.to_path_buf(), reason: "the model file is empty (0 bytes)".into() });
        }
        Self::load_origin(Origin::File(path.to_path_buf()), config, true)
    }

    /// [`Self::load`] for one of several models that run one after the other on the same
    /// cores (an output blend): its ONNX Runtime threads sleep between runs instead of
    /// spinning, so that they do not take the cores from the next model's.
    pub fn load_sharing_cores(path: &Path, config: &SessionConfig) -> Result<Self> {
        Self::load_origin(Origin::File(path.to_path_buf()), config, false)
    }

    /// Loads a model made in memory (ONNX bytes), named `label` in messages.
    pub fn load_bytes(label: &str, bytes: Vec<u8>, config: &SessionConfig) -> Result<Self> {
        Self::load_origin(Origin::Memory { label: label.to_string(), bytes: Arc::new(bytes) }, config, true)
    }

    /// Mixes the outputs of several models (weights summing to 1): each picture runs
    /// through every model and the results are averaged with these weights. `info`
    /// describes the mix.
    pub fn output_blend(mut parts: Vec<(StyleModel, f32)>, info: ModelInfo) -> Result<Self> {
        if parts.is_empty() {
            return Err(Error::Parameter("nothing to blend".into()));
        }
        let (mut first, own) = parts.remove(0);
        first.own_weight = own;
        first.mix = parts;
        first.info = info;
        Ok(first)
    }

    fn load_origin(origin: Origin, config: &SessionConfig, spinning: bool) -> Result<Self> {
        let path = origin.path_for_errors();
        let path = path.as_path();
        let model_err = |reason: String| Error::Model { path: path.to_path_buf(), reason };
        // Loads libonnxruntime first: the provider list asks it what it has.
        crate::ortlib::environment()?;
        let candidates = config.provider.candidates();
        let mut last_err = None;
        for (i, provider) in candidates.iter().copied().enumerate() {
            let attempt = session_builder(config, provider).and_then(|b| if spinning { Ok(b) } else { b.with_intra_op_spinning(false).map_err(|e| Error::Runtime(e.to_string())) }).and_then(|mut b| {
                match &origin {
                    Origin::File(path) => b.commit_from_file(path),
                    Origin::Memory { bytes, .. } => b.commit_from_memory(bytes),
                }
                .map_err(|e| classify_load_error(path, provider, e))
            });
            match attempt {
                Ok(session) => {
                    let info = validate(&session).map_err(model_err)?;
                    if config.provider == Provider::Auto {
                        // Said once per process and provider, not once per model (sheet and
                        // live load many).
                        static SAID: std::sync::Mutex<Vec<Provider>> = std::sync::Mutex::new(Vec::new());
                        let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
                        if !said.contains(&provider) {
                            said.push(provider);
                            tracing::info!("execution provider: {provider} (auto)");
                        }
                    }
                    let tiling = config.tiling.unwrap_or_else(|| Tiling::for_variant(info.variant));
                    return Ok(Self { session, info, origin, mix: Vec::new(), own_weight: 1.0, provider, config: *config, tiling, tiled: None });
                }
                Err(e @ Error::Model { .. }) => return Err(e),
                Err(e) if i + 1 < candidates.len() => {
                    tracing::warn!("{provider} could not start ({e}); trying the next provider");
                    last_err = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| Error::Runtime("no execution provider to try".into())))
    }

    /// Reads and checks a model's metadata without preparing it for inference (CPU, one
    /// thread): for listings.
    pub fn read_info(path: &Path) -> Result<ModelInfo> {
        Ok(Self::load(path, &SessionConfig { provider: Provider::Cpu, threads: Some(1), tiling: None })?.info)
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The model's file; `None` for a model made in memory (a blend).
    pub fn path(&self) -> Option<&Path> {
        match &self.origin {
            Origin::File(p) if self.mix.is_empty() => Some(p),
            _ => None,
        }
    }

    /// The model for messages: its file, or the blend's name.
    pub fn label(&self) -> String {
        let own = match &self.origin {
            Origin::File(p) => p.display().to_string(),
            Origin::Memory { label, .. } => label.clone(),
        };
        if self.mix.is_empty() {
            return own;
        }
        let mut parts = vec![format!("{own} x{:.2}", self.own_weight)];
        parts.extend(self.mix.iter().map(|(m, w)| format!("{} x{w:.2}", m.label())));
        format!("output blend of {}", parts.join(" + "))
    }

    /// Whether this model mixes the outputs of several networks (each picture costs one
    /// run of each).
    pub fn is_output_blend(&self) -> bool {
        !self.mix.is_empty()
    }

    /// The execution provider the session runs on.
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// Runs the network on a planar RGB tensor (0-255) of `w`x`h` and returns the output
    /// in the same layout. The model must accept the size (see [`Self::stylize`]).
    pub fn run_chw(&mut self, chw: Vec<f32>, w: u32, h: u32) -> Result<Vec<f32>> {
        self.run_chw_with(chw, w, h, None)
    }

    /// [`Self::run_chw`] that another thread can stop: `terminate()` on `options` ends
    /// the run early with [`Error::Interrupted`].
    pub fn run_chw_with(&mut self, chw: Vec<f32>, w: u32, h: u32, options: Option<&RunOptions>) -> Result<Vec<f32>> {
        if self.mix.is_empty() {
            return self.run_chw_own(chw, w, h, options);
        }
        let mut acc = Vec::new();
        for (model, weight) in self.mix.iter_mut() {
            let out = model.run_chw_with(chw.clone(), w, h, options)?;
            accumulate(&mut acc, &out, *weight);
        }
        let own = self.run_chw_own(chw, w, h, options)?;
        accumulate(&mut acc, &own, self.own_weight);
        Ok(acc.into_iter().map(|v| v.clamp(0.0, 255.0)).collect())
    }

    fn run_chw_own(&mut self, chw: Vec<f32>, w: u32, h: u32, options: Option<&RunOptions>) -> Result<Vec<f32>> {
        self.run_chw_then(chw, w, h, options, <[f32]>::to_vec)
    }

    /// Runs this model's own network and hands its output, still in ONNX Runtime's
    /// buffer, to `then` (no copy of the output tensor where `then` converts it anyway).
    fn run_chw_then<T>(
        &mut self,
        chw: Vec<f32>,
        w: u32,
        h: u32,
        options: Option<&RunOptions>,
        then: impl FnOnce(&[f32]) -> T,
    ) -> Result<T> {
        let input = Tensor::from_array((vec![1i64, 3, h as i64, w as i64], chw)).map_err(|e| Error::Inference(e.to_string()))?;
        let inputs = ort::inputs![INPUT_NAME => input];
        let outputs = match options {
            Some(options) => self.session.run_with_options(inputs, options),
            None => self.session.run(inputs),
        };
        let outputs = outputs.map_err(|e| run_error(e, options))?;
        let (shape, data) =
            outputs[OUTPUT_NAME].try_extract_tensor::<f32>().map_err(|e| Error::Inference(format!("reading the output: {e}")))?;
        let expected = [1i64, 3, h as i64, w as i64];
        if **shape != expected {
            let got = shape.to_vec();
            drop(outputs);
            return Err(Error::Inference(format!(
                "{}: the model returned shape {got:?} for an input of {expected:?}; it does not keep the image size",
                self.label(),
            )));
        }
        Ok(then(data))
    }

    /// How large pictures are cut into tiles (see [`crate::tiling`]).
    pub fn tiling(&self) -> Tiling {
        self.tiling
    }

    pub fn set_tiling(&mut self, tiling: Tiling) {
        self.tiling = tiling;
        for (m, _) in &mut self.mix {
            m.set_tiling(tiling);
        }
    }

    /// Stylizes an RGB image of any size: images smaller than the network's minimum side
    /// are edge-padded and cropped back; images above the tiling threshold run in tiles
    /// with shared statistics (bounded memory); the network itself handles every other
    /// size.
    pub fn stylize(&mut self, img: &RgbImage) -> Result<RgbImage> {
        self.stylize_with(img, None)
    }

    /// [`Self::stylize`] that another thread can stop (see [`Self::run_chw_with`]).
    pub fn stylize_with(&mut self, img: &RgbImage, options: Option<&RunOptions>) -> Result<RgbImage> {
        if self.mix.is_empty() {
            return self.stylize_own(img, options);
        }
        let mut acc = Vec::new();
        for (model, weight) in self.mix.iter_mut() {
            let out = model.stylize_with(img, options)?;
            accumulate_u8(&mut acc, out.as_raw(), *weight);
        }
        let own = self.stylize_own(img, options)?;
        accumulate_u8(&mut acc, own.as_raw(), self.own_weight);
        let (w, h) = img.dimensions();
        let raw = acc.into_iter().map(|v| v.round().clamp(0.0, 255.0) as u8).collect();
        Ok(RgbImage::from_raw(w, h, raw).expect("the outputs have the picture's size"))
    }

    fn stylize_own(&mut self, img: &RgbImage, options: Option<&RunOptions>) -> Result<RgbImage> {
        let (w, h) = img.dimensions();
        if self.tiling.applies(w, h) {
            if let Some(out) = self.stylize_tiled(img, options) {
                return out;
            }
        }
        self.stylize_whole(img, options)
    }

    /// The tiled path, or `None` when this model cannot be tiled (said once).
    fn stylize_tiled(&mut self, img: &RgbImage, options: Option<&RunOptions>) -> Option<Result<RgbImage>> {
        if self.tiled.is_none() {
            let (config, provider) = (self.config, self.provider);
            let bytes = match &self.origin {
                Origin::File(path) => std::fs::read(path).map_err(|e| format!("cannot read it again: {e}")),
                Origin::Memory { bytes, .. } => Ok(bytes.to_vec()),
            };
            let loaded = bytes
                .and_then(|bytes| {
                    TiledSessions::new(
                        &bytes,
                        |graph| lean_session_builder(&config, provider)?.commit_from_memory(graph).map_err(|e| Error::Runtime(e.to_string())),
                        |graph| session_builder(&config, provider)?.commit_from_memory(graph).map_err(|e| Error::Runtime(e.to_string())),
                    )
                });
            if let Err(why) = &loaded {
                tracing::warn!("{}: large pictures run whole, not in tiles: {why}", self.label());
            }
            self.tiled = Some(loaded);
        }
        let (tiling, min_side) = (self.tiling, self.info.min_side);
        match self.tiled.as_mut() {
            Some(Ok(t)) => Some(t.stylize(img, &tiling, min_side, options)),
            _ => None,
        }
    }

    fn stylize_whole(&mut self, img: &RgbImage, options: Option<&RunOptions>) -> Result<RgbImage> {
        let (w, h) = img.dimensions();
        let min = self.info.min_side;
        let (pw, ph) = (w.max(min), h.max(min));
        let chw = if (pw, ph) != (w, h) { imageio::to_chw(&imageio::edge_padded(img, 0, 0, w, h, pw, ph)) } else { imageio::to_chw(img) };
        let out = self.run_chw_then(chw, pw, ph, options, |out| imageio::from_chw(out, pw, ph))?;
        if (pw, ph) == (w, h) {
            Ok(out)
        } else {
            Ok(image::imageops::crop_imm(&out, 0, 0, w, h).to_image())
        }
    }
}

impl Origin {
    /// A path for error messages: the file, or the blend's name.
    fn path_for_errors(&self) -> PathBuf {
        match self {
            Origin::File(p) => p.clone(),
            Origin::Memory { label, .. } => PathBuf::from(label),
        }
    }
}

/// `acc += weight * values` (`acc` starts empty).
fn accumulate(acc: &mut Vec<f32>, values: &[f32], weight: f32) {
    if acc.is_empty() {
        acc.resize(values.len(), 0.0);
    }
    for (a, v) in acc.iter_mut().zip(values) {
        *a += weight * v;
    }
}

fn accumulate_u8(acc: &mut Vec<f32>, values: &[u8], weight: f32) {
    if acc.is_empty() {
        acc.resize(values.len(), 0.0);
    }
    for (a, v) in acc.iter_mut().zip(values) {
        *a += weight * *v as f32;
    }
}

/// An ONNX Runtime run error: [`Error::Interrupted`] when `terminate()` on `options`
/// stopped it, else [`Error::Inference`].
pub(crate) fn run_error(e: ort::Error, options: Option<&RunOptions>) -> Error {
    let msg = e.to_string();
    if options.is_some() && msg.contains("terminate flag") {
        Error::Interrupted
    } else {
        Error::Inference(msg)
    }
}

/// A session builder for `provider` with the configured threads.
fn session_builder(config: &SessionConfig, provider: Provider) -> Result<ort::session::builder::SessionBuilder> {
    let env = crate::ortlib::environment()?;
    let mut builder = Session::builder(env).map_err(|e| Error::Runtime(e.to_string()))?;
    if let Some(n) = config.threads {
        builder = builder.with_intra_threads(n).map_err(|e| Error::Parameter(format!("--threads {n}: {e}")))?;
    }
    provider.register(builder)
}

/// [`session_builder`] for a graph run once per picture (the tiling statistics): its
/// memory is returned after each run instead of kept in ONNX Runtime's arena.
fn lean_session_builder(config: &SessionConfig, provider: Provider) -> Result<ort::session::builder::SessionBuilder> {
    let rt = |e: ort::Error<ort::session::builder::SessionBuilder>| Error::Runtime(e.to_string());
    let mut builder = session_builder(config, provider)?.with_memory_pattern(false).map_err(rt)?;
    if matches!(provider, Provider::Cpu | Provider::Auto) {
        builder = builder.with_execution_providers([ort::ep::CPU::default().with_arena_allocator(false).build()]).map_err(rt)?;
    }
    Ok(builder)
}

fn classify_load_error(path: &Path, provider: Provider, e: ort::Error) -> Error {
    let msg = e.to_string();
    let is_model_problem = ["Protobuf parsing failed", "INVALID_PROTOBUF", "INVALID_GRAPH", "No graph", "Load model", "model_path"]
        .iter()
        .any(|k| msg.contains(k));
    if is_model_problem || provider == Provider::Cpu {
        Error::Model { path: path.to_path_buf(), reason: format!("not a valid ONNX model ({msg})") }
    } else {
        Error::Provider { provider: provider.to_string(), reason: msg }
    }
}

/// Checks the session's inputs, outputs and metadata against the contract.
fn validate(session: &Session) -> std::result::Result<ModelInfo, String> {
    let describe = |outlets: &[ort::value::Outlet]| outlets.iter().map(|o| o.name().to_string()).collect::<Vec<_>>().join(", ");
    let check = |outlets: &[ort::value::Outlet], want: &str, kind: &str| -> std::result::Result<(), String> {
        if outlets.len() != 1 || outlets[0].name() != want {
            return Err(format!(
                "expected exactly one {kind} named '{want}', found [{}]; this is not an nst style model",
                describe(outlets)
            ));
        }
        match outlets[0].dtype() {
            ValueType::Tensor { ty: TensorElementType::Float32, shape, .. } => {
                let dims: &[i64] = shape;
                let ok = dims.len() == 4 && (dims[0] == 1 || dims[0] < 0) && (dims[1] == 3 || dims[1] < 0);
                if !ok {
                    return Err(format!("{kind} '{want}' has shape {dims:?}; expected [1, 3, H, W]"));
                }
                Ok(())
            }
            other => Err(format!("{kind} '{want}' is {other:?}; expected a float32 tensor [1, 3, H, W]")),
        }
    };
    check(session.inputs(), INPUT_NAME, "input")?;
    check(session.outputs(), OUTPUT_NAME, "output")?;
    let metadata = session.metadata().map_err(|e| format!("cannot read the model metadata: {e}"))?;
    let mut props = BTreeMap::new();
    for key in metadata.custom_keys().map_err(|e| format!("cannot read the model metadata: {e}"))? {
        if let Some(value) = metadata.custom(&key) {
            props.insert(key, value);
        }
    }
    ModelInfo::from_props(&props)
}
