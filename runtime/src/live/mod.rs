//! `nst live`: frames from a camera, a video file or a test pattern, stylized as they
//! come and shown in a window (or recorded, headless).
//!
//! Three threads, joined by one-slot channels that keep only the newest frame
//! ([`latest`]):
//!
//! ```text
//!  capture ──latest──> inference ──latest──> display / record (this thread)
//!  (Source)            (Stylizer)            (window.rs, record.rs, stats.rs)
//! ```
//!
//! When inference is slower than the source, the frames it has no time for are dropped
//! (and counted) instead of queued, so the picture on screen is always the newest one the
//! network could make and the latency never builds up. Each frame carries the time it was
//! captured; latency is the time it reached the screen (or the recording, headless)
//! minus that.
//!
//! - [`source`]: the [`Source`] trait, the test pattern and video files; [`camera`]:
//!   cameras (nokhwa) and `nst devices`.
//! - [`window`]: the minifb window, letterboxing, keys; [`overlay`]: FPS/latency text.
//! - [`record`]: H.264 recording through ffmpeg, written atomically; [`mkv`]: how the
//!   frames reach ffmpeg with their times.
//! - [`stats`]: FPS and latency (mean, p95).
//!
//! Faults end the run with a message, never a panic or a hang: the recording is
//! finished (or, if the encoder failed, thrown away) before returning; a camera that stops
//! delivering frames is noticed by a watchdog.

pub mod camera;
pub mod latest;
pub mod mkv;
pub mod overlay;
pub mod record;
pub mod source;
pub mod stats;
pub mod window;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use image::RgbImage;

pub use source::{open as open_source, parse_resolution, ready, Captured, Opener, Source, SourceSpec, TestPattern};
pub use stats::Summary;

use crate::error::{Error, Result};
use crate::imageio;
use crate::model::StyleModel;
use latest::Recv;
use record::Recorder;

/// Something that turns a frame into a stylized frame of the same size.
pub trait Stylizer: Send {
    fn name(&self) -> String;
    fn stylize(&mut self, frame: &RgbImage) -> Result<RgbImage>;

    /// The picture size (longer side) at which the style paints as intended, when it
    /// says (see [`crate::contract::ModelInfo::reference_side`]).
    fn reference_side(&self) -> Option<u32> {
        None
    }

    /// The network alone on a planar (CHW, 0-255) frame: what `--raw-inference` times.
    fn stylize_planar(&mut self, chw: Vec<f32>, w: u32, h: u32) -> Result<Vec<f32>> {
        Ok(imageio::to_chw(&self.stylize(&imageio::from_chw(&chw, w, h))?))
    }
}

impl Stylizer for StyleModel {
    /// The file's name without `.onnx`: the bundled style's name (a blend's recipe).
    fn name(&self) -> String {
        self.path().and_then(|p| p.file_stem()).map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| self.info().style_name.clone())
    }

    fn stylize(&mut self, frame: &RgbImage) -> Result<RgbImage> {
        StyleModel::stylize(self, frame)
    }

    fn reference_side(&self) -> Option<u32> {
        Some(self.info().reference_side())
    }

    fn stylize_planar(&mut self, chw: Vec<f32>, w: u32, h: u32) -> Result<Vec<f32>> {
        if w.min(h) < self.info().min_side {
            return Ok(imageio::to_chw(&StyleModel::stylize(self, &imageio::from_chw(&chw, w, h))?));
        }
        self.run_chw(chw, w, h)
    }
}

/// Steps between one style and the next for the blend keys (`b`, `v`): quarters.
pub const BLEND_STEPS: u32 = 4;

/// Makes a blend of two of the loaded styles: indices into the stylizers and the share
/// of the second (`nst live` blends in weight space where the networks allow it).
pub type Blender = Box<dyn FnMut(usize, usize, f32) -> Result<Box<dyn Stylizer>> + Send>;

/// The styles of a run and, optionally, how to blend two of them.
pub struct Styles {
    pub stylizers: Vec<Box<dyn Stylizer>>,
    pub blender: Option<Blender>,
}

impl From<Vec<Box<dyn Stylizer>>> for Styles {
    fn from(stylizers: Vec<Box<dyn Stylizer>>) -> Self {
        Self { stylizers, blender: None }
    }
}

/// The stylizers on the inference thread, with the blend made last (blends are made
/// when first asked for, from the two styles' files).
struct Playing {
    stylizers: Vec<Box<dyn Stylizer>>,
    blender: Option<Blender>,
    /// (style, blend step) of `blended`.
    blended: Option<((usize, u32), Box<dyn Stylizer>)>,
    /// Blends that could not be made (said once each).
    failed: Vec<(usize, u32)>,
}

impl Playing {
    /// The stylizer for `style` blended `step` quarters towards the next style, and the
    /// step actually used (0 when no blend can be made).
    fn current(&mut self, style: usize, step: u32) -> (&mut dyn Stylizer, u32) {
        let n = self.stylizers.len();
        let key = (style, step);
        if step > 0 && n > 1 && !self.failed.contains(&key) {
            if self.blended.as_ref().is_none_or(|(k, _)| *k != key) {
                self.blended = None;
                if let Some(blender) = self.blender.as_mut() {
                    let share = step as f32 / BLEND_STEPS as f32;
                    let started = Instant::now();
                    match blender(style, (style + 1) % n, share) {
                        Ok(made) => {
                            tracing::info!("blend {} made in {:.0} ms", made.name(), started.elapsed().as_secs_f64() * 1e3);
                            self.blended = Some((key, made));
                        }
                        Err(e) => {
                            tracing::warn!("cannot blend these styles: {e}");
                            self.failed.push(key);
                        }
                    }
                }
            }
            if let Some((_, made)) = self.blended.as_mut() {
                return (made.as_mut(), step);
            }
        }
        (self.stylizers[style % n].as_mut(), 0)
    }
}

/// A style, or a blend of it with the next one, for people: "a 75% + b 25%".
fn style_label(names: &[String], style: usize, step: u32) -> String {
    if step == 0 || names.len() < 2 {
        return names[style].clone();
    }
    let second = 100 * step / BLEND_STEPS;
    format!("{} {}% + {} {second}%", names[style], 100 - second, names[(style + 1) % names.len()])
}

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    NextStyle,
    PreviousStyle,
    /// Blend a step further towards the next style (`b`).
    BlendForward,
    /// Blend a step back towards the previous style (`v`).
    BlendBack,
    /// More detail (a larger inference size).
    ScaleUp,
    /// More speed (a smaller inference size).
    ScaleDown,
    Mirror,
    /// The original beside the stylized picture.
    SideBySide,
    Snapshot,
    /// Start or stop recording.
    Record,
    Overlay,
    Quit,
}

/// How long opening a source (a camera, ffmpeg) may take.
const OPEN_TIMEOUT: Duration = Duration::from_secs(30);

/// With the automatic scale, frames up to this many times the style's reference side
/// run whole; larger ones at the reference side (see [`auto_run_size`]).
pub const AUTO_WHOLE_UP_TO: f32 = 1.5;

/// The size the network runs at, with the automatic scale, for a `w`x`h` frame and a
/// style whose reference side is `reference`: the frame itself up to
/// [`AUTO_WHOLE_UP_TO`] times the reference side (640x480 for the bundled styles: every
/// pixel), else the frame scaled to the reference side (1280x720 runs at 512x288, with
/// the strokes the size `nst stylize` gives them; the frame's own detail is put back,
/// see [`crate::stroke::guided_upsample_from`]).
pub fn auto_run_size(w: u32, h: u32, reference: Option<u32>) -> (u32, u32) {
    match reference {
        Some(r) if w.max(h) as f32 > AUTO_WHOLE_UP_TO * r as f32 => imageio::fit_size(w, h, r),
        _ => (w, h),
    }
}

/// The inference scale moves in eighths of the frame size, from 2/8 to 8/8.
const SCALE_MIN: u32 = 2;
const SCALE_MAX: u32 = 8;

/// Settings the display thread changes and the inference thread reads, frame by frame.
#[derive(Debug)]
struct Controls {
    style: AtomicUsize,
    /// Blend towards the next style, in steps of 1/[`BLEND_STEPS`] (0: the style alone).
    blend: AtomicU32,
    /// Inference scale in eighths (when not `auto_scale`).
    scale: AtomicU32,
    /// The automatic scale ([`auto_run_size`]), until a key changes the scale.
    auto_scale: AtomicBool,
    /// The scale the last frame ran at, in eighths (rounded): where the keys start from
    /// the automatic scale.
    last_eighths: AtomicU32,
    mirror: AtomicBool,
    side_by_side: AtomicBool,
}

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Stop after this many frames shown (recorded, headless).
    pub frames: Option<u64>,
    /// No window: frames go to the recording (if any) and the statistics.
    pub headless: bool,
    /// Record from the start to this file.
    pub record: Option<PathBuf>,
    /// Where snapshots (and recordings started with `r` when `record` is not given) go.
    pub snapshot_dir: PathBuf,
    /// The style to start with (index into the stylizers).
    pub style: usize,
    /// Inference scale, 0.25 to 1 (rounded to eighths); `None`: automatic (see
    /// [`auto_run_size`]).
    pub scale: Option<f32>,
    pub mirror: bool,
    pub side_by_side: bool,
    pub overlay: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            frames: None,
            headless: false,
            record: None,
            snapshot_dir: PathBuf::from("."),
            style: 0,
            scale: None,
            mirror: false,
            side_by_side: false,
            overlay: true,
        }
    }
}

impl Options {
    pub fn validate(&self) -> Result<()> {
        if let Some(scale) = self.scale.filter(|s| !(0.25..=1.0).contains(s)) {
            return Err(Error::Parameter(format!("--scale must be auto or between 0.25 and 1, got {scale}")));
        }
        if self.frames == Some(0) {
            return Err(Error::Parameter("--frames must be at least 1".into()));
        }
        Ok(())
    }

    fn scale_eighths(&self) -> u32 {
        ((self.scale.unwrap_or(1.0) * 8.0).round() as u32).clamp(SCALE_MIN, SCALE_MAX)
    }
}

/// Why a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// `--frames` were shown.
    FrameLimit,
    /// The video file ended.
    SourceEnded,
    /// `q`, Esc or the window closed.
    Quit,
    /// Ctrl-C.
    Interrupted,
    /// An error (in [`Report::error`]).
    Failed,
}

/// What a run did.
#[derive(Debug)]
pub struct Report {
    pub summary: Summary,
    pub ending: Ending,
    /// Finished recordings and their frame counts.
    pub recordings: Vec<(PathBuf, u64)>,
    pub snapshots: Vec<PathBuf>,
    /// What ended the run, when something failed. Recordings were finished first.
    pub error: Option<Error>,
}

/// A captured frame (converted to RGB only once inference takes it).
struct Frame {
    image: Captured,
    captured: Instant,
}

/// A stylized frame on its way to the display.
struct Styled {
    stylized: RgbImage,
    /// The (mirrored) original, when side by side is on.
    original: Option<RgbImage>,
    captured: Instant,
    inference: Duration,
    /// The size the network ran at.
    run: (u32, u32),
    style: usize,
    /// Blend step used (see [`Controls::blend`]).
    blend: u32,
}

/// The first error of any thread.
#[derive(Clone, Default)]
struct ErrorSlot(Arc<Mutex<Option<Error>>>);

impl ErrorSlot {
    fn set(&self, e: Error) {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(e);
        }
    }

    fn take(&self) -> Option<Error> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// Cheap checks to run before loading models: a display for a window, a camera with
/// that number, a video file that is there.
pub fn preflight(spec: &SourceSpec, headless: bool) -> Result<()> {
    if !headless && !window::display_available() {
        return Err(Error::Display(window::NO_DISPLAY.into()));
    }
    match spec {
        SourceSpec::Test => Ok(()),
        SourceSpec::Camera(index) => camera::check(*index),
        SourceSpec::File(path) => std::fs::metadata(path).map(|_| ()).map_err(|source| Error::Read { path: path.clone(), source }),
    }
}

/// Runs the live pipeline until the frame limit, the end of the source, `q`, an error
/// or `stop` (Ctrl-C). The source is opened by `open` on the capture thread. Set-up
/// failures (no camera, no display, a recording that cannot start) are returned as
/// errors; failures while running end up in [`Report::error`], after the recording has
/// been finished.
pub fn run(open: Opener, styles: impl Into<Styles>, options: &Options, stop: &AtomicBool) -> Result<Report> {
    let Styles { stylizers, blender } = styles.into();
    options.validate()?;
    if stylizers.is_empty() {
        return Err(Error::Parameter("no style model to run".into()));
    }
    if !options.headless && !window::display_available() {
        return Err(Error::Display(window::NO_DISPLAY.into()));
    }
    let names: Vec<String> = stylizers.iter().map(|s| s.name()).collect();
    let controls = Arc::new(Controls {
        style: AtomicUsize::new(options.style % stylizers.len()),
        blend: AtomicU32::new(0),
        scale: AtomicU32::new(options.scale_eighths()),
        auto_scale: AtomicBool::new(options.scale.is_none()),
        last_eighths: AtomicU32::new(options.scale_eighths()),
        mirror: AtomicBool::new(options.mirror),
        side_by_side: AtomicBool::new(options.side_by_side),
    });

    let errors = ErrorSlot::default();
    let halt = Arc::new(AtomicBool::new(false));
    let source_ended = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    // Milliseconds after t0 of the last captured frame (or the start), for the watchdog.
    let heartbeat = Arc::new(AtomicU64::new(0));
    let (frame_tx, frame_rx) = latest::latest::<Frame>();
    let (styled_tx, styled_rx) = latest::latest::<Styled>();

    // The capture thread opens the source and says how that went before it captures.
    let (opened_tx, opened_rx) = std::sync::mpsc::sync_channel::<Result<((u32, u32), String, Duration)>>(1);
    let capture = {
        let (errors, halt, ended, heartbeat) = (errors.clone(), halt.clone(), source_ended.clone(), heartbeat.clone());
        std::thread::Builder::new()
            .name("live-capture".into())
            .spawn(move || {
                let mut source = match open() {
                    Ok(source) => source,
                    Err(e) => {
                        let _ = opened_tx.send(Err(e));
                        return latest::Counts::default();
                    }
                };
                let _ = opened_tx.send(Ok((source.size(), source.describe(), source.stall_timeout())));
                heartbeat.store(t0.elapsed().as_millis() as u64, Ordering::Relaxed);
                while !halt.load(Ordering::Relaxed) && !frame_tx.is_closed() {
                    match source.next_captured() {
                        Ok(Some(image)) => {
                            let captured = Instant::now();
                            heartbeat.store(captured.duration_since(t0).as_millis() as u64, Ordering::Relaxed);
                            if frame_tx.send(Frame { image, captured }).is_err() {
                                break;
                            }
                        }
                        Ok(None) => {
                            ended.store(true, Ordering::Relaxed);
                            break;
                        }
                        Err(e) => {
                            errors.set(e);
                            break;
                        }
                    }
                }
                let counts = frame_tx.counts();
                drop(frame_tx);
                drop(source); // stops ffmpeg, releases the camera
                counts
            })
            .map_err(|e| Error::Runtime(format!("cannot start the capture thread: {e}")))?
    };
    // Opening can hang in a driver: do not wait forever (the thread is left behind).
    let ((width, height), description, stall_timeout) = match opened_rx.recv_timeout(OPEN_TIMEOUT) {
        Ok(Ok(opened)) => opened,
        Ok(Err(e)) => return Err(e),
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            halt.store(true, Ordering::Relaxed);
            return Err(Error::Camera(format!("the source did not open within {} s; giving up", OPEN_TIMEOUT.as_secs())));
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            return Err(Error::Runtime("the capture thread failed while opening the source".into()))
        }
    };
    // The rest of the set-up; if it fails, the capture thread is stopped first.
    let setup = || -> Result<(Option<window::LiveWindow>, Option<Recorder>)> {
        let window = if options.headless {
            None
        } else {
            let w = if options.side_by_side { 2 * width } else { width };
            Some(window::LiveWindow::open(&title(&names[controls.style.load(Ordering::Relaxed)]), w as usize, height as usize)?)
        };
        let recorder = match &options.record {
            Some(path) => Some(Recorder::start(path, width, height)?),
            None => None,
        };
        Ok((window, recorder))
    };
    let (mut window, mut recorder) = match setup() {
        Ok(done) => done,
        Err(e) => {
            halt.store(true, Ordering::Relaxed);
            drop(frame_rx);
            join_within(capture, Duration::from_secs(3), "capture");
            return Err(e);
        }
    };

    let can_blend = blender.is_some();
    let inference = {
        let (errors, halt, controls) = (errors.clone(), halt.clone(), controls.clone());
        let mut playing = Playing { stylizers, blender, blended: None, failed: Vec::new() };
        std::thread::Builder::new()
            .name("live-inference".into())
            .spawn(move || {
                loop {
                    // With a timeout, so that a capture thread stuck in a driver call
                    // cannot keep this one waiting after the run has ended.
                    let frame = match frame_rx.recv_timeout(Duration::from_millis(100)) {
                        Recv::Value(frame) => frame,
                        Recv::Timeout => {
                            if halt.load(Ordering::Relaxed) {
                                break;
                            }
                            continue;
                        }
                        Recv::Closed => break,
                    };
                    if halt.load(Ordering::Relaxed) {
                        break;
                    }
                    match stylize_frame(&mut playing, &controls, frame) {
                        Ok(styled) => {
                            if styled_tx.send(styled).is_err() {
                                break;
                            }
                        }
                        Err(e) => {
                            errors.set(e);
                            break;
                        }
                    }
                }
                let counts = styled_tx.counts();
                drop(styled_tx);
                counts
            })
            .map_err(|e| Error::Runtime(format!("cannot start the inference thread: {e}")))?
    };
    tracing::info!(
        "live: {description} -> {} ({}), {}",
        names[controls.style.load(Ordering::Relaxed)],
        if names.len() > 1 { format!("{} styles loaded", names.len()) } else { "1 style".into() },
        if options.headless {
            "headless".to_string()
        } else {
            "window (keys: n/p style, b/v blend towards the next/previous style, +/- scale, m mirror, o original, s snapshot, r record, f overlay, q quit)".into()
        }
    );

    let mut stats = stats::Stats::new();
    let mut overlay_on = options.overlay;
    let mut recordings = Vec::new();
    let mut snapshot_jobs: Vec<JoinHandle<Result<PathBuf>>> = Vec::new();
    let mut last_picture: Option<RgbImage> = None;
    let mut style_shown = (usize::MAX, 0);
    let (mut snapshot_counter, mut recording_counter) = (0u32, 0u32);
    let poll = Duration::from_millis(if options.headless { 50 } else { 8 });
    let ending = 'run: loop {
        if stop.load(Ordering::Relaxed) {
            break Ending::Interrupted;
        }
        if let Some(win) = window.as_mut() {
            for command in win.commands() {
                match command {
                    Command::Quit => break 'run Ending::Quit,
                    Command::NextStyle | Command::PreviousStyle => {
                        let n = names.len();
                        let step = if command == Command::NextStyle { 1 } else { n - 1 };
                        let next = (controls.style.load(Ordering::Relaxed) + step) % n;
                        controls.blend.store(0, Ordering::Relaxed);
                        controls.style.store(next, Ordering::Relaxed);
                        tracing::info!("style: {} ({}/{n})", names[next], next + 1);
                    }
                    Command::BlendForward | Command::BlendBack => {
                        let n = names.len() as u32;
                        if n < 2 || !can_blend {
                            tracing::info!("nothing to blend with: {}", if n < 2 { "one style is loaded" } else { "these styles cannot be blended here" });
                            continue;
                        }
                        // One position on the ring of styles, in blend steps.
                        let ring = n * BLEND_STEPS;
                        let pos = controls.style.load(Ordering::Relaxed) as u32 * BLEND_STEPS + controls.blend.load(Ordering::Relaxed);
                        let pos = if command == Command::BlendForward { (pos + 1) % ring } else { (pos + ring - 1) % ring };
                        let (style, step) = ((pos / BLEND_STEPS) as usize, pos % BLEND_STEPS);
                        controls.blend.store(step, Ordering::Relaxed);
                        controls.style.store(style, Ordering::Relaxed);
                        tracing::info!("style: {}", style_label(&names, style, step));
                    }
                    Command::ScaleUp | Command::ScaleDown => {
                        let s = if controls.auto_scale.swap(false, Ordering::Relaxed) {
                            controls.last_eighths.load(Ordering::Relaxed)
                        } else {
                            controls.scale.load(Ordering::Relaxed)
                        };
                        let s = if command == Command::ScaleUp { (s + 1).min(SCALE_MAX) } else { s.saturating_sub(1).max(SCALE_MIN) };
                        controls.scale.store(s, Ordering::Relaxed);
                        tracing::info!("inference scale: {}%", s * 100 / 8);
                    }
                    Command::Mirror => {
                        controls.mirror.fetch_xor(true, Ordering::Relaxed);
                    }
                    Command::SideBySide => {
                        controls.side_by_side.fetch_xor(true, Ordering::Relaxed);
                    }
                    Command::Overlay => overlay_on = !overlay_on,
                    Command::Snapshot => {
                        if let Some(picture) = last_picture.clone() {
                            let path = record::next_free(&options.snapshot_dir, "nst-snapshot", "png", &mut snapshot_counter);
                            // PNG encoding takes a while: off the display thread.
                            snapshot_jobs.push(std::thread::spawn(move || imageio::save_rgb(&path, &picture).map(|_| path)));
                        }
                    }
                    Command::Record => match recorder.take() {
                        Some(rec) => finish_recording(rec, &mut recordings),
                        None => {
                            let path = match &options.record {
                                Some(p) if !recordings.iter().any(|(r, _)| r == p) => p.clone(),
                                _ => record::next_free(&options.snapshot_dir, "nst-live", "mp4", &mut recording_counter),
                            };
                            match Recorder::start(&path, width, height) {
                                Ok(rec) => {
                                    tracing::info!("recording to {}", path.display());
                                    recorder = Some(rec);
                                }
                                Err(e) => tracing::error!("cannot record: {e}"),
                            }
                        }
                    },
                }
            }
        }
        // The watchdog: a source that neither delivers nor fails (a camera stuck in its
        // driver) must not hang the program.
        let since_frame = t0.elapsed().saturating_sub(Duration::from_millis(heartbeat.load(Ordering::Relaxed)));
        if since_frame > stall_timeout && !capture.is_finished() {
            errors.set(Error::Camera(format!(
                "{description} delivered no frame for {:.1} s; giving up (unplugged or stuck?)",
                stall_timeout.as_secs_f32()
            )));
            break Ending::Failed;
        }
        let styled = match styled_rx.recv_timeout(poll) {
            Recv::Value(styled) => styled,
            Recv::Timeout => {
                if let Some(win) = window.as_mut() {
                    win.idle();
                }
                continue;
            }
            Recv::Closed => break if source_ended.load(Ordering::Relaxed) { Ending::SourceEnded } else { Ending::Failed },
        };
        if let Some(rec) = recorder.as_mut() {
            if let Err(e) = rec.write(&styled.stylized, styled.captured) {
                recorder = None; // thrown away: nothing half-written is left
                if options.headless {
                    errors.set(e);
                    break Ending::Failed;
                }
                tracing::error!("recording stopped: {e}");
            }
        }
        let lines = (window.is_some() && overlay_on).then(|| overlay_lines(&names, &styled, &controls, &stats, recorder.as_ref()));
        let picture = match &styled.original {
            Some(original) => side_by_side(original, &styled.stylized),
            None => styled.stylized,
        };
        if let Some(win) = window.as_mut() {
            if (styled.style, styled.blend) != style_shown {
                win.set_title(&title(&style_label(&names, styled.style, styled.blend)));
            }
            if let Err(e) = win.show(&picture, lines.as_deref()) {
                errors.set(e);
                break Ending::Failed;
            }
        }
        let shown = Instant::now();
        if stats.frames() == 0 {
            tracing::info!("live: first frame shown after {:.0} ms", shown.duration_since(t0).as_secs_f64() * 1e3);
        }
        style_shown = (styled.style, styled.blend);
        stats.record(styled.captured, shown, styled.inference);
        last_picture = Some(picture);
        if options.frames.is_some_and(|n| stats.frames() >= n) {
            break Ending::FrameLimit;
        }
    };

    // Stop the threads: the capture loop sees `halt`, the inference loop sees its
    // channels close.
    halt.store(true, Ordering::Relaxed);
    drop(styled_rx);
    drop(window);
    let mut summary = stats.summary();
    if let Some(counts) = join_within(inference, Duration::from_secs(10), "inference") {
        summary.dropped_before_display = counts.dropped;
    }
    if let Some(counts) = join_within(capture, Duration::from_secs(3), "capture") {
        summary.captured = counts.sent;
        summary.dropped_before_inference = counts.dropped;
    }
    if let Some(rec) = recorder.take() {
        finish_recording(rec, &mut recordings);
    }
    let mut snapshots = Vec::new();
    for job in snapshot_jobs {
        match job.join() {
            Ok(Ok(path)) => {
                tracing::info!("snapshot: {}", path.display());
                snapshots.push(path);
            }
            Ok(Err(e)) => tracing::error!("snapshot not saved: {e}"),
            Err(_) => tracing::error!("snapshot not saved: the saving thread failed"),
        }
    }
    let error = errors.take();
    let ending = if error.is_some() { Ending::Failed } else { ending };
    let error = match (ending, error) {
        (Ending::Failed, None) => Some(Error::Runtime("the live pipeline stopped unexpectedly".into())),
        (_, e) => e,
    };
    Ok(Report { summary, ending, recordings, snapshots, error })
}

fn title(style: &str) -> String {
    format!("nst live: {style}")
}

fn finish_recording(rec: Recorder, recordings: &mut Vec<(PathBuf, u64)>) {
    let path = rec.path().to_path_buf();
    match rec.finish() {
        Ok(frames) => {
            tracing::info!("recorded {frames} frames to {}", path.display());
            recordings.push((path, frames));
        }
        Err(e) => tracing::error!("{e}"),
    }
}

/// Waits for a thread at most `limit`; a thread stuck in a driver call is left behind
/// (the process is about to end) rather than hanging the exit.
fn join_within<T>(handle: JoinHandle<T>, limit: Duration, what: &str) -> Option<T> {
    let deadline = Instant::now() + limit;
    while !handle.is_finished() {
        if Instant::now() >= deadline {
            tracing::warn!("the {what} thread does not stop; leaving it behind");
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    handle.join().ok()
}

/// Runs the current style on a frame at the current scale.
fn stylize_frame(playing: &mut Playing, controls: &Controls, frame: Frame) -> Result<Styled> {
    let Frame { image, captured } = frame;
    let mut image = image.into_image()?;
    let style = controls.style.load(Ordering::Relaxed) % playing.stylizers.len();
    let (stylizer, blend) = playing.current(style, controls.blend.load(Ordering::Relaxed));
    if controls.mirror.load(Ordering::Relaxed) {
        image::imageops::flip_horizontal_in_place(&mut image);
    }
    let (w, h) = image.dimensions();
    let (sw, sh) = if controls.auto_scale.load(Ordering::Relaxed) {
        auto_run_size(w, h, stylizer.reference_side())
    } else {
        match controls.scale.load(Ordering::Relaxed) {
            e if e < SCALE_MAX => ((w * e / SCALE_MAX).max(1), (h * e / SCALE_MAX).max(1)),
            _ => (w, h),
        }
    };
    controls.last_eighths.store(((sw as f32 / w as f32) * SCALE_MAX as f32).round() as u32, Ordering::Relaxed);
    let start = Instant::now();
    let stylized = if (sw, sh) != (w, h) {
        // Smaller: faster, with larger strokes; the frame's own detail is put back.
        let small = imageio::resize_fast(&image, sw, sh);
        let out = stylizer.stylize(&small)?;
        crate::stroke::guided_upsample_from(&out, &small, &image)
    } else {
        stylizer.stylize(&image)?
    };
    let inference = start.elapsed();
    if stylized.dimensions() != (w, h) {
        return Err(Error::Inference(format!(
            "{} returned {}x{} for a {w}x{h} frame",
            stylizer.name(),
            stylized.width(),
            stylized.height()
        )));
    }
    let original = controls.side_by_side.load(Ordering::Relaxed).then_some(image);
    Ok(Styled { stylized, original, captured, inference, run: (sw, sh), style, blend })
}

/// The original and the stylized picture side by side.
pub fn side_by_side(original: &RgbImage, stylized: &RgbImage) -> RgbImage {
    let (w, h) = stylized.dimensions();
    let mut out = RgbImage::new(original.width() + w, h.max(original.height()));
    image::imageops::replace(&mut out, original, 0, 0);
    image::imageops::replace(&mut out, stylized, original.width() as i64, 0);
    out
}

fn overlay_lines(names: &[String], styled: &Styled, controls: &Controls, stats: &stats::Stats, recorder: Option<&Recorder>) -> Vec<String> {
    let (style, blend) = (styled.style, styled.blend);
    let (fps, latency) = stats.recent();
    let mut lines = vec![
        format!("{} ({}/{})", style_label(names, style, blend), style + 1, names.len()),
        format!("{fps:.1} fps  latency {:.0} ms", latency.as_secs_f64() * 1e3),
    ];
    let w = styled.stylized.width();
    let auto = if controls.auto_scale.load(Ordering::Relaxed) { " auto" } else { "" };
    let mut flags = vec![format!("{}x{} ({}%{auto})", styled.run.0, styled.run.1, styled.run.0 * 100 / w.max(1))];
    if controls.mirror.load(Ordering::Relaxed) {
        flags.push("mirror".into());
    }
    if controls.side_by_side.load(Ordering::Relaxed) {
        flags.push("original".into());
    }
    lines.push(flags.join("  "));
    if let Some(rec) = recorder {
        lines.push(format!("REC {} frames", rec.frames()));
    }
    lines.push("n/p b/v +/- m o s r f q".into());
    lines
}

/// Raw inference speed on frames of a source: what `nst live` costs compared with
/// running the network alone.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RawSummary {
    /// The size the network ran at.
    pub size: [u32; 2],
    pub frames: usize,
    pub seconds: f64,
    pub fps: f64,
    pub mean_ms: f64,
    pub p95_ms: f64,
}

/// Takes `frames` frames from the source, converts them to planar float, then runs the
/// network alone on each of them in turn (after one warm-up run) on this thread, and
/// times it: the baseline that the live pipeline's overhead is measured against.
/// `scale`: as [`Options::scale`]: the frames are brought to the size the live pipeline
/// would run the network at before the timing starts.
pub fn raw_inference(source: &mut dyn Source, stylizer: &mut dyn Stylizer, frames: usize, scale: Option<f32>) -> Result<RawSummary> {
    let mut images = Vec::with_capacity(frames);
    while images.len() < frames.max(1) {
        match source.next_frame()? {
            Some(image) => images.push(image),
            None => break,
        }
    }
    if images.is_empty() {
        return Err(Error::Parameter(format!("{} gave no frame", source.describe())));
    }
    let (fw, fh) = images[0].dimensions();
    let (w, h) = match scale {
        None => auto_run_size(fw, fh, stylizer.reference_side()),
        Some(s) => {
            let e = ((s * SCALE_MAX as f32).round() as u32).clamp(SCALE_MIN, SCALE_MAX);
            ((fw * e / SCALE_MAX).max(1), (fh * e / SCALE_MAX).max(1))
        }
    };
    let planar: Vec<Vec<f32>> = images.iter().map(|i| imageio::to_chw(&imageio::resize_fast(i, w, h))).collect();
    stylizer.stylize_planar(planar[0].clone(), w, h)?;
    let mut times = Vec::with_capacity(images.len());
    let mut seconds = 0.0;
    for chw in planar {
        let t = Instant::now();
        stylizer.stylize_planar(chw, w, h)?;
        let dt = t.elapsed().as_secs_f64();
        seconds += dt;
        times.push(dt * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok(RawSummary {
        size: [w, h],
        frames: images.len(),
        seconds,
        fps: images.len() as f64 / seconds,
        mean_ms: times.iter().sum::<f64>() / times.len() as f64,
        p95_ms: stats::quantile(&times, 0.95),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in network: inverts the picture, taking `delay` per frame.
    struct Slow {
        delay: Duration,
    }

    impl Stylizer for Slow {
        fn name(&self) -> String {
            "invert".into()
        }

        fn stylize(&mut self, frame: &RgbImage) -> Result<RgbImage> {
            std::thread::sleep(self.delay);
            let mut out = frame.clone();
            image::imageops::invert(&mut out);
            Ok(out)
        }
    }

    fn headless(frames: u64) -> Options {
        Options { frames: Some(frames), headless: true, ..Options::default() }
    }

    /// Inference (40 ms a frame) much slower than capture (200 fps): frames are
    /// dropped, not queued, so the latency stays around one inference time instead of
    /// growing with every frame, and the display rate is the inference rate.
    #[test]
    fn slow_inference_drops_stale_frames_and_keeps_latency_bounded() {
        let source = ready(TestPattern::new(64, 48, 200.0).unwrap());
        let stylizers: Vec<Box<dyn Stylizer>> = vec![Box::new(Slow { delay: Duration::from_millis(40) })];
        let report = run(source, stylizers, &headless(15), &AtomicBool::new(false)).unwrap();
        assert!(report.error.is_none(), "{:?}", report.error);
        assert_eq!(report.ending, Ending::FrameLimit);
        let s = &report.summary;
        assert_eq!(s.frames, 15);
        assert!(s.dropped_before_inference > s.frames * 2, "stale frames should be dropped: {s:?}");
        // A queue would make the 15th frame wait ~14 x 35 ms; the slot keeps it near one
        // inference (40 ms) plus one capture period, with room for a loaded machine.
        assert!(s.latency_p95_ms < 150.0, "latency built up: {s:?}");
        assert!(s.latency_mean_ms >= 40.0, "latency includes the inference: {s:?}");
        assert!(s.fps < 30.0, "the display rate is the inference rate: {s:?}");
    }

    #[test]
    fn file_like_source_ending_ends_the_run() {
        struct Three(u32);
        impl Source for Three {
            fn describe(&self) -> String {
                "three frames".into()
            }
            fn size(&self) -> (u32, u32) {
                (8, 8)
            }
            fn frame_rate(&self) -> Option<f64> {
                None
            }
            fn next_frame(&mut self) -> Result<Option<RgbImage>> {
                // Slower than inference, so no frame is dropped.
                std::thread::sleep(Duration::from_millis(30));
                self.0 += 1;
                Ok((self.0 <= 3).then(|| RgbImage::new(8, 8)))
            }
        }
        let stylizers: Vec<Box<dyn Stylizer>> = vec![Box::new(Slow { delay: Duration::ZERO })];
        let report = run(ready(Three(0)), stylizers, &headless(100), &AtomicBool::new(false)).unwrap();
        assert_eq!(report.ending, Ending::SourceEnded);
        assert_eq!(report.summary.frames, 3);
        assert!(report.error.is_none());
    }

    #[test]
    fn a_failing_source_ends_the_run_with_its_error_and_a_finished_recording() {
        struct Unplugged(u32);
        impl Source for Unplugged {
            fn describe(&self) -> String {
                "camera 9".into()
            }
            fn size(&self) -> (u32, u32) {
                (32, 24)
            }
            fn frame_rate(&self) -> Option<f64> {
                Some(30.0)
            }
            fn next_frame(&mut self) -> Result<Option<RgbImage>> {
                std::thread::sleep(Duration::from_millis(30));
                self.0 += 1;
                if self.0 > 4 {
                    return Err(Error::Camera("camera 9 stopped delivering frames: No such device".into()));
                }
                Ok(Some(TestPattern::render(32, 24, self.0 as u64)))
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("rec.mp4");
        let options = Options { record: Some(out.clone()), ..headless(100) };
        let stylizers: Vec<Box<dyn Stylizer>> = vec![Box::new(Slow { delay: Duration::ZERO })];
        let report = run(ready(Unplugged(0)), stylizers, &options, &AtomicBool::new(false)).unwrap();
        assert_eq!(report.ending, Ending::Failed);
        assert!(report.error.as_ref().unwrap().to_string().contains("stopped delivering"), "{:?}", report.error);
        assert_eq!(report.recordings.len(), 1, "the recording is finished, not lost");
        assert!(report.recordings[0].1 >= 1);
        assert!(out.is_file());
    }

    #[test]
    fn a_stuck_source_is_noticed_by_the_watchdog() {
        struct Stuck;
        impl Source for Stuck {
            fn describe(&self) -> String {
                "camera 3".into()
            }
            fn size(&self) -> (u32, u32) {
                (8, 8)
            }
            fn frame_rate(&self) -> Option<f64> {
                Some(30.0)
            }
            fn next_frame(&mut self) -> Result<Option<RgbImage>> {
                // A driver call that never returns.
                std::thread::sleep(Duration::from_secs(3600));
                Ok(None)
            }
            fn stall_timeout(&self) -> Duration {
                Duration::from_millis(300)
            }
        }
        let stylizers: Vec<Box<dyn Stylizer>> = vec![Box::new(Slow { delay: Duration::ZERO })];
        let start = Instant::now();
        let report = run(ready(Stuck), stylizers, &headless(5), &AtomicBool::new(false)).unwrap();
        assert!(report.error.unwrap().to_string().contains("delivered no frame"));
        assert!(start.elapsed() < Duration::from_secs(10), "no hang");
    }

    #[test]
    fn stop_flag_ends_the_run() {
        let stop = Arc::new(AtomicBool::new(false));
        let setter = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(200));
                stop.store(true, Ordering::Relaxed);
            })
        };
        let source = ready(TestPattern::new(16, 16, 50.0).unwrap());
        let stylizers: Vec<Box<dyn Stylizer>> = vec![Box::new(Slow { delay: Duration::ZERO })];
        let options = Options { frames: None, headless: true, ..Options::default() };
        let report = run(source, stylizers, &options, &stop).unwrap();
        setter.join().unwrap();
        assert_eq!(report.ending, Ending::Interrupted);
        assert!(report.error.is_none());
    }

    #[test]
    fn scale_mirror_and_side_by_side() {
        let controls = Controls {
            style: AtomicUsize::new(1),
            blend: AtomicU32::new(0),
            scale: AtomicU32::new(4),
            auto_scale: AtomicBool::new(false),
            last_eighths: AtomicU32::new(4),
            mirror: AtomicBool::new(true),
            side_by_side: AtomicBool::new(true),
        };
        let stylizers: Vec<Box<dyn Stylizer>> = vec![Box::new(Slow { delay: Duration::ZERO }), Box::new(Slow { delay: Duration::ZERO })];
        let mut stylizers = Playing { stylizers, blender: None, blended: None, failed: Vec::new() };
        let image = RgbImage::from_fn(40, 20, |x, _| image::Rgb([if x < 20 { 0 } else { 200 }, 0, 0]));
        let frame = Frame { image: Captured::Ready(image), captured: Instant::now() };
        let styled = stylize_frame(&mut stylizers, &controls, frame).unwrap();
        assert_eq!(styled.style, 1);
        assert_eq!(styled.stylized.dimensions(), (40, 20), "scaled back to the frame size");
        let original = styled.original.unwrap();
        assert_eq!(original.get_pixel(0, 0)[0], 200, "mirrored");
        assert_eq!(styled.stylized.get_pixel(0, 0)[0], 55, "inverted mirror image");
        let both = side_by_side(&original, &styled.stylized);
        assert_eq!(both.dimensions(), (80, 20));
        assert!(Options { scale: Some(0.1), ..Options::default() }.validate().is_err());
        assert_eq!(Options { scale: Some(0.5), ..Options::default() }.scale_eighths(), 4);
        assert_eq!(auto_run_size(1280, 720, Some(512)), (512, 288), "large frames at the reference side");
        assert_eq!(auto_run_size(640, 480, Some(512)), (640, 480), "up to 1.5 times it, whole");
        assert_eq!(auto_run_size(1280, 720, None), (1280, 720));
    }

    #[test]
    fn blend_keys_blend_with_the_next_style_and_say_so() {
        struct Flat(u8);
        impl Stylizer for Flat {
            fn name(&self) -> String {
                format!("flat{}", self.0)
            }
            fn stylize(&mut self, frame: &RgbImage) -> Result<RgbImage> {
                Ok(RgbImage::from_pixel(frame.width(), frame.height(), image::Rgb([self.0; 3])))
            }
        }
        let calls = Arc::new(Mutex::new(Vec::new()));
        let seen = calls.clone();
        let blender: Blender = Box::new(move |a, b, share| {
            seen.lock().unwrap().push((a, b, share));
            let value = (100.0 * (1.0 - share) + 200.0 * share) as u8;
            Ok(Box::new(Flat(value)) as Box<dyn Stylizer>)
        });
        let stylizers: Vec<Box<dyn Stylizer>> = vec![Box::new(Flat(100)), Box::new(Flat(200))];
        let mut playing = Playing { stylizers, blender: Some(blender), blended: None, failed: Vec::new() };
        let controls = Controls {
            style: AtomicUsize::new(0),
            blend: AtomicU32::new(1),
            scale: AtomicU32::new(8),
            auto_scale: AtomicBool::new(false),
            last_eighths: AtomicU32::new(8),
            mirror: AtomicBool::new(false),
            side_by_side: AtomicBool::new(false),
        };
        let frame = || Frame { image: Captured::Ready(RgbImage::new(8, 8)), captured: Instant::now() };
        let styled = stylize_frame(&mut playing, &controls, frame()).unwrap();
        assert_eq!((styled.style, styled.blend), (0, 1));
        assert_eq!(styled.stylized.get_pixel(0, 0)[0], 125, "a quarter of the way to the next style");
        stylize_frame(&mut playing, &controls, frame()).unwrap();
        assert_eq!(calls.lock().unwrap().len(), 1, "the blend is made once, then reused");
        controls.style.store(1, Ordering::Relaxed);
        controls.blend.store(2, Ordering::Relaxed);
        let styled = stylize_frame(&mut playing, &controls, frame()).unwrap();
        assert_eq!(styled.stylized.get_pixel(0, 0)[0], 150);
        assert_eq!(calls.lock().unwrap()[1], (1, 0, 0.5), "the last style blends with the first");
        let names = vec!["a".to_string(), "b".to_string()];
        assert_eq!(style_label(&names, 1, 1), "b 75% + a 25%");
        assert_eq!(style_label(&names, 0, 0), "a");
        // Without a blender the style runs alone.
        playing.blender = None;
        playing.blended = None;
        let styled = stylize_frame(&mut playing, &controls, frame()).unwrap();
        assert_eq!((styled.blend, styled.stylized.get_pixel(0, 0)[0]), (0, 200));
    }
}
