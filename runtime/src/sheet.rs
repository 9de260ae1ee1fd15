//! `nst sheet`: one photo in several styles, as a labelled contact sheet (the original
//! first). The captions are drawn with [`crate::draw`].

use image::RgbImage;

use crate::imageio::{from_0rgb, to_0rgb};
use crate::draw::{Canvas, GLYPH};

/// Background between and under the tiles.
const BACKGROUND: [u8; 3] = [24, 24, 24];
const TITLE: [u8; 3] = [255, 255, 255];
const SUBTITLE: [u8; 3] = [170, 170, 170];

/// One picture of the sheet with its caption (a name and an optional second line).
pub struct Tile {
    pub image: RgbImage,
    pub title: String,
    pub subtitle: Option<String>,
}

/// Columns for `n` tiles when none are asked for: at most 4, rows as even as possible.
pub fn default_columns(n: usize) -> usize {
    match n {
        0..=3 => n.max(1),
        4 => 2,
        5 | 6 | 9 => 3,
        _ => 4,
    }
}

/// Lays the tiles out in `columns` columns, each captioned below. Tiles may differ in
/// size; each cell is as large as the largest tile, the tile centred in it.
pub fn compose(tiles: &[Tile], columns: usize) -> RgbImage {
    let columns = columns.clamp(1, tiles.len().max(1));
    let rows = tiles.len().div_ceil(columns).max(1);
    let cell_w = tiles.iter().map(|t| t.image.width() as usize).max().unwrap_or(1);
    let cell_h = tiles.iter().map(|t| t.image.height() as usize).max().unwrap_or(1);
    // Captions scale with the tiles so that they stay readable on large sheets.
    // The name is drawn larger than the painting's description under it.
    let scale = (cell_w / 192).clamp(1, 3);
    let sub_scale = (scale / 2).max(1);
    let (line, sub_line) = ((GLYPH + 4) * scale, (GLYPH + 4) * sub_scale);
    let gap = 6 * scale;
    let caption = line + sub_line + gap;
    let (width, height) = (gap + columns * (cell_w + gap), gap + rows * (cell_h + caption));
    let mut pixels = vec![to_0rgb(BACKGROUND); width * height];
    let mut canvas = Canvas { pixels: &mut pixels, width, height };
    let (max_chars, max_sub_chars) = (cell_w / (GLYPH * scale), cell_w / (GLYPH * sub_scale));
    for (i, tile) in tiles.iter().enumerate() {
        let (col, row) = (i % columns, i / columns);
        let (x0, y0) = (gap + col * (cell_w + gap), gap + row * (cell_h + caption));
        let (w, h) = (tile.image.width() as usize, tile.image.height() as usize);
        let (ox, oy) = (x0 + (cell_w - w) / 2, y0 + (cell_h - h) / 2);
        for (x, y, px) in tile.image.enumerate_pixels() {
            canvas.pixels[(oy + y as usize) * width + ox + x as usize] = to_0rgb(px.0);
        }
        let text_y = y0 + cell_h + gap / 2;
        canvas.text(x0, text_y, &fit(&tile.title, max_chars), TITLE, scale);
        if let Some(sub) = &tile.subtitle {
            canvas.text(x0, text_y + line, &fit(sub, max_sub_chars), SUBTITLE, sub_scale);
        }
    }
    RgbImage::from_fn(width as u32, height as u32, |x, y| image::Rgb(from_0rgb(pixels[y as usize * width + x as usize])))
}

/// Shortens `text` to `max` characters, marking the cut with "..".
fn fit(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let keep = max.saturating_sub(2);
    text.chars().take(keep).chain("..".chars()).take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tile(color: [u8; 3], w: u32, h: u32, title: &str) -> Tile {
        Tile { image: RgbImage::from_pixel(w, h, image::Rgb(color)), title: title.into(), subtitle: Some("a painting".into()) }
    }

    #[test]
    fn tiles_are_placed_in_reading_order_with_captions() {
        let tiles = [tile([255, 0, 0], 40, 30, "original"), tile([0, 255, 0], 40, 30, "green"), tile([0, 0, 255], 40, 30, "blue")];
        let sheet = compose(&tiles, 2);
        // Scale 1: gap 6, caption 2 * 12 + 6 = 30.
        assert_eq!(sheet.dimensions(), (6 + 2 * 46, 6 + 2 * (30 + 30)));
        assert_eq!(sheet.get_pixel(6 + 20, 6 + 15).0, [255, 0, 0]);
        assert_eq!(sheet.get_pixel(52 + 20, 6 + 15).0, [0, 255, 0]);
        assert_eq!(sheet.get_pixel(6 + 20, 66 + 15).0, [0, 0, 255]);
        // The empty fourth cell is background; the caption strip has lit text pixels.
        assert_eq!(sheet.get_pixel(52 + 20, 66 + 15).0, BACKGROUND);
        let caption_lit = (6..46).flat_map(|x| (39..47).map(move |y| (x, y))).filter(|&(x, y)| sheet.get_pixel(x, y).0 == TITLE).count();
        assert!(caption_lit > 10, "the caption 'original' is drawn ({caption_lit} pixels)");
    }

    #[test]
    fn smaller_tiles_are_centred_and_long_captions_cut() {
        let tiles = [tile([255, 0, 0], 40, 40, "x"), tile([0, 255, 0], 20, 20, "a very long caption indeed")];
        let sheet = compose(&tiles, 2);
        assert_eq!(sheet.get_pixel(52 + 5, 6 + 5).0, BACKGROUND, "outside the centred small tile");
        assert_eq!(sheet.get_pixel(52 + 20, 6 + 20).0, [0, 255, 0]);
        assert_eq!(fit("a very long caption indeed", 5), "a v..");
        assert_eq!(fit("short", 5), "short");
    }

    #[test]
    fn columns_default_to_a_compact_grid() {
        assert_eq!(default_columns(1), 1);
        assert_eq!(default_columns(4), 2);
        assert_eq!(default_columns(7), 4);
        assert_eq!(default_columns(9), 3);
    }
}
