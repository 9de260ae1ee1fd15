//! Any picture size in bounded memory: the network over overlapping tiles, every tile
//! normalised by the same instance-norm statistics (see [`crate::onnx::shared_norm`]).
//!
//! 1. Statistics: the statistics graph runs once on the picture, or on a copy scaled
//!    down to [`Tiling::stats_pixels`] when it is larger; each norm layer's mean and
//!    variance become the tile graph's `a` and `b` inputs.
//! 2. Tiles: the picture is cut into `tile`-sized regions; each runs with `margin`
//!    pixels of its neighbours around it (wider than the network's reach), and only its
//!    own region is kept. With shared statistics a tile computes exactly what the whole
//!    picture would there, so the regions join without seams and need no blending.
//!
//! Memory is then set by the tile (the network's activations for `tile + 2 margin`
//! pixels squared) and the picture's own bytes, never by a full-size float copy.

use image::RgbImage;
use ort::session::{RunOptions, Session};
use ort::value::Tensor;

use crate::contract::{INPUT_NAME, OUTPUT_NAME};
use crate::error::{Error, Result};
use crate::imageio;
use crate::model::run_error;
use crate::onnx::shared_norm::{self, NormLayer};

/// Tile positions are multiples of this, so that every stride-2 layer samples the same
/// grid in a tile as in the whole picture.
pub const ALIGN: u32 = 16;

/// How a model runs on large pictures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiling {
    /// Pictures with more pixels than this run in tiles (`u64::MAX`: never).
    pub above_pixels: u64,
    /// Side of a tile's own region, in pixels (a multiple of [`ALIGN`]).
    pub tile: u32,
    /// Pixels of context on each side of a tile (a multiple of [`ALIGN`]): at least the
    /// network's reach, so that a tile's own region is exact.
    pub margin: u32,
    /// The statistics come from the picture itself up to this many pixels, else from a
    /// copy scaled down to it.
    pub stats_pixels: u64,
}

impl Default for Tiling {
    fn default() -> Self {
        Self { above_pixels: 4_194_304, tile: 1024, margin: 64, stats_pixels: 4_194_304 }
    }
}

impl Tiling {
    /// Never tiles.
    pub fn off() -> Self {
        Self { above_pixels: u64::MAX, ..Self::default() }
    }

    /// Tiles of `tile` px (rounded up to [`ALIGN`]) for every picture larger than one tile.
    pub fn with_tile(tile: u32) -> Self {
        let tile = tile.max(ALIGN).div_ceil(ALIGN) * ALIGN;
        let pixels = u64::from(tile) * u64::from(tile);
        Self { above_pixels: pixels, tile, stats_pixels: pixels, ..Self::default() }
    }

    /// The default for a network: the full one needs several times the memory per pixel
    /// of the fast one (measured: see the README, "Any photo size").
    pub fn for_variant(variant: crate::contract::Variant) -> Self {
        match variant {
            crate::contract::Variant::Full => Self { above_pixels: 2_097_152, tile: 768, margin: 64, stats_pixels: 1_048_576 },
            crate::contract::Variant::Fast => Self { above_pixels: 8_388_608, tile: 1536, margin: 64, stats_pixels: 2_097_152 },
        }
    }

    /// `--tile`: `off` (never), or a tile side in pixels (pictures with more pixels than
    /// one tile are cut).
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "off" | "0" => Ok(Self::off()),
            t => match t.parse::<u32>() {
                Ok(n) if n >= 64 => Ok(Self::with_tile(n)),
                _ => Err(format!("'{s}' is not a tile size: give a side in pixels (at least 64), or off")),
            },
        }
    }

    pub fn applies(&self, w: u32, h: u32) -> bool {
        u64::from(w) * u64::from(h) > self.above_pixels
    }
}

/// One tile: the region it keeps and the larger region it runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    /// Kept region: `x0..x1`, `y0..y1`.
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
    /// Region run through the network (the kept one plus the margin, within the picture).
    pub rx0: u32,
    pub ry0: u32,
    pub rx1: u32,
    pub ry1: u32,
}

/// The tiles that cover a `w`x`h` picture, row by row.
pub fn plan(w: u32, h: u32, tile: u32, margin: u32) -> Vec<Tile> {
    let tile = tile.max(ALIGN).div_ceil(ALIGN) * ALIGN;
    let margin = margin.div_ceil(ALIGN) * ALIGN;
    let cuts = |n: u32| -> Vec<(u32, u32)> {
        let mut v = Vec::new();
        let mut a = 0;
        while a < n {
            let b = (a + tile).min(n);
            v.push((a, b));
            a = b;
        }
        v
    };
    let mut tiles = Vec::new();
    for &(y0, y1) in &cuts(h) {
        for &(x0, x1) in &cuts(w) {
            tiles.push(Tile { x0, y0, x1, y1, rx0: x0.saturating_sub(margin), ry0: y0.saturating_sub(margin), rx1: (x1 + margin).min(w), ry1: (y1 + margin).min(h) });
        }
    }
    tiles
}

/// A model's two tiling graphs, loaded.
pub struct TiledSessions {
    stats: Session,
    tiles: Session,
    layers: Vec<NormLayer>,
}

impl std::fmt::Debug for TiledSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TiledSessions").field("layers", &self.layers.len()).finish()
    }
}

impl TiledSessions {
    /// Splits the model (`bytes`) and loads its statistics graph with `stats_session`
    /// and its tile graph with `tile_session` (the model's own provider and threads).
    pub fn new(bytes: &[u8], stats_session: impl Fn(&[u8]) -> Result<Session>, tile_session: impl Fn(&[u8]) -> Result<Session>) -> std::result::Result<Self, String> {
        let split = shared_norm::split(bytes)?;
        let stats = stats_session(&split.stats_graph).map_err(|e| format!("its statistics graph does not load: {e}"))?;
        let tiles = tile_session(&split.tile_graph).map_err(|e| format!("its tile graph does not load: {e}"))?;
        Ok(Self { stats, tiles, layers: split.layers })
    }

    /// Each norm layer's `(a, b)` for the picture `img` (already at the statistics size).
    pub fn statistics(&mut self, img: &RgbImage, options: Option<&RunOptions>) -> Result<Vec<(Vec<f32>, Vec<f32>)>> {
        let (w, h) = img.dimensions();
        let input = Tensor::from_array((vec![1i64, 3, i64::from(h), i64::from(w)], imageio::to_chw(img))).map_err(|e| Error::Inference(e.to_string()))?;
        let inputs = ort::inputs![INPUT_NAME => input];
        let outputs = match options {
            Some(o) => self.stats.run_with_options(inputs, o),
            None => self.stats.run(inputs),
        }
        .map_err(|e| run_error(e, options))?;
        let mut out = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            let read = |name: &str| -> Result<Vec<f32>> {
                let (_, data) = outputs[name].try_extract_tensor::<f32>().map_err(|e| Error::Inference(format!("reading {name}: {e}")))?;
                if data.len() != layer.channels {
                    return Err(Error::Inference(format!("{name}: {} values for {} channels", data.len(), layer.channels)));
                }
                Ok(data.to_vec())
            };
            out.push(layer.affine(&read(&layer.mean_output)?, &read(&layer.var_output)?));
        }
        Ok(out)
    }

    /// Runs the tile graph on a planar tile with the given statistics.
    pub fn run_tile(&mut self, chw: Vec<f32>, w: u32, h: u32, affine: &[(Vec<f32>, Vec<f32>)], options: Option<&RunOptions>) -> Result<Vec<f32>> {
        let tensor = |shape: Vec<i64>, data: Vec<f32>| Tensor::from_array((shape, data)).map_err(|e| Error::Inference(e.to_string()));
        let mut inputs: Vec<(String, ort::session::SessionInputValue<'_>)> = vec![(INPUT_NAME.to_string(), tensor(vec![1, 3, i64::from(h), i64::from(w)], chw)?.into())];
        for (layer, (a, b)) in self.layers.iter().zip(affine) {
            let shape = vec![1, layer.channels as i64, 1, 1];
            inputs.push((layer.a_input.clone(), tensor(shape.clone(), a.clone())?.into()));
            inputs.push((layer.b_input.clone(), tensor(shape, b.clone())?.into()));
        }
        let outputs = match options {
            Some(o) => self.tiles.run_with_options(inputs, o),
            None => self.tiles.run(inputs),
        }
        .map_err(|e| run_error(e, options))?;
        let (shape, data) = outputs[OUTPUT_NAME].try_extract_tensor::<f32>().map_err(|e| Error::Inference(format!("reading the output: {e}")))?;
        if **shape != [1, 3, i64::from(h), i64::from(w)] {
            return Err(Error::Inference(format!("the tile graph returned shape {:?} for a {w}x{h} tile", &**shape)));
        }
        Ok(data.to_vec())
    }

    /// Stylizes `img` tile by tile. `min_side`: the network's smallest input side.
    pub fn stylize(&mut self, img: &RgbImage, tiling: &Tiling, min_side: u32, options: Option<&RunOptions>) -> Result<RgbImage> {
        let (w, h) = img.dimensions();
        // Statistics from the picture, or from a smaller copy of it.
        let pixels = u64::from(w) * u64::from(h);
        let affine = if pixels <= tiling.stats_pixels {
            self.statistics(img, options)?
        } else {
            let scale = (tiling.stats_pixels as f64 / pixels as f64).sqrt();
            let (sw, sh) = (((f64::from(w) * scale).round() as u32).max(min_side), ((f64::from(h) * scale).round() as u32).max(min_side));
            self.statistics(&imageio::resize(img, sw, sh), options)?
        };
        let mut out = RgbImage::new(w, h);
        for t in plan(w, h, tiling.tile, tiling.margin) {
            let (rw, rh) = (t.rx1 - t.rx0, t.ry1 - t.ry0);
            // A region narrower than the network's minimum (a thin picture): edge-padded.
            let (pw, ph) = (rw.max(min_side), rh.max(min_side));
            let region = imageio::edge_padded(img, t.rx0, t.ry0, rw, rh, pw, ph);
            let styled = self.run_tile(imageio::to_chw(&region), pw, ph, &affine, options)?;
            let styled = imageio::from_chw(&styled, pw, ph);
            let kept = image::imageops::crop_imm(&styled, t.x0 - t.rx0, t.y0 - t.ry0, t.x1 - t.x0, t.y1 - t.y0);
            image::GenericImage::copy_from(&mut out, &*kept, t.x0, t.y0).map_err(|e| Error::Inference(format!("placing a tile: {e}")))?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_cover_the_picture_once_and_run_within_it() {
        for (w, h, tile, margin) in [(100, 60, 32, 16), (33, 97, 16, 32), (1024, 1024, 1024, 64), (1025, 17, 1024, 64), (5, 5, 64, 64)] {
            let tiles = plan(w, h, tile, margin);
            let mut count = vec![0u8; (w * h) as usize];
            for t in &tiles {
                assert!(t.rx0 <= t.x0 && t.x1 <= t.rx1 && t.rx1 <= w && t.ry1 <= h, "{t:?}");
                assert_eq!(t.rx0 % ALIGN, 0, "aligned run regions: {t:?}");
                assert!(t.x0 - t.rx0 >= margin.min(t.x0) && t.rx1 - t.x1 >= margin.min(w - t.x1), "{t:?}");
                for y in t.y0..t.y1 {
                    for x in t.x0..t.x1 {
                        count[(y * w + x) as usize] += 1;
                    }
                }
            }
            assert!(count.iter().all(|&c| c == 1), "{w}x{h} tile {tile}: every pixel kept exactly once");
        }
        assert_eq!(plan(1025, 17, 1024, 64).len(), 2, "one tile plus one pixel is two tiles");
    }
}
