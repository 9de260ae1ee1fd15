//! Style blends: `--model vg_starry_night:0.6,wave_crop:0.4` (and `style=` in `nst serve`,
//! the `b` key in `nst live`).
//!
//! Models of one lineage (the same network fine-tuned from one shared start, as the
//! bundled styles of each variant are) are blended in **weight space**: one network whose
//! weights are the weighted mean of theirs ([`crate::onnx::blend`]), costing what one
//! style costs. Any other models (different architectures or variants, foreign files)
//! are blended by their **outputs**: each picture runs through every model and the
//! results are averaged, costing one run per model. `benches/blend.sh` measures how the
//! two compare.

use std::path::{Path, PathBuf};

use crate::bundled::{self, Precision, Resolved};
use crate::contract::{keys, ModelInfo, Variant};
use crate::error::{Error, Result};
use crate::model::{SessionConfig, StyleModel};

/// Most styles in one blend.
pub const MAX_PARTS: usize = 8;

/// One style of a blend, as the user wrote it, and its share (the shares sum to 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub name: String,
    pub weight: f32,
}

/// A blend as asked for: two styles or more with shares that sum to 1.
#[derive(Debug, Clone, PartialEq)]
pub struct BlendSpec {
    pub parts: Vec<Part>,
}

impl BlendSpec {
    /// Reads `a:0.6,b:0.4` (weights as fractions, percentages `60%`, or any positive
    /// numbers, scaled to sum to 1; all left out: equal shares). `Ok(None)` when `spec`
    /// names a single model (no `,` and no `:weight`, or an existing file). Styles with
    /// weight 0 are dropped; if one is left, it is a single model.
    pub fn parse(spec: &str) -> Result<Option<BlendSpec>> {
        Self::read(spec, true)
    }

    /// [`Self::parse`] for names that are never paths (the server's).
    pub fn parse_name(spec: &str) -> Result<Option<BlendSpec>> {
        Self::read(spec, false)
    }

    fn read(spec: &str, files: bool) -> Result<Option<BlendSpec>> {
        let spec = spec.trim();
        let split_weight = |s: &str| -> (String, Option<String>) {
            match s.rsplit_once(':') {
                Some((name, w)) if !(files && Path::new(s.trim()).is_file()) => (name.to_string(), Some(w.trim().to_string())),
                _ => (s.to_string(), None),
            }
        };
        if (files && Path::new(spec).is_file()) || (!spec.contains(',') && split_weight(spec).1.is_none()) {
            return Ok(None);
        }
        let bad = |why: String| Error::Parameter(format!("the blend '{spec}': {why}; write it as style:weight,style:weight (e.g. vg_starry_night:0.6,wave_crop:0.4)"));
        let mut parts: Vec<(String, Option<f32>)> = Vec::new();
        for raw in spec.split(',') {
            let raw = raw.trim();
            if raw.is_empty() {
                return Err(bad("one of its styles is empty".into()));
            }
            let (name, weight) = split_weight(raw);
            let weight = match weight {
                None => None,
                Some(w) => Some(parse_weight(&w).ok_or_else(|| bad(format!("'{w}' is not a weight (a number >= 0, or a percentage)")))?),
            };
            let name = name.trim();
            if name.is_empty() {
                return Err(bad(format!("'{raw}' names no style")));
            }
            if parts.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                return Err(bad(format!("{name} is named twice")));
            }
            parts.push((name.to_string(), weight));
        }
        if parts.len() < 2 {
            return Err(bad("a blend needs two styles or more (a style painted more lightly is --strength)".into()));
        }
        let given = parts.iter().filter(|(_, w)| w.is_some()).count();
        if given != 0 && given != parts.len() {
            return Err(bad("give every style a weight, or none (equal shares)".into()));
        }
        if parts.len() > MAX_PARTS {
            return Err(bad(format!("{} styles; a blend takes at most {MAX_PARTS}", parts.len())));
        }
        let total: f32 = parts.iter().map(|(_, w)| w.unwrap_or(1.0)).sum();
        if total <= 0.0 || !total.is_finite() {
            return Err(bad("the weights add up to 0".into()));
        }
        let parts: Vec<Part> = parts
            .into_iter()
            .map(|(name, w)| Part { name, weight: w.unwrap_or(1.0) / total })
            .filter(|p| p.weight > 0.0)
            .collect();
        // One style may be left (the others weigh 0): see `single`.
        Ok(Some(BlendSpec { parts }))
    }

    /// A single style (a blend whose other styles weigh nothing).
    pub fn single(&self) -> Option<&str> {
        (self.parts.len() == 1).then(|| self.parts[0].name.as_str())
    }

    /// The blend written back in its canonical form (`a:0.6,b:0.4`): its name.
    pub fn label(&self) -> String {
        self.parts.iter().map(|p| format!("{}:{}", p.name, short(p.weight))).collect::<Vec<_>>().join(",")
    }
}

/// `0.6`, `0.333`, `1`.
fn short(w: f32) -> String {
    let s = format!("{w:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn parse_weight(w: &str) -> Option<f32> {
    let w = w.trim();
    let (w, scale) = match w.strip_suffix('%') {
        Some(p) => (p, 0.01),
        None => (w, 1.0),
    };
    let v: f32 = w.trim().parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some(v * scale)
}

/// How a blend is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum BlendBy {
    /// Mix the weights (one network, the cost of one style) when the networks match,
    /// else the outputs.
    #[default]
    Auto,
    /// Always mix the outputs (one run per style).
    Outputs,
}

/// Loads `--model` (a style, a file, or a blend) in `variant`: the one entry point for
/// the commands that take a model. `fallback`: a style without `variant` uses its other
/// one (see [`bundled::resolve`]).
pub fn load(spec: Option<&str>, variant: Variant, fallback: bool, config: &SessionConfig) -> Result<StyleModel> {
    load_by(spec, variant, fallback, config, BlendBy::Auto)
}

/// [`load`], choosing how a blend is made.
pub fn load_by(spec: Option<&str>, variant: Variant, fallback: bool, config: &SessionConfig, by: BlendBy) -> Result<StyleModel> {
    load_at(spec, variant, fallback, config, by, Precision::Float, false)
}

/// [`load_by`] at a precision: a bundled style runs its int8 copy where `precision` (with
/// `auto_int8`, what [`Precision::Auto`] means for the command) says so. A blend always
/// mixes the float networks (int8 weights with their own scales do not average), and a
/// model file given by its path runs as it is.
pub fn load_at(
    spec: Option<&str>,
    variant: Variant,
    fallback: bool,
    config: &SessionConfig,
    by: BlendBy,
    precision: Precision,
    auto_int8: bool,
) -> Result<StyleModel> {
    let blend = match spec {
        Some(s) => BlendSpec::parse(s)?,
        None => None,
    };
    let one = |name: Option<&str>| -> Result<StyleModel> {
        match bundled::resolve(name, variant, fallback)? {
            Resolved::Bundled(style) => StyleModel::load(style.path_at(precision, auto_int8)?, config),
            Resolved::File(path) => StyleModel::load(&path, config),
        }
    };
    let Some(blend) = blend else {
        return one(spec);
    };
    if let Some(name) = blend.single() {
        return one(Some(name));
    }
    if precision == Precision::Int8 {
        tracing::warn!("a blend mixes the float networks: --precision int8 does not apply to it");
    }
    let parts = blend
        .parts
        .iter()
        .map(|p| Ok((bundled::resolve(Some(&p.name), variant, fallback)?, p.weight)))
        .collect::<Result<Vec<(Resolved, f32)>>>()?;
    let named: Vec<(String, PathBuf, f32)> = parts
        .iter()
        .map(|(r, w)| {
            let name = match r {
                // The variant is named when it is not the one asked for.
                Resolved::Bundled(s) if s.variant != variant => s.file_name(),
                Resolved::Bundled(s) => s.name.clone(),
                Resolved::File(p) => p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| p.display().to_string()),
            };
            (name, r.path().to_path_buf(), *w)
        })
        .collect();
    load_parts(&named, config, by)
}

/// Blends model files (`(name, path, share)`, shares summing to 1): in weight space when
/// their networks match, else by their outputs (said in the log).
pub fn load_parts(parts: &[(String, PathBuf, f32)], config: &SessionConfig, by: BlendBy) -> Result<StyleModel> {
    let label = BlendSpec { parts: parts.iter().map(|(n, _, w)| Part { name: n.clone(), weight: *w }).collect() }.label();
    let bytes = parts
        .iter()
        .map(|(_, path, _)| std::fs::read(path).map_err(|source| Error::Read { path: path.clone(), source }))
        .collect::<Result<Vec<Vec<u8>>>>()?;
    // Each part's metadata from the bytes read (an invalid file is named); the sessions
    // made below check the networks themselves.
    let infos: Vec<ModelInfo> = bytes
        .iter()
        .zip(parts)
        .map(|(b, (_, path, _))| ModelInfo::from_onnx_bytes(b).map_err(|reason| Error::Model { path: path.clone(), reason }))
        .collect::<Result<_>>()?;
    let painting = describe(parts, &infos);
    let metadata = [
        (keys::STYLE_NAME, Some(label.clone())),
        (keys::PAINTING, Some(painting.clone())),
        (keys::PAINTING_PICTURE, None),
        (keys::STYLE_IMAGE, None),
        (keys::BLEND, Some(label.clone())),
    ];
    let inputs: Vec<(&[u8], f32)> = bytes.iter().zip(parts).map(|(b, (_, _, w))| (b.as_slice(), *w)).collect();
    let mixed = match by {
        BlendBy::Auto => crate::onnx::blend::weight_blend(&inputs, &metadata),
        BlendBy::Outputs => Err(crate::onnx::blend::Incompatible("outputs asked for".into())),
    };
    match mixed {
        Ok(mixed) => {
            tracing::info!("blend {label}: weights mixed (one network)");
            StyleModel::load_bytes(&label, mixed, config)
        }
        Err(why) => {
            tracing::info!("blend {label}: {why}; mixing the outputs instead ({} runs per picture)", parts.len());
            let mut info = infos[0].clone();
            info.style_name = label.clone();
            info.painting = Some(painting);
            info.painting_picture = None;
            info.style_image = None;
            info.blend = Some(label);
            info.variant = if infos.iter().any(|i| i.variant == Variant::Full) { Variant::Full } else { Variant::Fast };
            info.min_side = infos.iter().map(|i| i.min_side).max().unwrap_or(info.min_side);
            info.trained = infos.iter().all(|i| i.trained);
            // The models run one after the other: their threads must not spin between runs.
            let mut models = Vec::new();
            for (_, path, w) in parts {
                models.push((StyleModel::load_sharing_cores(path, config)?, *w));
            }
            StyleModel::output_blend(models, info)
        }
    }
}

/// "60% Vincent van Gogh, The Starry Night (1889) + 40% ...".
fn describe(parts: &[(String, PathBuf, f32)], infos: &[ModelInfo]) -> String {
    parts
        .iter()
        .zip(infos)
        .map(|((name, _, w), info)| format!("{:.0}% {}", w * 100.0, info.painting.as_deref().unwrap_or(name)))
        .collect::<Vec<_>>()
        .join(" + ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(spec: &str) -> Vec<(String, f32)> {
        BlendSpec::parse(spec).unwrap().unwrap().parts.into_iter().map(|p| (p.name, p.weight)).collect()
    }

    #[test]
    fn blends_are_read_and_scaled_to_one() {
        assert_eq!(parts("a:0.6,b:0.4"), vec![("a".into(), 0.6), ("b".into(), 0.4)]);
        assert_eq!(parts(" a : 3 , b:1 "), vec![("a".into(), 0.75), ("b".into(), 0.25)]);
        assert_eq!(parts("a:60%,b:40%"), vec![("a".into(), 0.6), ("b".into(), 0.4)]);
        assert_eq!(parts("a,b"), vec![("a".into(), 0.5), ("b".into(), 0.5)]);
        assert_eq!(parts("a.fast:1,b.fast:1"), vec![("a.fast".into(), 0.5), ("b.fast".into(), 0.5)]);
        assert_eq!(parts("a:1,b:0"), vec![("a".into(), 1.0)]);
        assert_eq!(BlendSpec::parse("a:1,b:0").unwrap().unwrap().single(), Some("a"));
        assert_eq!(BlendSpec::parse("a:0.6,b:0.4").unwrap().unwrap().label(), "a:0.6,b:0.4");
        assert_eq!(BlendSpec::parse("a,b,c").unwrap().unwrap().label(), "a:0.333,b:0.333,c:0.333");
    }

    #[test]
    fn single_models_are_not_blends() {
        assert_eq!(BlendSpec::parse("vg_starry_night").unwrap(), None);
        assert_eq!(BlendSpec::parse("udnie.fast").unwrap(), None);
    }

    #[test]
    fn bad_blends_say_what_is_wrong() {
        for (spec, says) in [
            ("a:0.5,b", "every style a weight"),
            ("a:1.2.3,b:1", "not a weight"),
            ("a:x1,b:1", "'x1' is not a weight"),
            ("udnie:0.5", "a blend needs two styles"),
            ("a:-1,b:1", "not a weight"),
            ("a:0,b:0", "add up to 0"),
            ("a,,b", "empty"),
            ("a,A", "named twice"),
            (":1,b", "names no style"),
            ("a,b,c,d,e,f,g,h,i", "at most 8"),
        ] {
            let err = BlendSpec::parse(spec).unwrap_err().to_string();
            assert!(err.contains(says), "{spec}: {err}");
            assert!(err.contains("style:weight"), "{spec}: {err}");
        }
    }
}
