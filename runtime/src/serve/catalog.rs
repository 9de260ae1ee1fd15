//! The styles a server offers: the bundled models and those of `--models DIR`, loaded
//! once and checked at start, each with a few ONNX Runtime sessions kept for the
//! workers (one per worker at most), and each style's thumbnail, made once.
//!
//! Styles are looked up by name in this table only: a name never becomes a path. A
//! blend (`style:share,style:share`) is made from styles of this table when first asked
//! for and kept (the [`MAX_BLENDS`] most recent).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::{blend, bundled};
use crate::contract::{ModelInfo, Variant};
use crate::error::{Error, Result};
use crate::model::{SessionConfig, StyleModel};

/// Blends kept made (each holds its sessions); the least recently used goes first.
pub const MAX_BLENDS: usize = 8;

/// What a model is made from.
#[derive(Debug, Clone)]
enum Source {
    File(PathBuf),
    /// A blend: each style's name, file and share.
    Blend(Vec<(String, PathBuf, f32)>),
}

impl Source {
    fn load(&self, config: &SessionConfig) -> Result<StyleModel> {
        match self {
            Source::File(path) => StyleModel::load(path, config),
            Source::Blend(parts) => blend::load_parts(parts, config, blend::BlendBy::Auto),
        }
    }

    fn describe(&self) -> String {
        match self {
            Source::File(path) => path.display().to_string(),
            Source::Blend(parts) => parts.iter().map(|(n, _, w)| format!("{n}:{w}")).collect::<Vec<_>>().join(","),
        }
    }
}

/// One model: a style in one variant (or a blend of styles).
pub struct Entry {
    /// The style's name; a blend's recipe (`a:0.6,b:0.4`).
    pub name: String,
    pub variant: Variant,
    pub info: ModelInfo,
    source: Source,
    config: SessionConfig,
    /// Sessions not in use now.
    idle: Mutex<Vec<StyleModel>>,
    thumbnail: Mutex<Option<Arc<Vec<u8>>>>,
}

impl Entry {
    /// A session for this model: an idle one, or a new one.
    pub fn checkout(self: &Arc<Self>) -> Result<Session> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let model = match idle {
            Some(m) => m,
            None => self.source.load(&self.config)?,
        };
        Ok(Session { entry: Arc::clone(self), model: Some(model) })
    }

    pub fn thumbnail(&self) -> Option<Arc<Vec<u8>>> {
        self.thumbnail.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_thumbnail(&self, bytes: Vec<u8>) -> Arc<Vec<u8>> {
        let bytes = Arc::new(bytes);
        *self.thumbnail.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&bytes));
        bytes
    }
}

/// A session lent to one worker; back to its entry when dropped.
pub struct Session {
    entry: Arc<Entry>,
    model: Option<StyleModel>,
}

impl Session {
    pub fn model(&mut self) -> &mut StyleModel {
        self.model.as_mut().expect("a session holds its model until dropped")
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(m) = self.model.take() {
            self.entry.idle.lock().unwrap_or_else(|e| e.into_inner()).push(m);
        }
    }
}

/// Every style, by name, with its variants.
#[derive(Default)]
pub struct Catalog {
    styles: BTreeMap<String, BTreeMap<Variant, Arc<Entry>>>,
    /// Blends made so far, most recently used last, by recipe and variant.
    blends: Mutex<Vec<((String, Variant), Arc<Entry>)>>,
}

/// Whether a string may be a style name: letters, digits, `_`, `-` and `.`, not
/// starting with a dot, at most 100 characters.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

impl Catalog {
    /// Loads the bundled styles and the `.onnx` files of `extra` (a style there replaces
    /// a bundled one of the same name and variant). Each model is loaded once here, so a
    /// broken file stops the server at start, with its name.
    pub fn load(extra: Option<&Path>, config: SessionConfig) -> Result<Self> {
        let mut files: Vec<PathBuf> = bundled::list().into_iter().map(|s| s.path).collect();
        if let Some(dir) = extra {
            let entries = std::fs::read_dir(dir).map_err(|source| Error::Read { path: dir.to_path_buf(), source })?;
            let mut found: Vec<PathBuf> =
                entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("onnx"))).collect();
            found.sort();
            if found.is_empty() {
                return Err(Error::Parameter(format!("--models {}: holds no .onnx files", dir.display())));
            }
            files.extend(found);
        }
        let mut catalog = Catalog::default();
        for path in files {
            let model = StyleModel::load(&path, &config)?;
            let info = model.info().clone();
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
            let name = stem.strip_suffix(bundled::file_suffix(info.variant)).filter(|s| !s.is_empty()).unwrap_or(stem).to_string();
            if !is_valid_name(&name) {
                tracing::warn!("{}: skipped: a style's file name may hold only letters, digits, '_', '-' and '.'", path.display());
                continue;
            }
            let entry = Arc::new(Entry {
                name: name.clone(),
                variant: info.variant,
                info,
                source: Source::File(path),
                config,
                idle: Mutex::new(vec![model]),
                thumbnail: Mutex::new(None),
            });
            if let Some(old) = catalog.styles.entry(name.clone()).or_default().insert(entry.variant, entry) {
                tracing::info!("{} replaces {} ({} {})", catalog.styles[&name][&old.variant].source.describe(), old.source.describe(), name, old.variant);
            }
        }
        Ok(catalog)
    }

    /// The style names, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.styles.keys().map(String::as_str).collect()
    }

    /// A style's variants.
    pub fn variants(&self, name: &str) -> Option<&BTreeMap<Variant, Arc<Entry>>> {
        self.styles.get(name)
    }

    pub fn is_empty(&self) -> bool {
        self.styles.is_empty()
    }

    pub fn len(&self) -> usize {
        self.styles.values().map(BTreeMap::len).sum()
    }

    /// The model for a style name and variant (`None`: the style's default, full when
    /// it has it). The error lists what exists.
    pub fn find(&self, name: &str, variant: Option<Variant>) -> std::result::Result<Arc<Entry>, String> {
        if let Some(spec) = blend::BlendSpec::parse_name(name).map_err(|e| e.to_string())? {
            return match spec.single() {
                Some(one) => self.find(one, variant),
                None => self.find_blend(&spec, variant),
            };
        }
        let key = name.trim();
        let variants = self
            .styles
            .get(key)
            .or_else(|| self.styles.iter().find(|(n, _)| n.eq_ignore_ascii_case(key)).map(|(_, v)| v))
            .ok_or_else(|| format!("no style named '{}'; styles: {}", clip(key), self.names().join(", ")))?;
        let found = match variant {
            Some(v) => variants.get(&v),
            None => variants.get(&Variant::Full).or_else(|| variants.values().next()),
        };
        found.cloned().ok_or_else(|| {
            let has: Vec<&str> = variants.keys().map(|v| v.name()).collect();
            format!("style '{key}' has no {} variant; it has: {}", variant.map(Variant::name).unwrap_or("default"), has.join(", "))
        })
    }

    /// A blend of styles of this catalog, in `variant` (`None`: the styles' default):
    /// made when first asked for, then kept.
    fn find_blend(&self, spec: &blend::BlendSpec, variant: Option<Variant>) -> std::result::Result<Arc<Entry>, String> {
        let mut parts = Vec::new();
        for part in &spec.parts {
            let entry = self.find(&part.name, variant)?;
            let Source::File(path) = &entry.source else { return Err(format!("'{}' is a blend itself", clip(&part.name))) };
            parts.push((entry.name.clone(), path.clone(), part.weight, entry.variant, entry.config));
        }
        let canonical = blend::BlendSpec { parts: parts.iter().map(|p| blend::Part { name: p.0.clone(), weight: p.2 }).collect() };
        let variant = parts[0].3;
        let key = (canonical.label(), variant);
        let mut blends = self.blends.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = blends.iter().position(|(k, _)| *k == key) {
            let found = blends.remove(i);
            let entry = Arc::clone(&found.1);
            blends.push(found);
            return Ok(entry);
        }
        let source = Source::Blend(parts.iter().map(|p| (p.0.clone(), p.1.clone(), p.2)).collect());
        let config = parts[0].4;
        let model = source.load(&config).map_err(|e| format!("the blend {} cannot be made: {e}", key.0))?;
        let info = model.info().clone();
        let entry = Arc::new(Entry {
            name: key.0.clone(),
            variant: info.variant,
            info,
            source,
            config,
            idle: Mutex::new(vec![model]),
            thumbnail: Mutex::new(None),
        });
        if blends.len() >= MAX_BLENDS {
            blends.remove(0);
        }
        blends.push((key, Arc::clone(&entry)));
        Ok(entry)
    }

    /// Every model.
    pub fn entries(&self) -> impl Iterator<Item = &Arc<Entry>> {
        self.styles.values().flat_map(BTreeMap::values)
    }
}

/// A user's string, shortened for an error message.
pub fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(60).collect();
    if s.chars().count() > 60 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_never_paths() {
        for bad in ["../weights/udnie", "/etc/passwd", ".hidden", "a/b", "a\\b", "", "x y"] {
            assert!(!is_valid_name(bad), "{bad}");
        }
        for good in ["udnie", "wave_crop", "my-style.v2"] {
            assert!(is_valid_name(good), "{good}");
        }
    }
}
