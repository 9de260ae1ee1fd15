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
    let big = s.image("big.png", photo(2400, 1600));
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
    // does, far more than the 512 px painting enlarged.
    let steepest = |img: &RgbImage| {
        let luma = |x: u32| { let p = img.get_pixel(x, 400); 0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]) };
        (1400..1960).map(|x| (luma(x) - luma(x - 1)).abs()).fold(0.0, f32::max)
    };
    let enlarged = image::imageops::resize(&image::open(&small).unwrap().to_rgb8(), 2400, 1600, image::imageops::FilterType::Triangle);
    let (sharp, soft) = (steepest(&auto_img), steepest(&enlarged));
    eprintln!("steepest step across the sun's edge: auto {sharp:.1}, 512 px enlarged {soft:.1}");
    assert!(sharp > 2.0 * soft, "not sharp: {sharp} against {soft} for a plain enlargement");
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
