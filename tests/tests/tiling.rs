//! Tiling (`nst_runtime::tiling`): the bundled full and fast networks over tiles with
//! shared instance-norm statistics give the untiled result, at awkward sizes and tile
//! sizes, and leave no seam even when the statistics come from a smaller copy.

use image::RgbImage;
use nst_runtime::ep::Provider;
use nst_runtime::model::{SessionConfig, StyleModel};
use nst_runtime::tiling::Tiling;
use nst_tests::*;

fn load(name: &str) -> StyleModel {
    StyleModel::load(&weights(name), &SessionConfig { provider: Provider::Cpu, threads: Some(2), tiling: None }).unwrap()
}

/// A photo-like picture: smooth shading, edges, fine texture.
fn photo(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
        let disc = ((fx - 0.4).powi(2) + (fy - 0.5).powi(2)).sqrt() < 0.25;
        let stripes = ((x / 7 + y / 11) % 2) as f32 * 30.0;
        image::Rgb([
            (40.0 + 180.0 * fx + stripes) as u8,
            if disc { 220 } else { (60.0 + 120.0 * fy) as u8 },
            (200.0 - 150.0 * fx * fy + stripes * 0.5) as u8,
        ])
    })
}

fn diffs(a: &RgbImage, b: &RgbImage) -> (u8, f64) {
    (max_abs_diff(a, b), mean_abs_diff(a, b))
}

#[test]
fn tiled_equals_untiled_at_awkward_sizes() {
    for model_name in ["udnie.onnx", "udnie.fast.onnx"] {
        let mut model = load(model_name);
        for (w, h, tile) in [(257, 319, 64), (319, 130, 96), (129, 65, 128), (97, 45, 256), (200, 200, 48)] {
            let img = photo(w, h);
            model.set_tiling(Tiling::off());
            let whole = model.stylize(&img).unwrap();
            // Statistics from the picture itself: exact.
            model.set_tiling(Tiling { above_pixels: 0, stats_pixels: u64::MAX, ..Tiling::with_tile(tile) });
            let tiled = model.stylize(&img).unwrap();
            let (max, mean) = diffs(&whole, &tiled);
            eprintln!("{model_name} {w}x{h}, tiles of {tile}: max {max}, mean {mean:.4}");
            assert!(max <= 2 && mean < 0.05, "{model_name} {w}x{h}, tiles of {tile}: tiled differs from untiled by up to {max} (mean {mean})");
        }
    }
}

/// Mean absolute difference between neighbouring columns `x - 1` and `x`.
fn column_step(img: &RgbImage, x: u32) -> f64 {
    let h = img.height();
    (0..h).map(|y| (0..3).map(|c| f64::from(img.get_pixel(x, y)[c].abs_diff(img.get_pixel(x - 1, y)[c]))).sum::<f64>()).sum::<f64>() / f64::from(3 * h)
}

fn row_step(img: &RgbImage, y: u32) -> f64 {
    let w = img.width();
    (0..w).map(|x| (0..3).map(|c| f64::from(img.get_pixel(x, y)[c].abs_diff(img.get_pixel(x, y - 1)[c]))).sum::<f64>()).sum::<f64>() / f64::from(3 * w)
}

#[test]
fn no_seams_when_the_statistics_come_from_a_smaller_copy() {
    let (w, h, tile) = (512u32, 384u32, 128u32);
    let img = photo(w, h);
    for model_name in ["vg_starry_night.onnx", "vg_starry_night.fast.onnx"] {
        let mut model = load(model_name);
        // Statistics from a 128x96 copy: not the picture's own, but the same for every tile.
        model.set_tiling(Tiling { above_pixels: 0, stats_pixels: 128 * 96, ..Tiling::with_tile(tile) });
        let out = model.stylize(&img).unwrap();
        // The same statistics in one tile covering the picture: the tiles must agree with it.
        model.set_tiling(Tiling { above_pixels: 0, stats_pixels: 128 * 96, ..Tiling::with_tile(1024) });
        let one = model.stylize(&img).unwrap();
        let (max, mean) = diffs(&one, &out);
        assert!(max <= 2 && mean < 0.05, "{model_name}: tiles differ from one tile with the same statistics: max {max}, mean {mean}");
        // Gradient energy across each tile edge: no higher than in the one-tile picture
        // there, nor than between the columns (rows) around it.
        let local = |step: &dyn Fn(u32) -> f64, at: u32| [at - 4, at - 3, at - 2, at - 1, at + 1, at + 2, at + 3, at + 4].iter().map(|&i| step(i)).sum::<f64>() / 8.0;
        let col = |x: u32| column_step(&out, x);
        let row = |y: u32| row_step(&out, y);
        for i in 1..w / tile {
            let x = i * tile;
            let (edge, same, around) = (col(x), column_step(&one, x), local(&col, x));
            eprintln!("{model_name}: column {x}: step {edge:.2}, one tile {same:.2}, around {around:.2}");
            assert!(edge < same + 0.25 && edge < 1.5 * around, "{model_name}: a seam at column {x}: step {edge}, one tile {same}, around {around}");
        }
        for i in 1..h / tile {
            let y = i * tile;
            let (edge, same, around) = (row(y), row_step(&one, y), local(&row, y));
            eprintln!("{model_name}: row {y}: step {edge:.2}, one tile {same:.2}, around {around:.2}");
            assert!(edge < same + 0.25 && edge < 1.5 * around, "{model_name}: a seam at row {y}: step {edge}, one tile {same}, around {around}");
        }
        // And it is still the same painting as untiled, nearly.
        model.set_tiling(Tiling::off());
        let whole = model.stylize(&img).unwrap();
        let (_, mean) = diffs(&whole, &out);
        eprintln!("{model_name}: statistics from a 1/16 copy: mean difference {mean:.2} from untiled");
    }
}

/// Not a test: how far statistics from a smaller copy move a real photo (PHOTO, a path).
#[test]
#[ignore]
fn measure_statistics_from_a_copy() {
    let photo = image::open(std::env::var("PHOTO").unwrap()).unwrap().to_rgb8();
    let (w, h) = photo.dimensions();
    for model_name in ["udnie.onnx", "udnie.fast.onnx"] {
        let mut model = load(model_name);
        model.set_tiling(Tiling::off());
        let whole = model.stylize(&photo).unwrap();
        for stats in [1u64 << 20, 2 << 20] {
            model.set_tiling(Tiling { above_pixels: 0, stats_pixels: stats, ..Tiling::with_tile(1024) });
            let tiled = model.stylize(&photo).unwrap();
            let (max, mean) = diffs(&whole, &tiled);
            eprintln!("{model_name} {w}x{h}, statistics from {:.1} MP: max {max}, mean {mean:.2}", stats as f64 / 1e6);
        }
    }
}
