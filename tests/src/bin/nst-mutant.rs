//! Runs one of nst's entry points on each input named on stdin, for the mutation test
//! (`tests/tests/mutations.rs`): one line in, `<index> ok|refused <message>` out. A
//! panic is caught and reported as `<index> panic <message>`; an abort, a crash, a hang or
//! running out of the memory limit shows to the test as a missing answer.
//!
//! Lines: `image PATH` (`imageio::load`, what `nst stylize` decodes files with), `model
//! PATH` (`StyleModel::load`, then a 24x20 image through it), `video PATH MODEL OUT`
//! (`video::probe`, then `video::convert` at 32 px to OUT).

use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::atomic::AtomicBool;

use nst_runtime::model::{SessionConfig, StyleModel};
use nst_runtime::{ep, imageio, video};

fn run(line: &str) -> Result<String, String> {
    let mut parts = line.split('\t');
    let kind = parts.next().unwrap_or_default();
    let path = Path::new(parts.next().ok_or("no path")?);
    let config = SessionConfig { provider: ep::Provider::Cpu, threads: Some(1), tiling: None };
    match kind {
        "image" => imageio::load(path).map(|p| format!("{}x{}", p.rgb.width(), p.rgb.height())).map_err(|e| e.to_string()),
        "model" => {
            let mut model = StyleModel::load(path, &config).map_err(|e| e.to_string())?;
            let img = image::RgbImage::from_fn(24, 20, |x, y| image::Rgb([(x * 10) as u8, (y * 12) as u8, 128]));
            model.stylize(&img).map(|o| format!("{}x{}", o.width(), o.height())).map_err(|e| e.to_string())
        }
        "video" => {
            let model_path = Path::new(parts.next().ok_or("no model")?);
            let out = Path::new(parts.next().ok_or("no output")?);
            let info = video::probe(path).map_err(|e| e.to_string())?;
            let mut model = StyleModel::load(model_path, &config).map_err(|e| e.to_string())?;
            let mut options = video::VideoOptions::default();
            options.image.max_size = Some(32);
            let cancel = AtomicBool::new(false);
            video::convert(&mut model, &info, out, &options, &cancel, |_| {}).map(|c| format!("{} frames", c.frames)).map_err(|e| e.to_string())
        }
        other => Err(format!("unknown kind {other}")),
    }
}

fn main() {
    // Panics are answers, not crashes: keep their message off stderr's default hook.
    std::panic::set_hook(Box::new(|_| {}));
    let stdout = std::io::stdout();
    for (i, line) in std::io::stdin().lock().lines().enumerate() {
        let Ok(line) = line else { break };
        let answer = match std::panic::catch_unwind(|| run(&line)) {
            Ok(Ok(m)) => format!("ok {m}"),
            Ok(Err(m)) => format!("refused {m}"),
            Err(p) => {
                let msg = p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
                format!("panic {}", msg.unwrap_or_default())
            }
        };
        let mut out = stdout.lock();
        let _ = writeln!(out, "{i} {}", answer.replace('\n', " "));
        let _ = out.flush();
    }
}
