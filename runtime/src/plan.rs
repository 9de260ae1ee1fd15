//! Turning a command line of inputs (files and folders) and one output (a file or a
//! folder) into jobs, input -> output, for any kind of media: which files a folder
//! contributes, where each result goes, and the inputs that cannot be done (missing, would
//! overwrite an input, two onto one output) as failures rather than an abort. Used by
//! `nst stylize` ([`crate::batch::IMAGES`]) and `nst video` ([`crate::video::VIDEOS`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::imageio;

/// One input file and where its result goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub input: PathBuf,
    pub output: PathBuf,
}

/// An input that could not be processed, and why.
#[derive(Debug)]
pub struct Failure {
    pub input: PathBuf,
    pub error: Error,
}

/// The kind of file a batch works on: which files a folder contributes, and which
/// outputs can be written. [`IMAGES`] for `nst stylize`; `nst video` has its own.
#[derive(Debug, Clone, Copy)]
pub struct MediaKind {
    /// Plural noun for messages ("images").
    pub noun: &'static str,
    /// Lower-case extensions of the files picked up when walking a folder.
    pub extensions: &'static [&'static str],
    /// The input formats, for messages.
    pub supported: &'static str,
    /// Checks that an output path names a format that can be written.
    pub check_output: fn(&Path) -> Result<()>,
    /// Extension of an output whose input's own format cannot be written.
    pub fallback_extension: &'static str,
}

impl MediaKind {
    /// Whether a file name has one of this kind's extensions.
    pub fn matches(&self, path: &Path) -> bool {
        imageio::has_extension(path, self.extensions)
    }
}

/// Turns the command line into jobs. An output is a file when there is exactly one
/// input file and the output is not an existing folder (nor ends with `/`); otherwise it
/// is a folder, created if needed, that receives the inputs under their own names
/// (folders keep their inner layout). Problems with single inputs (missing file, would
/// overwrite an input, two inputs onto one output) become failures, not an abort.
pub fn plan_media(inputs: &[PathBuf], output: &Path, kind: &MediaKind) -> Result<(Vec<Job>, Vec<Failure>)> {
    let mut failures = Vec::new();
    // An output folder inside an input folder is not an input: a second run must not
    // pick up the first one's results.
    let skip = canonical(output);
    // Several inputs: each input folder becomes a subfolder of the output under its own
    // name, so that d1/x.jpg and d2/x.jpg do not collide. One folder: its layout as is.
    let several = inputs.len() > 1;
    // (file, name relative to the output folder)
    let mut files: Vec<(PathBuf, PathBuf)> = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let before = files.len();
            let prefix = if several { folder_name(input) } else { PathBuf::new() };
            walk(kind, input, input, skip.as_deref(), &prefix, &mut files);
            if files.len() == before {
                failures.push(Failure {
                    input: input.clone(),
                    error: Error::Parameter(format!("{}: the folder has no {} ({})", input.display(), kind.noun, kind.supported)),
                });
            }
        } else if input.exists() {
            let name = input.file_name().map(PathBuf::from).unwrap_or_else(|| input.clone());
            files.push((input.clone(), name));
        } else {
            failures.push(Failure {
                input: input.clone(),
                error: Error::Read { path: input.clone(), source: std::io::Error::from(std::io::ErrorKind::NotFound) },
            });
        }
    }
    // The same file given twice (or through two folders) is done once.
    let mut seen = std::collections::HashSet::new();
    files.retain(|(f, _)| canonical(f).is_none_or(|c| seen.insert(c)));

    // Decided by the command line alone, so that a missing input is reported as such even
    // when the output file already exists.
    let output_is_file = inputs.len() == 1
        && !inputs[0].is_dir()
        && !output.is_dir()
        && !output.as_os_str().to_string_lossy().ends_with(std::path::MAIN_SEPARATOR);
    if output_is_file {
        (kind.check_output)(output)?;
    } else if !output.exists() && (kind.check_output)(output).is_ok() && output.extension().is_some() {
        return Err(Error::Parameter(format!(
            "{}: looks like a file name, but {} need an output folder; give a folder such as {} (it is created if missing)",
            output.display(),
            if inputs.len() > 1 { "several inputs" } else { "a folder input" },
            output.with_extension("").display()
        )));
    } else if output.exists() && !output.is_dir() {
        return Err(Error::Parameter(format!(
            "{}: is a file, but several inputs need an output folder; give a folder (it is created if missing)",
            output.display()
        )));
    }

    let input_ids: HashMap<PathBuf, PathBuf> = files.iter().filter_map(|(f, _)| Some((canonical(f)?, f.clone()))).collect();
    let mut taken: HashMap<PathBuf, PathBuf> = HashMap::new();
    let mut jobs = Vec::new();
    for (input, rel) in files {
        let target = if output_is_file { output.to_path_buf() } else { output.join(output_name(kind, &rel)) };
        let id = canonical_target(&target);
        if input_ids.contains_key(&id) {
            failures.push(Failure { input, error: Error::WouldOverwriteInput { path: target } });
            continue;
        }
        if let Some(first) = taken.get(&id) {
            let error = Error::OutputCollision { path: target, first: first.clone(), second: input.clone() };
            failures.push(Failure { input, error });
            continue;
        }
        taken.insert(id, input.clone());
        jobs.push(Job { input, output: target });
    }
    Ok((jobs, failures))
}

/// The output name for an input: same name, with the kind's fallback extension (`.png`
/// for images) when its format is not writable.
fn output_name(kind: &MediaKind, rel: &Path) -> PathBuf {
    if (kind.check_output)(rel).is_ok() {
        rel.to_path_buf()
    } else {
        rel.with_extension(kind.fallback_extension)
    }
}

/// The name an input folder keeps under the output folder (`.` and `..` resolved).
fn folder_name(dir: &Path) -> PathBuf {
    dir.file_name()
        .map(PathBuf::from)
        .or_else(|| canonical(dir).and_then(|c| c.file_name().map(PathBuf::from)))
        .unwrap_or_else(|| PathBuf::from("input"))
}

fn walk(kind: &MediaKind, root: &Path, dir: &Path, skip: Option<&Path>, prefix: &Path, out: &mut Vec<(PathBuf, PathBuf)>) {
    // (The input folder itself as the output is left to the overwrite check, per file.)
    if dir != root && skip.is_some() && canonical(dir).as_deref() == skip {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let hidden = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            walk(kind, root, &path, skip, prefix, out);
        } else if kind.matches(&path) {
            let rel = prefix.join(path.strip_prefix(root).unwrap_or(&path));
            out.push((path, rel));
        }
    }
}

fn canonical(p: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(p).ok()
}

/// A comparable identity for a path that may not exist yet.
fn canonical_target(p: &Path) -> PathBuf {
    if let Some(c) = canonical(p) {
        return c;
    }
    let parent = crate::fsio::parent_dir(p);
    let base = canonical(&parent).unwrap_or_else(|| std::path::absolute(&parent).unwrap_or(parent));
    base.join(p.file_name().unwrap_or_default())
}
