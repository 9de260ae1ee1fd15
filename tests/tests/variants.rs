//! Style variants (full / fast) and finding models by name, through the built binary:
//! a weights folder with a style in both variants and one in the full variant only.

use nst_tests::*;

/// `a_identity` (full: a format-1 file, and fast: a format-2 `nst_fast` file) and
/// `b_only` (full only), all identity networks with nst metadata.
fn weights(s: &Scratch) -> std::path::PathBuf {
    let dir = s.mkdir("weights");
    let mut full = NST_METADATA.to_vec();
    full.push(("nst.painting", "Nobody, Identity (2026)"));
    std::fs::write(dir.join("a_identity.onnx"), onnx_identity(&full)).unwrap();
    let fast = [("nst.format_version", "2"), ("nst.architecture", "nst_fast"), ("nst.style_name", "a_identity"), ("nst.trained", "true")];
    std::fs::write(dir.join("a_identity.fast.onnx"), onnx_identity(&fast)).unwrap();
    std::fs::write(dir.join("b_only.onnx"), onnx_identity(NST_METADATA)).unwrap();
    dir
}

/// `nst stylize` of a small photo with these extra arguments, in `weights`.
fn stylize(s: &Scratch, dir: &std::path::Path, extra: &[&str]) -> Run {
    let photo = s.image("p.png", pattern(40, 30));
    let out = s.path("out.png");
    let _ = std::fs::remove_file(&out);
    Run::of(nst().env("NST_WEIGHTS_DIR", dir).args(["stylize", "--ep", "cpu", "--threads", "1"]).args(extra).arg(&photo).arg("-o").arg(&out))
}

/// The model line `nst` logs: "model: NAME (VARIANT variant, PATH, on cpu)".
fn model_line(run: &Run) -> &str {
    run.stderr.lines().find(|l| l.contains("model: ")).unwrap_or_else(|| panic!("no model line:\n{}", run.stderr))
}

#[test]
fn styles_lists_each_variant_with_its_speed_class() {
    let s = Scratch::new();
    let dir = weights(&s);
    let run = Run::of(nst().env("NST_WEIGHTS_DIR", &dir).args(["styles", "--json"]));
    run.assert_ok();
    let list: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let rows: Vec<(&str, &str, &str)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["variant"].as_str().unwrap(), r["speed"].as_str().unwrap()))
        .collect();
    assert_eq!(rows, [("a_identity", "full", "quality"), ("a_identity", "fast", "real-time"), ("b_only", "full", "quality")]);
    assert_eq!(list[1]["architecture"], "nst_fast");
    assert!(list[1].get("warning").is_none(), "{}", list[1]);
    let table = Run::of(nst().env("NST_WEIGHTS_DIR", &dir).arg("styles"));
    assert!(table.stdout.contains("fast (real-time)") && table.stdout.contains("full (quality)"), "{}", table.stdout);
    assert!(table.stdout.contains("2 styles"), "{}", table.stdout);
}

#[test]
fn a_listing_whose_reader_stops_early_ends_quietly() {
    // `nst styles | head -1`: the reader closes the pipe before nst writes its table.
    let s = Scratch::new();
    let dir = weights(&s);
    let mut child = nst()
        .env("NST_WEIGHTS_DIR", &dir)
        .arg("styles")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start nst styles");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait for nst styles");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}\n{stderr}", out.status);
    assert!(!stderr.contains("panicked") && !stderr.contains("error"), "{stderr}");
}

#[test]
fn model_names_ignore_case_and_onnx_and_pick_the_variant() {
    let s = Scratch::new();
    let dir = weights(&s);
    for spec in ["a_identity", "A_Identity", "a_identity.onnx", "A_IDENTITY.ONNX"] {
        let run = stylize(&s, &dir, &["--model", spec]);
        run.assert_ok();
        assert!(model_line(&run).contains("full variant") && model_line(&run).contains("a_identity.onnx"), "{spec}: {}", run.stderr);
    }
    for args in [&["--model", "a_identity", "--variant", "fast"][..], &["--model", "a_identity.fast"], &["--model", "A_identity.FAST.onnx"]] {
        let run = stylize(&s, &dir, args);
        run.assert_ok();
        assert!(model_line(&run).contains("fast variant") && model_line(&run).contains("a_identity.fast.onnx"), "{args:?}: {}", run.stderr);
    }
    // A style without the variant asked for: an error that names what it has.
    let run = stylize(&s, &dir, &["--model", "b_only", "--variant", "fast"]);
    let line = run.assert_one_error("b_only");
    assert!(line.contains("no fast variant") && line.contains("--variant full"), "{line}");
    assert!(!s.path("out.png").exists());
}

#[test]
fn unknown_names_list_the_styles_and_suggest_the_closest() {
    let s = Scratch::new();
    let dir = weights(&s);
    let run = stylize(&s, &dir, &["--model", "a_identty"]);
    assert!(!run.success);
    assert!(run.stderr.contains("did you mean 'a_identity'?"), "{}", run.stderr);
    assert!(run.stderr.contains("a_identity, b_only"), "{}", run.stderr);
    // A file-like name that is neither a file nor a style says both, once.
    let run = stylize(&s, &dir, &["--model", "starry.onnx"]);
    assert!(!run.success);
    assert!(run.stderr.contains("'starry.onnx'") && run.stderr.contains("no such file"), "{}", run.stderr);
    assert!(!run.stderr.contains("os error 2): No such file"), "the OS error is not repeated: {}", run.stderr);
}

#[test]
fn live_uses_the_fast_variant_by_default_and_falls_back_to_full() {
    let s = Scratch::new();
    let dir = weights(&s);
    let live = |extra: &[&str]| {
        Run::of(
            nst()
                .env("NST_WEIGHTS_DIR", &dir)
                .args(["live", "--source", "test", "--resolution", "64x48", "--headless", "--frames", "3", "--ep", "cpu", "--threads", "1", "--one-style"])
                .args(extra),
        )
    };
    let run = live(&["--model", "a_identity"]);
    run.assert_ok();
    assert!(model_line(&run).contains("fast variant"), "{}", run.stderr);
    let run = live(&["--model", "a_identity", "--variant", "full"]);
    run.assert_ok();
    assert!(model_line(&run).contains("full variant"), "{}", run.stderr);
    // b_only has no fast model: live says so and uses the full one.
    let run = live(&["--model", "b_only"]);
    run.assert_ok();
    assert!(run.stderr.contains("no fast variant") && model_line(&run).contains("full variant"), "{}", run.stderr);
}

/// A weights folder with a bundled fast style and its int8 copy (`scripts/quantize_fast.py`),
/// and the full-only `b_only`.
fn int8_weights(s: &Scratch) -> std::path::PathBuf {
    let dir = s.mkdir("weights-q");
    let bundled = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../weights");
    for f in ["udnie.fast.onnx", "udnie.fast.int8.onnx"] {
        std::fs::copy(bundled.join(f), dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    }
    std::fs::write(dir.join("b_only.onnx"), onnx_identity(NST_METADATA)).unwrap();
    dir
}

#[test]
fn int8_copies_are_listed_with_their_style_and_run_where_asked() {
    let s = Scratch::new();
    let dir = int8_weights(&s);
    // Listed once, with its int8 copy; not a style of its own.
    let run = Run::of(nst().env("NST_WEIGHTS_DIR", &dir).args(["styles", "--json"]));
    run.assert_ok();
    let list: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["b_only", "udnie"]);
    assert!(list[1]["int8_path"].as_str().is_some_and(|p| p.ends_with("udnie.fast.int8.onnx")), "{}", list[1]);
    assert!(list[0]["int8_path"].is_null(), "{}", list[0]);
    let table = Run::of(nst().env("NST_WEIGHTS_DIR", &dir).arg("styles"));
    assert!(table.stdout.contains("fast (real-time, +int8)") && table.stdout.contains("2 styles"), "{}", table.stdout);

    // nst live runs the int8 copy by default, the float network with --precision float.
    let live = |extra: &[&str]| {
        Run::of(
            nst()
                .env("NST_WEIGHTS_DIR", &dir)
                .args(["live", "--source", "test", "--resolution", "64x48", "--headless", "--frames", "3", "--ep", "cpu", "--threads", "1"])
                .args(["--model", "udnie"])
                .args(extra),
        )
    };
    let run = live(&[]);
    run.assert_ok();
    assert!(model_line(&run).contains("fast variant, int8") && model_line(&run).contains("udnie.fast.int8.onnx"), "{}", run.stderr);
    let run = live(&["--precision", "float"]);
    run.assert_ok();
    assert!(!model_line(&run).contains(", int8") && model_line(&run).contains("udnie.fast.onnx"), "{}", run.stderr);

    // nst stylize runs the float network unless int8 is asked for; the two pictures are
    // close (the int8 copy paints the same) but not the same (it really ran in int8).
    let photo = s.image("photo.png", pattern(96, 64));
    let picture = |precision: &str| {
        let out = s.path(format!("{precision}.png"));
        let run = Run::of(
            nst()
                .env("NST_WEIGHTS_DIR", &dir)
                .args(["stylize", "--ep", "cpu", "--threads", "1", "--model", "udnie.fast", "--precision", precision])
                .arg(&photo)
                .arg("-o")
                .arg(&out),
        );
        run.assert_ok();
        let int8 = model_line(&run).contains(", int8");
        (decode(&out).to_rgb8(), int8)
    };
    let (auto, auto_int8) = picture("auto");
    let (float, float_int8) = picture("float");
    let (int8, int8_int8) = picture("int8");
    assert_eq!((auto_int8, float_int8, int8_int8), (false, false, true));
    assert_eq!(max_abs_diff(&auto, &float), 0);
    let diff = mean_abs_diff(&int8, &float);
    assert!(diff > 0.1 && diff < 12.0, "int8 vs float: mean absolute difference {diff:.2} levels");

    // int8 asked for by name where there is none: an error saying what to do.
    let run = Run::of(
        nst().env("NST_WEIGHTS_DIR", &dir).args(["stylize", "--ep", "cpu", "--model", "b_only", "--precision", "int8"]).arg(&photo).arg("-o").arg(s.path("b.png")),
    );
    let line = run.assert_one_error("b_only");
    assert!(line.contains("no int8 copy") && line.contains("--precision float"), "{line}");
    assert!(!s.path("b.png").exists());
}

/// `scripts/quantize_fast.py --calibration percentile` (the Picabia styles' int8 copies):
/// the copy records how its ranges were set, runs as the style's int8 copy, and paints what
/// the float network paints; a calibration it does not know is refused.
#[test]
fn percentile_calibrated_int8_copies_record_it_and_stay_close_to_the_float_network() {
    let s = Scratch::new();
    let dir = s.mkdir("weights-p");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::copy(root.join("weights/udnie.fast.onnx"), dir.join("udnie.fast.onnx")).unwrap();
    let quantize = |calibration: &str| {
        Run::of(
            std::process::Command::new(root.join(".venv/bin/python"))
                .arg(root.join("scripts/quantize_fast.py"))
                .arg("--photos")
                .arg(root.join("assets/photos"))
                .args(["--count", "2", "--calibration", calibration])
                .arg(dir.join("udnie.fast.onnx")),
        )
    };
    let bad = quantize("median");
    assert!(!bad.success && bad.stderr.contains("invalid choice"), "{}", bad.stderr);
    assert!(!dir.join("udnie.fast.int8.onnx").exists());
    quantize("percentile").assert_ok();

    let bytes = std::fs::read(dir.join("udnie.fast.int8.onnx")).unwrap();
    let info = nst_runtime::contract::ModelInfo::from_onnx_bytes(&bytes).unwrap();
    let q = info.quantization.expect("nst.quantization on the int8 copy");
    assert_eq!(q["calibration_method"], "percentile", "{q}");
    assert!(q["method"].as_str().is_some_and(|m| m.contains("99.99th percentile")), "{q}");
    assert_eq!(info.style_name, "udnie");

    // Both precisions of the same photo: the int8 copy runs, and stays near the float output.
    let photo = s.image("p.png", pattern(96, 64));
    let paint = |precision: &str| {
        let out = s.path(format!("{precision}.png"));
        Run::of(
            nst()
                .env("NST_WEIGHTS_DIR", &dir)
                .args(["stylize", "--ep", "cpu", "--threads", "1", "--model", "udnie", "--variant", "fast", "--precision", precision])
                .arg(&photo)
                .arg("-o")
                .arg(&out),
        )
        .assert_ok();
        image::open(&out).unwrap().to_rgb8()
    };
    let (float, int8) = (paint("float"), paint("int8"));
    assert_eq!(float.dimensions(), int8.dimensions());
    let diff = float.as_raw().iter().zip(int8.as_raw()).map(|(a, b)| (*a as f64 - *b as f64).abs()).sum::<f64>() / float.as_raw().len() as f64;
    let spread = float.as_raw().iter().map(|v| (*v as f64 - 127.5).abs()).sum::<f64>() / float.as_raw().len() as f64;
    assert!(diff > 0.0 && diff < 12.0, "int8 differs from float by {diff:.2} per channel on average");
    assert!(spread > 10.0, "the float output is flat ({spread:.2})");
}
