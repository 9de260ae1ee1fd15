//! `nst styles` and `nst sheet` through the built binary, with models made here (an
//! identity network with nst metadata, an untrained network, a broken file), and the
//! bundled models themselves.

use nst_tests::*;

/// A weights folder with an identity "style" (with a painting), an untrained network
/// and a file that is not a model.
fn weights(s: &Scratch) -> std::path::PathBuf {
    let dir = s.mkdir("weights");
    let mut meta = NST_METADATA.to_vec();
    meta.push(("nst.painting", "Nobody, Identity (2026)"));
    meta.push(("nst.style_image", "identity.jpg"));
    std::fs::write(dir.join("a_identity.onnx"), onnx_identity(&meta)).unwrap();
    std::fs::copy(s.model(), dir.join("b_untrained.onnx")).unwrap();
    std::fs::write(dir.join("c_broken.onnx"), b"not a model").unwrap();
    dir
}

#[test]
fn styles_lists_names_paintings_and_broken_files() {
    let s = Scratch::new();
    let dir = weights(&s);
    let run = Run::of(nst().env("NST_WEIGHTS_DIR", &dir).args(["styles", "--json"]));
    assert!(!run.success, "a broken model makes the listing fail");
    let list: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a_identity", "b_untrained", "c_broken"]);
    assert_eq!(list[0]["painting"], "Nobody, Identity (2026)");
    assert_eq!(list[0]["trained"], true);
    assert_eq!(list[1]["trained"], false);
    assert!(list[2]["error"].as_str().unwrap().contains("c_broken.onnx"), "{}", list[2]);
    assert!(list[0]["bytes"].as_u64().unwrap() > 0);

    let table = Run::of(nst().env("NST_WEIGHTS_DIR", &dir).arg("styles"));
    assert!(table.stdout.contains("Nobody, Identity (2026)") && table.stdout.contains("untrained network"), "{}", table.stdout);
}

#[test]
fn sheet_shows_the_original_and_every_trained_style_and_reports_failures() {
    let s = Scratch::new();
    let dir = weights(&s);
    let photo_img = pattern(64, 48);
    let photo = s.image("photo.png", photo_img.clone());
    let out = s.path("sheet.png");
    let run = Run::of(nst().env("NST_WEIGHTS_DIR", &dir).args(["sheet", "--ep", "cpu"]).arg(&photo).arg("-o").arg(&out));
    // The broken model is reported and the sheet is still written, without it; the
    // untrained network is not a style and is left out.
    run.assert_one_error("c_broken");
    assert!(run.stderr.contains("1 style failed and is missing"), "{}", run.stderr);
    let sheet = decode(&out).to_rgb8();
    // Two cells of 64x48 side by side, 6 px gaps, a 30 px caption under them.
    assert_eq!(sheet.dimensions(), (6 + 2 * (64 + 6), 6 + 48 + 30));
    let tile = |x0: u32| image::imageops::crop_imm(&sheet, x0, 6, 64, 48).to_image();
    assert_eq!(max_abs_diff(&tile(6), &photo_img), 0, "the original comes first, unchanged");
    assert!(max_abs_diff(&tile(76), &photo_img) <= 1, "then the identity style");
    // Captions: text pixels under both cells.
    let lit = |x0: u32| (x0..x0 + 64).flat_map(|x| (56..64).map(move |y| (x, y))).filter(|&(x, y)| sheet.get_pixel(x, y).0 == [255, 255, 255]).count();
    assert!(lit(6) > 20 && lit(76) > 20, "captions drawn: {} and {}", lit(6), lit(76));
    assert!(!s.path("sheet.png.tmp").exists());

    // Asked for by name, the untrained network is shown too; three columns requested.
    let out3 = s.path("three.jpg");
    Run::of(nst().env("NST_WEIGHTS_DIR", &dir).args(["sheet", "--ep", "cpu", "--styles", "a_identity,b_untrained", "--columns", "3"]).arg(&photo).arg("-o").arg(&out3)).assert_ok();
    assert_eq!(decode(&out3).width(), 6 + 3 * (64 + 6));

    // With --ep auto, the provider is said once, not once per style.
    let auto = s.path("auto.png");
    let run = Run::of(nst().env("NST_WEIGHTS_DIR", &dir).args(["sheet", "--styles", "a_identity,b_untrained"]).arg(&photo).arg("-o").arg(&auto));
    run.assert_ok();
    assert_eq!(run.stderr.matches("execution provider:").count(), 1, "{}", run.stderr);
}

#[test]
fn sheet_refuses_bad_requests_without_writing() {
    let s = Scratch::new();
    let dir = weights(&s);
    let photo = s.image("photo.png", pattern(40, 30));
    let sheet = |args: &[&str]| Run::of(nst().env("NST_WEIGHTS_DIR", &dir).arg("sheet").args(args));
    let p = photo.to_str().unwrap();
    let out = s.path("out.png");
    let o = out.to_str().unwrap();
    sheet(&[p, "-o", o, "--styles", "no_such_style"]).assert_one_error("no_such_style");
    sheet(&[s.path("missing.jpg").to_str().unwrap(), "-o", o, "--styles", "a_identity"]).assert_one_error("missing.jpg");
    sheet(&[p, "-o", s.path("out.xyz").to_str().unwrap(), "--styles", "a_identity"]).assert_one_error("out.xyz");
    sheet(&[p, "-o", p, "--styles", "a_identity"]).assert_one_error("overwrite");
    let run = sheet(&[p, "-o", o, "--styles", "c_broken"]);
    assert!(!run.success);
    assert!(run.error_lines()[0].contains("c_broken.onnx") && run.stderr.contains("not written"), "{}", run.stderr);
    assert!(!out.exists());
    assert_eq!(decode(&photo).to_rgb8(), pattern(40, 30), "the photo is untouched");
}

/// The models shipped in weights/: trained, described, and really painting.
#[test]
fn bundled_styles_are_trained_models_of_named_paintings() {
    let run = Run::of(nst().args(["styles", "--json"]));
    run.assert_ok();
    let list: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let trained: Vec<&serde_json::Value> = list.as_array().unwrap().iter().filter(|s| s["trained"] == true).collect();
    assert!(trained.len() >= 6, "at least six trained styles ship: {}", run.stdout);
    assert!(trained.iter().any(|s| s["default"] == true), "the default style is a trained one");
    for s in &trained {
        assert!(s["painting"].as_str().is_some_and(|p| p.len() > 5), "{s}");
        assert_eq!(format!("{}.jpg", s["name"].as_str().unwrap()), s["style_image"].as_str().unwrap(), "named after the painting's file");
    }
    // The default style turns a photo into something clearly different, keeping its size.
    let sc = Scratch::new();
    let photo = sc.image("photo.png", pattern(96, 64));
    let out = sc.path("out.png");
    Run::of(nst().arg("stylize").arg(&photo).arg("-o").arg(&out).args(["--ep", "cpu", "--threads", "1"])).assert_ok();
    let styled = decode(&out).to_rgb8();
    let diff = mean_abs_diff(&styled, &pattern(96, 64));
    assert!(diff > 15.0, "mean change {diff}");
}

#[test]
fn sheet_skips_unknown_names_with_a_suggestion_and_refuses_empty_entries() {
    let s = Scratch::new();
    let dir = weights(&s);
    let photo = s.image("photo.png", pattern(40, 30));
    let sheet = |args: &[&str]| Run::of(nst().env("NST_WEIGHTS_DIR", &dir).args(["sheet", "--ep", "cpu"]).args(args));
    let p = photo.to_str().unwrap();
    let out = s.path("out.png");
    // A misspelt name is left out like a missing file; the rest of the sheet is written.
    let run = sheet(&[p, "-o", out.to_str().unwrap(), "--styles", "a_identty,a_identity"]);
    assert!(!run.success, "a left-out style makes the exit status non-zero");
    assert!(run.stderr.contains("did you mean 'a_identity'?"), "{}", run.stderr);
    assert_eq!(run.error_lines().len(), 1, "{}", run.stderr);
    assert!(out.is_file(), "the sheet is written with the styles that worked");
    // An empty entry is a mistake in the list itself: nothing is written.
    let out2 = s.path("out2.png");
    sheet(&[p, "-o", out2.to_str().unwrap(), "--styles", "a_identity,,a_identity"]).assert_one_error("empty entry");
    assert!(!out2.exists());
}
