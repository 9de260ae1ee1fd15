//! The project's quality metric (`nst-eval`): how much of a photo's content and of a
//! painting's style an image holds, measured with the VGG-19 loss network.
//!
//! - content loss: MSE of the relu4_2 features against the photo's
//!   ([`losses::content_loss`]);
//! - style loss: the sum over relu1_1…relu5_1 of [`losses::style_loss`] (Gram matrices
//!   normalised by the number of positions, MSE divided by C²) against the painting's;
//! - `style_ratio` = style loss of the image / style loss of the photo itself (1: no style
//!   transferred; lower: closer to the painting);
//! - `content_ratio` = content loss of the image / content loss of the painting resized
//!   to the photo (0: the photo's structure kept exactly).
//!
//! Everything is measured at one fixed size (the photo's longer side resized to `size`);
//! the images are resized to exactly the photo's size at that scale and the painting to
//! the same longer side. `nst-classic` optimises exactly these losses.

use std::path::Path;

use anyhow::{bail, Context};
use image::RgbImage;
use serde::Serialize;
use tch::{Device, Tensor};

use crate::losses;
use crate::train::to_tensor;
use crate::vgg::{self, Vgg19};
use nst_runtime::imageio;

/// The content layer of the metric (and of `nst-classic`).
pub const CONTENT_LAYER: &str = "relu4_2";
/// The style layers of the metric (and of `nst-classic`).
pub const STYLE_LAYERS: [&str; 5] = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"];
/// Smallest shorter side VGG-19 accepts here: relu5_1 comes after four 2x2 poolings,
/// which must leave at least one position.
pub const MIN_SIDE: u32 = 16;
/// Default evaluation size (longer side).
pub const DEFAULT_SIZE: u32 = 512;

/// Indices in [`vgg::LAYERS`] of the content layer and the style layers.
pub fn layer_indices() -> (usize, Vec<usize>) {
    let content = vgg::layer_index(CONTENT_LAYER).expect("a VGG-19 layer");
    let style = STYLE_LAYERS.iter().map(|l| vgg::layer_index(l).expect("a VGG-19 layer")).collect();
    (content, style)
}

/// The size of `(w, h)` scaled so that its longer side is `side` (up or down), keeping
/// the aspect ratio.
pub fn size_for_longer_side(w: u32, h: u32, side: u32) -> (u32, u32) {
    let longer = w.max(h).max(1) as f64;
    let scale = side as f64 / longer;
    (((w as f64 * scale).round() as u32).max(1), ((h as f64 * scale).round() as u32).max(1))
}

/// Fails with a message naming `what` when `(w, h)` is too small for VGG-19's five
/// style layers.
pub fn check_min_size(what: &str, w: u32, h: u32, side: u32, option: &str) -> anyhow::Result<()> {
    let shorter = w.min(h);
    if shorter < MIN_SIDE {
        let needed = (MIN_SIDE as f64 * side as f64 / shorter.max(1) as f64).ceil() as u32;
        bail!(
            "{what}: at {option} {side} it would be {w}x{h} pixels; VGG-19 needs at least {MIN_SIDE} pixels on the shorter side \
             (relu5_1 comes after four 2x2 poolings): use {option} {needed} or more"
        );
    }
    Ok(())
}

/// Resizes `img` so that its longer side is `side`, checking the minimum size.
pub fn resize_longer_side(img: &RgbImage, side: u32, what: &str, option: &str) -> anyhow::Result<RgbImage> {
    let (w, h) = size_for_longer_side(img.width(), img.height(), side);
    check_min_size(what, w, h, side, option)?;
    Ok(imageio::resize(img, w, h))
}

/// Gram matrices (`[1, C, C]`) of an image at the style layers, without autograd.
pub fn style_grams(vgg: &Vgg19, rgb: &Tensor) -> Vec<Tensor> {
    let (_, style) = layer_indices();
    tch::no_grad(|| vgg.features(rgb, &style).iter().map(losses::gram).collect())
}

/// The style loss of features at the style layers against target Gram matrices: the sum
/// of [`losses::style_loss`] over the layers.
pub fn style_loss_sum(features: &[Tensor], grams: &[Tensor]) -> Tensor {
    gram_loss_sum(&features.iter().map(losses::gram).collect::<Vec<_>>(), grams)
}

/// [`style_loss_sum`] of Gram matrices already computed (a prepared photo's).
pub fn gram_loss_sum(grams: &[Tensor], targets: &[Tensor]) -> Tensor {
    assert_eq!(grams.len(), targets.len(), "one Gram matrix per style layer");
    grams.iter().zip(targets).map(|(g, t)| losses::gram_loss(g, t)).sum()
}

/// The style loss of each style layer ([`STYLE_LAYERS`] order) of Gram matrices against
/// targets: the terms [`gram_loss_sum`] adds up.
pub fn gram_losses(grams: &[Tensor], targets: &[Tensor]) -> [f64; STYLE_LAYERS.len()] {
    assert_eq!(grams.len(), STYLE_LAYERS.len(), "one Gram matrix per style layer");
    assert_eq!(targets.len(), STYLE_LAYERS.len(), "one target Gram matrix per style layer");
    std::array::from_fn(|i| losses::gram_loss(&grams[i], &targets[i]).double_value(&[]))
}

/// The metric's numbers for one image.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Scores {
    /// MSE of relu4_2 features to the photo's.
    pub content_loss: f64,
    /// Gram-matrix style loss to the painting, summed over relu1_1…relu5_1.
    pub style_loss: f64,
    /// `style_loss` layer by layer ([`STYLE_LAYERS`] order): which scales of the
    /// painting the image misses.
    pub style_layer_losses: [f64; STYLE_LAYERS.len()],
    /// `style_loss` / the photo's own style loss (1 = no style, lower = more).
    pub style_ratio: f64,
    /// `content_loss` / the painting's content loss (0 = the photo's structure kept).
    pub content_ratio: f64,
    /// Share of pixels blown out to white: see [`blown_out`].
    pub blown_out: f64,
    /// Share of the image painted flat where the photo had detail: see [`flat_patches`].
    pub flat_patches: f64,
}

/// A pixel counts as blown out when its smallest channel is at least this in the image…
pub const BLOWN_OUT_MIN: u8 = 248;
/// …and below this in the photo (so a photo's own white sky does not count).
pub const PHOTO_NOT_WHITE: u8 = 235;

/// The share of pixels (0-1) that an image turned near-white where the photo was not:
/// smallest channel >= [`BLOWN_OUT_MIN`] in `img` and < [`PHOTO_NOT_WHITE`] in `photo`
/// (same size).
pub fn blown_out(img: &RgbImage, photo: &RgbImage) -> f64 {
    assert_eq!(img.dimensions(), photo.dimensions(), "blown_out compares images of one size");
    let min = |p: &image::Rgb<u8>| p.0[0].min(p.0[1]).min(p.0[2]);
    let n = img.pixels().zip(photo.pixels()).filter(|(a, b)| min(a) >= BLOWN_OUT_MIN && min(b) < PHOTO_NOT_WHITE).count();
    n as f64 / (img.width() as f64 * img.height() as f64).max(1.0)
}

/// The tile side (pixels at the evaluation size) of [`flat_patches`].
pub const FLAT_TILE: u32 = 16;
/// A tile of the image is flat when the standard deviation of each channel is below this
/// (0-255): one even colour, which no painting's brushwork leaves…
pub const FLAT_MAX_STD: f64 = 3.0;
/// …and the photo had detail there when one of its channels varies at least this much
/// (so the photo's own clear sky or white wall does not count).
pub const PHOTO_DETAIL_STD: f64 = 8.0;

/// The largest per-channel standard deviation of each [`FLAT_TILE`]-px tile (whole tiles
/// only), row by row.
fn tile_stds(img: &RgbImage) -> Vec<f64> {
    let (tw, th) = (img.width() / FLAT_TILE, img.height() / FLAT_TILE);
    let n = f64::from(FLAT_TILE * FLAT_TILE);
    let mut out = Vec::with_capacity((tw * th) as usize);
    for ty in 0..th {
        for tx in 0..tw {
            let (mut sum, mut sq) = ([0f64; 3], [0f64; 3]);
            for y in ty * FLAT_TILE..(ty + 1) * FLAT_TILE {
                for x in tx * FLAT_TILE..(tx + 1) * FLAT_TILE {
                    for (c, v) in img.get_pixel(x, y).0.iter().enumerate() {
                        let v = f64::from(*v);
                        sum[c] += v;
                        sq[c] += v * v;
                    }
                }
            }
            out.push((0..3).map(|c| (sq[c] / n - (sum[c] / n).powi(2)).max(0.0).sqrt()).fold(0.0, f64::max));
        }
    }
    out
}

/// The share (0-1) of an image's [`FLAT_TILE`]-px tiles painted in one even colour (every
/// channel's standard deviation below [`FLAT_MAX_STD`]) where the photo (same size) had
/// detail (a channel's at least [`PHOTO_DETAIL_STD`]): the discs and patches a network
/// paints over the photo. It does not see blotches that keep a texture.
pub fn flat_patches(img: &RgbImage, photo: &RgbImage) -> f64 {
    assert_eq!(img.dimensions(), photo.dimensions(), "flat_patches compares images of one size");
    flat_share(&tile_stds(img), &tile_stds(photo))
}

/// [`flat_patches`] from the tiles' standard deviations ([`tile_stds`]) of the image and
/// of the photo (computed once per photo by the [`Evaluator`]).
fn flat_share(img_tiles: &[f64], photo_tiles: &[f64]) -> f64 {
    if img_tiles.is_empty() {
        return 0.0;
    }
    let n = img_tiles.iter().zip(photo_tiles).filter(|(i, p)| **i < FLAT_MAX_STD && **p >= PHOTO_DETAIL_STD).count();
    n as f64 / img_tiles.len() as f64
}

/// What the metric needs of a photo, whatever the painting: the photo at the evaluation
/// size, its content features and its Gram matrices (one VGG-19 pass).
pub struct PhotoRef {
    photo: RgbImage,
    content_target: Tensor,
    grams: Vec<Tensor>,
}

impl PhotoRef {
    /// Prepares `photo` at `size` (longer side).
    pub fn new(vgg: &Vgg19, photo: &RgbImage, size: u32, device: Device) -> anyhow::Result<Self> {
        let photo = resize_longer_side(photo, size, "the photo (--content)", "--size")?;
        let (content_idx, style_idx) = layer_indices();
        let layers: Vec<usize> = std::iter::once(content_idx).chain(style_idx).collect();
        let (content_target, grams) = tch::no_grad(|| {
            let mut feats = vgg.features(&to_tensor(&photo, device), &layers);
            let grams = feats[1..].iter().map(losses::gram).collect();
            (feats.remove(0), grams)
        });
        Ok(Self { photo, content_target, grams })
    }
}

/// What the metric needs of a painting, whatever the photo: the painting and its Gram
/// matrices at the evaluation size (one VGG-19 pass).
pub struct PaintingRef {
    painting: RgbImage,
    grams: Vec<Tensor>,
}

impl PaintingRef {
    /// Prepares `painting` at `size` (longer side).
    pub fn new(vgg: &Vgg19, painting: &RgbImage, size: u32, device: Device) -> anyhow::Result<Self> {
        let style = resize_longer_side(painting, size, "the painting (--style)", "--size")?;
        Ok(Self { painting: painting.clone(), grams: style_grams(vgg, &to_tensor(&style, device)) })
    }
}

/// The metric for one photo and one painting, ready to score images.
pub struct Evaluator {
    vgg: Vgg19,
    device: Device,
    /// The evaluation size (the photo's, longer side = `size`).
    pub width: u32,
    pub height: u32,
    content_target: Tensor,
    style_grams: Vec<Tensor>,
    /// The style loss of the unstylized photo (the denominator of `style_ratio`).
    pub photo_style_loss: f64,
    /// `photo_style_loss` layer by layer ([`STYLE_LAYERS`] order).
    pub photo_style_layer_losses: [f64; STYLE_LAYERS.len()],
    /// The content loss of the painting resized to the photo (the denominator of
    /// `content_ratio`).
    pub painting_content_loss: f64,
    /// The photo at the evaluation size (for `blown_out`).
    photo: RgbImage,
    /// The photo's tiles' standard deviations (for `flat_patches`).
    photo_tiles: Vec<f64>,
}

impl Evaluator {
    /// Sets up the metric for `photo` and `painting` at `size` (longer side).
    pub fn new(vgg: Vgg19, photo: &RgbImage, painting: &RgbImage, size: u32, device: Device) -> anyhow::Result<Self> {
        let photo = PhotoRef::new(&vgg, photo, size, device)?;
        let painting = PaintingRef::new(&vgg, painting, size, device)?;
        Self::from_refs(vgg, &photo, &painting, device)
    }

    /// Sets up the metric from a prepared photo and painting (made at one size): one
    /// VGG-19 pass, of the painting resized to the photo. Many photos and paintings are
    /// scored with each prepared once (`nst-eval --pairs`).
    pub fn from_refs(vgg: Vgg19, photo: &PhotoRef, painting: &PaintingRef, device: Device) -> anyhow::Result<Self> {
        let (width, height) = photo.photo.dimensions();
        let (content_idx, _) = layer_indices();
        let photo_style_layers = tch::no_grad(|| gram_losses(&photo.grams, &painting.grams));
        let photo_style: f64 = photo_style_layers.iter().sum();
        let painting_content: f64 = tch::no_grad(|| {
            let resized = to_tensor(&imageio::resize(&painting.painting, width, height), device);
            let feats = vgg.features(&resized, &[content_idx]);
            losses::content_loss(&feats[0], &photo.content_target).double_value(&[])
        });
        if photo_style <= 0.0 || painting_content <= 0.0 || !photo_style.is_finite() || !painting_content.is_finite() {
            bail!(
                "the photo and the painting look the same to VGG-19 (photo style loss {photo_style}, painting content loss \
                 {painting_content}): the ratios would be undefined; pass a different painting"
            );
        }
        Ok(Self {
            vgg,
            device,
            width,
            height,
            content_target: photo.content_target.shallow_clone(),
            style_grams: painting.grams.iter().map(Tensor::shallow_clone).collect(),
            photo_style_loss: photo_style,
            photo_style_layer_losses: photo_style_layers,
            painting_content_loss: painting_content,
            photo: photo.photo.clone(),
            photo_tiles: tile_stds(&photo.photo),
        })
    }

    /// Loads the photo and the painting and sets up the metric.
    pub fn from_files(vgg_path: &Path, photo: &Path, painting: &Path, size: u32, device: Device) -> anyhow::Result<Self> {
        let photo_img = imageio::load_rgb(photo).context("cannot use the photo (--content)")?;
        let painting_img = imageio::load_rgb(painting).context("cannot use the painting (--style)")?;
        let vgg = Vgg19::load(vgg_path, device, tch::Kind::Float)?;
        Self::new(vgg, &photo_img, &painting_img, size, device)
    }

    /// (content loss, style loss of each style layer) of an image already at the
    /// evaluation size.
    fn losses(&self, img: &RgbImage) -> (f64, [f64; STYLE_LAYERS.len()]) {
        let (content_idx, style_idx) = layer_indices();
        let layers: Vec<usize> = std::iter::once(content_idx).chain(style_idx).collect();
        tch::no_grad(|| {
            let feats = self.vgg.features(&to_tensor(img, self.device), &layers);
            let content = losses::content_loss(&feats[0], &self.content_target).double_value(&[]);
            let grams: Vec<Tensor> = feats[1..].iter().map(losses::gram).collect();
            (content, gram_losses(&grams, &self.style_grams))
        })
    }

    /// Scores an image (any size: it is resized to the evaluation size).
    pub fn score(&self, img: &RgbImage) -> Scores {
        let img = imageio::resize(img, self.width, self.height);
        let (content_loss, style_layer_losses) = self.losses(&img);
        let style_loss: f64 = style_layer_losses.iter().sum();
        Scores {
            content_loss,
            style_loss,
            style_layer_losses,
            style_ratio: style_loss / self.photo_style_loss,
            content_ratio: content_loss / self.painting_content_loss,
            blown_out: blown_out(&img, &self.photo),
            flat_patches: flat_share(&tile_stds(&img), &self.photo_tiles),
        }
    }

    /// Loads and scores an image file.
    pub fn score_file(&self, path: &Path) -> anyhow::Result<Scores> {
        let img = imageio::load_rgb(path)?;
        Ok(self.score(&img))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blown_out_counts_new_whites_only() {
        let photo = RgbImage::from_fn(10, 10, |x, _| if x == 0 { image::Rgb([250, 250, 250]) } else { image::Rgb([120, 130, 140]) });
        // Column 0 was white already; columns 1-2 turn white; column 3 is bright but one channel stays low.
        let img = RgbImage::from_fn(10, 10, |x, _| match x {
            0..=2 => image::Rgb([255, 252, 249]),
            3 => image::Rgb([255, 255, 200]),
            _ => image::Rgb([100, 100, 100]),
        });
        assert!((blown_out(&img, &photo) - 0.2).abs() < 1e-9);
        assert_eq!(blown_out(&photo, &photo), 0.0);
    }

    #[test]
    fn flat_patches_count_even_colour_over_the_photos_detail_only() {
        // A 64x32 photo: detail (a checker of 40 and 200) on the left half, an even
        // blue sky on the right half.
        let photo = RgbImage::from_fn(64, 32, |x, y| {
            if x < 32 {
                let v = if (x + y) % 2 == 0 { 40 } else { 200 };
                image::Rgb([v, v, v])
            } else {
                image::Rgb([90, 140, 220])
            }
        });
        // The image keeps a texture everywhere except one even grey tile over the detail
        // (tile 1 of the top row) and over the sky (tiles 2-3 of both rows).
        let img = RgbImage::from_fn(64, 32, |x, y| {
            if (16..32).contains(&x) && y < 16 || x >= 32 {
                image::Rgb([128, 128, 128])
            } else {
                let v = 100 + ((x * 7 + y * 13) % 40) as u8;
                image::Rgb([v, v / 2, v])
            }
        });
        // 8 tiles, one flat over detail.
        assert!((flat_patches(&img, &photo) - 1.0 / 8.0).abs() < 1e-9);
        assert_eq!(flat_patches(&photo, &photo), 0.0);
        // A faint texture (std about 1.7 < 3) is still flat: the 4 tiles over the detail.
        let faint = RgbImage::from_fn(64, 32, |x, _| {
            let v = 128 + u8::from(x % 4 == 0) * 4;
            image::Rgb([v, v, v])
        });
        assert!((flat_patches(&faint, &photo) - 0.5).abs() < 1e-9);
        // Smaller than one tile: nothing to measure.
        let tiny = RgbImage::new(8, 8);
        assert_eq!(flat_patches(&tiny, &tiny), 0.0);
    }

    #[test]
    fn longer_side_scaling_goes_both_ways() {
        assert_eq!(size_for_longer_side(1024, 768, 256), (256, 192));
        assert_eq!(size_for_longer_side(100, 200, 400), (200, 400));
        assert_eq!(size_for_longer_side(64, 64, 64), (64, 64));
    }

    #[test]
    fn too_small_sizes_name_the_needed_size() {
        assert!(check_min_size("x", 16, 40, 40, "--size").is_ok());
        let err = check_min_size("photo.jpg", 32, 8, 32, "--size").unwrap_err().to_string();
        assert!(err.contains("photo.jpg") && err.contains("32x8") && err.contains("--size 64"), "{err}");
    }
}
