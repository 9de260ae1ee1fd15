//! Flicker: a style network run frame by frame makes fine texture shimmer, because tiny
//! changes of the input (noise, compression) change the texture it paints.
//!
//! [`Smoother`] blends each stylized frame with the previous *output* frame, per pixel,
//! only as much as the *input* stayed the same there: weight
//! `smooth * exp(-(d / SIGMA)^2)`, where `d` is the change of the input's luminance
//! (0-255) since the previous frame, box-blurred over 3x3 pixels so that single noisy
//! pixels do not count as motion. Still areas settle; moving objects, which change the
//! input, are taken fresh from the network and do not smear as they would under a plain
//! running average.
//!
//! [`Instability`] measures the result: the mean absolute difference between consecutive
//! output frames divided by the same for the input frames (1 = the output changes as
//! much as the input; higher = flicker the input does not have).

use image::RgbImage;

/// Input luminance change (0-255) at which a pixel keeps `exp(-1)` (37%) of the blend.
pub const SIGMA: f32 = 10.0;

/// Fixed-point scale of the blend weights.
const ONE: u32 = 256;

/// Motion-aware temporal smoothing of stylized frames (see the module docs).
#[derive(Debug)]
pub struct Smoother {
    /// Blend weight (of `ONE`) for each blurred luminance change 0..=255.
    weights: [u32; 256],
    previous: Option<(Vec<u8>, RgbImage)>,
}

impl Smoother {
    /// `strength` in 0..=1: 0 leaves frames unchanged, 1 keeps still areas as they were
    /// first painted.
    pub fn new(strength: f32) -> Self {
        let s = strength.clamp(0.0, 1.0);
        let mut weights = [0u32; 256];
        for (d, w) in weights.iter_mut().enumerate() {
            let x = d as f32 / SIGMA;
            *w = (s * (-x * x).exp() * ONE as f32).round() as u32;
        }
        Self { weights, previous: None }
    }

    /// Smooths a stylized frame against the previous output, given the input frame it was
    /// made from (same size). Returns the frame to write.
    pub fn apply(&mut self, input: &RgbImage, mut stylized: RgbImage) -> RgbImage {
        assert_eq!(input.dimensions(), stylized.dimensions(), "the stylized frame must have the input's size");
        let luma = luminance(input);
        if let Some((prev_luma, prev_out)) = &self.previous {
            if prev_out.dimensions() == stylized.dimensions() {
                let (w, h) = input.dimensions();
                let change = box_blur_3x3(&abs_diff(&luma, prev_luma), w as usize, h as usize);
                let pixels = stylized.as_mut().chunks_exact_mut(3).zip(prev_out.as_raw().chunks_exact(3));
                for ((px, prev), d) in pixels.zip(change) {
                    let w = self.weights[d as usize];
                    if w == 0 {
                        continue;
                    }
                    for (c, p) in px.iter_mut().zip(prev) {
                        *c = ((*c as u32 * (ONE - w) + *p as u32 * w + ONE / 2) / ONE) as u8;
                    }
                }
            }
        }
        self.previous = Some((luma, stylized.clone()));
        stylized
    }
}

/// BT.601 luma, 0-255, one byte per pixel.
fn luminance(img: &RgbImage) -> Vec<u8> {
    img.as_raw().chunks_exact(3).map(|p| ((77 * p[0] as u32 + 150 * p[1] as u32 + 29 * p[2] as u32 + 128) >> 8) as u8).collect()
}

fn abs_diff(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x.abs_diff(*y)).collect()
}

/// Mean over each pixel's 3x3 neighbourhood (clamped at the borders).
fn box_blur_3x3(src: &[u8], w: usize, h: usize) -> Vec<u8> {
    let mut rows = vec![0u16; src.len()];
    for y in 0..h {
        let row = &src[y * w..(y + 1) * w];
        for x in 0..w {
            let l = row[x.saturating_sub(1)];
            let r = row[(x + 1).min(w - 1)];
            rows[y * w + x] = l as u16 + row[x] as u16 + r as u16;
        }
    }
    let mut out = vec![0u8; src.len()];
    for y in 0..h {
        let (up, down) = (y.saturating_sub(1), (y + 1).min(h - 1));
        for x in 0..w {
            let sum = rows[up * w + x] + rows[y * w + x] + rows[down * w + x];
            out[y * w + x] = ((sum + 4) / 9) as u8;
        }
    }
    out
}

/// Temporal instability, accumulated frame by frame (see the module docs).
#[derive(Debug, Default)]
pub struct Instability {
    previous: Option<(RgbImage, RgbImage)>,
    input_change: f64,
    output_change: f64,
}

impl Instability {
    /// Adds the next (input, output) frame pair; the two must have the same size.
    pub fn push(&mut self, input: &RgbImage, output: &RgbImage) {
        if let Some((prev_in, prev_out)) = &self.previous {
            if prev_in.dimensions() == input.dimensions() && prev_out.dimensions() == output.dimensions() {
                self.input_change += mean_abs_diff(prev_in, input);
                self.output_change += mean_abs_diff(prev_out, output);
            }
        }
        self.previous = Some((input.clone(), output.clone()));
    }

    /// Output change over input change; `None` before two frames, or when the input never
    /// changes.
    pub fn value(&self) -> Option<f64> {
        (self.input_change > 0.0).then(|| self.output_change / self.input_change)
    }
}

/// Temporal instability of a clip: consecutive output frames' mean absolute difference
/// over the same for the input frames (see the module docs).
pub fn instability(inputs: &[RgbImage], outputs: &[RgbImage]) -> Option<f64> {
    assert_eq!(inputs.len(), outputs.len(), "one output frame per input frame");
    let mut meter = Instability::default();
    for (i, o) in inputs.iter().zip(outputs) {
        meter.push(i, o);
    }
    meter.value()
}

/// Mean absolute difference over all channels and pixels.
fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    let sum: u64 = a.as_raw().iter().zip(b.as_raw()).map(|(p, q)| p.abs_diff(*q) as u64).sum();
    sum as f64 / a.as_raw().len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    /// A scene: a still textured background and a bright square at `x`.
    fn scene(x: u32) -> RgbImage {
        RgbImage::from_fn(48, 32, |px, py| {
            if (x..x + 8).contains(&px) && (12..20).contains(&py) {
                Rgb([250, 250, 250])
            } else {
                let v = 60 + ((px * 7 + py * 3) % 40) as u8;
                Rgb([v, v / 2, 100])
            }
        })
    }

    /// A "network" that flickers: the same picture plus noise that changes every frame.
    fn flicker(img: &RgbImage, frame: u32) -> RgbImage {
        let mut out = img.clone();
        for (i, c) in out.as_mut().iter_mut().enumerate() {
            let hash = (i as u32 ^ frame.wrapping_mul(0x9E37_79B9)).wrapping_mul(2_654_435_761);
            let noise = (hash >> 27) as i32 - 16;
            *c = (*c as i32 + noise).clamp(0, 255) as u8;
        }
        out
    }

    #[test]
    fn smoothing_cuts_flicker_in_still_areas_and_keeps_moving_objects() {
        let inputs: Vec<RgbImage> = (0..12).map(|t| scene(4 + 3 * t)).collect();
        let raw: Vec<RgbImage> = inputs.iter().enumerate().map(|(t, f)| flicker(f, t as u32)).collect();
        let mut smoother = Smoother::new(0.8);
        let smoothed: Vec<RgbImage> = inputs.iter().zip(&raw).map(|(i, r)| smoother.apply(i, r.clone())).collect();
        let before = instability(&inputs, &raw).unwrap();
        let after = instability(&inputs, &smoothed).unwrap();
        assert!(after < 0.7 * before, "instability {before:.3} -> {after:.3}");
        // Where the moving square just arrived the input changed: those pixels are taken
        // from the current frame, not smeared with what was there.
        let last = smoothed.last().unwrap();
        let (x, t) = (4 + 3 * 11, 11);
        for px in x + 5..x + 8 {
            let p = last.get_pixel(px, 15).0;
            let r = raw[t].get_pixel(px, 15).0;
            assert!(p.iter().zip(r).all(|(a, b)| a.abs_diff(b) <= 2), "square pixel {px}: {p:?} vs raw {r:?}");
        }
        // Where the square was a frame before, the background is back, not a ghost.
        let old = last.get_pixel(x - 2, 15).0;
        assert!(old[0] < 140, "ghost of the square left at x={}: {old:?}", x - 2);
    }

    #[test]
    fn zero_strength_changes_nothing() {
        let mut smoother = Smoother::new(0.0);
        let a = scene(0);
        let b = flicker(&a, 1);
        smoother.apply(&a, a.clone());
        assert_eq!(smoother.apply(&a, b.clone()), b);
    }

    #[test]
    fn instability_of_a_copy_is_one() {
        let frames: Vec<RgbImage> = (0..5).map(|t| scene(2 * t)).collect();
        assert!((instability(&frames, &frames).unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(instability(&frames[..1], &frames[..1]), None);
    }
}
