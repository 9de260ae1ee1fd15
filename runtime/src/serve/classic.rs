//! `classic` jobs: the user's own painting through the classic optimisation (Gatys et
//! al.). That needs libtorch, which the runtime does not link: each job runs the
//! trainer's `nst-classic` binary (found beside `nst`) as a child process in a
//! temporary folder, follows its `--progress json` lines, and reads the result back.
//! Cancelling the job kills the child; the folder goes with the job's worker.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::jobs::{Job, Rendered};
use super::pool::Cancel;
use crate::error::{Error, Result};
use crate::imageio::{self, OutputFormat};

/// The classic optimisation's parameters a client may set.
#[derive(Debug, Clone, Copy)]
pub struct ClassicParams {
    /// Longer side of the result.
    pub size: u32,
    pub iterations: u32,
    pub preserve_color: bool,
    pub format: OutputFormat,
}

pub const MAX_SIZE: u32 = 1024;
pub const MAX_ITERATIONS: u32 = 2000;
pub const DEFAULT_SIZE: u32 = 384;
pub const DEFAULT_ITERATIONS: u32 = 300;

/// `nst-classic` beside the running `nst`, if it is there.
pub fn find_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let path = exe.parent()?.join(format!("nst-classic{}", std::env::consts::EXE_SUFFIX));
    path.is_file().then_some(path)
}

/// Runs one classic job to its end, reporting progress (and previews) on `job`.
pub fn run(binary: &Path, job: &Job, cancel: &Arc<Cancel>, photo: &[u8], painting: &[u8], params: ClassicParams, threads: usize) -> Result<Rendered> {
    let started = Instant::now();
    let dir = tempfile::Builder::new().prefix("nst-classic-job-").tempdir().map_err(|e| Error::Tool(format!("cannot make a temporary folder: {e}")))?;
    // The inputs as PNG: whatever the client sent, decoded here with the server's limits.
    let photo_path = dir.path().join("photo.png");
    let painting_path = dir.path().join("painting.png");
    for (bytes, path, what) in [(photo, &photo_path, "the photo"), (painting, &painting_path, "the painting")] {
        let picture = imageio::decode_picture(bytes, Path::new(what), Some(super::MAX_DECODE_PIXELS))?;
        imageio::save_rgb(path, &picture.rgb)?;
    }
    let output = dir.path().join(format!("result.{}", params.format.extension()));
    let save_every = (params.iterations / 10).max(10);
    let mut cmd = Command::new(binary);
    cmd.arg("--content")
        .arg(&photo_path)
        .arg("--style")
        .arg(&painting_path)
        .arg("-o")
        .arg(&output)
        .args(["--size", &params.size.to_string(), "--iterations", &params.iterations.to_string()])
        .args(["--save-every", &save_every.to_string(), "--progress", "json", "--threads", &threads.to_string(), "--device", "cpu"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if params.preserve_color {
        cmd.arg("--preserve-color");
    }
    let child = cmd.spawn().map_err(|e| Error::Tool(format!("cannot start nst-classic: {e}")))?;
    let child = Arc::new(Mutex::new(child));
    {
        let child = Arc::clone(&child);
        cancel.on_cancel(move || {
            let _ = child.lock().unwrap_or_else(|e| e.into_inner()).kill();
        });
    }
    let (stdout, stderr) = {
        let mut c = child.lock().unwrap_or_else(|e| e.into_inner());
        (c.stdout.take(), c.stderr.take())
    };
    // stderr is read aside so a chatty child never blocks on a full pipe.
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut err) = stderr {
            let _ = std::io::Read::read_to_string(&mut err, &mut text);
        }
        text
    });
    job.progress(0.0, "starting the optimisation");
    if let Some(out) = stdout {
        for line in std::io::BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
            let done = event["done"].as_f64().unwrap_or(0.0);
            let total = event["total"].as_f64().unwrap_or(f64::from(params.iterations)).max(1.0);
            match event["event"].as_str() {
                Some("iteration") => job.progress((done / total) as f32 * 0.98, format!("iteration {done} of {total}")),
                Some("intermediate") => {
                    if let Some(path) = event["path"].as_str() {
                        if let Ok(preview) = std::fs::read(path) {
                            job.set_preview(preview);
                        }
                        let _ = std::fs::remove_file(path);
                    }
                }
                _ => {}
            }
        }
    }
    let status = wait(&child)?;
    let stderr = stderr_reader.join().unwrap_or_default();
    if cancel.is_cancelled() {
        return Err(Error::Interrupted);
    }
    if !status.success() {
        let said = stderr.lines().rev().find(|l| l.starts_with("error:")).unwrap_or("").trim_start_matches("error:").trim();
        tracing::error!("nst-classic failed ({status}): {}", stderr.trim());
        // Its message names the job's temporary files: keep only what is about the work.
        let reason = if said.is_empty() { "the optimisation failed".to_string() } else { said.replace(&dir.path().display().to_string(), "") };
        return Err(Error::Tool(reason));
    }
    let bytes = std::fs::read(&output).map_err(|e| Error::Tool(format!("nst-classic wrote no result: {e}")))?;
    let (width, height) = image::ImageReader::new(std::io::Cursor::new(&bytes))
        .with_guessed_format()
        .ok()
        .and_then(|r| r.into_dimensions().ok())
        .unwrap_or((0, 0));
    Ok(Rendered {
        bytes: Arc::new(bytes),
        content_type: params.format.mime_type(),
        width,
        height,
        work: started.elapsed(),
        extension: params.format.extension(),
    })
}

fn wait(child: &Arc<Mutex<Child>>) -> Result<std::process::ExitStatus> {
    loop {
        if let Some(status) = child.lock().unwrap_or_else(|e| e.into_inner()).try_wait().map_err(|e| Error::Tool(format!("nst-classic: {e}")))? {
            return Ok(status);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
