//! Helpers for the end-to-end tests of the built binaries: finding `nst` and `nst-train`,
//! running them, a scratch folder per test with an untrained model, and test inputs made
//! in code (images, EXIF-rotated JPEGs, a lying PNG header, hand-written ONNX files,
//! video clips made with ffmpeg, and reading videos back with ffprobe/ffmpeg).

use std::cell::OnceCell;
use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use image::codecs::jpeg::JpegEncoder;
use image::{Rgb, RgbImage};

/// The folder with the built binaries. A test executable is `target/<profile>/deps/<test>`,
/// the binaries are `target/<profile>/<name>`.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("path of the test executable");
    exe.parent().and_then(Path::parent).expect("the test executable lies in target/<profile>/deps").to_path_buf()
}

/// A built binary of the workspace; panics with what to do when it is missing.
pub fn binary(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    if !path.is_file() {
        panic!("{} is missing: run `cargo build --release --bins` (or `make test`) first", path.display());
    }
    path
}

/// A command for the `nst` binary, with plain (uncoloured) logs and no inherited
/// settings that would change what it does.
pub fn nst() -> Command {
    let mut cmd = Command::new(binary("nst"));
    cmd.env("NO_COLOR", "1").env_remove("RUST_LOG").env_remove("NST_WEIGHTS_DIR");
    cmd
}

/// What a finished command returned and printed.
#[derive(Debug)]
pub struct Run {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Runs a command to completion.
    pub fn of(cmd: &mut Command) -> Self {
        let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
        Self {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The stderr lines that report an error.
    pub fn error_lines(&self) -> Vec<&str> {
        self.stderr.lines().filter(|l| l.starts_with("error:")).collect()
    }

    /// Asserts the command succeeded.
    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        assert!(self.success, "the command failed:\n{}", self.stderr);
        self
    }

    /// Asserts the command failed with exactly one error line, which mentions `needle`
    /// (typically the offending file); returns that line.
    #[track_caller]
    pub fn assert_one_error(&self, needle: &str) -> &str {
        assert!(!self.success, "the command should have failed:\n{}", self.stderr);
        let errors = self.error_lines();
        assert_eq!(errors.len(), 1, "expected one error line:\n{}", self.stderr);
        assert!(errors[0].contains(needle), "the error should mention {needle:?}:\n{}", self.stderr);
        errors[0]
    }
}

/// A temporary folder for one test, with an untrained model made on first use.
pub struct Scratch {
    dir: tempfile::TempDir,
    model: OnceCell<PathBuf>,
}

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}

impl Scratch {
    pub fn new() -> Self {
        Self { dir: tempfile::tempdir().expect("temporary folder"), model: OnceCell::new() }
    }

    /// A path inside the scratch folder (nothing is created).
    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A folder inside the scratch folder, created empty.
    pub fn mkdir(&self, rel: impl AsRef<Path>) -> PathBuf {
        let dir = self.path(rel);
        std::fs::create_dir_all(&dir).expect("create folder");
        dir
    }

    /// Writes a file inside the scratch folder (creating its folder) and returns its path.
    pub fn write(&self, rel: impl AsRef<Path>, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().expect("a file path has a parent")).expect("create folder");
        std::fs::write(&path, bytes).expect("write file");
        path
    }

    /// Saves an image inside the scratch folder; the extension picks the format.
    pub fn image(&self, rel: impl AsRef<Path>, img: impl Into<image::DynamicImage>) -> PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().expect("a file path has a parent")).expect("create folder");
        img.into().save(&path).unwrap_or_else(|e| panic!("save {}: {e}", path.display()));
        path
    }

    /// An untrained network written by `nst-train init` (in its own folder, `model/`).
    pub fn model(&self) -> &Path {
        self.model.get_or_init(|| {
            let path = self.mkdir("model").join("untrained.onnx");
            let mut cmd = Command::new(binary("nst-train"));
            cmd.args(["init", "--seed", "1", "-o"]).arg(&path);
            Run::of(&mut cmd).assert_ok();
            path
        })
    }

    /// `nst stylize` with this scratch's model on one CPU thread, plus `extra` arguments.
    pub fn stylize(&self, inputs: &[&Path], output: &Path, extra: &[&str]) -> Run {
        Run::of(self.stylize_command(self.model(), inputs, output).args(extra))
    }

    /// The `nst video` command with `--model` (a path or a style name), on one CPU thread.
    pub fn video_command(&self, model: impl AsRef<OsStr>, inputs: &[&Path], output: &Path) -> Command {
        let mut cmd = nst();
        cmd.arg("video").args(inputs).arg("-o").arg(output).arg("--model").arg(model);
        cmd.args(["--ep", "cpu", "--threads", "1"]);
        cmd
    }

    /// `nst video` with this scratch's model on one CPU thread, plus `extra` arguments.
    pub fn video(&self, inputs: &[&Path], output: &Path, extra: &[&str]) -> Run {
        Run::of(self.video_command(self.model(), inputs, output).args(extra))
    }

    /// Makes a clip with ffmpeg: `args` are everything between `ffmpeg` and the output
    /// (e.g. lavfi test sources and codec options). Returns its path.
    pub fn clip(&self, rel: impl AsRef<Path>, args: &[&str]) -> PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().expect("a file path has a parent")).expect("create folder");
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-nostdin", "-v", "error", "-y"]).args(args).arg(&path);
        Run::of(&mut cmd).assert_ok();
        path
    }

    /// The `nst stylize` command with `--model` (a path or a style name), on one CPU thread.
    pub fn stylize_command(&self, model: impl AsRef<OsStr>, inputs: &[&Path], output: &Path) -> Command {
        let mut cmd = nst();
        cmd.arg("stylize").args(inputs).arg("-o").arg(output).arg("--model").arg(model);
        cmd.args(["--ep", "cpu", "--threads", "1"]);
        cmd
    }
}

/// Every file and folder under `dir` (hidden ones included), relative to it; empty when
/// `dir` does not exist.
pub fn tree(dir: &Path) -> BTreeSet<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries {
            let path = entry.expect("folder entry").path();
            out.insert(path.strip_prefix(root).expect("under the root").to_path_buf());
            if path.is_dir() {
                walk(root, &path, out);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

/// A set of relative paths, for comparing with [`tree`].
pub fn paths<const N: usize>(items: [&str; N]) -> BTreeSet<PathBuf> {
    items.into_iter().map(PathBuf::from).collect()
}

/// Decodes an image file (format from its content).
#[track_caller]
pub fn decode(path: &Path) -> image::DynamicImage {
    image::ImageReader::open(path)
        .and_then(|r| r.with_guessed_format())
        .map_err(image::ImageError::IoError)
        .and_then(|r| r.decode())
        .unwrap_or_else(|e| panic!("cannot decode {}: {e}", path.display()))
}

/// A colourful test picture: hue changes across, brightness down, with some texture.
pub fn pattern(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let fx = x as f32 / w.max(2) as f32;
        let fy = y as f32 / h.max(2) as f32;
        let texture = if (x / 3 + y / 3) % 2 == 0 { 20.0 } else { 0.0 };
        Rgb([(230.0 * (1.0 - fx) + texture) as u8, (40.0 + 180.0 * fy) as u8, (30.0 + 200.0 * fx * (1.0 - fy) + texture) as u8])
    })
}

/// The largest difference of any channel of any pixel.
pub fn max_abs_diff(a: &RgbImage, b: &RgbImage) -> u8 {
    assert_eq!(a.dimensions(), b.dimensions(), "images of different sizes");
    a.as_raw().iter().zip(b.as_raw()).map(|(p, q)| p.abs_diff(*q)).max().unwrap_or(0)
}

/// The mean difference over all channels and pixels.
pub fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions(), "images of different sizes");
    let sum: u64 = a.as_raw().iter().zip(b.as_raw()).map(|(p, q)| p.abs_diff(*q) as u64).sum();
    sum as f64 / a.as_raw().len() as f64
}

/// The mean difference of chroma (Cb and Cr of full-range BT.601 YCbCr) between two images.
pub fn mean_chroma_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions(), "images of different sizes");
    fn chroma(Rgb([r, g, b]): Rgb<u8>) -> (f64, f64) {
        let (r, g, b) = (r as f64, g as f64, b as f64);
        (128.0 - 0.168_736 * r - 0.331_264 * g + 0.5 * b, 128.0 + 0.5 * r - 0.418_688 * g - 0.081_312 * b)
    }
    let sum: f64 = a
        .pixels()
        .zip(b.pixels())
        .map(|(p, q)| {
            let ((cb1, cr1), (cb2, cr2)) = (chroma(*p), chroma(*q));
            (cb1 - cb2).abs() + (cr1 - cr2).abs()
        })
        .sum();
    sum / (2 * a.pixels().len()) as f64
}

/// A JPEG of `img` carrying an EXIF Orientation tag (1-8) in an APP1 segment right
/// after the SOI marker.
pub fn jpeg_with_orientation(img: &RgbImage, orientation: u16) -> Vec<u8> {
    let mut jpeg = Vec::new();
    img.write_with_encoder(JpegEncoder::new_with_quality(&mut jpeg, 95)).expect("encode JPEG");
    assert_eq!(&jpeg[..2], [0xFF, 0xD8], "a JPEG starts with SOI");

    let mut exif = b"Exif\0\0".to_vec();
    exif.extend_from_slice(b"II*\0"); // little-endian TIFF header
    exif.extend_from_slice(&8u32.to_le_bytes()); // offset of the first IFD
    exif.extend_from_slice(&1u16.to_le_bytes()); // one entry
    exif.extend_from_slice(&0x0112u16.to_le_bytes()); // tag: Orientation
    exif.extend_from_slice(&3u16.to_le_bytes()); // type: SHORT
    exif.extend_from_slice(&1u32.to_le_bytes()); // count
    exif.extend_from_slice(&orientation.to_le_bytes());
    exif.extend_from_slice(&[0, 0]); // the value field is 4 bytes
    exif.extend_from_slice(&0u32.to_le_bytes()); // no next IFD

    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&(exif.len() as u16 + 2).to_be_bytes()); // the length counts itself
    out.extend_from_slice(&exif);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// A PNG signature and IHDR chunk for an 8-bit RGB image of the given size (no data).
pub fn png_header(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend_from_slice(&13u32.to_be_bytes());
    out.extend_from_slice(&ihdr);
    out.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A valid ONNX model written by hand: one Identity node from a float32 `input`
/// `[1, 3, H, W]` to `output`, with the given `metadata_props`. With the nst metadata it
/// is a style model that returns its input unchanged; without, a foreign ONNX file.
pub fn onnx_identity(metadata: &[(&str, &str)]) -> Vec<u8> {
    // Protobuf: a field is a key (number << 3 | wire type) then a varint or a
    // length-prefixed payload.
    fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push(v as u8 | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    fn int(out: &mut Vec<u8>, field: u64, v: u64) {
        varint(out, field << 3);
        varint(out, v);
    }
    fn bytes(out: &mut Vec<u8>, field: u64, data: &[u8]) {
        varint(out, field << 3 | 2);
        varint(out, data.len() as u64);
        out.extend_from_slice(data);
    }
    fn message(build: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut out = Vec::new();
        build(&mut out);
        out
    }
    let value_info = |name: &str| {
        let shape = message(|s| {
            bytes(s, 1, &message(|d| int(d, 1, 1))); // dim_value
            bytes(s, 1, &message(|d| int(d, 1, 3)));
            bytes(s, 1, &message(|d| bytes(d, 2, b"H"))); // dim_param
            bytes(s, 1, &message(|d| bytes(d, 2, b"W")));
        });
        let tensor = message(|t| {
            int(t, 1, 1); // elem_type FLOAT
            bytes(t, 2, &shape);
        });
        message(|v| {
            bytes(v, 1, name.as_bytes());
            bytes(v, 2, &message(|ty| bytes(ty, 1, &tensor))); // TypeProto.tensor_type
        })
    };
    let node = message(|n| {
        bytes(n, 1, b"input");
        bytes(n, 2, b"output");
        bytes(n, 4, b"Identity"); // op_type
    });
    let graph = message(|g| {
        bytes(g, 1, &node);
        bytes(g, 2, b"identity");
        bytes(g, 11, &value_info("input"));
        bytes(g, 12, &value_info("output"));
    });
    message(|m| {
        int(m, 1, 8); // ir_version
        bytes(m, 2, b"nst-tests"); // producer_name
        bytes(m, 7, &graph);
        bytes(m, 8, &message(|o| int(o, 2, 13))); // opset_import: default domain, version 13
        for (key, value) in metadata {
            bytes(
                m,
                14,
                &message(|p| {
                    bytes(p, 1, key.as_bytes());
                    bytes(p, 2, value.as_bytes());
                }),
            );
        }
    })
}

/// The metadata that makes [`onnx_identity`] an nst style model.
pub const NST_METADATA: &[(&str, &str)] =
    &[("nst.format_version", "1"), ("nst.architecture", "johnson2016"), ("nst.style_name", "identity"), ("nst.trained", "true")];

/// What ffprobe says about a media file (`-show_format -show_streams`, JSON); panics when
/// ffprobe cannot read it.
#[track_caller]
pub fn ffprobe(path: &Path) -> serde_json::Value {
    let mut cmd = Command::new("ffprobe");
    cmd.args(["-v", "error", "-print_format", "json", "-show_format", "-show_streams"]).arg(path);
    let run = Run::of(&mut cmd);
    assert!(run.success, "ffprobe cannot read {}:\n{}", path.display(), run.stderr);
    serde_json::from_str(&run.stdout).expect("ffprobe JSON")
}

/// The first stream of a type ("video", "audio") in ffprobe's answer.
#[track_caller]
pub fn stream<'a>(probe: &'a serde_json::Value, codec_type: &str) -> &'a serde_json::Value {
    probe["streams"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["codec_type"] == codec_type))
        .unwrap_or_else(|| panic!("no {codec_type} stream in {probe}"))
}

/// A number ffprobe wrote as a string ("1.500000").
#[track_caller]
pub fn number(v: &serde_json::Value) -> f64 {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Every frame of a video's first video stream as shown (rotation applied), decoded by
/// ffmpeg; also the number of frames ffmpeg counts.
#[track_caller]
pub fn video_frames(path: &Path) -> Vec<RgbImage> {
    let mut cmd = Command::new("ffprobe");
    cmd.args(["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height:stream_side_data=rotation"]);
    cmd.args(["-print_format", "json"]).arg(path);
    let run = Run::of(&mut cmd);
    assert!(run.success, "ffprobe {}: {}", path.display(), run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("ffprobe JSON");
    let s = &json["streams"][0];
    let (mut w, mut h) = (s["width"].as_u64().expect("width") as u32, s["height"].as_u64().expect("height") as u32);
    let quarter_turn = s["side_data_list"]
        .as_array()
        .and_then(|l| l.iter().find_map(|d| d["rotation"].as_f64()))
        .is_some_and(|r| (r.abs() as i64 / 90) % 2 == 1);
    if quarter_turn {
        std::mem::swap(&mut w, &mut h);
    }
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-nostdin", "-v", "error", "-i"]).arg(path);
    cmd.args(["-map", "0:v:0", "-vsync", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]);
    let out = cmd.output().expect("run ffmpeg");
    assert!(out.status.success(), "ffmpeg cannot decode {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    let size = (w * h * 3) as usize;
    assert_eq!(out.stdout.len() % size, 0, "{}: decoded bytes are not whole {w}x{h} frames", path.display());
    out.stdout.chunks_exact(size).map(|c| RgbImage::from_raw(w, h, c.to_vec()).expect("frame")).collect()
}

/// The project's root folder (the checkout).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A file of the project's `weights/` folder (the bundled models).
pub fn weights(name: &str) -> PathBuf {
    project_root().join("weights").join(name)
}

/// The folder `shared/` beside the project checkout (test videos), if it is there.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = project_root().join("../shared");
    dir.is_dir().then_some(dir)
}

/// The `--help` text of a built binary (`args`: a subcommand, or nothing), uncoloured;
/// panics when `--help` fails.
pub fn help_text(bin: &str, args: &[&str]) -> String {
    let out = Command::new(binary(bin)).args(args).arg("--help").env("NO_COLOR", "1").output().expect("run --help");
    assert!(out.status.success(), "{bin} {args:?} --help failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 help")
}

/// Hidden temporary files (`.name.XXXX.tmp`, as `fsio` and ffmpeg's outputs leave them)
/// anywhere under `dir`.
pub fn temporaries(dir: &Path) -> Vec<PathBuf> {
    tree(dir)
        .into_iter()
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            name.starts_with('.') || name.ends_with(".tmp")
        })
        .collect()
}

/// A small tmpfs mounted for a test (needs root), `size` as mount takes it ("1m", "64k"),
/// optionally read-only; unmounted when dropped. `None` where it cannot be mounted (the
/// tests that need it then say so and return).
pub struct SmallDisk(pub PathBuf);

impl SmallDisk {
    pub fn mount(dir: PathBuf, size: &str, read_only: bool) -> Option<Self> {
        let mut options = format!("size={size}");
        if read_only {
            options.push_str(",ro");
        }
        let mut cmd = Command::new("mount");
        cmd.args(["-t", "tmpfs", "-o", &options, "tmpfs"]).arg(&dir).stderr(Stdio::null());
        cmd.status().ok().filter(|s| s.success()).map(|_| Self(dir))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A real `nst serve` on a free loopback port, stopped (SIGKILL) when dropped; its stderr
/// goes to a file that [`Server::log`] reads.
pub struct Server {
    pub child: std::process::Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    log: tempfile::NamedTempFile,
}

impl Server {
    /// Starts `nst serve --bind 127.0.0.1:0 ARGS` and waits until `/readyz` answers 200.
    pub fn start(args: &[&str]) -> Server {
        use std::io::BufRead;
        let log = tempfile::NamedTempFile::new().expect("a log file");
        let mut child = nst()
            .args(["serve", "--bind", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(log.reopen().expect("the log file"))
            .spawn()
            .expect("cannot start nst serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = std::io::BufReader::new(stdout).lines();
        let first = lines.next().and_then(|l| l.ok()).unwrap_or_default();
        // Keep reading stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let Some(rest) = first.split("listening on http://").nth(1) else {
            let _ = child.kill();
            panic!("nst serve did not start: {first:?}\n{}", std::fs::read_to_string(log.path()).unwrap_or_default());
        };
        let addr = rest.split('/').next().unwrap_or_default().to_string();
        let server = Server { child, base: format!("http://{addr}"), log };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if let Ok(r) = reqwest::blocking::get(server.url("/readyz")) {
                if r.status() == 200 {
                    return server;
                }
            }
            assert!(std::time::Instant::now() < deadline, "nst serve was not ready within 60 s:\n{}", server.log());
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// What the server wrote on stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// Sends a signal (by name: TERM, INT) to the server.
    pub fn signal(&self, name: &str) {
        assert!(Command::new("kill").args([&format!("-{name}"), &self.child.id().to_string()]).status().expect("kill").success());
    }

    /// Waits up to `secs` for the server to exit; its exit code.
    pub fn wait_exit(&mut self, secs: u64) -> Option<i32> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("nst serve did not exit within {secs} s:\n{}", self.log());
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Encodes an image as JPEG (quality 90) or PNG, in memory.
pub fn encode(img: &RgbImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img.clone()).write_to(&mut out, format).expect("encode");
    out.into_inner()
}
