//! What a video file holds, read from `ffprobe -print_format json`: the video stream's
//! size, rotation, frame rate (an exact rational), frame count and duration, and the
//! audio streams.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use super::ffmpeg;
use crate::error::{Error, Result};

/// A positive rational number, such as a frame rate of 30000/1001.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rational {
    pub num: u64,
    pub den: u64,
}

impl Rational {
    /// Parses `"30000/1001"` (or `"25"`); `None` for zero, negative or malformed values
    /// (ffprobe writes `"0/0"` when it does not know).
    pub fn parse(s: &str) -> Option<Self> {
        let (num, den) = match s.split_once(['/', ':']) {
            Some((n, d)) => (n.trim().parse().ok()?, d.trim().parse().ok()?),
            None => (s.trim().parse().ok()?, 1),
        };
        (num > 0 && den > 0).then_some(Self { num, den })
    }

    pub fn as_f64(self) -> f64 {
        self.num as f64 / self.den as f64
    }

    /// The reciprocal (a sample aspect ratio seen after a 90-degree rotation).
    pub fn inverse(self) -> Self {
        Self { num: self.den, den: self.num }
    }
}

impl std::fmt::Display for Rational {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.num, self.den)
    }
}

/// An audio stream of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioStream {
    /// The stream's index in the file (`-map 1:<index>`).
    pub index: u32,
    /// ffmpeg's codec name (`aac`, `mp3`, `pcm_s16le`...).
    pub codec: String,
}

/// What ffprobe says about a video file.
#[derive(Debug, Clone)]
pub struct VideoInfo {
    pub path: PathBuf,
    /// The video stream's index in the file.
    pub stream_index: u32,
    pub codec: String,
    /// Stored (coded) size, before rotation.
    pub width: u32,
    pub height: u32,
    /// Display rotation in degrees (0, 90, 180 or 270) from the display matrix or the
    /// `rotate` tag.
    pub rotation: u32,
    /// The frame rate the output is written at: the stream's nominal rate when it is
    /// constant, else its average rate.
    pub frame_rate: Rational,
    /// The nominal and average rates disagree: timestamps vary from frame to frame.
    pub variable_rate: bool,
    /// Frame count written in the container header, when it has one (mp4, avi).
    pub frames: Option<u64>,
    /// Duration in seconds (the stream's, else the container's).
    pub duration: Option<f64>,
    /// Sample (pixel) aspect ratio, when it is not square.
    pub sample_aspect: Option<Rational>,
    pub audio: Vec<AudioStream>,
}

impl VideoInfo {
    /// The size the frames are shown at: the stored size, turned by the rotation.
    pub fn display_size(&self) -> (u32, u32) {
        if self.rotation % 180 == 90 {
            (self.height, self.width)
        } else {
            (self.width, self.height)
        }
    }

    /// The pixel aspect ratio of the frames as shown (inverted by a quarter turn).
    pub fn display_sample_aspect(&self) -> Option<Rational> {
        self.sample_aspect.map(|r| if self.rotation % 180 == 90 { r.inverse() } else { r })
    }

    /// How many frames a conversion of `[start, start + duration)` should give, and
    /// whether that number is exact (the header's count, whole file) or an estimate from
    /// the duration and frame rate.
    pub fn expected_frames(&self, start: Option<f64>, duration: Option<f64>) -> Option<(u64, bool)> {
        let rate = self.frame_rate.as_f64();
        let trimmed = start.is_some_and(|s| s > 0.0) || duration.is_some();
        if let (Some(n), false) = (self.frames, trimmed) {
            return Some((n, true));
        }
        let total = self.duration.or_else(|| self.frames.map(|n| n as f64 / rate))?;
        let available = (total - start.unwrap_or(0.0)).max(0.0);
        let seconds = duration.map_or(available, |d| d.min(available));
        Some(((seconds * rate).round() as u64, false))
    }
}

/// Runs ffprobe on a file. Errors name the file and give ffprobe's own reason.
pub fn probe(path: &Path) -> Result<VideoInfo> {
    let read_err = |reason: String| Error::VideoRead { path: path.to_path_buf(), reason };
    let meta = std::fs::metadata(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
    if meta.is_dir() {
        return Err(read_err("is a folder, not a video file".into()));
    }
    if meta.len() == 0 {
        return Err(Error::EmptyFile { path: path.to_path_buf() });
    }
    let out = Command::new(ffmpeg::FFPROBE)
        .args(["-v", "error", "-print_format", "json", "-show_format", "-show_streams"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| ffmpeg::spawn_error(ffmpeg::FFPROBE, e))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(read_err(ffmpeg::reason(&stderr, path).unwrap_or_else(|| format!("ffprobe failed ({})", out.status))));
    }
    let json: Value =
        serde_json::from_slice(&out.stdout).map_err(|e| read_err(format!("cannot parse ffprobe's answer: {e}")))?;
    parse(path, &json).map_err(read_err)
}

/// Reads the video stream's packets to the end without decoding them: how many there
/// are. An error when the container does not read cleanly (a cut file). Cheap: a check
/// that a file is whole.
pub fn count_video_packets(path: &Path) -> Result<u64> {
    let read_err = |reason: String| Error::VideoRead { path: path.to_path_buf(), reason };
    let out = Command::new(ffmpeg::FFPROBE)
        .args(["-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries", "stream=nb_read_packets"])
        .args(["-print_format", "csv=p=0"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| ffmpeg::spawn_error(ffmpeg::FFPROBE, e))?;
    if let Some(reason) = ffmpeg::reason(&String::from_utf8_lossy(&out.stderr), path) {
        return Err(read_err(reason));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    match (out.status.success(), text.trim().trim_end_matches(',').parse::<u64>()) {
        (true, Ok(n)) => Ok(n),
        _ => Err(read_err(format!("ffprobe could not count the packets ({})", out.status))),
    }
}

/// Reads [`VideoInfo`] from ffprobe's JSON (`-show_format -show_streams`).
pub fn parse(path: &Path, json: &Value) -> std::result::Result<VideoInfo, String> {
    let streams = json["streams"].as_array().map(Vec::as_slice).unwrap_or_default();
    let is_cover_art = |s: &Value| s["disposition"]["attached_pic"].as_i64() == Some(1);
    let video = streams
        .iter()
        .find(|s| s["codec_type"] == "video" && !is_cover_art(s))
        .ok_or_else(|| "no video stream in the file".to_string())?;
    // ffmpeg opens a photo as a one-frame "video" (image2, png_pipe, ...): a video of it
    // would be a single frame, which nobody asks for.
    let format = json["format"]["format_name"].as_str().unwrap_or("");
    if format == "image2" || format.ends_with("_pipe") {
        let codec = video["codec_name"].as_str().unwrap_or("image");
        return Err(format!("is a still image ({codec}), not a video; use `nst stylize` for photos"));
    }
    let index = |s: &Value| s["index"].as_u64().unwrap_or(0) as u32;
    let (width, height) = (video["width"].as_u64().unwrap_or(0) as u32, video["height"].as_u64().unwrap_or(0) as u32);
    if width == 0 || height == 0 {
        return Err("the video stream has no frame size".into());
    }
    let rate = |key: &str| video[key].as_str().and_then(Rational::parse);
    let (frame_rate, variable_rate) = match (rate("r_frame_rate"), rate("avg_frame_rate")) {
        (Some(r), Some(avg)) if (r.as_f64() - avg.as_f64()).abs() > 0.01 * r.as_f64() => (avg, true),
        (Some(r), _) => (r, false),
        (None, Some(avg)) => (avg, false),
        (None, None) => return Err("the video stream has no frame rate".into()),
    };
    let number = |v: &Value| v.as_str().and_then(|s| s.parse::<f64>().ok()).filter(|d| d.is_finite() && *d > 0.0);
    let duration = number(&video["duration"])
        .or_else(|| video["tags"]["DURATION"].as_str().and_then(parse_clock))
        .or_else(|| number(&json["format"]["duration"]));
    let frames = video["nb_frames"].as_str().and_then(|s| s.parse::<u64>().ok()).filter(|&n| n > 0);
    let sample_aspect = video["sample_aspect_ratio"].as_str().and_then(Rational::parse).filter(|r| r.num != r.den);
    let audio = streams
        .iter()
        .filter(|s| s["codec_type"] == "audio")
        .map(|s| AudioStream { index: index(s), codec: s["codec_name"].as_str().unwrap_or("unknown").to_string() })
        .collect();
    Ok(VideoInfo {
        path: path.to_path_buf(),
        stream_index: index(video),
        codec: video["codec_name"].as_str().unwrap_or("unknown").to_string(),
        width,
        height,
        rotation: rotation(video),
        frame_rate,
        variable_rate,
        frames,
        duration,
        sample_aspect,
        audio,
    })
}

/// The display rotation, from the display-matrix side data (ffmpeg 5 and later) or the
/// `rotate` tag (older), rounded to a quarter turn in 0..360.
fn rotation(video: &Value) -> u32 {
    let from_matrix = video["side_data_list"].as_array().and_then(|list| {
        list.iter().find(|d| d["side_data_type"] == "Display Matrix").and_then(|d| d["rotation"].as_f64())
    });
    let from_tag = || video["tags"]["rotate"].as_str().and_then(|s| s.parse::<f64>().ok());
    let degrees = from_matrix.or_else(from_tag).unwrap_or(0.0);
    let quarter = (degrees / 90.0).round() as i64;
    (quarter.rem_euclid(4) * 90) as u32
}

/// Parses a time: seconds (`12.5`), `MM:SS(.fff)` or `HH:MM:SS(.fff)`.
pub fn parse_clock(s: &str) -> Option<f64> {
    let mut seconds = 0.0;
    let parts: Vec<&str> = s.trim().split(':').collect();
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    for (i, part) in parts.iter().enumerate() {
        let v: f64 = part.parse().ok()?;
        let last = i + 1 == parts.len();
        if !v.is_finite() || v < 0.0 || (!last && (v.fract() != 0.0 || (i > 0 && v >= 60.0))) {
            return None;
        }
        seconds = seconds * 60.0 + v;
    }
    Some(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rationals() {
        assert_eq!(Rational::parse("30000/1001"), Some(Rational { num: 30000, den: 1001 }));
        assert_eq!(Rational::parse("25"), Some(Rational { num: 25, den: 1 }));
        assert_eq!(Rational::parse("0/0"), None);
        assert_eq!(Rational::parse("1:1"), Some(Rational { num: 1, den: 1 }));
        assert_eq!(Rational::parse("x"), None);
    }

    #[test]
    fn clock_times() {
        assert_eq!(parse_clock("12.5"), Some(12.5));
        assert_eq!(parse_clock("1:02.5"), Some(62.5));
        assert_eq!(parse_clock("01:00:01.000000000"), Some(3601.0));
        assert_eq!(parse_clock("1:75"), Some(135.0)); // like ffmpeg, the last field may exceed 59
        assert_eq!(parse_clock("-1"), None);
        assert_eq!(parse_clock("1:2:3:4"), None);
        assert_eq!(parse_clock("a"), None);
    }

    fn stream(extra: Value) -> Value {
        let mut s = json!({
            "index": 0, "codec_type": "video", "codec_name": "h264", "width": 66, "height": 50,
            "r_frame_rate": "30000/1001", "avg_frame_rate": "30000/1001", "nb_frames": "45", "duration": "1.501500"
        });
        s.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        s
    }

    #[test]
    fn reads_rate_frames_rotation_and_audio() {
        let json = json!({
            "streams": [
                stream(json!({"side_data_list": [{"side_data_type": "Display Matrix", "rotation": -90}]})),
                {"index": 1, "codec_type": "audio", "codec_name": "aac"},
                {"index": 2, "codec_type": "video", "codec_name": "mjpeg", "width": 10, "height": 10,
                 "disposition": {"attached_pic": 1}}
            ],
            "format": {"duration": "1.6"}
        });
        let info = parse(Path::new("a.mp4"), &json).unwrap();
        assert_eq!(info.frame_rate, Rational { num: 30000, den: 1001 });
        assert!(!info.variable_rate);
        assert_eq!(info.rotation, 270);
        assert_eq!(info.display_size(), (50, 66));
        assert_eq!(info.frames, Some(45));
        assert_eq!(info.duration, Some(1.5015));
        assert_eq!(info.audio, vec![AudioStream { index: 1, codec: "aac".into() }]);
        assert_eq!(info.expected_frames(None, None), Some((45, true)));
        // 0.5 s from 1.0 s: 15 frames at 29.97 fps.
        assert_eq!(info.expected_frames(Some(1.0), None), Some((15, false)));
        assert_eq!(info.expected_frames(None, Some(0.5)), Some((15, false)));
    }

    #[test]
    fn a_still_image_is_not_a_video() {
        for format in ["image2", "png_pipe", "webp_pipe"] {
            let json = json!({"streams": [stream(json!({"codec_name": "mjpeg"}))], "format": {"format_name": format}});
            let err = parse(Path::new("photo.jpg"), &json).unwrap_err();
            assert!(err.contains("still image") && err.contains("nst stylize"), "{format}: {err}");
        }
        // An animated GIF is a video to ffmpeg, and converts.
        let json = json!({"streams": [stream(json!({"codec_name": "gif"}))], "format": {"format_name": "gif"}});
        assert!(parse(Path::new("a.gif"), &json).is_ok());
    }

    #[test]
    fn old_rotate_tag_variable_rate_and_matroska_duration() {
        let json = json!({
            "streams": [stream(json!({
                "tags": {"rotate": "180", "DURATION": "00:00:02.000000000"},
                "avg_frame_rate": "2400/100", "r_frame_rate": "30/1", "nb_frames": null, "duration": null
            }))],
            "format": {}
        });
        let info = parse(Path::new("a.mkv"), &json).unwrap();
        assert_eq!(info.rotation, 180);
        assert_eq!(info.display_size(), (66, 50));
        assert!(info.variable_rate);
        assert_eq!(info.frame_rate, Rational { num: 2400, den: 100 });
        assert_eq!(info.duration, Some(2.0));
        assert_eq!(info.expected_frames(None, None), Some((48, false)));
    }

    #[test]
    fn no_video_stream_is_an_error() {
        let json = json!({"streams": [{"index": 0, "codec_type": "audio", "codec_name": "mp3"}], "format": {}});
        assert!(parse(Path::new("a.mp3"), &json).unwrap_err().contains("no video stream"));
    }
}
