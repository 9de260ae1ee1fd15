//! Style blends (`--model a:0.6,b:0.4`) through the built binaries, with the bundled fast
//! models (same network, one shared start: mixed in weight space) and a full one (another
//! network: mixed by outputs).

use nst_tests::*;

/// `nst stylize` of `photo` with `--model spec` and `extra` arguments; the result.
fn stylize(s: &Scratch, photo: &std::path::Path, spec: &str, extra: &[&str]) -> (Run, image::RgbImage) {
    let out = s.path(format!("out-{}.png", spec.replace(['/', ':', ','], "_")));
    let run = Run::of(s.stylize_command(spec, &[photo], &out).args(extra));
    run.assert_ok();
    (run, decode(&out).to_rgb8())
}

fn photo(s: &Scratch) -> std::path::PathBuf {
    s.image("photo.png", pattern(96, 64))
}

/// The per-pixel mix of two pictures.
fn mix(a: &image::RgbImage, b: &image::RgbImage, share_b: f32) -> image::RgbImage {
    image::RgbImage::from_fn(a.width(), a.height(), |x, y| {
        let (p, q) = (a.get_pixel(x, y), b.get_pixel(x, y));
        image::Rgb(std::array::from_fn(|c| ((1.0 - share_b) * p[c] as f32 + share_b * q[c] as f32).round() as u8))
    })
}

#[test]
fn a_weight_blend_of_a_model_with_itself_is_that_model() {
    let s = Scratch::new();
    let photo = photo(&s);
    let dir = s.mkdir("models");
    for name in ["a.onnx", "b.onnx"] {
        std::fs::copy(weights("udnie.fast.onnx"), dir.join(name)).unwrap();
    }
    let spec = format!("{}:0.3,{}:0.7", dir.join("a.onnx").display(), dir.join("b.onnx").display());
    let (run, blended) = stylize(&s, &photo, &spec, &[]);
    assert!(run.stderr.contains("weights mixed (one network)"), "{}", run.stderr);
    let (_, alone) = stylize(&s, &photo, "udnie.fast", &[]);
    assert!(max_abs_diff(&blended, &alone) <= 1, "mixing equal weights changed the picture by {}", max_abs_diff(&blended, &alone));
}

#[test]
fn an_output_blend_is_the_mix_of_the_outputs() {
    let s = Scratch::new();
    let photo = photo(&s);
    let (_, a) = stylize(&s, &photo, "udnie.fast", &[]);
    let (_, b) = stylize(&s, &photo, "the_scream.fast", &[]);
    let (run, blended) = stylize(&s, &photo, "udnie.fast:0.25,the_scream.fast:0.75", &["--blend-by", "outputs"]);
    assert!(run.stderr.contains("mixing the outputs instead (2 runs per picture)"), "{}", run.stderr);
    assert!(max_abs_diff(&blended, &mix(&a, &b, 0.75)) <= 1, "{}", max_abs_diff(&blended, &mix(&a, &b, 0.75)));
    // Networks that differ (a full and a fast one) are always mixed by their outputs.
    let (_, full) = stylize(&s, &photo, "udnie", &[]);
    let (run, blended) = stylize(&s, &photo, "udnie:1,the_scream.fast:1", &[]);
    assert!(run.stderr.contains("different network") && run.stderr.contains("mixing the outputs"), "{}", run.stderr);
    assert!(run.stderr.contains("udnie:0.5,the_scream.fast:0.5"), "the blend is named with its variants: {}", run.stderr);
    assert!(max_abs_diff(&blended, &mix(&full, &b, 0.5)) <= 1);
    // The same network trained from other random weights: unrelated, so outputs again.
    let other = s.path("other.fast.onnx");
    Run::of(std::process::Command::new(binary("nst-train")).args(["init", "--variant", "fast", "--seed", "7", "-o"]).arg(&other)).assert_ok();
    let (run, _) = stylize(&s, &photo, &format!("udnie.fast:0.5,{}:0.5", other.display()), &[]);
    assert!(run.stderr.contains("do not share a start") && run.stderr.contains("mixing the outputs"), "{}", run.stderr);
}

#[test]
fn a_weight_blend_lies_between_its_styles_and_moves_with_the_shares() {
    let s = Scratch::new();
    let photo = photo(&s);
    let (_, a) = stylize(&s, &photo, "udnie.fast", &[]);
    let (_, b) = stylize(&s, &photo, "wave_crop.fast", &[]);
    let (run, half) = stylize(&s, &photo, "udnie.fast,wave_crop.fast", &[]);
    assert!(run.stderr.contains("weights mixed"), "{}", run.stderr);
    let apart = mean_abs_diff(&a, &b);
    assert!(apart > 10.0, "the two styles should differ ({apart})");
    let (to_a, to_b) = (mean_abs_diff(&half, &a), mean_abs_diff(&half, &b));
    assert!(to_a < apart && to_b < apart, "half and half: {to_a:.1} from A, {to_b:.1} from B, A and B {apart:.1} apart");
    assert!(to_a > 3.0 && to_b > 3.0, "a blend is neither style alone ({to_a:.1}, {to_b:.1})");
    let (_, mostly_a) = stylize(&s, &photo, "udnie.fast:90%,wave_crop.fast:10%", &[]);
    assert!(mean_abs_diff(&mostly_a, &a) < to_a, "90% A is closer to A than 50% A");
    // A share of 0 leaves the other style alone.
    let (_, only_a) = stylize(&s, &photo, "udnie.fast:1,wave_crop.fast:0", &[]);
    assert_eq!(max_abs_diff(&only_a, &a), 0);
}

#[test]
fn bad_blends_are_explained() {
    let s = Scratch::new();
    let photo = photo(&s);
    let out = s.path("out.png");
    for (spec, says) in [
        ("udnie:0.5,wave_crop", "give every style a weight"),
        ("udnie:0.5,nope:0.5", "'nope'"),
        ("udnie:0.5", "two styles or more"),
        ("udnie:abc,wave_crop:1", "'abc' is not a weight"),
        ("udnie:0,wave_crop:0", "add up to 0"),
    ] {
        let run = Run::of(&mut s.stylize_command(spec, &[&photo], &out));
        run.assert_one_error(says);
        assert!(!out.exists(), "{spec}: nothing written");
    }
}

#[test]
fn blends_in_video_live_and_sheet() {
    let s = Scratch::new();
    let clip = s.clip("clip.mp4", &["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10", "-frames:v", "4", "-pix_fmt", "yuv420p", "-c:v", "libx264"]);
    let out = s.path("styled.mp4");
    let run = Run::of(&mut s.video_command("udnie.fast:0.5,wave_crop.fast:0.5", &[&clip], &out));
    run.assert_ok();
    assert!(run.stderr.contains("weights mixed"), "{}", run.stderr);
    assert_eq!(video_frames(&out).len(), 4);

    let run = Run::of(nst().args([
        "live", "--source", "test", "--headless", "--frames", "3", "--one-style", "--resolution", "64x48", "--json", "--ep", "cpu", "--threads", "1",
        "--model", "udnie:0.5,wave_crop:0.5",
    ]));
    run.assert_ok();
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["summary"]["frames"], 3, "{}", run.stdout);
    assert!(run.stderr.contains("udnie:0.5,wave_crop:0.5"), "{}", run.stderr);

    let photo = photo(&s);
    let sheet = s.path("sheet.png");
    let run = Run::of(nst().args(["sheet", "--max-size", "48", "--variant", "fast", "--no-original", "--columns", "3", "--ep", "cpu", "--threads", "1"]).arg(&photo).arg("-o").arg(&sheet).args([
        "--blend", "udnie", "--blend", "udnie:0.5,wave_crop:0.5", "--blend", "wave_crop",
    ]));
    run.assert_ok();
    assert!(run.stderr.contains("(3 styles)"), "{}", run.stderr);
    let sheet = decode(&sheet).to_rgb8();
    assert!(sheet.width() >= 3 * 48 && sheet.height() >= 32, "{:?}", sheet.dimensions());
}
