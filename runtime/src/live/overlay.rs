//! The text overlay of the live window (FPS, latency, style, scale, recording), drawn
//! into the window's framebuffer with [`crate::draw`].

pub use crate::draw::{Canvas, GLYPH};

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
    fn overlay_darkens_its_box() {
        let mut pixels = vec![0x00FF_FFFFu32; 200 * 100];
        let mut canvas = Canvas { pixels: &mut pixels, width: 200, height: 100 };
        draw(&mut canvas, &["12.3 fps".into(), "latency 80 ms".into()]);
        // Between the lines the box is dark; outside it, untouched.
        assert!(crate::imageio::from_0rgb(pixels[2])[0] < 128);
        assert_eq!(pixels[99 * 200 + 199], 0x00FF_FFFF, "bottom-right corner");
    }
}
