//! Recording live frames to a video file with ffmpeg (H.264), atomically: ffmpeg writes a
//! hidden temporary file next to the output (see [`crate::fsio::temp_in_same_dir`]) that
//! is renamed to the output only when the recording was finished cleanly, so a crash or
//! a failure never leaves a half-written file under the final name.
//!
//! Live frames come at an irregular rate (as fast as inference allows), so each frame
//! keeps its capture time (to the millisecond, through [`super::mkv`]) and the file has a
//! variable frame rate: it plays back at the speed the scene happened, with every frame
//! that was recorded.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Instant;

use image::RgbImage;

use super::mkv::MkvWriter;
use crate::error::{Error, Result};
use crate::{fsio, imageio};

/// The muxer for an output path, by its extension (the formats `nst video` writes).
fn muxer(path: &Path) -> Result<&'static str> {
    crate::ffmpeg::check_output(path)?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
    Ok(match ext.as_str() {
        "mov" => "mov",
        "mkv" => "matroska",
        _ => "mp4",
    })
}

/// The next `<stem>-NNN.<ext>` in `dir` that does not exist yet, counting on from
/// `counter` (which is advanced), so that names handed out in one run never repeat even
/// while earlier files are still being written.
pub fn next_free(dir: &Path, stem: &str, ext: &str, counter: &mut u32) -> PathBuf {
    loop {
        *counter += 1;
        let path = dir.join(format!("{stem}-{:03}.{ext}", *counter));
        if !path.exists() {
            return path;
        }
    }
}

/// A recording in progress.
pub struct Recorder {
    path: PathBuf,
    size: (u32, u32),
    temp: Option<tempfile::NamedTempFile>,
    child: Child,
    stdin: Option<MkvWriter<ChildStdin>>,
    stderr: Option<std::thread::JoinHandle<String>>,
    frames: u64,
    start: Instant,
}

impl Recorder {
    /// Starts ffmpeg for `width`x`height` RGB frames into a temporary file next to `path`.
    pub fn start(path: &Path, width: u32, height: u32) -> Result<Self> {
        let muxer = muxer(path)?;
        let write_err = |reason: String| Error::Write { path: path.to_path_buf(), reason };
        if path.is_dir() {
            return Err(write_err("is a folder; give a file name such as out.mp4".into()));
        }
        let temp = fsio::temp_in_same_dir(path).map_err(|e| write_err(format!("cannot create a file in its folder: {e}")))?;
        let mut cmd = Command::new(crate::ffmpeg::FFMPEG);
        cmd.args(["-nostdin", "-hide_banner", "-loglevel", "error"]);
        cmd.args(["-f", "matroska", "-i", "pipe:0"]);
        // H.264 in 4:2:0 needs even sides: pad an odd one by a pixel.
        cmd.args(["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2,scale=out_color_matrix=bt709:out_range=tv,format=yuv420p"]);
        cmd.args(["-c:v", "libx264", "-preset", "veryfast", "-crf", "20"]);
        cmd.args(["-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv"]);
        // Every frame, at its own time (millisecond time base).
        cmd.args(["-vsync", "passthrough", "-enc_time_base", "-1"]);
        if muxer != "matroska" {
            cmd.args(["-movflags", "+faststart"]);
        }
        cmd.args(["-f", muxer, "-y"]).arg(temp.path());
        cmd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped());
        // Out of the terminal's process group: Ctrl-C reaches nst, which then finishes the
        // recording itself.
        cmd.process_group(0);
        let mut child = cmd.spawn().map_err(|e| crate::ffmpeg::spawn_error(crate::ffmpeg::FFMPEG, e))?;
        let mut stderr = child.stderr.take().expect("ffmpeg's stderr is piped");
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let stdin = child.stdin.take().expect("ffmpeg's stdin is piped");
        let mut rec = Self {
            path: path.to_path_buf(),
            size: (width, height),
            temp: Some(temp),
            child,
            stdin: None,
            stderr: Some(stderr),
            frames: 0,
            start: Instant::now(),
        };
        match MkvWriter::new(stdin, width, height) {
            Ok(writer) => rec.stdin = Some(writer),
            Err(e) => return Err(rec.encoder_stopped(e)),
        }
        Ok(rec)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Hands a frame captured at `captured` to ffmpeg (resized first if it is not the
    /// recording's size).
    pub fn write(&mut self, frame: &RgbImage, captured: Instant) -> Result<()> {
        let resized;
        let frame = if frame.dimensions() == self.size {
            frame
        } else {
            resized = imageio::resize_fast(frame, self.size.0, self.size.1);
            &resized
        };
        let ms = captured.saturating_duration_since(self.start).as_millis() as u64;
        let writer = self.stdin.as_mut().expect("the encoder's input is there until finish");
        if let Err(e) = writer.frame(ms, frame.as_raw()) {
            return Err(self.encoder_stopped(e));
        }
        self.frames += 1;
        Ok(())
    }

    /// The error for an encoder that no longer takes frames: its own messages say why.
    fn encoder_stopped(&mut self, e: std::io::Error) -> Error {
        self.stdin = None;
        let _ = self.child.wait();
        let stderr = self.stderr.take().and_then(|t| t.join().ok()).unwrap_or_default();
        let reason = crate::ffmpeg::reason(&stderr, self.temp_path()).unwrap_or_else(|| e.to_string());
        Error::Write { path: self.path.clone(), reason: format!("the encoder stopped: {reason}") }
    }

    fn temp_path(&self) -> &Path {
        self.temp.as_ref().map(|t| t.path()).unwrap_or(&self.path)
    }

    /// Ends the recording: ffmpeg finishes the file, which is then synced and renamed to
    /// the output. Returns the number of frames. On failure nothing is left behind.
    pub fn finish(mut self) -> Result<u64> {
        let write_err = |reason: String| Error::Write { path: self.path.clone(), reason };
        drop(self.stdin.take());
        let status = self.child.wait().map_err(|e| write_err(format!("waiting for ffmpeg: {e}")))?;
        let stderr = self.stderr.take().and_then(|t| t.join().ok()).unwrap_or_default();
        if !status.success() {
            let reason = crate::ffmpeg::reason(&stderr, self.temp_path()).unwrap_or_else(|| format!("ffmpeg failed ({status})"));
            return Err(write_err(format!("the encoder failed: {reason}")));
        }
        if self.frames == 0 {
            return Err(write_err("no frame was recorded, so no file was written".into()));
        }
        let temp = self.temp.take().expect("the temporary file is there until finish");
        std::fs::File::open(temp.path()).and_then(|f| f.sync_all()).map_err(|e| write_err(format!("cannot sync the recording: {e}")))?;
        temp.persist(&self.path).map_err(|e| write_err(format!("cannot rename the finished recording: {}", e.error)))?;
        Ok(self.frames)
    }
}

impl Drop for Recorder {
    /// A recording that was not finished (an error, a panic) is thrown away: ffmpeg is
    /// stopped and the temporary file deleted.
    fn drop(&mut self) {
        if self.temp.is_some() {
            drop(self.stdin.take());
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_unknown_containers_and_missing_folders_early() {
        let dir = tempfile::tempdir().unwrap();
        let err = Recorder::start(&dir.path().join("out.avi"), 32, 24).err().unwrap();
        assert!(matches!(err, Error::UnsupportedVideoOutput { .. }), "{err}");
        let err = Recorder::start(&dir.path().join("missing/out.mp4"), 32, 24).err().unwrap();
        assert!(err.to_string().contains("missing/out.mp4"), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn unfinished_or_empty_recordings_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("a.mp4");
        let mut rec = Recorder::start(&out, 32, 24).unwrap();
        rec.write(&RgbImage::new(32, 24), Instant::now()).unwrap();
        drop(rec); // as on an error or a panic
        let rec = Recorder::start(&out, 32, 24).unwrap();
        assert!(rec.finish().is_err(), "no frame: no file");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing left behind");
    }

    #[test]
    fn finished_recording_is_renamed_into_place() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("a.mkv");
        let mut rec = Recorder::start(&out, 33, 25).unwrap();
        let t0 = Instant::now();
        for i in 0..3u8 {
            // Two frames with the same time, and one out of order: all are kept.
            let at = t0 + std::time::Duration::from_millis([40, 40, 10][i as usize]);
            rec.write(&RgbImage::from_pixel(33, 25, image::Rgb([i * 80, 100, 50])), at).unwrap();
        }
        // A frame of another size is resized.
        rec.write(&RgbImage::new(20, 20), t0 + std::time::Duration::from_millis(500)).unwrap();
        assert_eq!(rec.finish().unwrap(), 4);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.mkv")], "no temporary file left");
        let probe = Command::new(crate::ffmpeg::FFPROBE)
            .args(["-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"])
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&probe.stdout).trim(), "4", "every frame is in the file");
        let mut counter = 0;
        std::fs::write(dir.path().join("a-002.png"), b"x").unwrap();
        assert_eq!(next_free(dir.path(), "a", "png", &mut counter), dir.path().join("a-001.png"));
        assert_eq!(next_free(dir.path(), "a", "png", &mut counter), dir.path().join("a-003.png"));
    }
}
