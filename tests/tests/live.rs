//! End-to-end tests of `nst live` and `nst devices`: headless runs on the test pattern and
//! on a real video file record the expected number of frames; the window shows moving,
//! stylized frames (screenshots under Xvfb); faults end with a message and leave no
//! half-written file; Ctrl-C finishes the recording.
//!
//! The pipeline runs on tiny frames so that the tests stay fast on a small machine; the
//! identity model (no inference cost) is used where only the pipeline is under test.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use image::RgbImage;
use nst_tests::*;

/// `nst live` with a model, one style, on one CPU thread, plus `args`.
fn live(model: &Path, args: &[&str]) -> Command {
    let mut cmd = nst();
    cmd.arg("live").arg("--model").arg(model).args(["--one-style", "--ep", "cpu", "--threads", "1"]).args(args);
    cmd
}

/// A model that returns its input: the pipeline without inference cost.
fn identity(s: &Scratch) -> PathBuf {
    s.write("identity.onnx", onnx_identity(NST_METADATA))
}

/// The number of video frames in a file, counted by decoding it (ffprobe).
fn count_frames(path: &Path) -> u64 {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames,width,height"])
        .args(["-of", "default=noprint_wrappers=1"])
        .arg(path)
        .output()
        .expect("run ffprobe");
    assert!(out.status.success(), "ffprobe {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("nb_read_frames="))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no frame count in {text}"))
}

fn video_size(path: &Path) -> (u32, u32) {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("run ffprobe");
    let text = String::from_utf8_lossy(&out.stdout);
    let (w, h) = text.trim().split_once(',').unwrap_or_else(|| panic!("no size in {text}"));
    (w.parse().unwrap(), h.parse().unwrap())
}

/// The figures `--json` prints.
fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", run.stdout, run.stderr))
}

fn shared_video(name: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/videos").join(name);
    path.is_file().then_some(path)
}

#[test]
fn headless_test_pattern_records_the_frames_asked_for() {
    let s = Scratch::new();
    let out = s.path("rec/out.mp4");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let run = Run::of(
        live(&identity(&s), &["--source", "test", "--resolution", "64x48", "--headless", "--frames", "12", "--json"])
            .arg("--record")
            .arg(&out),
    );
    run.assert_ok();
    let figures = json(&run);
    assert_eq!(figures["summary"]["frames"], 12, "{figures}");
    assert_eq!(figures["ending"], "frame_limit");
    assert_eq!(figures["recordings"][0]["frames"], 12);
    for key in ["fps", "latency_mean_ms", "latency_p95_ms"] {
        assert!(figures["summary"][key].as_f64().is_some_and(|v| v > 0.0), "{key} in {figures}");
    }
    assert_eq!(count_frames(&out), 12);
    assert_eq!(video_size(&out), (64, 48));
    // Only the finished recording is left: no temporary file.
    assert_eq!(tree(&s.path("rec")), paths(["out.mp4"]));

    // Without --json: the figures as text, mean and p95 latency included.
    let run = Run::of(&mut live(&identity(&s), &["--source", "test", "--resolution", "32x32", "--headless", "--frames", "3"]));
    run.assert_ok();
    assert!(run.stdout.contains("fps:") && run.stdout.contains("(end to end)"), "{}", run.stdout);
    assert!(run.stdout.contains("latency:") && run.stdout.contains("mean") && run.stdout.contains("p95"), "{}", run.stdout);
}

#[test]
fn every_bundled_style_is_loaded_up_front() {
    let s = Scratch::new();
    let weights = s.mkdir("weights");
    let first = weights.join("a_identity.onnx");
    std::fs::write(&first, onnx_identity(NST_METADATA)).unwrap();
    std::fs::copy(s.model(), weights.join("b_untrained.onnx")).unwrap();
    std::fs::write(weights.join("c_broken.onnx"), b"not a model").unwrap();
    let mut cmd = nst();
    cmd.env("NST_WEIGHTS_DIR", &weights).arg("live").arg("--model").arg(&first);
    cmd.args(["--ep", "cpu", "--source", "test", "--resolution", "32x24", "--headless", "--frames", "3", "--scale", "0.5", "--mirror"]);
    let run = Run::of(&mut cmd);
    run.assert_ok();
    // --model (given by path, also in the folder) once, the other good style, not the broken one.
    assert!(run.stderr.contains("2 styles loaded"), "{}", run.stderr);
    assert!(run.stderr.contains("c_broken left out"), "{}", run.stderr);
}

#[test]
fn headless_video_file_records_stylized_frames() {
    let Some(video) = shared_video("vtest.avi") else {
        eprintln!("skipped: ../shared/videos/vtest.avi is not there");
        return;
    };
    let s = Scratch::new();
    let out = s.path("vtest.mp4");
    // The untrained network at 96x72: real inference, still quick.
    let run = Run::of(
        live(s.model(), &["--headless", "--frames", "10", "--resolution", "96x72", "--json"])
            .arg("--source")
            .arg(&video)
            .arg("--record")
            .arg(&out),
    );
    run.assert_ok();
    let figures = json(&run);
    assert_eq!(figures["summary"]["frames"], 10, "{figures}");
    assert_eq!(count_frames(&out), 10);
    // vtest.avi is 768x576 (4:3): it fits the box exactly.
    assert_eq!(video_size(&out), (96, 72));
    assert!(figures["summary"]["inference_mean_ms"].as_f64().unwrap() > 0.0);
}

/// An X display for a window test: a private Xvfb when there is one (a black screen of
/// known size, undisturbed by other windows), else the session's DISPLAY.
struct Display {
    name: String,
    size: Option<(u32, u32)>,
    xvfb: Option<Child>,
}

impl Display {
    fn start() -> Option<Self> {
        let (w, h) = (640, 480);
        let xvfb = Command::new("Xvfb")
            .args(["-displayfd", "1", "-nolisten", "tcp", "-screen", "0", &format!("{w}x{h}x24")])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        if let Ok(mut child) = xvfb {
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).ok();
            if let Ok(n) = line.trim().parse::<u32>() {
                return Some(Self { name: format!(":{n}"), size: Some((w, h)), xvfb: Some(child) });
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let name = std::env::var("DISPLAY").ok().filter(|d| !d.is_empty())?;
        Some(Self { name, size: None, xvfb: None })
    }

    /// A screenshot of the whole screen (ffmpeg's x11grab).
    fn screenshot(&self, path: &Path) -> RgbImage {
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-loglevel", "error", "-y", "-f", "x11grab", "-draw_mouse", "0"]);
        if let Some((w, h)) = self.size {
            cmd.args(["-video_size", &format!("{w}x{h}")]);
        }
        cmd.args(["-i", &self.name, "-frames:v", "1"]).arg(path);
        let run = Run::of(&mut cmd);
        assert!(run.success, "screenshot failed: {}", run.stderr);
        decode(path).to_rgb8()
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        if let Some(child) = self.xvfb.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The smallest rectangle holding every pixel brighter than near-black: the window on
/// the black Xvfb screen.
fn lit_area(img: &RgbImage) -> Option<(u32, u32, u32, u32)> {
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for (x, y, p) in img.enumerate_pixels() {
        if p.0.iter().any(|&c| c > 12) {
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
    }
    (x0 <= x1).then(|| (x0, y0, x1 - x0 + 1, y1 - y0 + 1))
}

/// A running `nst live` whose stderr lines arrive on a channel.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start nst live");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines, seen: Vec::new() }
    }

    /// Waits for a stderr line containing `needle`; panics with what was printed if the
    /// program ends or `limit` passes first.
    fn wait_for(&mut self, needle: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            match self.lines.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    let found = line.contains(needle);
                    self.seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        let _ = self.child.kill();
        panic!("no {needle:?} from nst live:\n{}", self.seen.join("\n"));
    }

    /// Waits for the end; returns (success, stdout, all stderr).
    fn finish(mut self, limit: Duration) -> (bool, String, String) {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for nst live") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("nst live did not end in {limit:?}:\n{}", self.seen.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stdout = String::new();
        self.child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
        self.seen.extend(self.lines.try_iter());
        (status.success(), stdout, self.seen.join("\n"))
    }
}

#[test]
fn window_shows_moving_stylized_frames() {
    let Some(display) = Display::start() else {
        eprintln!("skipped: no Xvfb and no DISPLAY (`make test` runs the tests with a display)");
        return;
    };
    let s = Scratch::new();
    // 10 frames a second for 50 frames: at least 5 s of window to take screenshots of.
    let mut cmd = live(s.model(), &["--source", "test", "--resolution", "160x120", "--test-fps", "10", "--frames", "50", "--no-overlay"]);
    cmd.env("DISPLAY", &display.name);
    let mut running = Running::spawn(cmd);
    running.wait_for("first frame shown", Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(300));
    let a = display.screenshot(&s.path("a.png"));
    std::thread::sleep(Duration::from_millis(800));
    let b = display.screenshot(&s.path("b.png"));
    let (ok, stdout, stderr) = running.finish(Duration::from_secs(120));
    assert!(ok, "nst live failed:\n{stderr}");
    assert!(stdout.contains("fps:"), "{stdout}");

    let (x, y, w, h) = lit_area(&a).expect("the screen is black: no window");
    if display.size.is_some() {
        // On the private black screen the lit area is the window: the 160x120 picture.
        assert!((150..=170).contains(&w) && (110..=130).contains(&h), "window area {w}x{h} at ({x}, {y})");
    }
    let crop = |img: &RgbImage| image::imageops::crop_imm(img, x, y, w, h).to_image();
    let (a, b) = (crop(&a), crop(&b));
    let colours: std::collections::HashSet<[u8; 3]> = a.pixels().map(|p| p.0).collect();
    assert!(colours.len() > 200, "the window is (nearly) flat: {} colours", colours.len());
    let moved = mean_abs_diff(&a, &b);
    assert!(moved > 3.0, "the picture did not change between two screenshots (mean difference {moved})");
}

#[test]
fn side_by_side_window_keeps_the_aspect_ratio() {
    let Some(display) = Display::start() else {
        eprintln!("skipped: no Xvfb and no DISPLAY (`make test` runs the tests with a display)");
        return;
    };
    if display.size.is_none() {
        eprintln!("skipped: needs a private Xvfb to find the window");
        return;
    }
    let s = Scratch::new();
    let args = ["--source", "test", "--resolution", "96x64", "--test-fps", "10", "--frames", "30", "--side-by-side", "--mirror"];
    let mut cmd = live(&identity(&s), &args);
    cmd.env("DISPLAY", &display.name);
    let mut running = Running::spawn(cmd);
    running.wait_for("first frame shown", Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(300));
    let shot = display.screenshot(&s.path("shot.png"));
    let (ok, _, stderr) = running.finish(Duration::from_secs(60));
    assert!(ok, "{stderr}");
    // The original and the (identity-)stylized picture side by side: 192x64.
    let (_, _, w, h) = lit_area(&shot).expect("no window");
    assert!((185..=199).contains(&w) && (58..=70).contains(&h), "window area {w}x{h}");
}

/// Runs xdotool on a display; its stdout.
fn xdotool(display: &Display, args: &[&str]) -> String {
    let run = Run::of(Command::new("xdotool").args(args).env("DISPLAY", &display.name));
    assert!(run.success, "xdotool {args:?}: {}", run.stderr);
    run.stdout.trim().to_string()
}

#[test]
fn keys_and_resizing_work_in_the_window() {
    let Some(display) = Display::start().filter(|d| d.size.is_some()) else {
        eprintln!("skipped: needs Xvfb");
        return;
    };
    if Command::new("xdotool").arg("version").output().is_err() {
        eprintln!("skipped: xdotool is not installed (scripts/setup.sh installs it)");
        return;
    }
    let s = Scratch::new();
    let weights = s.mkdir("weights");
    std::fs::write(weights.join("a.onnx"), onnx_identity(NST_METADATA)).unwrap();
    std::fs::write(weights.join("b.onnx"), onnx_identity(NST_METADATA)).unwrap();
    let shots = s.mkdir("shots");
    let mut cmd = nst();
    cmd.env("NST_WEIGHTS_DIR", &weights).env("DISPLAY", &display.name).arg("live").args(["--model", "a", "--ep", "cpu"]);
    cmd.args(["--source", "test", "--resolution", "96x64", "--test-fps", "20", "--frames", "2000", "--no-overlay", "--json"]);
    cmd.arg("--snapshot-dir").arg(&shots);
    let mut running = Running::spawn(cmd);
    running.wait_for("first frame shown", Duration::from_secs(60));
    let id = xdotool(&display, &["search", "--sync", "--name", "nst live"]);
    let id = id.lines().next().unwrap().to_string();

    // A window of another shape: the 3:2 picture is letterboxed, not stretched.
    xdotool(&display, &["windowmove", "--sync", &id, "0", "0"]);
    xdotool(&display, &["windowsize", "--sync", &id, "400", "100"]);
    std::thread::sleep(Duration::from_millis(700));
    let shot = display.screenshot(&s.path("resized.png"));
    let (x, y, w, h) = lit_area(&shot).expect("no window");
    assert!((140..=160).contains(&w) && (95..=100).contains(&h), "picture {w}x{h} at ({x}, {y}) in a 400x100 window");
    assert!((115..=135).contains(&x), "the picture is centred: x = {x}");

    // There is no window manager: give the window the keyboard focus.
    xdotool(&display, &["windowfocus", "--sync", &id]);
    let key = |k: &str, wait_for: &str, running: &mut Running| {
        xdotool(&display, &["key", k]);
        running.wait_for(wait_for, Duration::from_secs(20));
    };
    key("n", "style: b (2/2)", &mut running);
    key("p", "style: a (1/2)", &mut running);
    key("minus", "inference scale: 87%", &mut running);
    key("equal", "inference scale: 100%", &mut running);
    key("r", "recording to", &mut running);
    std::thread::sleep(Duration::from_millis(500));
    key("r", "recorded", &mut running);
    xdotool(&display, &["key", "s"]);
    std::thread::sleep(Duration::from_millis(300));
    xdotool(&display, &["key", "q"]);
    let (ok, stdout, stderr) = running.finish(Duration::from_secs(30));
    assert!(ok, "{stderr}");
    let figures: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(figures["ending"], "quit", "{figures}");
    let recording = shots.join("nst-live-001.mp4");
    assert!(count_frames(&recording) >= 1, "{stderr}");
    let snapshot = decode(&shots.join("nst-snapshot-001.png"));
    assert_eq!((snapshot.width(), snapshot.height()), (96, 64), "the snapshot is the picture, at its own size");
    assert_eq!(tree(&shots), paths(["nst-live-001.mp4", "nst-snapshot-001.png"]));
}

#[test]
fn ctrl_c_finishes_the_recording() {
    let s = Scratch::new();
    let out = s.path("rec.mkv");
    let mut cmd = live(&identity(&s), &["--source", "test", "--resolution", "48x32", "--headless", "--json"]);
    cmd.arg("--record").arg(&out);
    let mut running = Running::spawn(cmd);
    running.wait_for("first frame shown", Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(500));
    let pid = running.child.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let (ok, stdout, stderr) = running.finish(Duration::from_secs(30));
    assert!(!ok, "stopped by a signal: exit status 130, as every command:\n{stderr}");
    assert!(stderr.contains("stopped: interrupted (SIGINT)"), "{stderr}");
    let figures: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(figures["ending"], "interrupted");
    let recorded = figures["recordings"][0]["frames"].as_u64().expect("a finished recording");
    assert!(recorded >= 1);
    assert_eq!(count_frames(&out), recorded);
    assert_eq!(tree(&s.path("")).iter().filter(|p| p.to_string_lossy().ends_with(".tmp")).count(), 0, "temporary file left");
}

#[test]
fn faults_end_with_a_clear_message_and_leave_nothing_behind() {
    let s = Scratch::new();
    let model = identity(&s);
    let out_dir = s.mkdir("out");
    let fails = |args: &[&str], needle: &str| {
        let run = Run::of(live(&model, args).env_remove("DISPLAY").current_dir(&out_dir));
        run.assert_one_error(needle);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        assert_eq!(tree(&out_dir), paths([]), "something was written for {args:?}");
    };
    // No display for a window.
    fails(&["--source", "test"], "no display: run with --headless (and --record out.mp4) or set DISPLAY");
    // Cameras: none on a machine without /dev/video*, or not that number.
    let has_video = std::fs::read_dir("/dev").unwrap().flatten().any(|e| e.file_name().to_string_lossy().starts_with("video"));
    if !has_video {
        fails(&["--source", "camera:0", "--headless", "--frames", "1"], "no camera found");
    }
    fails(&["--source", "camera:97", "--headless", "--frames", "1"], "camera");
    fails(&["--source", "camera:x", "--headless"], "camera:0");
    // Bad settings and outputs.
    fails(&["--source", "test", "--headless", "--resolution", "640"], "640x480");
    fails(&["--source", "test", "--headless", "--frames", "2", "--record", "out.avi"], "out.avi");
    fails(&["--source", "test", "--headless", "--frames", "2", "--record", "missing/out.mp4"], "missing/out.mp4");
    fails(&["--source", "nope.mp4", "--headless", "--frames", "2"], "nope.mp4");
    // Not a video at all.
    let text = s.write("notes.mp4", "hello");
    let run = Run::of(live(&model, &["--headless", "--frames", "2", "--record"]).arg(out_dir.join("x.mp4")).arg("--source").arg(&text));
    run.assert_one_error("notes.mp4");
    assert_eq!(tree(&out_dir), paths([]));
}

#[test]
fn damaged_video_plays_what_it_can_and_ends_cleanly() {
    let Some(video) = shared_video("Megamind_bugy.avi") else {
        eprintln!("skipped: ../shared/videos/Megamind_bugy.avi is not there");
        return;
    };
    let s = Scratch::new();
    let out = s.path("bugy.mp4");
    let run = Run::of(
        live(&identity(&s), &["--headless", "--frames", "5", "--resolution", "64x48", "--json"])
            .arg("--source")
            .arg(&video)
            .arg("--record")
            .arg(&out),
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    if run.success {
        assert_eq!(count_frames(&out), json(&run)["recordings"][0]["frames"].as_u64().unwrap());
    } else {
        run.assert_one_error("Megamind_bugy.avi");
    }
}

#[test]
fn devices_lists_cameras_or_says_there_are_none() {
    let run = Run::of(nst().arg("devices"));
    run.assert_ok();
    assert!(run.stdout.contains("camera:") || run.stdout.contains("no cameras found"), "{}", run.stdout);
    let run = Run::of(nst().args(["devices", "--json"]));
    run.assert_ok();
    assert!(serde_json::from_str::<serde_json::Value>(&run.stdout).unwrap().is_array());
}

#[test]
fn raw_inference_times_the_network_alone() {
    let s = Scratch::new();
    let run =
        Run::of(&mut live(&identity(&s), &["--source", "test", "--resolution", "32x24", "--raw-inference", "--frames", "5", "--json"]));
    run.assert_ok();
    let figures = json(&run);
    assert_eq!(figures["raw_inference"]["frames"], 5, "{figures}");
    assert!(figures["raw_inference"]["fps"].as_f64().unwrap() > 0.0);
}

#[test]
fn large_frames_run_at_the_styles_reference_size_unless_a_scale_is_given() {
    let s = Scratch::new();
    let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../weights/udnie.fast.onnx");
    let size = |extra: &[&str]| {
        let run = Run::of(live(&model, &["--source", "test", "--resolution", "1280x720", "--raw-inference", "--frames", "1", "--json"]).args(extra));
        run.assert_ok();
        let raw = json(&run)["raw_inference"]["size"].clone();
        (raw[0].as_u64().unwrap(), raw[1].as_u64().unwrap())
    };
    assert_eq!(size(&[]), (512, 288), "auto: the reference side (512) for a frame 2.5 times larger");
    assert_eq!(size(&["--scale", "1"]), (1280, 720));
    assert_eq!(size(&["--scale", "0.5"]), (640, 360));
    let small = Run::of(&mut live(&model, &["--source", "test", "--resolution", "640x480", "--raw-inference", "--frames", "1", "--json"]));
    assert_eq!(json(&small)["raw_inference"]["size"], serde_json::json!([640, 480]), "up to 1.5 times the reference side: whole");
    Run::of(&mut live(&model, &["--source", "test", "--scale", "0.1"])).assert_one_error("not a scale");
    // End to end: the frames shown (recorded) keep the capture size.
    let out = s.path("rec.mp4");
    let run = Run::of(live(&model, &["--source", "test", "--resolution", "1280x720", "--headless", "--frames", "3", "--record"]).arg(&out));
    run.assert_ok();
    assert_eq!(video_size(&out), (1280, 720));
}
