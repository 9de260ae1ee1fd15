//! End-to-end tests of `nst stylize` (and `nst styles`): the built binary is run on small
//! images made here, with an untrained network from `nst-train init`, on the CPU.

use std::path::{Path, PathBuf};

use image::{GenericImageView, GrayImage, ImageFormat, Luma, Rgba, RgbaImage};
use nst_tests::*;

#[test]
fn stylizes_one_image_at_its_own_size() {
    let s = Scratch::new();
    // 5x3 is below the network's minimum side: the runtime pads it and crops back.
    for (w, h) in [(37, 29), (5, 3), (96, 64)] {
        let original = pattern(w, h);
        let input = s.image(format!("in/{w}x{h}.png"), original.clone());
        let output = s.path(format!("out/{w}x{h}.png"));
        let run = s.stylize(&[&input], &output, &[]);
        run.assert_ok();
        assert!(run.stderr.contains(&format!("wrote {}", output.display())), "{}", run.stderr);
        let out = decode(&output).to_rgb8();
        assert_eq!(out.dimensions(), (w, h), "output size of a {w}x{h} input");
        let diff = mean_abs_diff(&out, &original);
        assert!(diff > 2.0, "the {w}x{h} output is (nearly) the input: mean difference {diff}");
    }
}

#[test]
fn identity_model_returns_the_input_exactly() {
    // A hand-written nst model that copies its input: any shift, channel swap or bad
    // crop in the pipeline shows as a pixel difference.
    let s = Scratch::new();
    let model = s.write("identity.onnx", onnx_identity(NST_METADATA));
    for (w, h) in [(37, 29), (5, 3), (3, 40)] {
        let original = pattern(w, h);
        let input = s.image(format!("in/{w}x{h}.png"), original.clone());
        let output = s.path(format!("out/{w}x{h}.png"));
        Run::of(&mut s.stylize_command(&model, &[&input], &output)).assert_ok();
        assert_eq!(decode(&output).to_rgb8(), original, "{w}x{h}");
    }
}

#[test]
fn output_format_follows_the_extension() {
    let s = Scratch::new();
    let input = s.image("in/photo.png", pattern(40, 30));
    let cases = [
        ("png", ImageFormat::Png),
        ("PNG", ImageFormat::Png),
        ("jpg", ImageFormat::Jpeg),
        ("jpeg", ImageFormat::Jpeg),
        ("webp", ImageFormat::WebP),
        ("bmp", ImageFormat::Bmp),
        ("tiff", ImageFormat::Tiff),
        ("tif", ImageFormat::Tiff),
    ];
    for (ext, format) in cases {
        // The output's folders do not exist yet: they are created.
        let output = s.path(format!("out/new/{ext}/result.{ext}"));
        s.stylize(&[&input], &output, &[]).assert_ok();
        let bytes = std::fs::read(&output).expect("read the output");
        assert_eq!(image::guess_format(&bytes).ok(), Some(format), ".{ext}");
        assert_eq!(decode(&output).to_rgb8().dimensions(), (40, 30), ".{ext}");
    }
}

#[test]
fn max_size_downscales_the_longer_side() {
    let s = Scratch::new();
    for ((w, h), expected) in [((96, 64), (32, 21)), ((30, 80), (12, 32)), ((40, 30), (32, 24)), ((20, 10), (20, 10))] {
        let input = s.image(format!("in/{w}x{h}.png"), pattern(w, h));
        let output = s.path(format!("out/{w}x{h}.png"));
        s.stylize(&[&input], &output, &["--max-size", "32"]).assert_ok();
        assert_eq!(decode(&output).dimensions(), expected, "{w}x{h} with --max-size 32");
    }
}

#[test]
fn strength_blends_with_the_original() {
    let s = Scratch::new();
    let original = pattern(40, 30);
    let input = s.image("in/photo.png", original.clone());
    let mean_diff = |strength: &str| {
        let output = s.path(format!("out/{strength}.png"));
        s.stylize(&[&input], &output, &["--strength", strength]).assert_ok();
        let out = decode(&output).to_rgb8();
        (mean_abs_diff(&out, &original), max_abs_diff(&out, &original))
    };
    let (_, max_at_zero) = mean_diff("0");
    assert!(max_at_zero <= 2, "--strength 0 should give the original pixels; a channel moved by {max_at_zero}");
    let (full, _) = mean_diff("1");
    let (half, _) = mean_diff("0.5");
    assert!(full > 2.0, "the network changes the image (mean difference {full})");
    assert!((half - full / 2.0).abs() < 1.0, "--strength 0.5 moves pixels halfway: {half} vs {full}");
}

#[test]
fn preserve_color_keeps_the_original_chroma() {
    let s = Scratch::new();
    // Moderate colours: a stylized luminance near black or white cannot carry strong
    // chroma, and that clipping is not what this test measures.
    let mut original = pattern(64, 48);
    original.iter_mut().for_each(|c| *c = 64 + *c / 2);
    let input = s.image("in/photo.png", original.clone());
    let plain = s.path("out/plain.png");
    let preserved = s.path("out/preserved.png");
    s.stylize(&[&input], &plain, &[]).assert_ok();
    s.stylize(&[&input], &preserved, &["--preserve-color"]).assert_ok();
    let plain = decode(&plain).to_rgb8();
    let preserved = decode(&preserved).to_rgb8();

    let kept = mean_chroma_diff(&preserved, &original);
    let moved = mean_chroma_diff(&plain, &original);
    assert!(kept < 4.0, "--preserve-color moved the chroma by {kept} on average");
    assert!(moved > kept + 4.0, "without --preserve-color the chroma should change more: {moved} vs {kept}");
    // The luminance is still the stylized one: the output is not just the original.
    let diff = mean_abs_diff(&preserved, &original);
    assert!(diff > 2.0, "--preserve-color returned the original (mean difference {diff})");
}

/// A test picture with an alpha channel that takes every value, 0 and 255 included.
fn with_alpha(w: u32, h: u32) -> RgbaImage {
    let rgb = pattern(w, h);
    RgbaImage::from_fn(w, h, |x, y| {
        let [r, g, b] = rgb.get_pixel(x, y).0;
        Rgba([r, g, b, ((x * 7 + y * 31) % 256) as u8])
    })
}

fn alpha_of(img: &RgbaImage) -> GrayImage {
    GrayImage::from_fn(img.width(), img.height(), |x, y| Luma([img.get_pixel(x, y)[3]]))
}

#[test]
fn alpha_is_kept_in_png() {
    let s = Scratch::new();
    let original = with_alpha(40, 30);
    let input = s.image("in/logo.png", original.clone());
    let output = s.path("out/logo.png");
    s.stylize(&[&input], &output, &[]).assert_ok();
    let out = decode(&output);
    assert!(out.color().has_alpha(), "the output lost its alpha channel ({:?})", out.color());
    assert_eq!(alpha_of(&out.to_rgba8()), alpha_of(&original));
}

#[test]
fn alpha_is_composited_over_white_in_jpeg() {
    let s = Scratch::new();
    // Left half fully transparent, right half opaque.
    let original = RgbaImage::from_fn(40, 30, |x, _| Rgba([20, 40, 200, if x < 20 { 0 } else { 255 }]));
    let input = s.image("in/logo.png", original);
    let output = s.path("out/logo.jpg");
    s.stylize(&[&input], &output, &[]).assert_ok();
    let out = decode(&output).to_rgb8();
    // Away from the edge, where JPEG blurs the two halves together.
    for y in 0..30 {
        for x in 0..12 {
            assert!(out.get_pixel(x, y).0.iter().all(|&c| c > 235), "transparent pixel ({x},{y}) is {:?}", out.get_pixel(x, y));
        }
    }
}

#[test]
fn exif_orientation_is_applied() {
    let s = Scratch::new();
    let jpeg = jpeg_with_orientation(&pattern(48, 24), 6);
    // What the camera meant: the stored pixels turned 90 degrees clockwise.
    let upright = image::imageops::rotate90(&image::load_from_memory(&jpeg).expect("decode the test JPEG").to_rgb8());
    let input = s.write("in/phone.jpg", &jpeg);

    let output = s.path("out/phone.png");
    s.stylize(&[&input], &output, &[]).assert_ok();
    assert_eq!(decode(&output).dimensions(), (24, 48));

    // With --strength 0 the output is the decoded photo, so its content shows the turn.
    let output = s.path("out/phone-original.png");
    s.stylize(&[&input], &output, &["--strength", "0"]).assert_ok();
    let out = decode(&output).to_rgb8();
    assert_eq!(out.dimensions(), (24, 48));
    let diff = max_abs_diff(&out, &upright);
    assert!(diff <= 2, "the output is not the photo turned clockwise (a channel differs by {diff})");
}

/// Asserts a failed run left nothing in `out_dir`: no output, no temporary file.
#[track_caller]
fn assert_nothing_written(out_dir: &Path, run: &Run) {
    let left = tree(out_dir);
    assert!(left.is_empty(), "files left in the output folder: {left:?}\n{}", run.stderr);
}

#[test]
fn bad_inputs_fail_cleanly() {
    let s = Scratch::new();
    let good = s.image("in/good.png", pattern(64, 64));
    let png = std::fs::read(&good).expect("read the test image");
    // (case, input, output file name, what the error must say); the error names the
    // input, except for the bad output name, where it names the output.
    let cases = [
        ("missing", s.path("in/missing.png"), "out.png", "no such file"),
        // An AVIF file: recognised, but not a format nst reads.
        ("avif", s.write("in/photo.avif", b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf\x00\x00\x00\x00"), "out.png", "AVIF images cannot be read"),
        ("empty", s.write("in/empty.png", b""), "out.png", "empty"),
        ("truncated", s.write("in/truncated.png", &png[..png.len() / 2]), "out.png", "cannot decode"),
        ("text", s.write("in/notes.png", b"these are notes, not a picture\n"), "out.png", "not a supported image"),
        ("huge", s.write("in/huge.png", png_header(20_000, 20_000)), "out.png", "too large"),
        ("output-format", good, "out.xyz", "cannot write this image format"),
    ];
    for (case, input, out_name, reason) in cases {
        let out_dir = s.mkdir(format!("out-{case}"));
        let output = out_dir.join(out_name);
        let run = s.stylize(&[&input], &output, &[]);
        let named = if case == "output-format" { &output } else { &input };
        let line = run.assert_one_error(&named.display().to_string());
        assert!(line.contains(reason), "{case}: {line}");
        assert!(!run.stderr.contains("panicked"), "{case}:\n{}", run.stderr);
        assert_nothing_written(&out_dir, &run);
    }
}

#[test]
fn library_wording_does_not_leak() {
    let s = Scratch::new();
    let missing = s.path("in/missing.png");
    let run = s.stylize(&[&missing], &s.path("out.png"), &[]);
    for leak in ["entity not found", "os error", "unsupported variant"] {
        assert!(!run.stderr.contains(leak), "{leak}:\n{}", run.stderr);
    }
    assert!(!run.stderr.contains("stylized 0 of"), "{}", run.stderr);
    // An empty folder: its error, and no "stylized 0 of 1 images".
    let empty = s.mkdir("empty");
    let run = s.stylize(&[&empty], &s.path("out"), &[]);
    assert!(!run.success);
    assert!(run.stderr.contains("has no images") && run.stderr.contains("nothing was written"), "{}", run.stderr);
    assert!(!run.stderr.contains("stylized 0 of"), "{}", run.stderr);
}

#[test]
fn an_animated_gif_is_stylized_from_its_first_frame_with_a_warning() {
    let s = Scratch::new();
    let mut bytes = Vec::new();
    {
        let mut enc = image::codecs::gif::GifEncoder::new(&mut bytes);
        for i in 0..3u8 {
            let frame = RgbaImage::from_pixel(40, 30, Rgba([80 * i, 120, 200, 255]));
            enc.encode_frame(image::Frame::new(frame)).expect("encode a GIF frame");
        }
    }
    let input = s.write("in/anim.gif", &bytes);
    let output = s.path("out/anim.png");
    let run = s.stylize(&[&input], &output, &[]);
    run.assert_ok();
    assert!(run.stderr.contains("animated GIF") && run.stderr.contains("first frame"), "{}", run.stderr);
    assert_eq!(decode(&output).dimensions(), (40, 30));
    // A still GIF: no warning.
    let still = s.image("in/still.gif", pattern(40, 30));
    let run = s.stylize(&[&still], &s.path("out/still.png"), &[]);
    run.assert_ok();
    assert!(!run.stderr.contains("animated"), "{}", run.stderr);
}

#[test]
fn missing_input_leaves_an_existing_output_alone() {
    let s = Scratch::new();
    let output = s.write("out/result.png", b"an earlier result");
    let missing = s.path("in/missing.png");
    let run = s.stylize(&[&missing], &output, &[]);
    run.assert_one_error(&missing.display().to_string());
    assert_eq!(std::fs::read(&output).expect("read the earlier output"), b"an earlier result");
    assert_eq!(tree(&s.path("out")), paths(["result.png"]));
}

#[test]
fn invalid_options_are_refused() {
    let s = Scratch::new();
    let input = s.image("in/photo.png", pattern(40, 30));
    let out_dir = s.mkdir("out");
    for (args, option) in [(["--strength", "1.5"], "--strength"), (["--max-size", "0"], "--max-size")] {
        let run = s.stylize(&[&input], &out_dir.join("photo.png"), &args);
        run.assert_one_error(option);
        assert_nothing_written(&out_dir, &run);
    }
}

#[test]
fn batch_writes_what_it_can_and_reports_the_rest() {
    let s = Scratch::new();
    let sizes = [("a.png", (40, 30)), ("b.jpg", (50, 40)), ("c.gif", (33, 21)), ("sub/d.png", (30, 44))];
    for (name, (w, h)) in sizes {
        s.image(format!("in/{name}"), pattern(w, h));
    }
    s.write("in/bad.png", b"not an image");
    s.write("in/readme.txt", b"not an image either, and not named like one");
    let in_dir = s.path("in");
    let missing = s.path("gone.png");
    let out_dir = s.path("out");

    let run = s.stylize(&[&in_dir, &missing], &out_dir, &[]);
    assert!(!run.success, "a batch with failures must exit non-zero:\n{}", run.stderr);
    assert!(run.stderr.contains("stylized 4 of 6 images"), "{}", run.stderr);
    assert!(run.stderr.contains("2 failed:"), "{}", run.stderr);
    for failed in [s.path("in/bad.png"), missing] {
        let listed = run.stderr.lines().any(|l| l.starts_with("  ") && l.contains(&failed.display().to_string()));
        assert!(listed, "{} is not listed among the failures:\n{}", failed.display(), run.stderr);
    }

    // Several inputs: the folder keeps its name and its layout; GIF, which nst does not
    // write, becomes PNG.
    assert_eq!(tree(&out_dir), paths(["in", "in/a.png", "in/b.jpg", "in/c.png", "in/sub", "in/sub/d.png"]));
    for (name, size) in [("in/a.png", (40, 30)), ("in/b.jpg", (50, 40)), ("in/c.png", (33, 21)), ("in/sub/d.png", (30, 44))] {
        assert_eq!(decode(&out_dir.join(name)).dimensions(), size, "{name}");
    }
    let jpeg = std::fs::read(out_dir.join("in/b.jpg")).expect("read b.jpg");
    assert_eq!(image::guess_format(&jpeg).ok(), Some(ImageFormat::Jpeg));
}

#[test]
fn batch_never_overwrites_an_input() {
    let s = Scratch::new();
    let pic = s.image("one/pic.png", pattern(40, 30));
    let other = s.image("two/other.png", pattern(30, 40));
    let before = std::fs::read(&pic).expect("read pic.png");

    // The output folder holds one of the inputs: that one is refused, the other written.
    let run = s.stylize(&[&pic, &other], &s.path("one"), &[]);
    assert!(!run.success, "{}", run.stderr);
    assert!(run.stderr.contains("stylized 1 of 2 images"), "{}", run.stderr);
    assert!(run.error_lines().iter().any(|l| l.contains("refusing to overwrite") && l.contains("pic.png")), "{}", run.stderr);
    assert_eq!(std::fs::read(&pic).expect("read pic.png"), before, "pic.png was overwritten");
    assert_eq!(decode(&s.path("one/other.png")).dimensions(), (30, 40));

    // A folder into itself; x.gif would become x.png, which is also an input.
    let dir = s.mkdir("same");
    s.image("same/x.png", pattern(20, 20));
    s.image("same/x.gif", pattern(20, 20));
    let inputs_before: Vec<_> = ["x.png", "x.gif"].map(|n| std::fs::read(dir.join(n)).expect("read input")).into();
    let run = s.stylize(&[&dir], &dir, &[]);
    assert!(!run.success, "{}", run.stderr);
    assert!(run.stderr.contains("nothing was written"), "{}", run.stderr);
    assert_eq!(tree(&dir), paths(["x.gif", "x.png"]));
    let inputs_after: Vec<_> = ["x.png", "x.gif"].map(|n| std::fs::read(dir.join(n)).expect("read input")).into();
    assert!(inputs_after == inputs_before, "an input was overwritten");

    // One file onto itself.
    let run = s.stylize(&[&pic], &pic, &[]);
    run.assert_one_error("refusing to overwrite");
    assert_eq!(std::fs::read(&pic).expect("read pic.png"), before, "pic.png was overwritten");
}

#[test]
fn broken_models_are_refused() {
    let s = Scratch::new();
    let input = s.image("in/photo.png", pattern(40, 30));
    // Deterministic noise (xorshift).
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let cases = [
        ("random.onnx", noise, "not a valid ONNX model"),
        ("empty.onnx", Vec::new(), "empty"),
        ("foreign.onnx", onnx_identity(&[]), "not an nst style model"),
    ];
    for (name, bytes, reason) in cases {
        let model = s.write(format!("models/{name}"), bytes);
        let out_dir = s.mkdir(format!("out-{name}"));
        let run = Run::of(&mut s.stylize_command(&model, &[&input], &out_dir.join("photo.png")));
        let line = run.assert_one_error(&model.display().to_string());
        assert!(line.contains(reason), "{name}: {line}");
        assert_nothing_written(&out_dir, &run);
    }
}

/// A weights folder with two styles and files that are not styles.
fn weights_folder(s: &Scratch) -> PathBuf {
    s.write("weights/beta.onnx", b"bbb");
    s.write("weights/alpha.onnx", b"aaaaa");
    s.write("weights/vgg19.onnx", b"the loss network, not a style");
    s.write("weights/README.txt", b"not a model");
    s.path("weights")
}

#[test]
fn unknown_style_lists_the_bundled_styles() {
    let s = Scratch::new();
    let weights = weights_folder(&s);
    let input = s.image("in/photo.png", pattern(40, 30));
    let out_dir = s.mkdir("out");
    let run = Run::of(s.stylize_command("nosuchstyle", &[&input], &out_dir.join("photo.png")).env("NST_WEIGHTS_DIR", &weights));
    let line = run.assert_one_error("nosuchstyle");
    assert!(line.contains("alpha, beta"), "the error should list the bundled styles: {line}");
    assert!(!line.contains("vgg19"), "{line}");
    assert_nothing_written(&out_dir, &run);
}

#[test]
fn unavailable_provider_is_an_error_not_a_fallback() {
    let s = Scratch::new();
    let input = s.image("in/photo.png", pattern(40, 30));
    for ep in ["cuda", "tensorrt"] {
        let out_dir = s.mkdir(format!("out-{ep}"));
        let mut cmd = nst();
        cmd.arg("stylize").arg(&input).arg("-o").arg(out_dir.join("photo.png"));
        cmd.arg("--model").arg(s.model()).args(["--ep", ep, "--threads", "1"]);
        let run = Run::of(&mut cmd);
        if run.success {
            // A machine where the provider works: it must have run there, not on the CPU.
            assert!(run.stderr.contains(&format!("on {ep})")), "--ep {ep} succeeded without running on {ep}:\n{}", run.stderr);
        } else {
            run.assert_one_error(ep);
            assert_nothing_written(&out_dir, &run);
        }
    }
}

/// `nst styles --json` and whether it succeeded (it fails when a listed file is broken).
fn styles_json(weights: Option<&Path>) -> (serde_json::Value, bool) {
    let mut cmd = nst();
    cmd.args(["styles", "--json"]);
    if let Some(dir) = weights {
        cmd.env("NST_WEIGHTS_DIR", dir);
    }
    let run = Run::of(&mut cmd);
    let json = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("`nst styles --json` printed invalid JSON ({e}):\n{}\n{}", run.stdout, run.stderr));
    (json, run.success)
}

#[test]
fn styles_json_lists_the_bundled_styles() {
    let s = Scratch::new();
    let weights = weights_folder(&s);
    let (styles, ok) = styles_json(Some(&weights));
    // The two files are not models: listed, with the error, and the listing fails.
    assert!(!ok);
    let styles = styles.as_array().expect("a JSON array");
    let names: Vec<_> = styles.iter().map(|st| st["name"].as_str().expect("a name")).collect();
    assert_eq!(names, ["alpha", "beta"]);
    assert_eq!(styles[0]["bytes"], 5);
    assert_eq!(styles[0]["path"].as_str().map(PathBuf::from), Some(weights.canonicalize().unwrap().join("alpha.onnx")));
    assert!(styles[0]["error"].as_str().unwrap().contains("alpha.onnx"), "{}", styles[0]);

    assert_eq!(styles_json(Some(&s.mkdir("no-weights"))), (serde_json::json!([]), true));
    // The checkout's own bundled styles all load.
    let (bundled, ok) = styles_json(None);
    assert!(bundled.is_array() && ok, "{bundled}");
}

#[test]
fn truncated_files_of_every_format_are_refused() {
    let s = Scratch::new();
    let img = pattern(96, 64);
    for ext in ["jpg", "png", "webp", "gif", "bmp", "tif"] {
        let whole = s.image(format!("whole.{ext}"), img.clone());
        let bytes = std::fs::read(&whole).unwrap();
        let cut = s.write(format!("cut_{ext}.{ext}"), &bytes[..bytes.len() * 6 / 10]);
        let out = s.path(format!("out_{ext}.png"));
        let run = s.stylize(&[&cut], &out, &[]);
        run.assert_one_error(&format!("cut_{ext}.{ext}"));
        assert!(run.stderr.contains("truncated"), "{ext}: {}", run.stderr);
        assert!(!out.exists(), "{ext}: no output for a truncated input");
        // The whole file still works.
        s.stylize(&[&whole], &out, &[]).assert_ok();
    }
    // A JPEG whose EXIF thumbnail ends (its own end marker) before the truncation point.
    let with_exif = jpeg_with_orientation(&img, 1);
    let cut = s.write("cut_exif.jpg", &with_exif[..with_exif.len() - 40]);
    s.stylize(&[&cut], &s.path("exif.png"), &[]).assert_one_error("cut_exif.jpg");
}
