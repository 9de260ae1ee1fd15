//! The text overlay of the live window (FPS, latency, style, scale, recording), drawn
//! into the window's `0x00RRGGBB` framebuffer with the 8x8 bitmap font of `font8x8`.

use font8x8::{UnicodeFonts, BASIC_FONTS};

use crate::imageio::to_0rgb;

/// Pixels per glyph side at scale 1.
pub const GLYPH: usize = 8;

/// A framebuffer to draw on: `width * height` words, row by row.
pub struct Canvas<'a> {
    pub pixels: &'a mut [u32],
    pub width: usize,
    pub height: usize,
}

impl Canvas<'_> {
    /// Fills a rectangle, clipped to the canvas; `alpha` (0-255) blends it over what is
    /// there.
    pub fn fill(&mut self, x: usize, y: usize, w: usize, h: usize, color: [u8; 3], alpha: u8) {
        let (x1, y1) = ((x + w).min(self.width), (y + h).min(self.height));
        let a = alpha as u32;
        for row in y.min(y1)..y1 {
            for px in &mut self.pixels[row * self.width + x.min(x1)..row * self.width + x1] {
                let old = crate::imageio::from_0rgb(*px);
                let mixed = [0, 1, 2].map(|c| ((color[c] as u32 * a + old[c] as u32 * (255 - a) + 127) / 255) as u8);
                *px = to_0rgb(mixed);
            }
        }
    }

    /// Draws `text` with its top-left corner at `(x, y)`, each font pixel `scale` pixels
    /// wide; characters outside the font show as `?`. Returns the width drawn.
    pub fn text(&mut self, x: usize, y: usize, text: &str, color: [u8; 3], scale: usize) -> usize {
        let word = to_0rgb(color);
        let scale = scale.max(1);
        let mut cx = x;
        for ch in text.chars() {
            let glyph = BASIC_FONTS.get(ch).or_else(|| BASIC_FONTS.get('?')).unwrap_or([0; 8]);
            for (gy, bits) in glyph.iter().enumerate() {
                for gx in 0..GLYPH {
                    if bits & (1 << gx) == 0 {
                        continue;
                    }
                    for sy in 0..scale {
                        for sx in 0..scale {
                            let (px, py) = (cx + gx * scale + sx, y + gy * scale + sy);
                            if px < self.width && py < self.height {
                                self.pixels[py * self.width + px] = word;
                            }
                        }
                    }
                }
            }
            cx += GLYPH * scale;
        }
        cx - x
    }
}

/// Draws lines of text in a translucent dark box at the top-left corner. The font is
/// scaled up on large windows so that it stays readable.
pub fn draw(canvas: &mut Canvas<'_>, lines: &[String]) {
    let scale = if canvas.width >= 1600 {
        3
    } else if canvas.width >= 900 {
        2
    } else {
        1
    };
    let line_h = (GLYPH + 4) * scale;
    let pad = 4 * scale;
    let widest = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let (box_w, box_h) = (widest * GLYPH * scale + 2 * pad, lines.len() * line_h + 2 * pad - 4 * scale);
    canvas.fill(0, 0, box_w, box_h, [0, 0, 0], 170);
    for (i, line) in lines.iter().enumerate() {
        let color = if line.starts_with("REC") { [255, 80, 80] } else { [255, 255, 255] };
        canvas.text(pad, pad + i * line_h, line, color, scale);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_sets_pixels_inside_the_canvas_only() {
        let mut pixels = vec![0u32; 40 * 10];
        let mut canvas = Canvas { pixels: &mut pixels, width: 40, height: 10 };
        // Runs past the right edge: clipped, no panic.
        let drawn = canvas.text(30, 1, "FPS", [255, 255, 255], 1);
        assert_eq!(drawn, 24);
        let lit = pixels.iter().filter(|&&p| p == 0x00FF_FFFF).count();
        assert!(lit > 5, "some of 'F' is drawn");
        assert!(pixels.iter().enumerate().all(|(i, &p)| p == 0 || i % 40 >= 30), "nothing left of x=30");
    }

    #[test]
    fn overlay_darkens_its_box() {
        let mut pixels = vec![0x00FF_FFFFu32; 200 * 100];
        let mut canvas = Canvas { pixels: &mut pixels, width: 200, height: 100 };
        draw(&mut canvas, &["12.3 fps".into(), "latency 80 ms".into()]);
        // Between the lines the box is dark; outside it, untouched.
        assert!(crate::imageio::from_0rgb(pixels[2])[0] < 128);
        assert_eq!(pixels[99 * 200 + 199], 0x00FF_FFFF, "bottom-right corner");
    }
}
