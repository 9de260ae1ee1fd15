//! Large pictures through `nst stylize`: the default stroke scale paints a large picture
//! as the same picture at 512 px is painted (scored with nst-eval), and a 12-megapixel
//! picture at full resolution stays within a memory bound (tiles).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use image::RgbImage;
use nst_runtime::model::StyleModel;
use nst_tests::*;

/// A photo-like picture with structure at several scales: shading, shapes, edges, texture.
fn photo(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
        let sun = ((fx - 0.7).powi(2) + (fy - 0.25).powi(2)).sqrt() < 0.1;
        let hill = fy > 0.6 + 0.1 * (fx * 9.0).sin();
        let bricks = (((x * 64 / w) + (y * 48 / h)) % 2) as f32 * 25.0;
        let grain = 0.0;
        if sun {
            image::Rgb([250, 240, 200])
        } else if hill {
            image::Rgb([(40.0 + bricks + grain) as u8, (120.0 - 40.0 * fy + grain) as u8, (50.0 + grain) as u8])
        } else {
            image::Rgb([(90.0 + 60.0 * fy) as u8, (140.0 + 50.0 * fy) as u8, (230.0 - 20.0 * fx + bricks * 0.3) as u8])
        }
    })
}

/// nst-eval's style_ratio of `images` (in order) for `content` and `painting`.
fn style_ratios(content: &Path, painting: &Path, images: &[&Path]) -> Vec<f64> {
    let out = Command::new(binary("nst-eval")).arg("--content").arg(content).arg("--style").arg(painting).args(images).arg("--json").output().unwrap();
    assert!(out.status.success(), "nst-eval: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("nst-eval --json: {e}: {}", String::from_utf8_lossy(&out.stdout)));
    let rows = v.get("images").and_then(|i| i.as_array()).or_else(|| v.as_array()).unwrap_or_else(|| panic!("{v}"));
    rows.iter().map(|r| r["style_ratio"].as_f64().unwrap_or_else(|| panic!("{r}"))).collect()
}

#[test]
fn auto_stroke_scale_paints_a_large_picture_as_the_same_picture_at_512() {
    let s = Scratch::new();
    let original = photo(2400, 1600);
    let big = s.image("big.png", original.clone());
    // The painting, from the model's own metadata.
    let model = StyleModel::read_info(&weights("udnie.fast.onnx")).unwrap();
    let painting = s.write("udnie.jpg", model.painting_picture_jpeg().expect("the bundled model carries its painting"));
    let (auto, small, fine) = (s.path("auto.png"), s.path("small.png"), s.path("fine.png"));
    for (out, extra) in [(&auto, vec![]), (&small, vec!["--max-size", "512"]), (&fine, vec!["--stroke-scale", "1"])] {
        let run = Run::of(nst().arg("stylize").arg(&big).arg("-o").arg(out).args(["--model", "udnie", "--variant", "fast"]).args(&extra));
        run.assert_ok();
    }
    let auto_img = image::open(&auto).unwrap().to_rgb8();
    assert_eq!(auto_img.dimensions(), (2400, 1600), "full resolution out");
    let r = style_ratios(&big, &painting, &[&auto, &small, &fine]);
    eprintln!("style_ratio: auto {:.3}, at 512 px {:.3}, stroke scale 1 {:.3}", r[0], r[1], r[2]);
    // At least as painted as at 512 px (on this synthetic picture auto scores a little
    // lower, i.e. more painted: the photo's detail on top is mostly above 512 px; on the
    // 18 MP photo in the README the two are within 0.015).
    assert!(r[0] < r[1] + 0.05 && r[0] > r[1] - 0.15, "auto {} against 512 px {}", r[0], r[1]);
    assert!(r[2] > r[0] + 0.05, "stroke scale 1 paints finer (less style at 512 px): {} against auto {}", r[2], r[0]);
    // Sharp: across the sun's edge the full-size result steps as steeply as the photo
    // does, far more than the 512 px painting enlarged. Steepness is the steepest one-pixel
    // step within 16 px of the edge as a share of the luma range there (1.0: the whole
    // step in one pixel, as in the photo; a 4.7x enlargement spreads it over ~9 pixels),
    // averaged over 58 crossings of the sun's outline, so that a dark contour a style
    // paints around the sun counts as contrast, not as sharpness.
    let steepness = |img: &RgbImage| {
        let luma = |x: u32, y: u32| { let p = img.get_pixel(x, y); 0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]) };
        let mut shares = Vec::new();
        for y in (260..=540).step_by(10) {
            // The sun: (fx - 0.7)^2 + (fy - 0.25)^2 < 0.01, so this row crosses it at 0.7 ± dx.
            let dx = (0.01 - (y as f32 / 1600.0 - 0.25).powi(2)).max(0.0).sqrt();
            for edge in [(0.7 - dx) * 2400.0, (0.7 + dx) * 2400.0] {
                let l: Vec<f32> = (edge.round() as u32 - 16..=edge.round() as u32 + 16).map(|x| luma(x, y)).collect();
                let step = l.windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0, f32::max);
                let range = l.iter().copied().fold(f32::MIN, f32::max) - l.iter().copied().fold(f32::MAX, f32::min);
                shares.push(step / range.max(1.0));
            }
        }
        shares.iter().sum::<f32>() / shares.len() as f32
    };
    let enlarged = image::imageops::resize(&image::open(&small).unwrap().to_rgb8(), 2400, 1600, image::imageops::FilterType::Triangle);
    let (sharp, soft, photo_edge) = (steepness(&auto_img), steepness(&enlarged), steepness(&original));
    eprintln!("steepness across the sun's edge: photo {photo_edge:.2}, auto {sharp:.2}, 512 px enlarged {soft:.2}");
    assert!(photo_edge > 0.9, "the measure sees the photo's one-pixel edge: {photo_edge}");
    assert!(sharp > 0.3 && sharp > 2.5 * soft, "not sharp: {sharp} against {soft} for a plain enlargement");
}

/// Peak resident memory of a running process, in bytes, sampled until it exits.
fn peak_rss(mut child: std::process::Child) -> (u64, bool) {
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status_path) {
            if let Some(kb) = text.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok()) {
                peak = peak.max(kb * 1024);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            return (peak, status.success());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_12_megapixel_picture_at_full_resolution_stays_within_a_memory_bound() {
    let s = Scratch::new();
    let big = s.image("big.png", photo(4000, 3000));
    let out = s.path("out.png");
    let child = nst()
        .arg("stylize")
        .arg(&big)
        .arg("-o")
        .arg(&out)
        .args(["--model", "udnie", "--variant", "fast", "--stroke-scale", "1", "--threads", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (peak, ok) = peak_rss(child);
    assert!(ok, "nst stylize failed");
    eprintln!("12 MP at full resolution, tiled: peak RSS {} MB", peak >> 20);
    assert!(peak < 1500 << 20, "peak RSS {} MB", peak >> 20);
    let img = image::open(&out).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (4000, 3000));
    assert!(mean_abs_diff(&img, &photo(4000, 3000)) > 10.0, "stylized");
}
