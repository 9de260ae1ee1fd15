//! Drawing on a `0x00RRGGBB` framebuffer: filled boxes and text in the 8x8 bitmap font
//! of `font8x8` (ASCII and Latin-1). Used by the live window's overlay and by `nst sheet`.

use font8x8::{UnicodeFonts, BASIC_FONTS, LATIN_FONTS};

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
    /// wide; characters outside the font (ASCII and Latin-1) show as `?`. Returns the width drawn.
    pub fn text(&mut self, x: usize, y: usize, text: &str, color: [u8; 3], scale: usize) -> usize {
        let word = to_0rgb(color);
        let scale = scale.max(1);
        let mut cx = x;
        for ch in text.chars() {
            let glyph = BASIC_FONTS.get(ch).or_else(|| LATIN_FONTS.get(ch)).or_else(|| BASIC_FONTS.get('?')).unwrap_or([0; 8]);
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
    fn latin_letters_are_drawn_not_replaced() {
        let draw = |s: &str| {
            let mut pixels = vec![0u32; 8 * 8];
            Canvas { pixels: &mut pixels, width: 8, height: 8 }.text(0, 0, s, [255, 255, 255], 1);
            pixels
        };
        assert_ne!(draw("é"), draw("?"), "é has its own glyph");
        assert_ne!(draw("é"), draw("e"));
        assert_eq!(draw("\u{4e2d}"), draw("?"), "outside the font: ?");
    }
}
