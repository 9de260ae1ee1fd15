//! `nst video`: stylizing video files through ffmpeg.
//!
//! - [`probe`]: what the input holds (ffprobe JSON): size, rotation, exact frame rate,
//!   frame count, duration, audio streams.
//! - [`ffmpeg`]: the decoder and encoder command lines, and ffmpeg's messages.
//! - [`pipeline`]: decode, stylize and encode on three threads, supervised.
//! - [`smooth`]: flicker reduction and the temporal-instability measure.
//!
//! Choices that shape the output:
//! - **Rotation** is baked in: ffmpeg turns the frames upright while decoding, the
//!   network sees them as they are shown, and the output is written upright with no
//!   rotation tag (a 1920x1080 clip tagged 90 degrees gives a 1080x1920 output).
//! - **Frames and timing**: every decoded frame is stylized and written once, at the
//!   source's exact frame rate (a rational such as 30000/1001), so the frame count and the
//!   duration stay the same. A variable-rate source is written at its average rate.
//! - **Odd sizes**: H.264 in 4:2:0 needs even sizes; an odd width or height is padded by
//!   one pixel (the last column or row repeated). With `--max-size` the scaled size is
//!   chosen even instead.
//! - **Audio** streams are copied as they are when the container can hold their codec,
//!   else re-encoded to AAC; with `--start` they are always re-encoded, since a copy can
//!   only be cut at packet boundaries. Subtitles and data streams are not kept.
//! - **Damage** (see [`damage`]): decoded as players decode it, damaged macroblocks
//!   concealed and counted in a warning; the input is refused only when ffmpeg fails or
//!   fewer frames arrive than the file announces (1% slack, 5% for an estimate). With
//!   `--strict` any decoding error refuses it.
//! - **Atomic output**: ffmpeg writes a hidden temporary file next to the output, which is
//!   renamed over it only when the conversion succeeded.

pub mod damage;
pub mod ffmpeg;
pub mod pipeline;
pub mod probe;
pub mod smooth;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

pub use damage::{Damage, Decoding};
pub use ffmpeg::{check_tools, AudioPlan, Span};
pub use probe::{probe, Rational, VideoInfo};
pub use smooth::{instability, Instability, Smoother};

use crate::batch::StylizeOptions;
use crate::plan::{self, Failure, Job, MediaKind};
use crate::error::{Error, Result};
use crate::fsio;
use crate::imageio;
use crate::model::StyleModel;

/// File extensions picked up as videos when walking a folder.
pub const VIDEO_EXTENSIONS: &[&str] =
    &["mp4", "m4v", "mov", "mkv", "webm", "avi", "wmv", "flv", "mpg", "mpeg", "ts", "mts", "m2ts", "3gp", "ogv"];

/// Videos, as read and written by `nst video`.
pub const VIDEOS: MediaKind = MediaKind {
    noun: "videos",
    extensions: VIDEO_EXTENSIONS,
    supported: "mp4, mov, mkv, webm, avi and anything else ffmpeg reads",
    check_output: ffmpeg::check_output,
    fallback_extension: "mp4",
};

/// Turns the command line of `nst video` into jobs (see [`plan::plan_media`]): outputs
/// are .mp4, .m4v, .mov or .mkv; a folder output gets `<name>.mp4` for other inputs.
pub fn plan(inputs: &[PathBuf], output: &Path) -> Result<(Vec<Job>, Vec<Failure>)> {
    plan::plan_media(inputs, output, &VIDEOS)
}

/// Everything `nst video` can be asked to do to a clip.
#[derive(Debug, Clone, Copy)]
pub struct VideoOptions {
    /// `--max-size`, `--strength`, `--preserve-color`, as for images.
    pub image: StylizeOptions,
    /// H.264 constant rate factor: 0 (lossless) to 51.
    pub crf: u8,
    /// Flicker reduction, 0 (off) to 1 (see [`smooth`]).
    pub smooth: f32,
    /// `--start` / `--duration`.
    pub span: Span,
    /// Measure the temporal instability of the output (see [`smooth::Instability`]).
    pub measure_instability: bool,
    /// Conceal damage as players do, or refuse it (`--strict`).
    pub decoding: Decoding,
}

impl Default for VideoOptions {
    fn default() -> Self {
        Self {
            image: StylizeOptions::default(),
            crf: 20,
            smooth: 0.0,
            span: Span::default(),
            measure_instability: false,
            decoding: Decoding::Conceal,
        }
    }
}

impl VideoOptions {
    pub fn validate(&self) -> Result<()> {
        self.image.validate()?;
        if self.crf > 51 {
            return Err(Error::Parameter(format!("--crf must be between 0 and 51, got {}", self.crf)));
        }
        if !(0.0..=1.0).contains(&self.smooth) || self.smooth.is_nan() {
            return Err(Error::Parameter(format!("--smooth must be between 0 and 1, got {}", self.smooth)));
        }
        if self.span.duration.is_some_and(|d| d <= 0.0) {
            return Err(Error::Parameter("--duration must be more than 0".into()));
        }
        Ok(())
    }
}

/// Parses `--start` / `--duration`: seconds (`12.5`), `MM:SS` or `HH:MM:SS(.fff)`.
pub fn parse_time(s: &str) -> std::result::Result<f64, String> {
    probe::parse_clock(s).ok_or_else(|| format!("'{s}' is not a time: give seconds (12.5), MM:SS or HH:MM:SS"))
}

/// The frame count a conversion of `info` with `options` should give, and whether that is
/// exact (from the header) or estimated (from the duration).
pub fn expected_frames(info: &VideoInfo, options: &VideoOptions) -> Option<(u64, bool)> {
    info.expected_frames(options.span.start, options.span.duration)
}

/// Whether `got` frames fall short of what was expected: exactly announced counts allow 1%
/// (frames a capture dropped), estimates 5% (at least 2 frames).
fn falls_short((expected, exact): (u64, bool), got: u64) -> bool {
    let slack = if exact { expected / 100 } else { (expected / 20).max(2) };
    got + slack < expected
}

/// Sizes for a clip: the working size (shown size, fitted into `--max-size` with even
/// sides when it scales) and the encoded size (even).
pub fn frame_sizes(info: &VideoInfo, max_size: Option<u32>) -> pipeline::Sizes {
    let (w, h) = info.display_size();
    let work = match max_size.map(|m| imageio::fit_size(w, h, m)) {
        Some((fw, fh)) if (fw, fh) != (w, h) => (even(fw), even(fh)),
        _ => (w, h),
    };
    let even_up = |v: u32| v + v % 2;
    pipeline::Sizes { work, output: (even_up(work.0), even_up(work.1)) }
}

/// The even number at or below `v`, at least 2.
fn even(v: u32) -> u32 {
    (v - v % 2).max(2)
}

/// What a finished conversion did.
#[derive(Debug)]
pub struct Converted {
    pub frames: u64,
    pub frame_rate: Rational,
    /// Size of the written frames.
    pub size: (u32, u32),
    pub audio: Vec<AudioPlan>,
    /// Temporal instability of the written frames, when measured.
    pub instability: Option<f64>,
    /// What the decoder concealed (empty for an undamaged input).
    pub damage: Damage,
    pub seconds: f64,
}

/// Converts one clip (probed with [`probe`]) into `output`, atomically: nothing is left
/// under `output` (nor a temporary file) unless it succeeded. `on_frame` gets the number
/// of frames done; `cancel` (see [`crate::signals`]) stops the conversion.
pub fn convert(
    model: &mut StyleModel,
    info: &VideoInfo,
    output: &Path,
    options: &VideoOptions,
    cancel: &AtomicBool,
    mut on_frame: impl FnMut(u64),
) -> Result<Converted> {
    let started = Instant::now();
    if let (Some(start), Some(total)) = (options.span.start, info.duration) {
        if start >= total {
            return Err(Error::Parameter(format!(
                "{}: --start {start} s is past the end of the video ({total:.3} s)",
                info.path.display()
            )));
        }
    }
    let sizes = frame_sizes(info, options.image.max_size);
    if sizes.output != sizes.work {
        let (w, h) = sizes.work;
        tracing::warn!(
            "{}: {w}x{h} has an odd side; H.264 needs even sizes, so the output is {}x{} (last column/row repeated)",
            info.path.display(),
            sizes.output.0,
            sizes.output.1
        );
    }
    if info.variable_rate {
        tracing::warn!(
            "{}: variable frame rate; written at a constant {:.3} fps (same frame count and duration)",
            info.path.display(),
            info.frame_rate.as_f64()
        );
    }
    let write_err = |e: std::io::Error| Error::write(output, &e);
    let dir = fsio::parent_dir(output);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::Write { path: output.to_path_buf(), reason: format!("cannot create the folder: {e}") })?;
    let temp = fsio::temp_in_same_dir(output).map_err(write_err)?;

    let settings = ffmpeg::EncodeSettings {
        width: sizes.output.0,
        height: sizes.output.1,
        frame_rate: info.frame_rate,
        sample_aspect: info.display_sample_aspect(),
        crf: options.crf,
    };
    let decoder = ffmpeg::decoder(info, options.span, sizes.work.0, sizes.work.1, options.decoding);
    let encoder = ffmpeg::encoder(info, options.span, &settings, output, temp.path())?;
    let style = pipeline::StyleStage {
        model,
        options: options.image,
        smoother: (options.smooth > 0.0).then(|| Smoother::new(options.smooth)),
        measure_instability: options.measure_instability,
    };
    let finished = pipeline::run(&info.path, output, decoder, encoder, sizes, style, options.decoding, cancel, &mut on_frame)?;
    if let Some(expected) = expected_frames(info, options) {
        if falls_short(expected, finished.frames) {
            return Err(Error::VideoDecode {
                path: info.path.clone(),
                reason: format!(
                    "the file is truncated or damaged: {} {} frames, only {} could be decoded",
                    if expected.1 { "it announces" } else { "its duration makes about" },
                    expected.0,
                    finished.frames
                ),
            });
        }
    }
    temp.as_file().sync_all().map_err(write_err)?;
    temp.persist(output).map_err(|e| write_err(e.error))?;
    Ok(Converted {
        frames: finished.frames,
        frame_rate: info.frame_rate,
        size: sizes.output,
        audio: info.audio.iter().map(|a| ffmpeg::audio_plan(output, &a.codec, options.span)).collect(),
        instability: finished.instability,
        damage: finished.damage,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Whether `output` already holds a complete conversion of `info` (for `--skip-existing`):
/// a video whose container reads cleanly to the end, with the expected number of frames.
pub fn is_complete(output: &Path, info: &VideoInfo, options: &VideoOptions) -> bool {
    if !output.is_file() {
        return false;
    }
    match (expected_frames(info, options), probe::count_video_packets(output)) {
        (Some(expected), Ok(got)) => !falls_short(expected, got) && !falls_short((got, expected.1), expected.0),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(w: u32, h: u32, rotation: u32) -> VideoInfo {
        VideoInfo {
            path: "a.mp4".into(),
            stream_index: 0,
            codec: "h264".into(),
            width: w,
            height: h,
            rotation,
            frame_rate: Rational { num: 12, den: 1 },
            variable_rate: false,
            frames: Some(18),
            duration: Some(1.5),
            sample_aspect: None,
            audio: Vec::new(),
        }
    }

    #[test]
    fn sizes_are_even_and_follow_rotation() {
        let s = frame_sizes(&info(65, 49, 0), None);
        assert_eq!((s.work, s.output), ((65, 49), (66, 50)));
        let s = frame_sizes(&info(66, 50, 90), None);
        assert_eq!((s.work, s.output), ((50, 66), (50, 66)));
        // 768x576 into 301: 301x226 would be odd; scaling picks even sides.
        let s = frame_sizes(&info(768, 576, 0), Some(301));
        assert_eq!((s.work, s.output), ((300, 226), (300, 226)));
        let s = frame_sizes(&info(64, 48, 0), Some(640));
        assert_eq!(s.work, (64, 48));
    }

    #[test]
    fn frame_count_slack() {
        assert!(!falls_short((18, true), 18));
        assert!(falls_short((18, true), 17));
        assert!(!falls_short((795, true), 790));
        assert!(falls_short((795, true), 700));
        assert!(!falls_short((40, false), 38));
        assert!(falls_short((40, false), 37));
    }

    #[test]
    fn options_are_checked() {
        assert!(VideoOptions::default().validate().is_ok());
        assert!(VideoOptions { crf: 52, ..Default::default() }.validate().is_err());
        assert!(VideoOptions { smooth: 1.5, ..Default::default() }.validate().is_err());
        let span = Span { start: None, duration: Some(0.0) };
        assert!(VideoOptions { span, ..Default::default() }.validate().is_err());
        assert_eq!(parse_time("1:30"), Ok(90.0));
        assert!(parse_time("soon").is_err());
    }

    #[test]
    fn planning_picks_videos_and_names_outputs_mp4() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        for name in ["a.avi", "b.mkv", "notes.txt", "c.jpg"] {
            std::fs::write(src.join(name), b"x").unwrap();
        }
        let out = d.path().join("out");
        let (jobs, failures) = plan(&[src], &out).unwrap();
        assert!(failures.is_empty());
        let names: Vec<_> = jobs.iter().map(|j| j.output.strip_prefix(&out).unwrap().to_path_buf()).collect();
        assert_eq!(names, vec![PathBuf::from("a.mp4"), PathBuf::from("b.mkv")]);
        let one = d.path().join("src/a.avi");
        assert!(matches!(plan(&[one], &d.path().join("x.webm")), Err(Error::UnsupportedVideoOutput { .. })));
    }
}
