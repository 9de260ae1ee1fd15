//! Where live frames come from: a synthetic moving test pattern (runs anywhere), a
//! camera ([`super::camera`], nokhwa), or a video file played back in real time (ffmpeg,
//! through [`crate::video`]).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout};
use std::str::FromStr;
use std::time::{Duration, Instant};

use image::{Rgb, RgbImage};

use crate::error::{Error, Result};
use crate::video;

/// A source of frames for `nst live`. A source stays on the thread that opened it (some
/// camera backends require that), so it need not be `Send`: see [`Opener`].
pub trait Source {
    /// What it is, for messages ("test pattern", "camera 0 (HD Webcam)", a file name).
    fn describe(&self) -> String;
    /// The size of its frames.
    fn size(&self) -> (u32, u32);
    /// The rate it delivers frames at, when it has one.
    fn frame_rate(&self) -> Option<f64>;
    /// The next frame, delivered at the source's own pace (a camera's rate, a file's
    /// frame rate); `Ok(None)` when it has ended (end of a file).
    fn next_frame(&mut self) -> Result<Option<RgbImage>>;
    /// The next frame, as [`Self::next_frame`], with its conversion to RGB possibly left
    /// to whoever uses it: the live pipeline drops the frames inference has no time for,
    /// and those are then never converted. By default the frame is converted here.
    fn next_captured(&mut self) -> Result<Option<Captured>> {
        Ok(self.next_frame()?.map(Captured::Ready))
    }
    /// How long to wait for a frame before deciding the source is stuck (a camera that
    /// stops delivering without an error).
    fn stall_timeout(&self) -> Duration {
        Duration::from_secs(5)
    }
}

/// A frame just captured: already RGB, or raw data with the conversion still to do.
pub enum Captured {
    Ready(RgbImage),
    Later(Box<dyn FnOnce() -> Result<RgbImage> + Send>),
}

impl Captured {
    /// The RGB picture (converting it now if that was left for later).
    pub fn into_image(self) -> Result<RgbImage> {
        match self {
            Captured::Ready(image) => Ok(image),
            Captured::Later(convert) => convert(),
        }
    }
}

/// Opens a source on the capture thread.
pub type Opener = Box<dyn FnOnce() -> Result<Box<dyn Source>> + Send>;

/// An [`Opener`] for a source that already exists.
pub fn ready<S: Source + Send + 'static>(source: S) -> Opener {
    Box::new(move || Ok(Box::new(source)))
}

/// `--source`: `test`, `camera` / `camera:N`, or a video file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    Test,
    Camera(u32),
    File(PathBuf),
}

impl FromStr for SourceSpec {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "test" => return Ok(Self::Test),
            "camera" => return Ok(Self::Camera(0)),
            _ => {}
        }
        if let Some(n) = s.strip_prefix("camera:") {
            return n
                .parse()
                .map(Self::Camera)
                .map_err(|_| format!("'{s}': the camera number must be a whole number, as in camera:0 (see `nst devices`)"));
        }
        if s.is_empty() {
            return Err("an empty source: use test, camera:N or a video file".into());
        }
        Ok(Self::File(PathBuf::from(s)))
    }
}

impl std::fmt::Display for SourceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Test => f.write_str("test"),
            Self::Camera(n) => write!(f, "camera:{n}"),
            Self::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// `--resolution WxH`.
pub fn parse_resolution(s: &str) -> std::result::Result<(u32, u32), String> {
    let bad = || format!("'{s}' is not a resolution: use WIDTHxHEIGHT, as in 640x480");
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let (w, h): (u32, u32) = (w.trim().parse().map_err(|_| bad())?, h.trim().parse().map_err(|_| bad())?);
    if !(16..=7680).contains(&w) || !(16..=4320).contains(&h) {
        return Err(format!("resolution {w}x{h} is out of range: each side from 16 to 7680x4320"));
    }
    Ok((w, h))
}

/// Opens a source. `resolution` is what a camera is asked for, the test pattern's size,
/// and the box a video file is scaled into (keeping its aspect ratio); `rate` sets the
/// test pattern's frame rate (30 when `None`).
pub fn open(spec: &SourceSpec, resolution: (u32, u32), rate: Option<f64>) -> Result<Box<dyn Source>> {
    match spec {
        SourceSpec::Test => Ok(Box::new(TestPattern::new(resolution.0, resolution.1, rate.unwrap_or(30.0))?)),
        SourceSpec::Camera(index) => Ok(Box::new(super::camera::CameraSource::open(*index, resolution)?)),
        SourceSpec::File(path) => Ok(Box::new(FileSource::open(path, resolution)?)),
    }
}

/// Keeps a steady frame rate: waits until each frame is due, and after falling behind
/// (a slow decode, a stalled machine) starts again from now rather than bursting.
#[derive(Debug)]
pub struct Pacer {
    period: Duration,
    next: Option<Instant>,
}

impl Pacer {
    pub fn new(rate: f64) -> Self {
        Self { period: Duration::from_secs_f64(1.0 / rate.max(0.001)), next: None }
    }

    /// Sleeps until the next frame is due.
    pub fn wait(&mut self) {
        let now = Instant::now();
        let due = self.next.unwrap_or(now);
        if due > now {
            std::thread::sleep(due - now);
        }
        let base = if now > due + self.period { now } else { due };
        self.next = Some(base + self.period);
    }
}

/// A synthetic moving picture: a scrolling colour gradient with a checker texture and a
/// bouncing disc. Deterministic (frame `n` is always the same picture), cheap to make,
/// and detailed enough for a style network to show its style.
pub struct TestPattern {
    width: u32,
    height: u32,
    rate: f64,
    frame: u64,
    pacer: Pacer,
}

impl TestPattern {
    pub fn new(width: u32, height: u32, rate: f64) -> Result<Self> {
        if !(rate > 0.0 && rate <= 1000.0) {
            return Err(Error::Parameter(format!("the test pattern's frame rate must be between 0 and 1000, got {rate}")));
        }
        Ok(Self { width, height, rate, frame: 0, pacer: Pacer::new(rate) })
    }

    /// The disc of frame `n`: its centre and radius (it bounces between the edges).
    fn disc(w: u32, h: u32, n: u64) -> (f32, f32, f32) {
        let t = n as f32;
        let radius = (w.min(h) as f32 * 0.12).max(2.0);
        let bounce = |pos: f32, span: f32| {
            let span = (span - 2.0 * radius).max(1.0);
            let p = pos % (2.0 * span);
            radius + if p < span { p } else { 2.0 * span - p }
        };
        (bounce(t * 7.0, w as f32), bounce(t * 5.0 + h as f32 * 0.3, h as f32), radius)
    }

    /// Frame `n` of a `w`x`h` pattern: a colour wave scrolling under a checkerboard and a
    /// bouncing disc. Cheap (about a third of a millisecond at 640x480): it runs on the
    /// inference thread for every frame, where a camera's frame would be converted, so it
    /// is written as per-column tables and a row loop that vectorises, with the disc drawn
    /// over its own box afterwards.
    pub fn render(w: u32, h: u32, n: u64) -> RgbImage {
        let (cx, cy, radius) = Self::disc(w, h, n);
        let shift = (n % w.max(1) as u64) as u32 * 4;
        // Per column: the scrolling wave's red (without and with the checker's 28), the
        // blue's weight, and which checker column it is in.
        let mut red = [Vec::with_capacity(w as usize), Vec::with_capacity(w as usize)];
        let (mut blue, mut column_odd) = (Vec::with_capacity(w as usize), Vec::with_capacity(w as usize));
        for x in 0..w {
            let xs = x + shift;
            let fx = (xs % w) as f32 / w as f32;
            let wave = 0.5 + 0.5 * (fx * std::f32::consts::TAU * 2.0).sin();
            red[0].push((200.0 * wave) as u8);
            red[1].push((200.0 * wave + 28.0) as u8);
            blue.push(160.0 * (1.0 - wave));
            column_odd.push((xs / 16) & 1);
        }
        let mut img = RgbImage::new(w, h);
        for (y, row) in img.as_mut().chunks_exact_mut(3 * w as usize).enumerate() {
            let fy = y as f32 / h as f32;
            let row_odd = (y as u32 / 16) & 1;
            let green = [(40.0 + 170.0 * fy) as u8, (40.0 + 170.0 * fy + 28.0 * 0.5) as u8];
            pattern_row(row, Columns { odd: &column_odd, red: [&red[0], &red[1]], blue: &blue }, row_odd, green, 1.0 - fy);
        }
        // The disc: a grey ring round a bright centre, over the rows and columns it covers.
        let (r2_outer, r2_inner) = (radius * radius, (radius * 0.8) * (radius * 0.8));
        let span = |c: f32, size: u32| ((c - radius).floor().max(0.0) as u32, ((c + radius).ceil() as u32 + 1).min(size));
        let ((x0, x1), (y0, y1)) = (span(cx, w), span(cy, h));
        for y in y0..y1 {
            let dy2 = (y as f32 - cy) * (y as f32 - cy);
            for x in x0..x1 {
                let d2 = (x as f32 - cx) * (x as f32 - cx) + dy2;
                if d2 < r2_outer {
                    let v = if d2 > r2_inner { 40 } else { 240 };
                    img.put_pixel(x, y, Rgb([v, v, v]));
                }
            }
        }
        img
    }
}

/// The test pattern's per-column tables.
struct Columns<'a> {
    odd: &'a [u32],
    red: [&'a [u8]; 2],
    blue: &'a [f32],
}

/// One row of the test pattern without the disc (vectorised with AVX2 where there is one).
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn pattern_row(row: &mut [u8], columns: Columns, row_odd: u32, green: [u8; 2], blue_row: f32) {
    let Columns { odd, red: [red0, red1], blue } = columns;
    for ((((px, &odd), &r0), &r1), &bw) in row.chunks_exact_mut(3).zip(odd).zip(red0).zip(red1).zip(blue) {
        // The checker is on where the column's and the row's parities agree.
        let on = (odd ^ row_odd) == 0;
        px[0] = if on { r1 } else { r0 };
        px[1] = if on { green[1] } else { green[0] };
        let b = 60.0 + bw * blue_row + if on { 28.0 } else { 0.0 };
        // SAFETY: `bw` is in 0..=160 and `blue_row` in 0..=1, so `b` is in 60..=248 (a
        // checked `as u8` would keep the loop from vectorising).
        px[2] = unsafe { b.to_int_unchecked::<i32>() } as u8;
    }
}

impl Source for TestPattern {
    fn describe(&self) -> String {
        format!("test pattern {}x{} at {} fps", self.width, self.height, self.rate)
    }

    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn frame_rate(&self) -> Option<f64> {
        Some(self.rate)
    }

    fn stall_timeout(&self) -> Duration {
        Duration::from_secs_f64((3.0 / self.rate).max(5.0))
    }

    fn next_frame(&mut self) -> Result<Option<RgbImage>> {
        self.next_captured()?.map(Captured::into_image).transpose()
    }

    /// The picture is drawn only if the frame is used (like a camera frame's conversion).
    fn next_captured(&mut self) -> Result<Option<Captured>> {
        self.pacer.wait();
        let (w, h, n) = (self.width, self.height, self.frame);
        self.frame += 1;
        Ok(Some(Captured::Later(Box::new(move || Ok(Self::render(w, h, n))))))
    }
}

/// The size a `w`x`h` video is shown at inside a `box_w`x`box_h` box: the largest that
/// fits, keeping the aspect ratio, with even sides (H.264 recordings need them).
pub fn fit_in_box(w: u32, h: u32, box_w: u32, box_h: u32) -> (u32, u32) {
    let scale = (box_w as f64 / w.max(1) as f64).min(box_h as f64 / h.max(1) as f64);
    let even = |v: f64| ((v.round() as u32) & !1).max(2);
    (even(w as f64 * scale), even(h as f64 * scale))
}

/// A video file decoded by ffmpeg and delivered at its own frame rate, like a camera.
pub struct FileSource {
    path: PathBuf,
    width: u32,
    height: u32,
    rate: f64,
    child: Child,
    stdout: ChildStdout,
    stderr: Option<std::thread::JoinHandle<String>>,
    pacer: Pacer,
    frames: u64,
    ended: bool,
}

impl FileSource {
    pub fn open(path: &Path, resolution: (u32, u32)) -> Result<Self> {
        let info = video::probe(path)?;
        let (dw, dh) = info.display_size();
        let (width, height) = fit_in_box(dw, dh, resolution.0, resolution.1);
        let rate = info.frame_rate.as_f64();
        let mut child = video::ffmpeg::decoder(&info, video::Span::default(), width, height, video::Decoding::Conceal)
            .spawn()
            .map_err(|e| crate::ffmpeg::spawn_error(crate::ffmpeg::FFMPEG, e))?;
        let stdout = child.stdout.take().expect("the decoder's stdout is piped");
        let mut stderr = child.stderr.take().expect("the decoder's stderr is piped");
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        tracing::debug!("{}: {dw}x{dh} at {rate:.3} fps, shown at {width}x{height}", path.display());
        Ok(Self {
            path: path.to_path_buf(),
            width,
            height,
            rate,
            child,
            stdout,
            stderr: Some(stderr),
            pacer: Pacer::new(rate),
            frames: 0,
            ended: false,
        })
    }

    /// ffmpeg's exit status and messages once its output has ended.
    fn finish(&mut self) -> Result<()> {
        self.ended = true;
        let status = self.child.wait().map_err(|e| Error::Tool(format!("waiting for ffmpeg: {e}")))?;
        let stderr = self.stderr.take().and_then(|t| t.join().ok()).unwrap_or_default();
        let damage = video::Damage::of_text(&stderr, &self.path);
        if !status.success() || self.frames == 0 {
            let said = damage.said();
            let reason =
                if status.success() { format!("no frame could be decoded{said}") } else { format!("ffmpeg failed ({status}){said}") };
            return Err(Error::VideoDecode { path: self.path.clone(), reason });
        }
        if !damage.is_empty() {
            tracing::warn!("{}: {}", self.path.display(), damage.summary());
        }
        Ok(())
    }
}

impl Source for FileSource {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn frame_rate(&self) -> Option<f64> {
        Some(self.rate)
    }

    fn stall_timeout(&self) -> Duration {
        Duration::from_secs_f64((3.0 / self.rate).max(5.0))
    }

    fn next_frame(&mut self) -> Result<Option<RgbImage>> {
        if self.ended {
            return Ok(None);
        }
        let mut buf = vec![0u8; (self.width * self.height * 3) as usize];
        let mut filled = 0;
        while filled < buf.len() {
            match self.stdout.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::VideoDecode { path: self.path.clone(), reason: format!("reading ffmpeg's output: {e}") }),
            }
        }
        if filled < buf.len() {
            self.finish()?;
            if filled > 0 {
                tracing::warn!("{}: the last frame was incomplete and is left out", self.path.display());
            }
            return Ok(None);
        }
        self.pacer.wait();
        self.frames += 1;
        Ok(Some(RgbImage::from_raw(self.width, self.height, buf).expect("buffer sized for the frame")))
    }
}

impl Drop for FileSource {
    fn drop(&mut self) {
        if !self.ended {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sources_and_resolutions() {
        assert_eq!("test".parse::<SourceSpec>().unwrap(), SourceSpec::Test);
        assert_eq!("camera".parse::<SourceSpec>().unwrap(), SourceSpec::Camera(0));
        assert_eq!("camera:2".parse::<SourceSpec>().unwrap(), SourceSpec::Camera(2));
        assert!("camera:x".parse::<SourceSpec>().unwrap_err().contains("whole number"));
        assert_eq!("clip.mp4".parse::<SourceSpec>().unwrap(), SourceSpec::File("clip.mp4".into()));
        assert_eq!(parse_resolution("640x480").unwrap(), (640, 480));
        assert_eq!(parse_resolution("1280X720").unwrap(), (1280, 720));
        assert!(parse_resolution("640").is_err());
        assert!(parse_resolution("0x480").unwrap_err().contains("out of range"));
    }

    #[test]
    fn test_pattern_moves_and_is_deterministic() {
        let a = TestPattern::render(64, 48, 0);
        let b = TestPattern::render(64, 48, 5);
        assert_eq!(a, TestPattern::render(64, 48, 0));
        let changed = a.as_raw().iter().zip(b.as_raw()).filter(|(p, q)| p != q).count();
        assert!(changed > a.as_raw().len() / 4, "the pattern should move: {changed} values changed");
        let distinct: std::collections::HashSet<_> = a.pixels().map(|p| p.0).collect();
        assert!(distinct.len() > 50, "the pattern should not be flat");
    }

    /// The pattern as first written, pixel by pixel (the disc's path aside): the fast
    /// [`TestPattern::render`] must draw exactly this.
    fn reference_render(w: u32, h: u32, n: u64) -> RgbImage {
        let (cx, cy, radius) = TestPattern::disc(w, h, n);
        let shift = (n % w.max(1) as u64) as u32 * 4;
        RgbImage::from_fn(w, h, |x, y| {
            let d2 = (x as f32 - cx) * (x as f32 - cx) + (y as f32 - cy) * (y as f32 - cy);
            if d2 < radius * radius {
                let v = if d2 > (radius * 0.8) * (radius * 0.8) { 40 } else { 240 };
                return Rgb([v, v, v]);
            }
            let xs = x + shift;
            let wave = 0.5 + 0.5 * ((xs % w) as f32 / w as f32 * std::f32::consts::TAU * 2.0).sin();
            let fy = y as f32 / h as f32;
            let checker = if (xs / 16 + y / 16) & 1 == 0 { 28.0 } else { 0.0 };
            Rgb([
                (200.0 * wave + checker) as u8,
                (40.0 + 170.0 * fy + checker * 0.5) as u8,
                (60.0 + 160.0 * (1.0 - wave) * (1.0 - fy) + checker) as u8,
            ])
        })
    }

    #[test]
    fn the_fast_test_pattern_draws_the_reference_picture() {
        for (w, h) in [(640, 480), (33, 17), (5, 3), (1, 1)] {
            for n in [0, 1, 7, 93, 1000] {
                assert!(TestPattern::render(w, h, n) == reference_render(w, h, n), "{w}x{h} frame {n}");
            }
        }
    }

    #[test]
    fn test_source_keeps_its_rate() {
        let mut src = TestPattern::new(32, 24, 100.0).unwrap();
        let start = Instant::now();
        for _ in 0..11 {
            assert_eq!(src.next_frame().unwrap().unwrap().dimensions(), (32, 24));
        }
        // 10 periods of 10 ms after the first frame.
        assert!(start.elapsed() >= Duration::from_millis(95), "{:?}", start.elapsed());
        assert!(TestPattern::new(32, 24, 0.0).is_err());
    }

    #[test]
    fn videos_fit_their_box_with_even_sides() {
        assert_eq!(fit_in_box(768, 576, 640, 480), (640, 480));
        assert_eq!(fit_in_box(1920, 1080, 640, 480), (640, 360));
        assert_eq!(fit_in_box(720, 1280, 640, 480), (270, 480));
        assert_eq!(fit_in_box(321, 241, 321, 241), (320, 240));
    }
}
