//! Criterion benchmarks of the nst pipeline on the CPU: pre-processing, post-processing
//! and inference. Images are made in code; the models are the default style's bundled
//! files (full, fast and the fast model's int8 copy), or a fresh untrained network from
//! `nst-train init` where a float file is missing.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use image::RgbImage;
use nst_runtime::color;
use nst_runtime::ep::Provider;
use nst_runtime::imageio;
use nst_runtime::live::source::TestPattern;
use nst_runtime::model::{SessionConfig, StyleModel};

/// The workspace root (benches/..).
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// A deterministic photo-sized test image: gradients with a little pseudo-random texture.
fn test_image(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let n = ((x.wrapping_mul(73_856_093) ^ y.wrapping_mul(19_349_663)) >> 28) as u8;
        image::Rgb([(x * 240 / w) as u8 + n, (y * 240 / h) as u8 + n, ((x + y) * 240 / (w + h)) as u8 + n])
    })
}

fn fail(msg: String) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(1)
}

/// The model of a variant: the default style's bundled file (`weights/vg_starry_night.onnx`
/// or `weights/vg_starry_night.fast.onnx`), or else an untrained network of that variant
/// written into `tmp` (speed does not depend on the weights).
fn model_path(tmp: &Path, variant: &str) -> PathBuf {
    let suffix = if variant == "fast" { ".fast" } else { "" };
    let weights = Path::new(ROOT).join(format!("weights/vg_starry_night{suffix}.onnx"));
    if weights.is_file() {
        return weights;
    }
    let trainer = Path::new(ROOT).join("target/release/nst-train");
    if !trainer.is_file() {
        fail(format!("{} is missing and so is {}: run `make build` first", weights.display(), trainer.display()));
    }
    let out = tmp.join(format!("{variant}.onnx"));
    match Command::new(&trainer).args(["init", "--variant", variant, "-o"]).arg(&out).status() {
        Ok(s) if s.success() => out,
        other => fail(format!("`{} init --variant {variant} -o {}` failed: {other:?}", trainer.display(), out.display())),
    }
}

fn preprocess(c: &mut Criterion) {
    let photo = test_image(640, 480);
    let large = test_image(1024, 768);
    let mut g = c.benchmark_group("preprocess");
    g.bench_function("to_chw/640x480", |b| b.iter(|| imageio::to_chw(black_box(&photo))));
    // `nst live --source test`'s frame: drawn on the inference thread, like a camera frame's conversion.
    g.bench_function("test_pattern/640x480", |b| b.iter(|| TestPattern::render(640, 480, black_box(17))));
    g.bench_function("resize/1024x768->640x480", |b| {
        b.iter(|| {
            let (w, h) = imageio::fit_size(1024, 768, 640);
            imageio::resize(black_box(&large), w, h)
        })
    });
    g.finish();
}

fn postprocess(c: &mut Criterion) {
    let original = test_image(640, 480);
    let stylized = image::imageops::flip_horizontal(&original);
    let chw = imageio::to_chw(&stylized);
    let mut g = c.benchmark_group("postprocess");
    g.bench_function("from_chw/640x480", |b| b.iter(|| imageio::from_chw(black_box(&chw), 640, 480)));
    g.bench_function("blend/640x480", |b| b.iter(|| color::blend(black_box(&stylized), &original, 0.7)));
    g.bench_function("preserve_color/640x480", |b| b.iter(|| color::preserve_color(black_box(&stylized), &original)));
    g.finish();
}

fn inference(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| fail(format!("cannot make a temporary folder: {e}")));
    // Two inference threads, as on the 2-core machine the targets are set for.
    let config = SessionConfig { provider: Provider::Cpu, threads: Some(2), tiling: None };
    for variant in ["full", "fast", "fast-int8"] {
        let path = if variant == "fast-int8" {
            // The bundled int8 copy (scripts/quantize_fast.py); there is no untrained one.
            let path = Path::new(ROOT).join("weights/vg_starry_night.fast.int8.onnx");
            if !path.is_file() {
                eprintln!("skipping inference/cpu/fast-int8: {} is missing", path.display());
                continue;
            }
            path
        } else {
            model_path(tmp.path(), variant)
        };
        let mut model = StyleModel::load(&path, &config).unwrap_or_else(|e| fail(e.to_string()));
        let mut g = c.benchmark_group(format!("inference/cpu/{variant}"));
        // Runs take from tens of milliseconds to seconds: a fixed number of runs per sample.
        g.sampling_mode(SamplingMode::Flat).measurement_time(Duration::from_secs(if variant == "full" { 15 } else { 5 }));
        for (w, h) in [(256, 256), (640, 480), (1280, 720)] {
            if variant == "full" && w > 640 {
                continue;
            }
            let img = test_image(w, h);
            g.bench_function(format!("{w}x{h}"), |b| b.iter(|| model.stylize(black_box(&img)).expect("inference")));
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(2));
    targets = preprocess, postprocess, inference
}
criterion_main!(benches);
