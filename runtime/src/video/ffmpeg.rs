//! The ffmpeg side of `nst video`: the decoder and encoder command lines and the audio
//! plan (the tools themselves, their messages and the containers: [`crate::ffmpeg`]).
//!
//! Frames travel as raw RGB (`rgb24`) over pipes: the decoder writes them to its stdout,
//! the encoder reads them from its stdin. Both run in their own process group, so that
//! Ctrl-C in a terminal reaches nst alone, which then stops them itself.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use super::damage::Decoding;
use super::probe::{Rational, VideoInfo};
use crate::error::{Error, Result};
use crate::ffmpeg::container;
pub use crate::ffmpeg::{check_output, check_tools, clean_lines, reason, spawn_error, FFMPEG, FFPROBE};

/// Seconds as ffmpeg reads them, to the microsecond.
fn seconds(s: f64) -> String {
    format!("{s:.6}")
}

/// The part of a conversion asked for: `--start` and `--duration`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Span {
    pub start: Option<f64>,
    pub duration: Option<f64>,
}

impl Span {
    fn input_args(&self) -> Vec<OsString> {
        let mut args = Vec::new();
        if let Some(s) = self.start.filter(|s| *s > 0.0) {
            args.extend(["-ss".into(), seconds(s).into()]);
        }
        if let Some(d) = self.duration {
            args.extend(["-t".into(), seconds(d).into()]);
        }
        args
    }
}

fn base(loglevel: &str) -> Command {
    let mut cmd = Command::new(FFMPEG);
    cmd.args(["-nostdin", "-hide_banner", "-nostats", "-loglevel", loglevel]);
    // Out of the terminal's process group: Ctrl-C goes to nst, which stops ffmpeg.
    cmd.process_group(0);
    cmd
}

/// The decoder: the video stream of `info`, turned upright (ffmpeg applies the rotation),
/// scaled to `width`x`height`, every frame once (no frame dropped or doubled), as rgb24 on
/// stdout. Its stderr lines carry their level (`[error]`, `[info]`: see [`Damage`]):
/// with [`Decoding::Conceal`] damage is concealed and reported, with
/// [`Decoding::Strict`] errors are looked for closely (`+aggressive`).
///
/// [`Damage`]: super::damage::Damage
pub fn decoder(info: &VideoInfo, span: Span, width: u32, height: u32, decoding: Decoding) -> Command {
    let mut cmd = base("repeat+level+info");
    if decoding == Decoding::Strict {
        cmd.args(["-err_detect", "+aggressive"]);
    }
    cmd.args(span.input_args()).arg("-i").arg(&info.path);
    cmd.args(["-map", &format!("0:{}", info.stream_index)]);
    cmd.args(["-vf", &format!("scale={width}:{height}:flags=bicubic")]);
    cmd.args(["-vsync", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

/// How the output's audio streams are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioPlan {
    /// Copied as they are.
    Copy,
    /// Re-encoded to AAC (the container cannot hold the codec).
    Aac,
}

/// Whether an audio stream can be copied: the output container must take its codec, and
/// the clip must begin where the file does (a copy cuts only at packet boundaries, and a
/// late start would leave the packets before it in Matroska).
pub fn audio_plan(output: &Path, codec: &str, span: Span) -> AudioPlan {
    if span.start.is_some_and(|s| s > 0.0) {
        return AudioPlan::Aac;
    }
    match container(output) {
        Some((_, None)) => AudioPlan::Copy,
        Some((_, Some(codecs))) if codecs.contains(&codec) => AudioPlan::Copy,
        _ => AudioPlan::Aac,
    }
}

/// What the encoder writes.
#[derive(Debug, Clone)]
pub struct EncodeSettings {
    pub width: u32,
    pub height: u32,
    pub frame_rate: Rational,
    pub sample_aspect: Option<Rational>,
    pub crf: u8,
}

/// The encoder: rgb24 frames from stdin at the exact frame rate, H.264 (libx264, `crf`,
/// yuv420p, tagged BT.709), plus the audio streams and global metadata of `info` (from
/// the same span), into `temp` with the container that `output`'s extension names.
pub fn encoder(info: &VideoInfo, span: Span, settings: &EncodeSettings, output: &Path, temp: &Path) -> Result<Command> {
    let (muxer, _) = container(output).ok_or_else(|| Error::UnsupportedVideoOutput { path: output.to_path_buf() })?;
    let EncodeSettings { width, height, frame_rate, sample_aspect, crf } = settings;
    let mut cmd = base("error");
    cmd.args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-video_size", &format!("{width}x{height}")]);
    cmd.args(["-framerate", &frame_rate.to_string(), "-i", "pipe:0"]);
    cmd.args(span.input_args()).arg("-i").arg(&info.path);
    cmd.args(["-map", "0:v:0"]);
    let mut filters = Vec::new();
    if let Some(sar) = sample_aspect {
        filters.push(format!("setsar={sar}"));
    }
    filters.push("scale=out_color_matrix=bt709:out_range=tv".into());
    filters.push("format=yuv420p".into());
    cmd.args(["-vf", &filters.join(",")]);
    cmd.args(["-c:v", "libx264", "-crf", &crf.to_string(), "-preset", "medium"]);
    cmd.args(["-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv"]);
    for (i, audio) in info.audio.iter().enumerate() {
        cmd.args(["-map", &format!("1:{}", audio.index)]);
        match audio_plan(output, &audio.codec, span) {
            AudioPlan::Copy => cmd.args([format!("-c:a:{i}"), "copy".into()]),
            AudioPlan::Aac => cmd.args([format!("-c:a:{i}"), "aac".into(), format!("-b:a:{i}"), "192k".into()]),
        };
    }
    cmd.args(["-map_metadata", "1", "-map_chapters", "1"]);
    if muxer == "mp4" || muxer == "mov" {
        cmd.args(["-movflags", "+faststart"]);
    }
    cmd.args(["-f", muxer, "-y"]).arg(temp);
    cmd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped());
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_is_copied_where_the_container_takes_it() {
        let whole = Span::default();
        assert_eq!(audio_plan(Path::new("a.mp4"), "aac", whole), AudioPlan::Copy);
        assert_eq!(audio_plan(Path::new("a.mp4"), "pcm_s16le", whole), AudioPlan::Aac);
        assert_eq!(audio_plan(Path::new("a.mov"), "pcm_s16le", whole), AudioPlan::Copy);
        assert_eq!(audio_plan(Path::new("a.MKV"), "vorbis", whole), AudioPlan::Copy);
        let late = Span { start: Some(2.0), duration: None };
        assert_eq!(audio_plan(Path::new("a.mp4"), "aac", late), AudioPlan::Aac);
        assert!(check_output(Path::new("a.webm")).is_err());
        assert!(check_output(Path::new("a.M4V")).is_ok());
    }
}
