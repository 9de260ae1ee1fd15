//! Every signal that stops a program stops it cleanly: SIGINT, SIGTERM and SIGHUP sent
//! to the real binaries in the middle of their work (`nst stylize`, `video`, `live`,
//! `sheet`, `nst-train`, `nst-classic`) end them with exit status 128 + the signal, their
//! ffmpeg children gone, no temporary file left, and nothing half-written (what they
//! did write decodes; nst-train leaves a checkpoint).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use image::RgbImage;
use nst_tests::*;

const SIGNALS: [(&str, i32); 3] = [("INT", 2), ("TERM", 15), ("HUP", 1)];

/// Waits until `ready` holds (the work is under way), then sends `signal` to the
/// process alone (as `kill`, `timeout` and service managers do) and waits for it.
fn stop_midway(mut child: Child, ready: impl Fn() -> bool, signal: &str) -> (Option<i32>, String) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !ready() {
        if let Ok(Some(status)) = child.try_wait() {
            let out = child.wait_with_output().unwrap();
            panic!("ended before the signal ({status}):\n{}", String::from_utf8_lossy(&out.stderr));
        }
        assert!(Instant::now() < deadline, "the work did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("did not stop within 60 s of SIG{signal}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// No ffmpeg process whose command line names `marker` is left running.
fn no_ffmpeg_left(marker: &Path) {
    std::thread::sleep(Duration::from_millis(200));
    let out = Command::new("pgrep").args(["-af", "ffmpeg"]).output().unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    let left: Vec<&str> = listing.lines().filter(|l| l.contains(&*marker.to_string_lossy())).collect();
    assert!(left.is_empty(), "ffmpeg still running: {left:?}");
}

#[track_caller]
fn assert_stopped(code: Option<i32>, stderr: &str, signal: (&str, i32)) {
    assert_eq!(code, Some(128 + signal.1), "exit status after SIG{}:\n{stderr}", signal.0);
    assert!(stderr.contains(&format!("(SIG{})", signal.0)), "the signal should be named:\n{stderr}");
}

fn photo(w: u32, h: u32, seed: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| image::Rgb([((x * 3 + seed * 40) % 256) as u8, ((y * 5) % 256) as u8, (((x ^ y) + seed) % 256) as u8]))
}

#[test]
fn stylize_stops_between_images_and_what_it_wrote_is_whole() {
    for signal in SIGNALS {
        let s = Scratch::new();
        for i in 0..12 {
            s.image(format!("in/p{i:02}.png"), photo(480, 360, i));
        }
        let out = s.path("out");
        let child = s.stylize_command(s.model(), &[&s.path("in")], &out).stderr(Stdio::piped()).spawn().unwrap();
        let written = || tree(&out).iter().any(|p| p.extension().is_some_and(|e| e == "png"));
        let (code, stderr) = stop_midway(child, written, signal.0);
        assert_stopped(code, &stderr, signal);
        assert!(temporaries(&out).is_empty(), "left behind: {:?}", temporaries(&out));
        let done = tree(&out);
        assert!(!done.is_empty() && done.len() < 12, "stopped midway, wrote {}", done.len());
        for p in done {
            assert_eq!(decode(&out.join(&p)).width(), 480, "{} is not whole", p.display());
        }
    }
}

#[test]
fn video_stops_its_ffmpeg_and_leaves_nothing() {
    let s = Scratch::new();
    let input = s.clip("in/long.mp4", &["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "60", "-c:v", "libx264", "-preset", "ultrafast"]);
    for signal in SIGNALS {
        let out = s.mkdir(format!("out-{}", signal.0));
        let child = s.video_command(s.model(), &[&input], &out.join("long.mp4")).stderr(Stdio::piped()).spawn().unwrap();
        let started = || !tree(&out).is_empty();
        let (code, stderr) = stop_midway(child, started, signal.0);
        assert_stopped(code, &stderr, signal);
        assert!(tree(&out).is_empty(), "left behind: {:?}", tree(&out));
        no_ffmpeg_left(&out);
    }
}

#[test]
fn live_finishes_its_recording() {
    for signal in SIGNALS {
        let s = Scratch::new();
        let rec = s.path("rec/live.mkv");
        let mut cmd = Command::new(binary("nst"));
        cmd.args(["live", "--source", "test", "--resolution", "64x48", "--headless", "--threads", "1", "--ep", "cpu", "-m"]);
        cmd.arg(s.model()).arg("--record").arg(&rec).stdout(Stdio::null()).stderr(Stdio::piped());
        let child = cmd.spawn().unwrap();
        let recording = || tree(&s.path("rec")).iter().any(|p| std::fs::metadata(s.path("rec").join(p)).is_ok_and(|m| m.len() > 2000));
        std::fs::create_dir_all(s.path("rec")).unwrap();
        let (code, stderr) = stop_midway(child, recording, signal.0);
        assert_stopped(code, &stderr, signal);
        assert!(temporaries(&s.path("rec")).is_empty(), "left behind: {:?}", temporaries(&s.path("rec")));
        assert!(!video_frames(&rec).is_empty(), "the recording should be finished and readable");
        no_ffmpeg_left(&rec);
    }
}

#[test]
fn sheet_writes_nothing_when_stopped() {
    for signal in SIGNALS {
        let s = Scratch::new();
        let input = s.image("photo.png", photo(640, 480, 1));
        let model = s.model().to_string_lossy().into_owned();
        let styles = vec![model; 40].join(",");
        let out = s.mkdir("out");
        let mut cmd = Command::new(binary("nst"));
        cmd.args(["sheet", "--max-size", "640", "--threads", "1", "--ep", "cpu", "--styles", &styles, "-o"]);
        cmd.arg(out.join("sheet.png")).arg(&input).stderr(Stdio::piped());
        let child = cmd.spawn().unwrap();
        let began = Instant::now();
        let (code, stderr) = stop_midway(child, || began.elapsed() > Duration::from_millis(1500), signal.0);
        assert_stopped(code, &stderr, signal);
        assert!(tree(&out).is_empty(), "left behind: {:?}", tree(&out));
    }
}

/// A tiny dataset and style for the trainer binaries.
fn training_inputs(s: &Scratch) {
    for i in 0..4 {
        s.image(format!("data/p{i}.png"), photo(64, 48, i));
    }
    s.image("style.png", photo(64, 64, 7));
}

#[test]
fn nst_train_writes_a_checkpoint_and_exports_nothing() {
    for signal in SIGNALS {
        let s = Scratch::new();
        training_inputs(&s);
        let mut cmd = Command::new(binary("nst-train"));
        cmd.args(["--image-size", "32", "--style-size", "64", "--batch-size", "2", "--base-channels", "4", "--residual-blocks", "1"]);
        cmd.args(["--threads", "1", "--device", "cpu", "--iterations", "100000", "--sample-every", "0", "--checkpoint-every", "0"]);
        cmd.arg("--style").arg(s.path("style.png")).arg("--dataset").arg(s.path("data"));
        cmd.arg("--checkpoint-dir").arg(s.path("run")).arg("-o").arg(s.path("model.onnx")).stderr(Stdio::piped());
        let child = cmd.spawn().unwrap();
        let csv = s.path("run/losses.csv");
        let stepping = || std::fs::read_to_string(&csv).is_ok_and(|t| t.lines().count() > 3);
        let (code, stderr) = stop_midway(child, stepping, signal.0);
        assert_stopped(code, &stderr, signal);
        assert!(s.path("run/checkpoint.safetensors").is_file(), "a checkpoint should be written:\n{stderr}");
        assert!(stderr.contains("--resume"), "{stderr}");
        assert!(!s.path("model.onnx").exists());
        assert!(temporaries(&s.path("")).is_empty(), "left behind: {:?}", temporaries(&s.path("")));
    }
}

#[test]
fn nst_classic_writes_nothing_half_done() {
    for signal in SIGNALS {
        let s = Scratch::new();
        let content = s.image("content.png", photo(64, 48, 2));
        let style = s.image("style.png", photo(64, 64, 5));
        let out = s.mkdir("out");
        let mut cmd = Command::new(binary("nst-classic"));
        cmd.args(["--size", "64", "--iterations", "100000", "--threads", "1", "--device", "cpu", "--save-every", "5"]);
        cmd.arg("--content").arg(&content).arg("--style").arg(&style).arg("-o").arg(out.join("result.png")).stderr(Stdio::piped());
        let child = cmd.spawn().unwrap();
        let saving = || tree(&out).len() >= 2;
        let (code, stderr) = stop_midway(child, saving, signal.0);
        assert_stopped(code, &stderr, signal);
        assert!(!out.join("result.png").exists(), "an interrupted run writes no result");
        assert!(temporaries(&out).is_empty(), "left behind: {:?}", temporaries(&out));
        for p in tree(&out) {
            decode(&out.join(&p));
        }
    }
}
