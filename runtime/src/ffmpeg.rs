//! ffmpeg and ffprobe as tools, for every command that runs them (`nst video`, `nst
//! live`'s recordings and video sources): their names, checking that they are there,
//! turning their messages into short reasons, and the containers nst writes.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

pub const FFMPEG: &str = "ffmpeg";
pub const FFPROBE: &str = "ffprobe";

/// The message for a program that cannot be started.
pub fn spawn_error(program: &str, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::Tool(format!("{program} not found: install it (apt-get install ffmpeg)"))
    } else {
        Error::Tool(format!("cannot run {program}: {e}"))
    }
}

/// Checks that ffmpeg and ffprobe run and that ffmpeg has the H.264 encoder (libx264).
pub fn check_tools() -> Result<()> {
    for program in [FFMPEG, FFPROBE] {
        let out = Command::new(program)
            .args(["-hide_banner", "-version"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| spawn_error(program, e))?;
        if !out.status.success() {
            return Err(Error::Tool(format!("{program} -version failed ({}); reinstall ffmpeg", out.status)));
        }
    }
    let out = Command::new(FFMPEG)
        .args(["-hide_banner", "-encoders"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| spawn_error(FFMPEG, e))?;
    if !String::from_utf8_lossy(&out.stdout).contains("libx264") {
        return Err(Error::Tool("this ffmpeg has no H.264 encoder (libx264): install a build with it (Debian's ffmpeg has it)".into()));
    }
    Ok(())
}

/// ffmpeg's stderr lines reduced to what a user needs: without the `[demuxer @ 0x...]`
/// prefixes, the file name ffmpeg puts in front, and the repetition notes.
pub fn clean_lines<'a>(stderr: &'a str, path: &'a Path) -> impl Iterator<Item = String> + 'a {
    let name = path.to_string_lossy().into_owned();
    stderr.lines().filter_map(move |line| {
        let mut line = line.trim();
        if line.starts_with('[') {
            if let Some(end) = line.find("] ") {
                line = &line[end + 2..];
            }
        }
        if let Some(rest) = line.strip_prefix(name.as_str()).and_then(|r| r.strip_prefix(": ")) {
            line = rest;
        }
        let noise = line.is_empty() || line.starts_with("Last message repeated") || line.starts_with("Conversion failed");
        (!noise).then(|| line.to_string())
    })
}

/// The reason to show for a failed ffmpeg/ffprobe run: its distinct messages, joined.
pub fn reason(stderr: &str, path: &Path) -> Option<String> {
    let mut seen: Vec<String> = Vec::new();
    for line in clean_lines(stderr, path) {
        if !seen.contains(&line) {
            seen.push(line);
        }
    }
    // The last few say what finally went wrong.
    let start = seen.len().saturating_sub(3);
    (!seen.is_empty()).then(|| seen[start..].join("; "))
}

/// The container an output path asks for, by its extension: (ffmpeg muxer, audio codecs
/// it can hold, `None` for all).
pub(crate) fn container(path: &Path) -> Option<(&'static str, Option<&'static [&'static str]>)> {
    const MP4_AUDIO: &[&str] = &["aac", "mp3", "alac", "ac3", "eac3"];
    const MOV_AUDIO: &[&str] = &[
        "aac", "mp3", "alac", "ac3", "eac3", "pcm_s16le", "pcm_s16be", "pcm_s24le", "pcm_s24be", "pcm_s32le", "pcm_s32be",
        "pcm_f32le", "pcm_f32be",
    ];
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "mp4" | "m4v" => Some(("mp4", Some(MP4_AUDIO))),
        "mov" => Some(("mov", Some(MOV_AUDIO))),
        "mkv" => Some(("matroska", None)),
        _ => None,
    }
}

/// Checks that an output path names a container we write (H.264 video).
pub fn check_output(path: &Path) -> Result<()> {
    container(path).map(|_| ()).ok_or_else(|| Error::UnsupportedVideoOutput { path: path.to_path_buf() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_lose_prefixes_and_repeats() {
        let stderr = "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x5623] moov atom not found\n\
                      /tmp/cut.mp4: Invalid data found when processing input\n    Last message repeated 1 times\n";
        assert_eq!(
            reason(stderr, Path::new("/tmp/cut.mp4")).unwrap(),
            "moov atom not found; Invalid data found when processing input"
        );
        assert_eq!(reason("\n", Path::new("x")), None);
    }

    #[test]
    fn outputs_are_containers_nst_writes() {
        assert!(check_output(Path::new("a.webm")).is_err());
        assert!(check_output(Path::new("a.M4V")).is_ok());
        assert_eq!(container(Path::new("x.mkv")).map(|c| c.0), Some("matroska"));
    }
}
