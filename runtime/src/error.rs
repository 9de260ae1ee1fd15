//! One error type for the runtime library, split by who is at fault, with messages
//! that name the file and say what to do.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input file is not there or cannot be read.
    #[error("{path}: {}", read_words(source))]
    Read { path: PathBuf, source: std::io::Error },

    /// The input file has no bytes at all.
    #[error("{path}: the file is empty (0 bytes)")]
    EmptyFile { path: PathBuf },

    /// The bytes do not look like any image format we can decode.
    #[error("{path}: not a supported image (supported: {supported})")]
    UnsupportedFormat { path: PathBuf, supported: &'static str },

    /// The image format is known but the data is broken (truncated, corrupt).
    #[error("{path}: cannot decode the image: {reason}")]
    Decode { path: PathBuf, reason: String },

    /// The image is larger than the decoder limits allow.
    #[error("{path}: image too large to decode safely ({reason}); downscale it first")]
    TooLarge { path: PathBuf, reason: String },

    /// An output path whose extension names no format we can write.
    #[error("{path}: cannot write this image format; use .png, .jpg, .webp, .bmp or .tiff")]
    UnsupportedOutput { path: PathBuf },

    /// Writing an output failed; nothing was left under the final name.
    #[error("{path}: cannot write: {reason}")]
    Write { path: PathBuf, reason: String },

    /// The output's disk is full or read-only: every further output there would fail
    /// alike, so a batch stops at the first one.
    #[error("{path}: cannot write: {reason}")]
    NoRoom { path: PathBuf, reason: String },

    /// Refusing to overwrite one of the inputs.
    #[error("{path}: refusing to overwrite an input file; choose another output")]
    WouldOverwriteInput { path: PathBuf },

    /// Two inputs would be written to the same output file.
    #[error("{path}: two inputs map to this same output ({first} and {second}); stylize them separately")]
    OutputCollision { path: PathBuf, first: PathBuf, second: PathBuf },

    /// The model file is missing, not ONNX, or not an nst style model.
    #[error("{path}: {reason}")]
    Model { path: PathBuf, reason: String },

    /// A model or style name that is neither a file nor a bundled style.
    #[error("no model file or bundled style named '{name}'{suggestion}; bundled styles: {available}; pass a path to an .onnx file or one of these names (`nst styles` lists them)")]
    UnknownStyle { name: String, available: String, suggestion: String },

    /// libonnxruntime could not be found or loaded.
    #[error("{0}")]
    Runtime(String),

    /// An execution provider was asked for but cannot start.
    #[error("execution provider '{provider}' is not available: {reason}")]
    Provider { provider: String, reason: String },

    /// Inference itself failed.
    #[error("inference failed: {0}")]
    Inference(String),

    /// A parameter outside its valid range.
    #[error("{0}")]
    Parameter(String),

    /// An external program (ffmpeg, ffprobe) is missing or unusable.
    #[error("{0}")]
    Tool(String),

    /// A video output path whose extension names no container we write.
    #[error("{path}: cannot write this video format; use .mp4, .m4v, .mov or .mkv")]
    UnsupportedVideoOutput { path: PathBuf },

    /// The input is not a video ffmpeg can open, or has no video stream.
    #[error("{path}: cannot read the video: {reason}")]
    VideoRead { path: PathBuf, reason: String },

    /// The video opens but its frames cannot all be decoded (damaged, truncated).
    #[error("{path}: cannot decode the video: {reason}")]
    VideoDecode { path: PathBuf, reason: String },

    /// The user pressed Ctrl-C (or the process was asked to terminate).
    #[error("interrupted")]
    Interrupted,

    /// A camera is missing, busy, unplugged, or cannot give the format asked for.
    #[error("{0}")]
    Camera(String),

    /// No window can be shown (no display, or the display refused it).
    #[error("{0}")]
    Display(String),
}

impl Error {
    /// The error for a failed write of `path`: [`Error::NoRoom`] for a full disk, an
    /// exceeded quota or a read-only file system, else [`Error::Write`]; in words.
    pub fn write(path: &std::path::Path, e: &std::io::Error) -> Error {
        use std::io::ErrorKind::*;
        let path = path.to_path_buf();
        match e.kind() {
            StorageFull => Error::NoRoom { path, reason: "the disk is full (No space left on device); free some space or write elsewhere".into() },
            QuotaExceeded => Error::NoRoom { path, reason: "the disk quota is exceeded; free some space or write elsewhere".into() },
            ReadOnlyFilesystem => Error::NoRoom { path, reason: "the folder is on a read-only file system; write elsewhere".into() },
            PermissionDenied => Error::Write { path, reason: "permission denied (check the folder's permissions)".into() },
            _ => Error::Write { path, reason: e.to_string() },
        }
    }
}

/// An I/O error in words: what is wrong with the file, not the OS's terms.
pub fn read_words(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        NotFound => "no such file or folder".into(),
        PermissionDenied => "permission denied (check the file's permissions)".into(),
        IsADirectory => "is a folder, not a file".into(),
        _ => format!("cannot read: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_errors_are_in_words() {
        let missing = Error::Read { path: "a.jpg".into(), source: std::io::Error::from(std::io::ErrorKind::NotFound) };
        assert_eq!(missing.to_string(), "a.jpg: no such file or folder");
        let denied = Error::Read { path: "b.jpg".into(), source: std::io::Error::from(std::io::ErrorKind::PermissionDenied) };
        assert_eq!(denied.to_string(), "b.jpg: permission denied (check the file's permissions)");
    }
}
