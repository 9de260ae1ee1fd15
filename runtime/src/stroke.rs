//! Strokes at the right scale on large pictures.
//!
//! A style network paints strokes of a fixed size in pixels, learnt at the scale of its
//! training (crops of a few hundred pixels, the painting at `style_size`). On a photo of
//! 5000 pixels the same strokes shrink to a fine grain. `--stroke-scale F` runs the
//! network on the picture scaled down by F (strokes F times as large relative to the
//! picture) and brings the result back to full size with a guided upsampling that takes
//! its edges from the photo ([`guided_upsample`]), so it stays sharp at 100%.
//! `auto` picks F so that the network sees the picture at the model's reference size
//! (see [`crate::contract::ModelInfo::reference_side`]); `1` runs at full resolution.

use image::RgbImage;

use rayon::prelude::*;

use crate::color::luma;
use crate::imageio;

/// `--stroke-scale`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum StrokeScale {
    /// Strokes as the model paints them on a picture of its reference size.
    #[default]
    Auto,
    /// The network runs on the picture scaled down by this factor (at least 1).
    Factor(f32),
}

impl StrokeScale {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            t => match t.parse::<f32>() {
                Ok(f) if f.is_finite() && f >= 1.0 => Ok(Self::Factor(f)),
                _ => Err(format!("'{s}' is not a stroke scale: give auto, or a number of at least 1 (1 = the picture's own resolution, 2 = strokes twice as large)")),
            },
        }
    }

    /// The size the network runs at for a `w`x`h` picture and a model whose reference
    /// size (longer side) is `reference`.
    pub fn run_size(self, w: u32, h: u32, reference: u32) -> (u32, u32) {
        let long = w.max(h);
        let factor = match self {
            Self::Auto => (long as f32 / reference.max(1) as f32).max(1.0),
            Self::Factor(f) => f.max(1.0),
        };
        if factor <= 1.0 {
            return (w, h);
        }
        let side = ((long as f32 / factor).round() as u32).max(1);
        imageio::fit_size(w, h, side)
    }
}

/// Brings `styled` (the network's output at a reduced size) to the size of `photo`:
/// the painting upsampled (bilinear), plus the photo's own detail above the reduced
/// size (its luma minus the luma of its reduced copy, upsampled the same way). At the
/// reduced scale the result is the painting, strokes and colours; above it, edges and
/// fine texture come from the photo, so it is sharp at 100% where a plain resize is
/// blurred.
pub fn guided_upsample(styled: &RgbImage, photo: &RgbImage) -> RgbImage {
    let (sw, sh) = styled.dimensions();
    if (sw, sh) == photo.dimensions() {
        return styled.clone();
    }
    guided_upsample_from(styled, &imageio::resize(photo, sw, sh), photo)
}

/// [`guided_upsample`] given the photo as the network saw it (`small`, the size of
/// `styled`). Computed as `enlarge(styled - luma(small)) + luma(photo)`: one enlargement
/// (SIMD, [`imageio::resize_f32x3`]) and one pass at full size, fast enough for live
/// video.
pub fn guided_upsample_from(styled: &RgbImage, small: &RgbImage, photo: &RgbImage) -> RgbImage {
    let (sw, sh) = styled.dimensions();
    let (w, h) = photo.dimensions();
    if (sw, sh) == (w, h) {
        return styled.clone();
    }
    assert_eq!(small.dimensions(), (sw, sh), "the reduced photo has the painting's size");
    let diff: Vec<[f32; 3]> = styled
        .pixels()
        .zip(small.pixels())
        .map(|(s, p)| {
            let l = luma(p.0);
            [f32::from(s[0]) - l, f32::from(s[1]) - l, f32::from(s[2]) - l]
        })
        .collect();
    let up = imageio::resize_f32x3(diff, (sw, sh), (w, h));
    let mut out = RgbImage::new(w, h);
    let stride = w as usize * 3;
    // One pass at full size, rows in parallel: the enlarged difference plus the photo's luma.
    out.par_chunks_mut(stride).zip(up.par_chunks(stride * 4)).zip(photo.as_raw().par_chunks(stride)).for_each(|((dst, up), src)| {
        for (i, (p, o)) in src.chunks_exact(3).zip(dst.chunks_exact_mut(3)).enumerate() {
            let l = luma([p[0], p[1], p[2]]);
            for c in 0..3 {
                o[c] = imageio::to_u8(imageio::f32_at(up, 3 * i + c) + l);
            }
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_sizes() {
        assert_eq!(StrokeScale::Factor(1.0).run_size(5184, 3456, 1024), (5184, 3456));
        assert_eq!(StrokeScale::Factor(2.0).run_size(5184, 3456, 1024), (2592, 1728));
        assert_eq!(StrokeScale::Auto.run_size(5184, 3456, 512), (512, 341));
        assert_eq!(StrokeScale::Auto.run_size(400, 300, 512), (400, 300), "never enlarged");
        assert!(StrokeScale::parse("0.5").is_err() && StrokeScale::parse("x").is_err());
        assert_eq!(StrokeScale::parse("AUTO").unwrap(), StrokeScale::Auto);
        assert_eq!(StrokeScale::parse("1.5").unwrap(), StrokeScale::Factor(1.5));
    }

    #[test]
    fn upsampling_keeps_the_photos_edges_and_the_paintings_colours() {
        // The photo: a sharp vertical edge. The "painting" at a quarter size: the same
        // edge, blurred, in other colours.
        let photo = RgbImage::from_fn(256, 128, |x, _| if x < 101 { image::Rgb([30, 30, 30]) } else { image::Rgb([220, 220, 220]) });
        let small = imageio::resize(&photo, 64, 32);
        let styled = RgbImage::from_fn(64, 32, |x, y| {
            let v = small.get_pixel(x, y)[0];
            image::Rgb([v, 255 - v, 128])
        });
        let up = guided_upsample(&styled, &photo);
        assert_eq!(up.dimensions(), (256, 128));
        // Sharp: the step happens within two pixels of the photo's edge.
        let row: Vec<u8> = (0..256).map(|x| up.get_pixel(x, 64)[0]).collect();
        assert!(row[97] < 60 && row[104] > 190, "the edge is blurred: {:?}", &row[92..110]);
        // Colours from the painting: green is the inverse of red, blue stays 128.
        let p = up.get_pixel(200, 64);
        assert!(p[1] < 60 && (i32::from(p[2]) - 128).abs() <= 3, "{p:?}");
        let bilinear = imageio::resize(&styled, 256, 128);
        let soft: Vec<u8> = (0..256).map(|x| bilinear.get_pixel(x, 64)[0]).collect();
        assert!(soft[97] > row[97] || soft[104] < row[104], "guided is sharper than a plain resize");
    }
}
