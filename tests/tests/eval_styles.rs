//! `benches/eval_styles.sh` judges each model against the bar of its own variant, read
//! from the model's metadata, not from its file name: a fast int8 model under a plain name
//! is held to the fast bar, a full network named like a fast one to the full bar. Tiny
//! photos and a painting made in code; the bundled Udnie models as the models.

use std::path::Path;
use std::process::Command;

use nst_tests::{pattern, project_root, weights, Scratch};

/// Runs the script on `models` with two 96x64 photos at 64 px; returns (success, stdout, stderr).
fn eval(s: &Scratch, models: &[&Path]) -> (bool, String, String) {
    let photos = s.mkdir("photos");
    s.image("photos/a.png", pattern(96, 64));
    s.image("photos/b.png", image::imageops::flip_horizontal(&pattern(96, 64)));
    // The bundled Udnie models name their painting "udnie.jpg" (nst.style_image).
    s.image("styles/udnie.jpg", pattern(80, 80));
    let out = Command::new("bash")
        .arg(project_root().join("benches/eval_styles.sh"))
        .args(models)
        .env("PHOTOS", &photos)
        .env("STYLES", s.path("styles"))
        .env("OUT", s.path("out"))
        .env("SIZE", "64")
        .env("THREADS", "1")
        .output()
        .expect("run bash");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The variant column of the model's row in the Markdown table.
fn variant_of<'a>(table: &'a str, model: &str) -> &'a str {
    let row = table.lines().find(|l| l.starts_with(&format!("| {model} |"))).unwrap_or_else(|| panic!("no row for {model} in:\n{table}"));
    row.split('|').nth(2).expect("a variant column").trim()
}

#[test]
fn the_bar_follows_the_metadata_not_the_file_name() {
    let s = Scratch::new();
    let fast_int8 = s.path("models/plain.onnx");
    let full = s.path("models/looks.fast.onnx");
    std::fs::create_dir_all(s.path("models")).unwrap();
    std::fs::copy(weights("udnie.fast.int8.onnx"), &fast_int8).expect("copy the bundled udnie.fast.int8.onnx");
    std::fs::copy(weights("udnie.onnx"), &full).expect("copy the bundled udnie.onnx");

    let (ok, stdout, stderr) = eval(&s, &[&fast_int8, &full]);
    assert!(ok, "eval_styles.sh failed:\n{stderr}");
    assert_eq!(variant_of(&stdout, "plain"), "fast, int8");
    assert_eq!(variant_of(&stdout, "looks.fast"), "full");
}

#[test]
fn a_file_that_is_not_a_model_is_named() {
    let s = Scratch::new();
    let bad = s.write("models/broken.onnx", b"not a model");
    let (ok, _, stderr) = eval(&s, &[&bad]);
    assert!(!ok, "a broken model must fail the run");
    assert!(stderr.contains("broken: cannot read") && stderr.contains("broken.onnx"), "{stderr}");
}
