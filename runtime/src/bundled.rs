//! The bundled style models in the weights folder: `<style>.onnx` is a style's full
//! (quality) variant, `<style>.fast.onnx` its fast (real-time) variant. The files'
//! metadata says the same (`contract::Variant`); the names let a listing find them
//! without loading every model. `<style>.fast.int8.onnx` is the int8 copy of a fast
//! network (`scripts/quantize_fast.py`): not a style of its own, but the file that runs
//! where [`Precision`] asks for int8.
//!
//! The weights folder is, first existing wins: `NST_WEIGHTS_DIR`, `weights/` next to the
//! executable, `weights/` two levels up from it (a `target/release` build in a checkout),
//! and the checkout this binary was built from.

use std::path::{Path, PathBuf};

use crate::contract::Variant;
use crate::error::{Error, Result};

/// The style used when `--model` is not given.
pub const DEFAULT_STYLE: &str = "vg_starry_night";

/// Files in the weights folder that are not style models.
const NOT_STYLES: &[&str] = &["vgg19"];

/// The file-name suffix (before `.onnx`) of a model's int8 copy.
pub const INT8_SUFFIX: &str = ".int8";

/// Which copy of a bundled model runs: the float network or its int8 copy (the
/// convolutions in int8: 1.5-1.7x as fast on some CPUs, as fast on others; the picture
/// nearly the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Precision {
    /// The command's choice: `nst live` runs the int8 copy where a style has one, the
    /// other commands the float network.
    #[default]
    Auto,
    /// The float network.
    Float,
    /// The int8 copy (an error for a style that has none).
    Int8,
}

/// The float model of an int8 copy (`a.fast.int8.onnx` -> `a.fast.onnx`, when that file
/// exists); any other path as it is.
pub fn float_path(path: &Path) -> PathBuf {
    let float = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(&format!("{INT8_SUFFIX}.onnx")))
        .map(|stem| path.with_file_name(format!("{stem}.onnx")));
    float.filter(|p| p.is_file()).unwrap_or_else(|| path.to_path_buf())
}

/// The file-name suffix (before `.onnx`) of each variant.
pub fn file_suffix(variant: Variant) -> &'static str {
    match variant {
        Variant::Full => "",
        Variant::Fast => ".fast",
    }
}

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

/// One bundled model file: a style in one variant.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BundledStyle {
    /// The style's name (the painting's file stem), the same for both variants.
    pub name: String,
    #[serde(serialize_with = "ser_variant")]
    pub variant: Variant,
    pub path: PathBuf,
    pub bytes: u64,
    /// The int8 copy of this model, when the weights folder has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub int8_path: Option<PathBuf>,
}

fn ser_variant<S: serde::Serializer>(v: &Variant, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(v.name())
}

impl BundledStyle {
    /// The name that selects exactly this file: `udnie` or `udnie.fast`.
    pub fn file_name(&self) -> String {
        format!("{}{}", self.name, file_suffix(self.variant))
    }

    /// The file that runs at `precision`, where `auto_int8` is what [`Precision::Auto`]
    /// means for the command: the int8 copy when asked for and present; an error when
    /// int8 was asked for by name and the style has no int8 copy.
    pub fn path_at(&self, precision: Precision, auto_int8: bool) -> Result<&Path> {
        match (precision, &self.int8_path) {
            (Precision::Int8, Some(p)) => Ok(p),
            (Precision::Auto, Some(p)) if auto_int8 => Ok(p),
            (Precision::Int8, None) => Err(Error::Parameter(format!(
                "style {} ({} variant) has no int8 copy ({}{INT8_SUFFIX}.onnx): use --precision float, or make one with \
                 scripts/quantize_fast.py",
                self.name,
                self.variant,
                self.file_name()
            ))),
            _ => Ok(&self.path),
        }
    }
}

/// Splits a file stem into style name and variant (`udnie.fast` -> `udnie`, fast).
fn split_variant(stem: &str) -> (&str, Variant) {
    for v in Variant::ALL {
        let suffix = file_suffix(v);
        if !suffix.is_empty() {
            if let Some(name) = stem.strip_suffix(suffix) {
                return (name, v);
            }
        }
    }
    (stem, Variant::Full)
}

/// Every bundled model file, sorted by style name, full before fast.
pub fn list() -> Vec<BundledStyle> {
    let Some(dir) = weights_dir() else { return Vec::new() };
    let mut styles: Vec<BundledStyle> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let path = e.path();
            let stem = path.file_stem()?.to_str()?.to_string();
            let is_onnx = path.extension().is_some_and(|x| x == "onnx");
            // An int8 copy is found from its float model, not listed as a style.
            if stem.ends_with(INT8_SUFFIX) {
                return None;
            }
            let (name, variant) = split_variant(&stem);
            let int8 = path.with_file_name(format!("{stem}{INT8_SUFFIX}.onnx"));
            (is_onnx && !NOT_STYLES.contains(&name)).then(|| BundledStyle {
                bytes: e.metadata().map(|m| m.len()).unwrap_or(0),
                name: name.to_string(),
                variant,
                int8_path: int8.is_file().then_some(int8),
                path,
            })
        })
        .collect();
    styles.sort_by(|a, b| (&a.name, a.variant).cmp(&(&b.name, b.variant)));
    styles
}

/// The bundled files of one variant.
pub fn list_variant(variant: Variant) -> Vec<BundledStyle> {
    list().into_iter().filter(|s| s.variant == variant).collect()
}

/// The distinct style names, sorted.
pub fn style_names(styles: &[BundledStyle]) -> Vec<String> {
    let mut names: Vec<String> = styles.iter().map(|s| s.name.clone()).collect();
    names.dedup();
    names
}

/// What `--model` asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved {
    /// A model file given by its path.
    File(PathBuf),
    /// A bundled style in the variant asked for (or the only one it has, see
    /// [`resolve`]'s `fallback`).
    Bundled(BundledStyle),
}

impl Resolved {
    pub fn path(&self) -> &Path {
        match self {
            Resolved::File(p) => p,
            Resolved::Bundled(s) => &s.path,
        }
    }
}

/// Resolves `--model` in `variant`: an existing path or a bundled style name; the
/// default style when `None`. Names are matched without regard to case and with or
/// without `.onnx`; `name.fast` picks the fast variant whatever `variant` says. A style
/// without the variant asked for is an error naming the variants it has, unless
/// `fallback`: then its other variant is used (with a warning).
pub fn resolve(spec: Option<&str>, variant: Variant, fallback: bool) -> Result<Resolved> {
    let spec = spec.unwrap_or(DEFAULT_STYLE).trim();
    if spec.is_empty() {
        return Err(Error::Parameter("--model is empty: give a bundled style name (see `nst styles`) or an .onnx file".into()));
    }
    let as_path = Path::new(spec);
    if as_path.is_file() {
        return Ok(Resolved::File(as_path.to_path_buf()));
    }
    let styles = list();
    let lower = spec.to_ascii_lowercase();
    let key = lower.strip_suffix(".onnx").unwrap_or(&lower);
    let (name, explicit) = match split_variant(key) {
        (n, Variant::Full) => (n, None),
        (n, v) => (n, Some(v)),
    };
    let looks_like_path = spec.contains('/') || spec.contains(std::path::MAIN_SEPARATOR);
    let matching: Vec<&BundledStyle> = if looks_like_path { Vec::new() } else { styles.iter().filter(|s| s.name.eq_ignore_ascii_case(name)).collect() };
    if matching.is_empty() {
        return Err(unknown(spec, &styles, looks_like_path || as_path.extension().is_some()));
    }
    let want = explicit.unwrap_or(variant);
    if let Some(s) = matching.iter().find(|s| s.variant == want) {
        return Ok(Resolved::Bundled((*s).clone()));
    }
    let has: Vec<&str> = matching.iter().map(|s| s.variant.name()).collect();
    if fallback && explicit.is_none() {
        let other = matching[0];
        tracing::warn!("style {} has no {want} variant yet; using its {} one", other.name, other.variant);
        return Ok(Resolved::Bundled(other.clone()));
    }
    Err(Error::Parameter(format!(
        "style {} has no {want} variant (it has: {}); choose --variant {}",
        matching[0].name,
        has.join(", "),
        has.join(" or --variant ")
    )))
}

/// The error for a name that matches nothing: the bundled names and the closest one.
fn unknown(spec: &str, styles: &[BundledStyle], is_path_like: bool) -> Error {
    let names = style_names(styles);
    if names.is_empty() {
        return Error::UnknownStyle {
            name: spec.to_string(),
            available: format!("none found; looked in {}", searched()),
            suggestion: String::new(),
        };
    }
    let key = spec.to_ascii_lowercase();
    let key = key.strip_suffix(".onnx").unwrap_or(&key);
    let key = Path::new(key).file_name().and_then(|f| f.to_str()).unwrap_or(key);
    let closest = names
        .iter()
        .map(|n| (strsim::jaro_winkler(key, &n.to_ascii_lowercase()), n))
        .filter(|(score, _)| *score > 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, n)| n.clone());
    let mut suggestion = closest.map(|n| format!("; did you mean '{n}'?")).unwrap_or_default();
    if is_path_like {
        suggestion.push_str(" (no such file either)");
    }
    Error::UnknownStyle { name: spec.to_string(), available: names.join(", "), suggestion }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_suffixes_split_off() {
        assert_eq!(split_variant("udnie.fast"), ("udnie", Variant::Fast));
        assert_eq!(split_variant("udnie"), ("udnie", Variant::Full));
        assert_eq!(split_variant("a.b"), ("a.b", Variant::Full));
    }

    #[test]
    fn an_int8_copy_leads_back_to_its_float_model() {
        let dir = tempfile::tempdir().unwrap();
        let (float, int8, lone) = (dir.path().join("s.fast.onnx"), dir.path().join("s.fast.int8.onnx"), dir.path().join("t.fast.int8.onnx"));
        for f in [&float, &int8, &lone] {
            std::fs::write(f, b"x").unwrap();
        }
        assert_eq!(float_path(&int8), float);
        assert_eq!(float_path(&float), float);
        // No float model beside it: the int8 file is all there is.
        assert_eq!(float_path(&lone), lone);
    }
}
