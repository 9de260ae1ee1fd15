//! Mutated inputs: images of every supported format, model files and video headers,
//! damaged at random (seeded, so a run is repeatable) and cut short, go through the entry
//! points the commands use (`imageio::load`, `StyleModel::load` + a run, `video::probe` +
//! `video::convert`), in the `nst-mutant` harness under a memory limit. Every case must
//! end in a value or a clean refusal within a time limit: never a panic, an abort, a
//! crash, a hang, memory past the limit, or (for a refused video) an output file.
//!
//! The files of `tests/bad/` (inputs that once failed) run first, every time. A failing
//! case is copied to `target/mutations-failed/` and named in the failure; add it to
//! `tests/bad/` with the fix. `NST_MUTATIONS` scales the number of random cases (default
//! 1; CI runs the default, a few thousand cases in well under a minute).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use image::{ImageFormat, RgbImage};
use nst_tests::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Address space for the harness (3 GiB; prlimit takes bytes): far above what a tiny input
/// needs, far below the machine.
const MEMORY_LIMIT: u64 = 3 << 30;
/// A case that takes longer than this is a hang.
const CASE_LIMIT: Duration = Duration::from_secs(20);

/// One input and the entry point it goes through.
struct Case {
    kind: &'static str,
    path: PathBuf,
    /// For videos: where the conversion writes.
    output: Option<PathBuf>,
}

/// The `nst-mutant` process, restarted after a crash or a hang.
struct Harness {
    child: Child,
    stdin: ChildStdin,
    answers: Receiver<String>,
}

impl Harness {
    fn start() -> Self {
        let bin = env!("CARGO_BIN_EXE_nst-mutant");
        let mut cmd = if Path::new("/usr/bin/prlimit").exists() {
            let mut c = Command::new("/usr/bin/prlimit");
            c.arg(format!("--as={MEMORY_LIMIT}")).arg("--").arg(bin);
            c
        } else {
            Command::new(bin)
        };
        let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("start nst-mutant");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, answers) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, stdin, answers }
    }

    /// The harness's answer for one case, or why there is none.
    fn ask(&mut self, line: &str) -> Result<String, String> {
        writeln!(self.stdin, "{line}").map_err(|e| format!("the harness is gone ({e})"))?;
        match self.answers.recv_timeout(CASE_LIMIT) {
            Ok(answer) => Ok(answer.split_once(' ').map(|(_, a)| a.to_string()).unwrap_or(answer)),
            Err(mpsc::RecvTimeoutError::Timeout) => Err(format!("no answer within {CASE_LIMIT:?} (a hang)")),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = self.child.wait().map(|s| s.to_string()).unwrap_or_default();
                Err(format!("the harness died ({status}: an abort, a crash or memory past {} GiB)", MEMORY_LIMIT >> 30))
            }
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs every case; returns the failures (case path, what went wrong).
fn run_cases(cases: &[Case], model: &Path) -> (Vec<(PathBuf, String)>, usize) {
    let mut harness = Harness::start();
    let mut failures = Vec::new();
    let mut refused = 0;
    for case in cases {
        let mut line = format!("{}\t{}", case.kind, case.path.display());
        if let Some(out) = &case.output {
            line.push_str(&format!("\t{}\t{}", model.display(), out.display()));
        }
        match harness.ask(&line) {
            Ok(answer) if answer.starts_with("ok") => {}
            Ok(answer) if answer.starts_with("refused") => {
                refused += 1;
                if let Some(out) = &case.output {
                    let dir = out.parent().unwrap();
                    let left = tree(dir);
                    if !left.is_empty() {
                        failures.push((case.path.clone(), format!("refused but left {left:?}")));
                    }
                }
            }
            Ok(answer) => failures.push((case.path.clone(), answer)),
            Err(why) => {
                failures.push((case.path.clone(), why));
                harness = Harness::start();
            }
        }
    }
    (failures, refused)
}

/// A random change to `bytes`: flipped bits, a garbled range, a size field set to an
/// extreme, bytes inserted or deleted, or a cut; `head` > 0 keeps the changes within the
/// first `head` bytes (headers).
fn mutate(rng: &mut StdRng, bytes: &[u8], head: usize) -> Vec<u8> {
    let mut b = bytes.to_vec();
    for _ in 0..rng.random_range(1..4) {
        let span = if head > 0 { head.min(b.len()) } else { b.len() };
        let at = |rng: &mut StdRng| rng.random_range(0..span);
        match rng.random_range(0..6) {
            0 => {
                for _ in 0..rng.random_range(1..8) {
                    let i = at(rng);
                    b[i] ^= 1 << rng.random_range(0..8);
                }
            }
            1 => {
                let i = at(rng);
                let n = rng.random_range(1..32).min(b.len() - i);
                rng.fill(&mut b[i..i + n]);
            }
            2 => {
                let i = at(rng).min(b.len().saturating_sub(4));
                let v: [u8; 4] = [[0xff; 4], [0x7f, 0xff, 0xff, 0xff], [0, 0, 0, 0], [0xff, 0xff, 0xff, 0x7f]][rng.random_range(0..4)];
                b[i..i + 4].copy_from_slice(&v);
            }
            3 => {
                let i = at(rng);
                let extra: Vec<u8> = (0..rng.random_range(1..16)).map(|_| rng.random()).collect();
                b.splice(i..i, extra);
            }
            4 => {
                let i = at(rng);
                let n = rng.random_range(1..16).min(b.len() - i);
                b.drain(i..i + n);
            }
            _ => {
                let keep = rng.random_range(0..b.len());
                b.truncate(keep);
            }
        }
        if b.len() < 8 {
            break;
        }
    }
    b
}

fn encode(img: &RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img.clone()).write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn scale() -> usize {
    std::env::var("NST_MUTATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(1).max(1)
}

/// The kind of a regression file in tests/bad/, by its extension.
fn kind_of(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or_default() {
        "onnx" => "model",
        "mp4" | "avi" | "mkv" | "mov" => "video",
        _ => "image",
    }
}

#[test]
fn mutated_inputs_are_refused_cleanly() {
    let s = Scratch::new();
    let mut rng = StdRng::seed_from_u64(20261202);
    let mut cases = Vec::new();
    let video_case = |s: &Scratch, path: PathBuf, i: usize| {
        let out = s.mkdir(format!("video-out/{i}")).join("out.mp4");
        Case { kind: "video", path, output: Some(out) }
    };

    // Regression files first.
    let bad = Path::new(env!("CARGO_MANIFEST_DIR")).join("bad");
    let mut regressions: Vec<PathBuf> = std::fs::read_dir(&bad).map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect()).unwrap_or_default();
    regressions.retain(|p| p.is_file() && p.extension().is_some_and(|e| e != "md"));
    regressions.sort();
    for (i, path) in regressions.iter().enumerate() {
        match kind_of(path) {
            "video" => cases.push(video_case(&s, path.clone(), 100_000 + i)),
            kind => cases.push(Case { kind, path: path.clone(), output: None }),
        }
    }

    // Images of every supported format: random damage anywhere, damage in the header,
    // and cuts.
    let img = pattern(40, 30);
    let mut sources: Vec<(String, Vec<u8>)> = [
        (ImageFormat::Png, "png"),
        (ImageFormat::Jpeg, "jpg"),
        (ImageFormat::WebP, "webp"),
        (ImageFormat::Bmp, "bmp"),
        (ImageFormat::Tiff, "tif"),
        (ImageFormat::Gif, "gif"),
    ]
    .into_iter()
    .map(|(f, ext)| (ext.to_string(), encode(&img, f)))
    .collect();
    sources.push(("jpg".into(), jpeg_with_orientation(&img, 6)));
    let n = 120 * scale();
    for (k, (ext, bytes)) in sources.iter().enumerate() {
        for i in 0..n {
            let head = if i % 2 == 0 { 0 } else { 64 };
            let path = s.write(format!("img/{k}-{i}.{ext}"), mutate(&mut rng, bytes, head));
            cases.push(Case { kind: "image", path, output: None });
        }
        for i in 0..20 {
            let cut = bytes.len() * i / 20;
            let path = s.write(format!("img/{k}-cut{i}.{ext}"), &bytes[..cut]);
            cases.push(Case { kind: "image", path, output: None });
        }
    }
    let images = cases.len() - regressions.len();

    // Model files: a tiny fast network, damaged in its structure (the first 2 KB: graph,
    // nodes, metadata) or anywhere, and cut.
    let model = s.mkdir("model").join("tiny.onnx");
    let mut init = Command::new(binary("nst-train"));
    init.args(["init", "--variant", "fast", "--base-channels", "4", "--residual-blocks", "1", "-o"]).arg(&model);
    Run::of(&mut init).assert_ok();
    let bytes = std::fs::read(&model).unwrap();
    let n = 150 * scale();
    for i in 0..n {
        let head = if i % 3 == 2 { 0 } else { 2048 };
        let path = s.write(format!("models/{i}.onnx"), mutate(&mut rng, &bytes, head));
        cases.push(Case { kind: "model", path, output: None });
    }
    for i in 0..20 {
        let path = s.write(format!("models/cut{i}.onnx"), &bytes[..bytes.len() * i / 20]);
        cases.push(Case { kind: "model", path, output: None });
    }

    // Video headers: an H.264 mp4 (index at the front) and an MPEG-4 AVI, damaged in their
    // first kilobyte, and cut.
    let mp4 = s.clip("clips/a.mp4", &["-f", "lavfi", "-i", "testsrc2=size=48x32:rate=10", "-t", "0.5", "-c:v", "libx264", "-movflags", "+faststart"]);
    let avi = s.clip("clips/b.avi", &["-f", "lavfi", "-i", "testsrc=size=48x32:rate=10", "-t", "0.5", "-c:v", "mpeg4"]);
    let n = 12 * scale();
    for (k, clip) in [mp4, avi].iter().enumerate() {
        let bytes = std::fs::read(clip).unwrap();
        let ext = clip.extension().unwrap().to_string_lossy().into_owned();
        for i in 0..n {
            let path = s.write(format!("videos/{k}-{i}.{ext}"), mutate(&mut rng, &bytes, 1024));
            cases.push(video_case(&s, path, k * 1000 + i));
        }
        for i in 1..4 {
            let path = s.write(format!("videos/{k}-cut{i}.{ext}"), &bytes[..bytes.len() * i / 4]);
            cases.push(video_case(&s, path, k * 1000 + 500 + i));
        }
    }

    let (failures, refused) = run_cases(&cases, &model);
    eprintln!(
        "{} cases ({} regression files, {images} images, models and videos): {refused} refused, {} failed",
        cases.len(),
        regressions.len(),
        failures.len()
    );
    if !failures.is_empty() {
        let keep = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/mutations-failed");
        std::fs::create_dir_all(&keep).unwrap();
        let mut report = String::new();
        for (path, why) in &failures {
            let dest = keep.join(path.file_name().unwrap());
            let _ = std::fs::copy(path, &dest);
            report.push_str(&format!("\n  {}: {why}", dest.display()));
        }
        panic!("{} of {} mutated inputs were not refused cleanly:{report}", failures.len(), cases.len());
    }
    // The cases do reach the decoders: most damaged inputs are refused, some still decode.
    assert!(refused > cases.len() / 4, "only {refused} of {} refused: the mutations do not damage much", cases.len());
    assert!(refused < cases.len(), "nothing decoded: the harness is not running the entry points");
}
