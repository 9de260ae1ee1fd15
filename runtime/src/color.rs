//! Post-processing of a stylized image against its original: strength blending and
//! colour preservation (stylized luminance, original chroma).

use image::RgbImage;

use crate::imageio::to_u8;

/// `strength * stylized + (1 - strength) * original`, per channel. Both images must have
/// the same size; `strength` is clamped to 0..=1.
pub fn blend(stylized: &RgbImage, original: &RgbImage, strength: f32) -> RgbImage {
    assert_eq!(stylized.dimensions(), original.dimensions(), "blend needs images of the same size");
    let s = strength.clamp(0.0, 1.0);
    let mut out = stylized.clone();
    for (o, p) in out.as_mut().iter_mut().zip(original.as_raw()) {
        *o = to_u8(s * *o as f32 + (1.0 - s) * *p as f32);
    }
    out
}

/// Keeps the original's colours: the luminance (Y of BT.601 YCbCr) comes from the
/// stylized image, the chroma (Cb, Cr) from the original.
pub fn preserve_color(stylized: &RgbImage, original: &RgbImage) -> RgbImage {
    assert_eq!(stylized.dimensions(), original.dimensions(), "preserve_color needs images of the same size");
    let mut out = stylized.clone();
    for (o, p) in out.pixels_mut().zip(original.pixels()) {
        let (y, _, _) = rgb_to_ycbcr(o.0);
        let (_, cb, cr) = rgb_to_ycbcr(p.0);
        o.0 = ycbcr_to_rgb(y, cb, cr);
    }
    out
}

/// Full-range BT.601 (JPEG) luma, 0-255: the Y of [`rgb_to_ycbcr`].
#[inline]
pub fn luma([r, g, b]: [u8; 3]) -> f32 {
    0.299 * r as f32 + 0.587 * g as f32 + 0.114 * b as f32
}

/// Full-range BT.601 (JPEG) RGB -> YCbCr.
pub fn rgb_to_ycbcr([r, g, b]: [u8; 3]) -> (f32, f32, f32) {
    let y = luma([r, g, b]);
    let (r, g, b) = (r as f32, g as f32, b as f32);
    let cb = 128.0 - 0.168_736 * r - 0.331_264 * g + 0.5 * b;
    let cr = 128.0 + 0.5 * r - 0.418_688 * g - 0.081_312 * b;
    (y, cb, cr)
}

/// Full-range BT.601 (JPEG) YCbCr -> RGB, clamped to 0-255.
pub fn ycbcr_to_rgb(y: f32, cb: f32, cr: f32) -> [u8; 3] {
    let r = y + 1.402 * (cr - 128.0);
    let g = y - 0.344_136 * (cb - 128.0) - 0.714_136 * (cr - 128.0);
    let b = y + 1.772 * (cb - 128.0);
    [to_u8(r), to_u8(g), to_u8(b)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(seed: u8) -> RgbImage {
        RgbImage::from_fn(16, 8, |x, y| image::Rgb([(x * 13) as u8 ^ seed, (y * 29) as u8, 90 + seed / 2]))
    }

    #[test]
    fn blend_endpoints_and_midpoint() {
        let a = RgbImage::from_pixel(2, 2, image::Rgb([200, 100, 0]));
        let b = RgbImage::from_pixel(2, 2, image::Rgb([0, 100, 200]));
        assert_eq!(blend(&a, &b, 1.0), a);
        assert_eq!(blend(&a, &b, 0.0), b);
        assert_eq!(blend(&a, &b, 0.5).get_pixel(1, 1).0, [100, 100, 100]);
    }

    #[test]
    fn ycbcr_round_trip() {
        for px in [[0, 0, 0], [255, 255, 255], [12, 200, 77], [250, 3, 128]] {
            let (y, cb, cr) = rgb_to_ycbcr(px);
            let back = ycbcr_to_rgb(y, cb, cr);
            for c in 0..3 {
                assert!((back[c] as i32 - px[c] as i32).abs() <= 1, "{px:?} -> {back:?}");
            }
        }
    }

    #[test]
    fn preserve_color_keeps_chroma_and_takes_luma() {
        let original = gradient(40);
        let stylized = RgbImage::from_fn(16, 8, |x, y| {
            let v = (60 + x * 5 + y * 3) as u8;
            image::Rgb([v, v / 2 + 40, v])
        });
        let out = preserve_color(&stylized, &original);
        let (mut chroma_sum, mut max_chroma, mut max_luma, mut counted) = (0f32, 0f32, 0f32, 0usize);
        for ((o, p), s) in out.pixels().zip(original.pixels()).zip(stylized.pixels()) {
            let (yo, cbo, cro) = rgb_to_ycbcr(o.0);
            let (_, cbp, crp) = rgb_to_ycbcr(p.0);
            let (ys, _, _) = rgb_to_ycbcr(s.0);
            let d = (cbo - cbp).abs().max((cro - crp).abs());
            chroma_sum += d;
            // Where a channel clipped, the colour cannot exist at that brightness.
            if o.0.iter().all(|&c| c > 0 && c < 255) {
                max_chroma = max_chroma.max(d);
                max_luma = max_luma.max((yo - ys).abs());
                counted += 1;
            }
        }
        assert!(counted > (out.width() * out.height()) as usize / 2, "too few representable pixels to judge");
        assert!(chroma_sum / ((out.width() * out.height()) as f32) < 3.0, "mean chroma moved by too much");
        // Rounding to 8 bits costs a couple of levels.
        assert!(max_chroma < 3.0, "chroma moved by {max_chroma}");
        assert!(max_luma < 3.0, "luma moved by {max_luma}");
    }
}
