//! `nst-classic` and `nst-eval`: the optimisation (L-BFGS against gradient descent and
//! Adam), colour preservation, style blending, the metric's reference points, and clear
//! errors for bad input. Tiny images (tens of pixels), CPU only.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use image::{Rgb, RgbImage};
use nst_runtime::{color, imageio};
use nst_trainer::classic::{self, Classic, ClassicSettings, Init, Optimizer};
use tch::Device;

const CLASSIC: &str = env!("CARGO_BIN_EXE_nst-classic");
const EVAL: &str = env!("CARGO_BIN_EXE_nst-eval");

/// A small "photo": smooth colour gradients with a bright disc.
fn photo(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
        let d = ((fx - 0.6).powi(2) + (fy - 0.4).powi(2)).sqrt();
        let disc = if d < 0.2 { 90.0 } else { 0.0 };
        Rgb([(40.0 + 120.0 * fx + disc) as u8, (150.0 - 60.0 * fy + disc) as u8, (60.0 + 50.0 * fx * fy + disc) as u8])
    })
}

/// A small "painting": saturated diagonal stripes in two colours.
fn stripes(w: u32, h: u32, a: [u8; 3], b: [u8; 3], period: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| if ((x + 2 * y) / period) % 2 == 0 { Rgb(a) } else { Rgb(b) })
}

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let f = Self { dir: tempfile::tempdir().expect("temp dir") };
        imageio::save_rgb(&f.path("photo.png"), &photo(48, 32)).unwrap();
        imageio::save_rgb(&f.path("red_blue.png"), &stripes(64, 64, [220, 30, 40], [30, 60, 210], 6)).unwrap();
        imageio::save_rgb(&f.path("yellow_dots.png"), &RgbImage::from_fn(64, 64, |x, y| {
            if (x % 8 < 3) && (y % 8 < 3) { Rgb([250, 220, 20]) } else { Rgb([20, 20, 30]) }
        }))
        .unwrap();
        f
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn settings(&self, styles: &[&str], size: u32, iterations: usize) -> ClassicSettings {
        let mut s = ClassicSettings::new(self.path("photo.png"), styles.iter().map(|n| self.path(n)).collect());
        s.sizes = vec![size];
        s.iterations = iterations;
        s
    }
}

/// Library-level runs use one libtorch thread: the tests run in parallel threads of one
/// process, and teams of OpenMP threads from each would busy-wait for each other's cores.
fn one_thread() {
    tch::set_num_threads(1);
}

fn run(settings: ClassicSettings) -> classic::Outcome {
    one_thread();
    let vgg = classic::vgg_weights_path().expect("weights/vgg19.safetensors: run `make setup`");
    let job = Classic::new(settings, &vgg, Device::Cpu).expect("valid job");
    job.run(&mut |_| Ok(())).expect("run")
}

fn max_diff(a: &RgbImage, b: &RgbImage) -> u8 {
    assert_eq!(a.dimensions(), b.dimensions());
    a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| x.abs_diff(*y)).max().unwrap_or(0)
}

/// Runs and records (evaluations so far, newest total loss) after every iteration.
fn trajectory(settings: ClassicSettings) -> Result<Vec<(usize, f64)>, String> {
    one_thread();
    let vgg = classic::vgg_weights_path().expect("weights/vgg19.safetensors: run `make setup`");
    let job = Classic::new(settings, &vgg, Device::Cpu).expect("valid job");
    let mut points = Vec::new();
    job.run(&mut |p| {
        points.push((p.evaluations, p.losses.total));
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    Ok(points)
}

/// The lowest loss seen within the first `evals` evaluations.
fn best_within(points: &[(usize, f64)], evals: usize) -> f64 {
    points.iter().filter(|(e, _)| *e <= evals).map(|(_, l)| *l).fold(f64::INFINITY, f64::min)
}

#[test]
fn lbfgs_lowers_the_loss_far_faster_than_gradient_descent_and_adam() {
    let f = Fixture::new();
    let n = 20;
    let settings = |optimizer: Optimizer, lr: Option<f64>, iterations: usize| {
        let mut s = f.settings(&["red_blue.png"], 32, iterations);
        s.optimizer = optimizer;
        s.lr = lr;
        s.init = Init::Noise;
        s
    };
    let lbfgs = trajectory(settings(Optimizer::Lbfgs, None, n)).unwrap();
    assert_eq!(lbfgs.last().unwrap().0, n, "one evaluation per L-BFGS iteration with a fixed step");
    let l = best_within(&lbfgs, n);
    let start = lbfgs[0].1.max(l);
    // The baselines get the best of two step sizes (the best found for this problem and
    // one 3x larger or smaller; gradient descent at 1e-4 diverges, which counts as
    // infinitely bad), and gradient descent four times the evaluations.
    let gd: Vec<Vec<(usize, f64)>> = [3e-5, 1e-4].iter().map(|lr| trajectory(settings(Optimizer::Gd, Some(*lr), 4 * n)).unwrap_or_default()).collect();
    let gd_n = gd.iter().map(|t| best_within(t, n)).fold(f64::INFINITY, f64::min);
    let gd_4n = gd.iter().map(|t| best_within(t, 4 * n)).fold(f64::INFINITY, f64::min);
    let adam_n = [10.0, 30.0]
        .iter()
        .map(|lr| trajectory(settings(Optimizer::Adam, Some(*lr), n)).map(|t| best_within(&t, n)).unwrap_or(f64::INFINITY))
        .fold(f64::INFINITY, f64::min);
    eprintln!("after {n} evaluations: L-BFGS {l:.3e}, gradient descent {gd_n:.3e}, Adam {adam_n:.3e}; gradient descent after {}: {gd_4n:.3e}", 4 * n);
    assert!(l < lbfgs[0].1 / 20.0, "L-BFGS barely moved: {start:e} -> {l:e}");
    assert!(l * 1.8 < gd_n, "at {n} evaluations L-BFGS ({l:e}) is not clearly below gradient descent ({gd_n:e})");
    assert!(l * 1.8 < adam_n, "at {n} evaluations L-BFGS ({l:e}) is not clearly below Adam ({adam_n:e})");
    assert!(l < gd_4n, "gradient descent with 4x the evaluations ({gd_4n:e}) caught up with L-BFGS ({l:e})");
}

/// The (Cb, Cr) of every pixel.
fn chroma(img: &RgbImage) -> Vec<(f32, f32)> {
    img.pixels().map(|p| color::rgb_to_ycbcr(p.0)).map(|(_, cb, cr)| (cb, cr)).collect()
}

fn mean_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32
}

/// Mean |ΔCb| + |ΔCr| / 2 and mean |ΔY| of an image against the photo at its size.
fn colour_change(out: &RgbImage, photo: &RgbImage) -> (f32, f32) {
    let photo = imageio::resize(photo, out.width(), out.height());
    let (co, cp) = (chroma(out), chroma(&photo));
    let cb = mean_abs_diff(&co.iter().map(|c| c.0).collect::<Vec<_>>(), &cp.iter().map(|c| c.0).collect::<Vec<_>>());
    let cr = mean_abs_diff(&co.iter().map(|c| c.1).collect::<Vec<_>>(), &cp.iter().map(|c| c.1).collect::<Vec<_>>());
    let luma = |img: &RgbImage| img.pixels().map(|p| color::rgb_to_ycbcr(p.0).0).collect::<Vec<_>>();
    ((cb + cr) / 2.0, mean_abs_diff(&luma(out), &luma(&photo)))
}

fn classic_cli(args: &[&str]) -> Output {
    Command::new(CLASSIC).args(args).env("RUST_LOG", "warn").output().expect("nst-classic runs")
}

fn eval_cli(args: &[&str]) -> Output {
    Command::new(EVAL).args(args).output().expect("nst-eval runs")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

#[test]
fn preserve_color_keeps_the_photos_chroma() {
    let f = Fixture::new();
    let photo = imageio::load_rgb(&f.path("photo.png")).unwrap();
    let (photo_path, style_path) = (f.path("photo.png"), f.path("red_blue.png"));
    let mut outputs = Vec::new();
    for (name, extra) in [("kept.png", Some("--preserve-color")), ("free.png", None)] {
        let out = f.path(name);
        let mut args = vec!["--content", s(&photo_path), "--style", s(&style_path), "-o", s(&out)];
        args.extend(["--size", "32", "--iterations", "12", "--device", "cpu"]);
        args.extend(extra);
        let r = classic_cli(&args);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        let report: serde_json::Value = serde_json::from_slice(&std::fs::read(out.with_extension("losses.json")).unwrap()).unwrap();
        assert_eq!(report["settings"]["preserve_color"], extra.is_some());
        assert!(report["losses"]["total"].as_f64().unwrap() < report["initial_losses"]["total"].as_f64().unwrap());
        outputs.push(imageio::load_rgb(&out).unwrap());
    }
    let (kept_chroma, kept_luma) = colour_change(&outputs[0], &photo);
    let (free_chroma, _) = colour_change(&outputs[1], &photo);
    eprintln!("mean chroma change: preserved {kept_chroma:.2}, free {free_chroma:.2}; luma change (preserved) {kept_luma:.2}");
    // 8-bit rounding (and clamping where the new luminance saturates) costs a level or two.
    assert!(kept_chroma < 2.0, "--preserve-color moved the chroma by {kept_chroma} on average");
    assert!(free_chroma > 4.0 * kept_chroma.max(1.0), "without --preserve-color the chroma should move: {free_chroma}");
    assert!(kept_luma > 3.0, "the style should still change the luminance: {kept_luma}");
}

#[test]
fn two_styles_weighted_one_and_zero_give_the_single_style_result() {
    let f = Fixture::new();
    let single = run(f.settings(&["red_blue.png"], 32, 8));
    let mut blend = f.settings(&["red_blue.png", "yellow_dots.png"], 32, 8);
    blend.style_weights = vec![1.0, 0.0];
    let blended = run(blend);
    let diff = max_diff(&single.image, &blended.image);
    assert!(diff <= 1, "weights [1, 0] differ from the first style alone by {diff} levels");
    let rel = (single.losses.total - blended.losses.total).abs() / single.losses.total;
    assert!(rel < 1e-6, "losses {} vs {}", single.losses.total, blended.losses.total);
    assert_eq!(blended.losses.style_losses.len(), 2);
    // An even blend is something else.
    let mut even = f.settings(&["red_blue.png", "yellow_dots.png"], 32, 8);
    even.style_weights = vec![1.0, 1.0];
    let even = run(even);
    assert!(max_diff(&single.image, &even.image) > 10);
}

#[test]
fn coarse_to_fine_runs_every_scale_and_saves_intermediates() {
    let f = Fixture::new();
    let out = f.path("multi.png");
    let r = classic_cli(&[
        "--content", s(&f.path("photo.png")), "--style", s(&f.path("red_blue.png")), "-o", s(&out),
        "--scales", "24,40", "--iterations", "4", "--save-every", "2", "--device", "cpu",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(imageio::load_rgb(&out).unwrap().dimensions(), (40, 27));
    for name in ["multi.24px.0002.png", "multi.24px.0004.png", "multi.40px.0002.png", "multi.40px.0004.png"] {
        assert!(f.path(name).is_file(), "{name} missing");
    }
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(f.path("multi.losses.json")).unwrap()).unwrap();
    assert_eq!(report["iterations"], 8);
    assert_eq!(report["width"], 40);
}

#[test]
fn eval_of_the_photo_itself_is_ratio_one_and_zero() {
    let f = Fixture::new();
    let (photo, painting) = (f.path("photo.png"), f.path("red_blue.png"));
    let r = eval_cli(&["--content", s(&photo), "--style", s(&painting), "--size", "32", "--device", "cpu", "--json", s(&photo), s(&painting)]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).expect("JSON on stdout");
    assert_eq!((v["width"].as_u64(), v["height"].as_u64()), (Some(32), Some(21)));
    let me = &v["images"][0];
    assert!((me["style_ratio"].as_f64().unwrap() - 1.0).abs() < 1e-6, "{me}");
    assert!(me["content_ratio"].as_f64().unwrap().abs() < 1e-6, "{me}");
    assert!(me["content_loss"].as_f64().unwrap().abs() < 1e-6, "{me}");
    // The painting is, by definition, content_ratio 1, and much closer in style.
    let art = &v["images"][1];
    assert!((art["content_ratio"].as_f64().unwrap() - 1.0).abs() < 1e-6, "{art}");
    assert!(art["style_ratio"].as_f64().unwrap() < 0.5, "{art}");
    // Layer by layer: five terms that add up to the totals; the photo's are its own.
    let layers = |v: &serde_json::Value| -> Vec<f64> { v.as_array().expect("five losses").iter().map(|x| x.as_f64().unwrap()).collect() };
    assert_eq!(v["style_layers"].as_array().map(|a| a.len()), Some(5), "{v}");
    let photo_layers = layers(&v["photo_style_layer_losses"]);
    for (img, total) in [(me, me["style_loss"].as_f64().unwrap()), (art, art["style_loss"].as_f64().unwrap())] {
        let l = layers(&img["style_layer_losses"]);
        assert_eq!(l.len(), 5);
        assert!((l.iter().sum::<f64>() - total).abs() <= 1e-6 * total.abs(), "{img}");
    }
    for (a, b) in layers(&me["style_layer_losses"]).iter().zip(&photo_layers) {
        assert!((a - b).abs() <= 1e-6 * b.abs().max(1e-12), "{a} vs {b}");
    }
    assert!((photo_layers.iter().sum::<f64>() - v["photo_style_loss"].as_f64().unwrap()).abs() <= 1e-6 * photo_layers.iter().sum::<f64>());
    // The text form shows the same numbers.
    let r = eval_cli(&["--content", s(&photo), "--style", s(&painting), "--size", "32", "--device", "cpu", s(&photo)]);
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(r.status.success() && text.contains("style_ratio") && text.contains("1.0000") && text.contains("0.0000"), "{text}");
}

/// `--pairs` (each photo and painting prepared once, lines in any order) gives the same
/// numbers as scoring each (photo, painting) on its own, and a bad painting fails only its
/// own lines.
#[test]
fn eval_pairs_match_single_runs_and_report_bad_lines() {
    let f = Fixture::new();
    imageio::save_rgb(&f.path("photo2.png"), &photo(30, 44)).unwrap();
    let photos = [f.path("photo.png"), f.path("photo2.png")];
    let paintings = [f.path("red_blue.png"), f.path("yellow_dots.png")];
    let images = [f.path("red_blue.png"), f.path("photo2.png")];
    let mut lines = String::new();
    let mut expected = Vec::new();
    // Interleaved on purpose: photo, then painting changes between consecutive lines.
    for painting in &paintings {
        for photo in &photos {
            for image in &images {
                lines += &format!("{}\t{}\t{}\n", s(photo), s(painting), s(image));
                let r = eval_cli(&["--content", s(photo), "--style", s(painting), "--size", "32", "--device", "cpu", "--json", s(image)]);
                assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
                let v: serde_json::Value = serde_json::from_slice(&r.stdout).expect("JSON on stdout");
                expected.push(v["images"][0].clone());
            }
        }
    }
    let missing = f.path("missing_painting.jpg");
    lines += &format!("{}\t{}\t{}\n", s(&photos[0]), s(&missing), s(&images[0]));
    let list = f.path("pairs.tsv");
    std::fs::write(&list, lines).unwrap();
    let r = eval_cli(&["--pairs", s(&list), "--size", "32", "--device", "cpu"]);
    assert_clean_failure(&r, &["1 of 9 images"]);
    let rows: Vec<serde_json::Value> =
        String::from_utf8_lossy(&r.stdout).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert_eq!(rows.len(), 9);
    for (row, want) in rows.iter().zip(&expected) {
        for key in ["style_ratio", "content_ratio", "style_loss", "content_loss", "blown_out", "flat_patches"] {
            let (a, b) = (row[key].as_f64().unwrap(), want[key].as_f64().unwrap());
            assert!((a - b).abs() <= 1e-5 * b.abs().max(1e-6), "{key}: pairs {a} vs single {b}\n{row}\n{want}");
        }
        for i in 0..5 {
            let (a, b) = (row["style_layer_losses"][i].as_f64().unwrap(), want["style_layer_losses"][i].as_f64().unwrap());
            assert!((a - b).abs() <= 1e-5 * b.abs().max(1e-6), "layer {i}: pairs {a} vs single {b}");
        }
        assert_eq!(row["photo_style_layer_losses"].as_array().map(|a| a.len()), Some(5), "{row}");
    }
    let bad = rows[8]["error"].as_str().expect("the missing painting's line is an error");
    assert!(bad.contains("painting") && bad.contains("missing_painting.jpg"), "{bad}");
}

/// Asserts a clean failure: exit status 1 (not a panic's 101) and an `error:` message
/// mentioning each of `needles`.
fn assert_clean_failure(r: &Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "expected exit status 1; stderr:\n{err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    assert!(err.contains("error:"), "{err}");
    for n in needles {
        assert!(err.contains(n), "stderr should mention '{n}':\n{err}");
    }
}

#[test]
fn bad_inputs_give_clear_errors() {
    let f = Fixture::new();
    let (photo, style, out) = (f.path("photo.png"), f.path("red_blue.png"), f.path("out.png"));
    let notes = f.path("notes.jpg");
    std::fs::write(&notes, b"this is not a picture").unwrap();
    let missing = f.path("missing.jpg");
    let base = |content: &Path, style: &Path, output: &Path| -> Vec<String> {
        ["--content", s(content), "--style", s(style), "-o", s(output), "--iterations", "1", "--device", "cpu"].map(String::from).to_vec()
    };
    let with = |mut v: Vec<String>, extra: &[&str]| {
        v.extend(extra.iter().map(|e| e.to_string()));
        let args: Vec<&str> = v.iter().map(String::as_str).collect();
        classic_cli(&args)
    };

    // Unreadable images: content, style, --init.
    assert_clean_failure(&with(base(&notes, &style, &out), &[]), &["notes.jpg", "content image", "not a supported image"]);
    assert_clean_failure(&with(base(&photo, &missing, &out), &[]), &["missing.jpg", "style image"]);
    assert_clean_failure(&with(base(&photo, &style, &out), &["--init", s(&notes)]), &["notes.jpg", "--init"]);
    // A style weight list that does not match the styles.
    assert_clean_failure(
        &with(base(&photo, &style, &out), &["--style", s(&f.path("yellow_dots.png")), "--style-weights", "1"]),
        &["--style-weights has 1 value but 2 style images"],
    );
    assert_clean_failure(&with(base(&photo, &style, &out), &["--style-weights", "1,2"]), &["--style-weights has 2 values but 1 style image"]);
    // Sizes too small for VGG-19's poolings: outright, and on the shorter side of a
    // 3:2 photo (20 px long is 13 px short).
    assert_clean_failure(&with(base(&photo, &style, &out), &["--size", "8"]), &["too small", "16"]);
    assert_clean_failure(&with(base(&photo, &style, &out), &["--size", "20"]), &["photo.png", "20x13", "--size 25"]);
    assert_clean_failure(&with(base(&photo, &style, &out), &["--size", "32", "--style-size", "12"]), &["--style-size"]);
    assert_clean_failure(&with(base(&photo, &style, &out), &["--scales", "64,32"]), &["--scales"]);
    // An output we cannot write, or one that would overwrite an input.
    assert_clean_failure(&with(base(&photo, &style, &f.path("out.xyz")), &[]), &["out.xyz"]);
    assert_clean_failure(&with(base(&photo, &style, &photo), &[]), &["photo.png", "overwrite"]);
    assert!(!out.exists(), "nothing is written on failure");

    // nst-eval: an unreadable image among good ones is reported, the others scored.
    let r = eval_cli(&["--content", s(&photo), "--style", s(&style), "--size", "32", "--device", "cpu", s(&photo), s(&notes)]);
    assert_clean_failure(&r, &["1 of 2 images"]);
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(text.contains("notes.jpg") && text.contains("not a supported image") && text.contains("1.0000"), "{text}");
    assert_clean_failure(&eval_cli(&["--content", s(&missing), "--style", s(&style), s(&photo)]), &["missing.jpg", "photo (--content)"]);
    assert_clean_failure(&eval_cli(&["--content", s(&photo), "--style", s(&style), "--size", "8", s(&photo)]), &["--size 8 is too small"]);
    assert_clean_failure(&eval_cli(&["--content", s(&photo), "--style", s(&style), "--size", "20", s(&photo)]), &["20x13", "--size 25"]);
}
