//! The model contract between the trainer (which writes ONNX files) and the runtime
//! (which reads them). This module is the only place that defines it.
//!
//! An nst model is an ONNX graph with one float32 input [`INPUT_NAME`] of shape
//! `[1, 3, H, W]` (RGB, 0-255, H and W dynamic) and one float32 output [`OUTPUT_NAME`] of
//! the same shape and range. Its `metadata_props` describe it with the keys in [`keys`].

use std::collections::BTreeMap;

use serde_json::Value;

pub const INPUT_NAME: &str = "input";
pub const OUTPUT_NAME: &str = "output";

/// Version of the metadata format. Bump when the meaning of a key changes.
/// 2: the architecture may be [`ARCH_FAST`]; hyperparameters say `family`, `output`
/// (`clamp`: linear output clamped to 0-255, or `tanh`) and `norm` (`instance`, `frn`,
/// `below_full`, `deep`, `none`: the runtime only shows it; the graph is what runs). Version-1 files
/// (all `johnson2016` with a tanh output) still load. Added within version 2, optional:
/// `nst.quantization` on an int8 copy.
pub const FORMAT_VERSION: u32 = 2;

/// The full network (Johnson et al. 2016): the quality variant.
pub const ARCH_JOHNSON2016: &str = "johnson2016";
/// The fast network (half resolution and below): the real-time variant.
pub const ARCH_FAST: &str = "nst_fast";

/// A style's variants: the same painting, trained for quality or for speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub enum Variant {
    /// The full network: best quality.
    Full,
    /// The fast network: real time on a CPU.
    Fast,
}

impl Variant {
    pub const ALL: [Variant; 2] = [Variant::Full, Variant::Fast];

    /// The variant an architecture belongs to; `None` for an unknown architecture.
    pub fn of_architecture(architecture: &str) -> Option<Variant> {
        match architecture {
            ARCH_JOHNSON2016 => Some(Variant::Full),
            ARCH_FAST => Some(Variant::Fast),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Variant::Full => "full",
            Variant::Fast => "fast",
        }
    }

    /// What the variant is for, for listings.
    pub fn speed_class(self) -> &'static str {
        match self {
            Variant::Full => "quality",
            Variant::Fast => "real-time",
        }
    }

    pub fn parse(s: &str) -> Option<Variant> {
        Variant::ALL.into_iter().find(|v| v.name().eq_ignore_ascii_case(s.trim()))
    }
}

impl std::fmt::Display for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Smallest side a model accepts unless its metadata says otherwise; smaller images are
/// edge-padded up to it by the runtime and cropped back.
pub const DEFAULT_MIN_SIDE: u32 = 16;

/// The picture size (longer side) at which a model paints as intended, per pixel of the
/// painting's size in training: measured (README, "Any photo size").
pub const REFERENCE_SIDE_PER_STYLE_SIDE: f32 = 1.0;

/// Longer side of the painting's picture kept in a model, in pixels.
pub const PAINTING_PICTURE_SIDE: u32 = 256;

/// The painting's picture for a model's metadata: the image (`bytes`, read from `what`)
/// at most [`PAINTING_PICTURE_SIDE`] px, as a JPEG, in base64 (about 20-40 KB).
pub fn painting_picture(bytes: &[u8], what: &std::path::Path) -> crate::error::Result<String> {
    use base64::Engine;
    let options = crate::batch::StylizeOptions { max_size: Some(PAINTING_PICTURE_SIDE), ..Default::default() };
    let picture = options.prepare(crate::imageio::decode_picture(bytes, what, Some(crate::serve::MAX_DECODE_PIXELS))?);
    let picture = crate::imageio::Picture { rgb: picture.rgb, alpha: None };
    let jpeg = crate::imageio::encode(&picture, crate::imageio::OutputFormat::Jpeg)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(jpeg))
}

pub mod keys {
    /// Metadata format version (integer, see [`super::FORMAT_VERSION`]).
    pub const FORMAT_VERSION: &str = "nst.format_version";
    /// Architecture name, e.g. `johnson2016`.
    pub const ARCHITECTURE: &str = "nst.architecture";
    /// JSON object with the architecture's hyperparameters.
    pub const HYPERPARAMETERS: &str = "nst.hyperparameters";
    /// Human-readable style name (usually the painting's file stem).
    pub const STYLE_NAME: &str = "nst.style_name";
    /// The style image the model was trained on (file name).
    pub const STYLE_IMAGE: &str = "nst.style_image";
    /// The painting, for people: artist, title and year (optional).
    pub const PAINTING: &str = "nst.painting";
    /// A small picture of the painting (optional): a JPEG, longer side at most
    /// [`super::PAINTING_PICTURE_SIDE`] px, in base64.
    pub const PAINTING_PICTURE: &str = "nst.painting_picture";
    /// `true` when the weights were trained, `false` for a randomly initialised network.
    pub const TRAINED: &str = "nst.trained";
    /// JSON object with the training settings, command and final losses.
    pub const TRAINING: &str = "nst.training";
    /// Smallest image side the network accepts (integer).
    pub const MIN_SIDE: &str = "nst.min_side";
    /// Set on a blend of styles made by the runtime (never in a file nst-train writes):
    /// its recipe, `style:share,style:share`.
    pub const BLEND: &str = "nst.blend";
    /// Set on an int8 copy of a model (`scripts/quantize_fast.py`): JSON object saying how
    /// it was quantized and from which float model.
    pub const QUANTIZATION: &str = "nst.quantization";
}

/// What the metadata of an nst model says about it.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    pub format_version: u32,
    pub architecture: String,
    /// Derived from the architecture.
    pub variant: Variant,
    pub hyperparameters: Value,
    pub style_name: String,
    pub style_image: Option<String>,
    /// Artist, title and year of the painting, e.g. "Vincent van Gogh, The Starry Night (1889)".
    pub painting: Option<String>,
    /// The painting's picture, base64 of a small JPEG (see [`painting_picture`]).
    pub painting_picture: Option<String>,
    pub trained: bool,
    pub training: Option<Value>,
    pub min_side: u32,
    /// A blend's recipe (`style:share,...`; see [`crate::blend`]); `None` for a model
    /// of one style.
    pub blend: Option<String>,
    /// How an int8 copy was quantized (`nst.quantization`); `None` for a float model.
    pub quantization: Option<Value>,
}

impl ModelInfo {
    /// The metadata as ONNX `metadata_props` key/value pairs.
    pub fn to_props(&self) -> Vec<(String, String)> {
        let mut props = vec![
            (keys::FORMAT_VERSION.to_string(), self.format_version.to_string()),
            (keys::ARCHITECTURE.to_string(), self.architecture.clone()),
            (keys::HYPERPARAMETERS.to_string(), self.hyperparameters.to_string()),
            (keys::STYLE_NAME.to_string(), self.style_name.clone()),
            (keys::TRAINED.to_string(), self.trained.to_string()),
            (keys::MIN_SIDE.to_string(), self.min_side.to_string()),
        ];
        if let Some(image) = &self.style_image {
            props.push((keys::STYLE_IMAGE.to_string(), image.clone()));
        }
        if let Some(painting) = &self.painting {
            props.push((keys::PAINTING.to_string(), painting.clone()));
        }
        if let Some(picture) = &self.painting_picture {
            props.push((keys::PAINTING_PICTURE.to_string(), picture.clone()));
        }
        if let Some(training) = &self.training {
            props.push((keys::TRAINING.to_string(), training.to_string()));
        }
        if let Some(blend) = &self.blend {
            props.push((keys::BLEND.to_string(), blend.clone()));
        }
        if let Some(quantization) = &self.quantization {
            props.push((keys::QUANTIZATION.to_string(), quantization.to_string()));
        }
        props
    }

    /// The longer side (pixels) of a picture on which this model's strokes have the size
    /// it was trained for: [`REFERENCE_SIDE_PER_STYLE_SIDE`] times the painting's size in
    /// training (`style_size` in `nst.training`; 512 when the model does not say).
    /// `--stroke-scale auto` runs the network on larger pictures scaled down to it.
    pub fn reference_side(&self) -> u32 {
        let style_size = self.training.as_ref().and_then(|t| t.get("style_size")).and_then(|v| v.as_u64()).unwrap_or(512) as f32;
        (style_size * REFERENCE_SIDE_PER_STYLE_SIDE).round() as u32
    }

    /// The painting's picture as JPEG bytes, when the model carries a readable one.
    pub fn painting_picture_jpeg(&self) -> Option<Vec<u8>> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD.decode(self.painting_picture.as_deref()?.trim()).ok()?;
        bytes.starts_with(&[0xFF, 0xD8]).then_some(bytes)
    }

    /// Reads and checks the metadata of a model file's bytes, without preparing it for
    /// inference; the error says what is wrong.
    pub fn from_onnx_bytes(bytes: &[u8]) -> Result<Self, String> {
        use prost::Message;
        let model = crate::onnx::proto::ModelProto::decode(bytes).map_err(|e| format!("not a valid ONNX model ({e})"))?;
        let props: BTreeMap<String, String> = model.metadata_props.into_iter().map(|p| (p.key, p.value)).collect();
        Self::from_props(&props)
    }

    /// Reads and checks the metadata; the error says what is missing or wrong.
    pub fn from_props(props: &BTreeMap<String, String>) -> Result<Self, String> {
        let get = |k: &str| props.get(k).map(String::as_str);
        let version = get(keys::FORMAT_VERSION).ok_or_else(|| {
            format!(
                "not an nst style model: its metadata has no '{}' (models are made by `nst-train`; \
                 other ONNX files need the same input/output contract and metadata)",
                keys::FORMAT_VERSION
            )
        })?;
        let format_version: u32 =
            version.trim().parse().map_err(|_| format!("metadata '{}' is '{version}', not a number", keys::FORMAT_VERSION))?;
        if format_version == 0 || format_version > FORMAT_VERSION {
            return Err(format!(
                "model format version {format_version} is not supported by this nst (it reads versions 1 to {FORMAT_VERSION}); \
                 upgrade nst or re-export the model with this version's `nst-train export`"
            ));
        }
        let architecture = get(keys::ARCHITECTURE)
            .ok_or_else(|| format!("metadata '{}' is missing", keys::ARCHITECTURE))?
            .to_string();
        let variant = Variant::of_architecture(&architecture)
            .ok_or_else(|| format!("unknown architecture '{architecture}' (this nst knows '{ARCH_JOHNSON2016}' and '{ARCH_FAST}')"))?;
        let json = |k: &str| -> Result<Option<Value>, String> {
            get(k).map(|s| serde_json::from_str(s).map_err(|e| format!("metadata '{k}' is not valid JSON: {e}"))).transpose()
        };
        let hyperparameters = json(keys::HYPERPARAMETERS)?.unwrap_or(Value::Null);
        let training = json(keys::TRAINING)?;
        let quantization = json(keys::QUANTIZATION)?;
        let trained = match get(keys::TRAINED) {
            None | Some("true") => true,
            Some("false") => false,
            Some(other) => return Err(format!("metadata '{}' is '{other}', expected true or false", keys::TRAINED)),
        };
        let min_side = match get(keys::MIN_SIDE) {
            None => DEFAULT_MIN_SIDE,
            Some(s) => s.trim().parse().map_err(|_| format!("metadata '{}' is '{s}', not a number", keys::MIN_SIDE))?,
        };
        Ok(Self {
            format_version,
            architecture,
            variant,
            hyperparameters,
            style_name: get(keys::STYLE_NAME).unwrap_or("unnamed").to_string(),
            style_image: get(keys::STYLE_IMAGE).map(str::to_string),
            painting: get(keys::PAINTING).map(str::to_string),
            painting_picture: get(keys::PAINTING_PICTURE).map(str::to_string),
            blend: get(keys::BLEND).map(str::to_string),
            quantization,
            trained,
            training,
            min_side,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ModelInfo {
        ModelInfo {
            format_version: FORMAT_VERSION,
            architecture: ARCH_JOHNSON2016.into(),
            variant: Variant::Full,
            hyperparameters: serde_json::json!({"residual_blocks": 5}),
            style_name: "starry".into(),
            style_image: Some("vg_starry_night.jpg".into()),
            painting: Some("Vincent van Gogh, The Starry Night (1889)".into()),
            painting_picture: None,
            blend: None,
            quantization: None,
            trained: true,
            training: Some(serde_json::json!({"iterations": 10})),
            min_side: 16,
        }
    }

    #[test]
    fn the_painting_picture_is_a_small_jpeg_kept_in_the_metadata() {
        let img = image::RgbImage::from_fn(600, 300, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
        let mut png = Vec::new();
        image::DynamicImage::ImageRgb8(img).write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
        let mut info = sample();
        info.painting_picture = Some(painting_picture(&png, std::path::Path::new("painting.png")).unwrap());
        let props: BTreeMap<String, String> = info.to_props().into_iter().collect();
        let back = ModelInfo::from_props(&props).unwrap();
        assert_eq!(back, info);
        let jpeg = back.painting_picture_jpeg().expect("a JPEG");
        let picture = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg).unwrap();
        assert_eq!((picture.width(), picture.height()), (256, 128));
        assert!(jpeg.len() < 40_000, "{} bytes", jpeg.len());
        // A damaged picture is no picture, not an error: the model still loads.
        info.painting_picture = Some("not base64 at all!".into());
        assert!(info.painting_picture_jpeg().is_none());
        assert!(painting_picture(b"not an image", std::path::Path::new("x.jpg")).is_err());
    }

    #[test]
    fn props_round_trip() {
        let info = sample();
        let props: BTreeMap<_, _> = info.to_props().into_iter().collect();
        assert_eq!(ModelInfo::from_props(&props).unwrap(), info);
    }

    #[test]
    fn variants_follow_the_architecture_and_version_1_still_reads() {
        let mut props: BTreeMap<_, _> = sample().to_props().into_iter().collect();
        props.insert(keys::ARCHITECTURE.into(), ARCH_FAST.into());
        assert_eq!(ModelInfo::from_props(&props).unwrap().variant, Variant::Fast);
        props.insert(keys::FORMAT_VERSION.into(), "1".into());
        props.insert(keys::ARCHITECTURE.into(), ARCH_JOHNSON2016.into());
        let v1 = ModelInfo::from_props(&props).unwrap();
        assert_eq!((v1.format_version, v1.variant), (1, Variant::Full));
        assert_eq!(Variant::parse(" FAST"), Some(Variant::Fast));
        assert_eq!(Variant::parse("quick"), None);
    }

    #[test]
    fn foreign_model_is_explained() {
        let err = ModelInfo::from_props(&BTreeMap::new()).unwrap_err();
        assert!(err.contains("not an nst style model"), "{err}");
    }

    #[test]
    fn newer_format_and_unknown_architecture_are_refused() {
        let mut props: BTreeMap<_, _> = sample().to_props().into_iter().collect();
        props.insert(keys::FORMAT_VERSION.into(), (FORMAT_VERSION + 1).to_string());
        assert!(ModelInfo::from_props(&props).unwrap_err().contains("not supported"));
        props.insert(keys::FORMAT_VERSION.into(), "1".into());
        props.insert(keys::ARCHITECTURE.into(), "resnet".into());
        assert!(ModelInfo::from_props(&props).unwrap_err().contains("unknown architecture"));
        props.insert(keys::ARCHITECTURE.into(), ARCH_JOHNSON2016.into());
        props.insert(keys::TRAINING.into(), "{broken".into());
        assert!(ModelInfo::from_props(&props).unwrap_err().contains("not valid JSON"));
    }
}
