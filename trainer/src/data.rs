//! Training data: any folder tree of images, turned into batches of random square crops
//! resized to the training size. Decoding runs on a background thread with rayon, ahead
//! of the training step; unreadable files are skipped with a warning and counted.
//!
//! A photo can come with a focus mask (`--focus-masks`): a grey image of its size, white
//! where its content matters most (lettering). The mask is cropped, resized and mirrored
//! with the photo and travels beside it in the batch.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;

use anyhow::bail;
use image::{GrayImage, RgbImage};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

use nst_runtime::imageio::{self, is_image_name};

/// The image files of a dataset folder (recursively, sorted, hidden files skipped).
pub fn scan(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if dir.is_file() {
        bail!(
            "{}: is a file; --dataset takes a folder of photos (e.g. COCO train2014, see datasets/README.md)",
            dir.display()
        );
    }
    if !dir.is_dir() {
        bail!(
            "{}: dataset folder not found; pass --dataset DIR, a folder of photos (e.g. COCO train2014, see datasets/README.md)",
            dir.display()
        );
    }
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| anyhow::anyhow!("{}: cannot list the folder: {e}", d.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')) {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if is_image_name(&path) {
                files.push(path);
            }
        }
    }
    if files.is_empty() {
        bail!("{}: the dataset folder has no images ({})", dir.display(), imageio::SUPPORTED_INPUTS);
    }
    files.sort();
    Ok(files)
}

/// A random square crop (a fraction in `scale` of the shorter side), resized to `size`,
/// randomly mirrored.
///
/// A nearly flat crop (sky, a border) teaches nothing and can make the instance norms'
/// variance vanish, so up to a few other crops are tried first.
pub fn random_crop(img: &RgbImage, size: u32, scale: (f64, f64), rng: &mut impl Rng) -> RgbImage {
    random_crop_masked(img, None, size, scale, rng).0
}

/// [`random_crop`] of a photo and its focus mask (of the photo's size): the same square,
/// resizing and mirroring for both.
pub fn random_crop_masked(img: &RgbImage, mask: Option<&GrayImage>, size: u32, scale: (f64, f64), rng: &mut impl Rng) -> (RgbImage, Option<GrayImage>) {
    let (w, h) = img.dimensions();
    let mut out = RgbImage::new(1, 1);
    let mut square = (0, 0, 1);
    for _ in 0..4 {
        let side = ((w.min(h) as f64) * rng.random_range(scale.0..=scale.1)).round().clamp(1.0, w.min(h) as f64) as u32;
        let x = rng.random_range(0..=w - side);
        let y = rng.random_range(0..=h - side);
        let crop = image::imageops::crop_imm(img, x, y, side, side).to_image();
        out = imageio::resize(&crop, size, size);
        square = (x, y, side);
        if !is_flat(&out) {
            break;
        }
    }
    let mut mask = mask.map(|m| {
        let (x, y, side) = square;
        let crop = image::imageops::crop_imm(m, x, y, side, side).to_image();
        image::imageops::resize(&crop, size, size, image::imageops::FilterType::Triangle)
    });
    if rng.random_bool(0.5) {
        image::imageops::flip_horizontal_in_place(&mut out);
        if let Some(m) = mask.as_mut() {
            image::imageops::flip_horizontal_in_place(m);
        }
    }
    (out, mask)
}

/// The focus mask of each file of a dataset: `DIR/<path under the dataset>.png`
/// (`photos/a.jpg` -> `DIR/photos/a.png`), or `None` where there is none (no focus there).
/// Refuses a folder that is missing, holds no mask of any file, or holds a mask whose size
/// is not its photo's.
pub fn focus_masks(dataset: &Path, files: &[PathBuf], dir: &Path) -> anyhow::Result<Vec<Option<PathBuf>>> {
    if !dir.is_dir() {
        bail!("{}: focus mask folder not found (--focus-masks; datasets/text_overlay.py writes one as DEST/.masks)", dir.display());
    }
    let mut masks = Vec::with_capacity(files.len());
    for file in files {
        let rel = file.strip_prefix(dataset).unwrap_or(file);
        let mask = dir.join(rel).with_extension("png");
        if !mask.is_file() {
            masks.push(None);
            continue;
        }
        // Both sizes as the loader decodes them: a photo turned by its EXIF orientation is
        // trained upright, so its mask is drawn upright.
        let (m, f) = (imageio::upright_dimensions(&mask)?, imageio::upright_dimensions(file)?);
        if m != f {
            bail!("{}: the focus mask is {}x{} but its photo {} is {}x{}: a mask must match its photo", mask.display(), m.0, m.1, file.display(), f.0, f.1);
        }
        masks.push(Some(mask));
    }
    if masks.iter().all(Option::is_none) {
        bail!("{}: no focus mask of any photo of {} (expected e.g. {})", dir.display(), dataset.display(), dir.join(files[0].strip_prefix(dataset).unwrap_or(&files[0])).with_extension("png").display());
    }
    Ok(masks)
}

/// Whether an image is nearly one colour (standard deviation under 2 levels per channel).
pub fn is_flat(img: &RgbImage) -> bool {
    let n = (img.width() * img.height()) as f64;
    (0..3).all(|c| {
        let (sum, sq) = img.pixels().fold((0f64, 0f64), |(s, q), p| {
            let v = p[c] as f64;
            (s + v, q + v * v)
        });
        let mean = sum / n;
        (sq / n - mean * mean) < 4.0
    })
}

/// One training batch: `[batch, 3, size, size]` planar RGB (0-255), and with focus masks
/// `[batch, 1, size, size]` (0-1; zero for a photo without a mask).
pub struct Batch {
    pub pixels: Vec<f32>,
    pub masks: Option<Vec<f32>>,
}

/// Batches of training crops, produced ahead of use.
pub struct Loader {
    rx: Receiver<Batch>,
    skipped: Arc<AtomicUsize>,
    pub batch_size: usize,
    pub image_size: u32,
}

impl Loader {
    /// Starts loading from `files`, as if `start_batch` batches had already been drawn
    /// (for resuming). The order is a function of `seed` only. `masks`, one per file (from
    /// [`focus_masks`]), adds the masks to the batches.
    pub fn start(files: Vec<PathBuf>, masks: Option<Vec<Option<PathBuf>>>, batch_size: usize, image_size: u32, crop_scale: (f64, f64), seed: u64, start_batch: u64) -> Self {
        let (tx, rx) = sync_channel(3);
        let skipped = Arc::new(AtomicUsize::new(0));
        let skipped_in = skipped.clone();
        std::thread::spawn(move || {
            let n = files.len();
            let mut position = start_batch as usize * batch_size;
            let mut epoch = position / n;
            position %= n;
            let mut bad = vec![false; n];
            loop {
                let mut order: Vec<usize> = (0..n).collect();
                order.shuffle(&mut StdRng::seed_from_u64(seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)));
                while position < n {
                    let pixels_per_crop = (image_size * image_size) as usize;
                    let mut batch: Vec<f32> = Vec::with_capacity(batch_size * 3 * pixels_per_crop);
                    let mut mask_batch: Vec<f32> = Vec::new();
                    let mut got = 0;
                    while got < batch_size {
                        if bad.iter().all(|b| *b) {
                            return; // every file is unreadable: the receiver reports it
                        }
                        let take: Vec<usize> = order.iter().cycle().skip(position).take(batch_size - got).copied().collect();
                        position += take.len();
                        let crops: Vec<Option<(RgbImage, Option<GrayImage>)>> = take
                            .par_iter()
                            .map(|&i| {
                                if bad[i] {
                                    return None;
                                }
                                let mut rng = StdRng::seed_from_u64(seed ^ ((epoch * n + i) as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
                                let mask = masks.as_ref().and_then(|m| m[i].as_ref()).and_then(|p| match image::open(p) {
                                    Ok(m) => Some(m.to_luma8()),
                                    Err(e) => {
                                        tracing::warn!("{}: cannot read the focus mask ({e}); no focus on its photo", p.display());
                                        None
                                    }
                                });
                                match imageio::load_rgb(&files[i]) {
                                    Ok(img) if mask.as_ref().is_some_and(|m| m.dimensions() != img.dimensions()) => {
                                        tracing::warn!("{}: its focus mask is not its size; no focus on it", files[i].display());
                                        Some(random_crop_masked(&img, None, image_size, crop_scale, &mut rng))
                                    }
                                    Ok(img) => Some(random_crop_masked(&img, mask.as_ref(), image_size, crop_scale, &mut rng)),
                                    Err(e) => {
                                        tracing::warn!("skipping {e}");
                                        None
                                    }
                                }
                            })
                            .collect();
                        for (&i, crop) in take.iter().zip(crops) {
                            match crop {
                                Some((img, mask)) => {
                                    batch.extend(imageio::to_chw(&img));
                                    if masks.is_some() {
                                        match mask {
                                            Some(m) => mask_batch.extend(m.pixels().map(|p| p[0] as f32 / 255.0)),
                                            None => mask_batch.extend(std::iter::repeat_n(0.0, pixels_per_crop)),
                                        }
                                    }
                                    got += 1;
                                }
                                None if !bad[i] => {
                                    bad[i] = true;
                                    skipped_in.fetch_add(1, Ordering::Relaxed);
                                }
                                None => {}
                            }
                        }
                    }
                    let batch = Batch { pixels: batch, masks: masks.is_some().then_some(mask_batch) };
                    if tx.send(batch).is_err() {
                        return;
                    }
                }
                position -= n;
                epoch += 1;
            }
        });
        Self { rx, skipped, batch_size, image_size }
    }

    /// The next batch; an error when no file of the dataset can be decoded.
    pub fn next_batch(&self) -> anyhow::Result<Batch> {
        self.rx.recv().map_err(|_| anyhow::anyhow!("no image of the dataset could be decoded (see the warnings above)"))
    }

    /// How many files were skipped as unreadable so far.
    pub fn skipped(&self) -> usize {
        self.skipped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, w: u32, h: u32) {
        let img = RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 3) as u8, (y * 5) as u8, 77]));
        imageio::save_rgb(&dir.join(name), &img).unwrap();
    }

    #[test]
    fn flat_crops_are_detected_and_avoided() {
        assert!(is_flat(&RgbImage::from_pixel(8, 8, image::Rgb([200, 10, 10]))));
        let textured = RgbImage::from_fn(8, 8, |x, _| image::Rgb([(x * 30) as u8, 0, 0]));
        assert!(!is_flat(&textured));
        // Left three quarters flat, right quarter striped: small crops mostly land on the
        // flat part, but the retries find texture far more often than chance (1/4).
        let img = RgbImage::from_fn(400, 100, |x, y| if x < 300 { image::Rgb([90, 90, 90]) } else { image::Rgb([((x / 6 + y / 6) % 2 * 255) as u8, 0, 0]) });
        let mut rng = StdRng::seed_from_u64(3);
        let textured = (0..200).filter(|_| !is_flat(&random_crop(&img, 16, (0.3, 0.3), &mut rng))).count();
        assert!(textured > 100, "{textured} of 200 crops had texture");
    }

    #[test]
    fn batches_skip_corrupt_files_and_are_repeatable() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "a.png", 40, 30);
        write(d.path(), "b.jpg", 25, 50);
        std::fs::create_dir(d.path().join("sub")).unwrap();
        write(&d.path().join("sub"), "c.png", 33, 33);
        std::fs::write(d.path().join("broken.jpg"), b"not a jpeg").unwrap();
        std::fs::write(d.path().join("notes.txt"), b"ignored").unwrap();
        let files = scan(d.path()).unwrap();
        assert_eq!(files.len(), 4);

        let a = Loader::start(files.clone(), None, 2, 16, (0.75, 1.0), 42, 0);
        let first: Vec<Vec<f32>> = (0..4).map(|_| a.next_batch().unwrap().pixels).collect();
        assert!(first.iter().all(|b| b.len() == 2 * 3 * 16 * 16));
        assert_eq!(a.skipped(), 1);
        assert!(a.next_batch().unwrap().masks.is_none());
        let b = Loader::start(files, None, 2, 16, (0.75, 1.0), 42, 0);
        assert_eq!(b.next_batch().unwrap().pixels, first[0], "same seed, same batches");
    }

    #[test]
    fn empty_and_missing_datasets_are_refused() {
        let d = tempfile::tempdir().unwrap();
        assert!(scan(d.path()).unwrap_err().to_string().contains("no images"));
        assert!(scan(&d.path().join("nope")).unwrap_err().to_string().contains("not found"));
    }

    #[test]
    fn all_corrupt_dataset_errors_instead_of_hanging() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("x.png"), b"junk").unwrap();
        let loader = Loader::start(scan(d.path()).unwrap(), None, 2, 16, (0.75, 1.0), 1, 0);
        assert!(loader.next_batch().is_err());
    }

    #[test]
    fn focus_masks_are_cropped_and_mirrored_with_their_photos() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        // The right part of the photo is bright and textured; its mask is white there.
        let photo = RgbImage::from_fn(60, 40, |x, y| if x >= 35 { image::Rgb([250, (y * 6) as u8, 40]) } else { image::Rgb([10, (x * 4) as u8, 200]) });
        imageio::save_rgb(&d.path().join("sub/a.jpg"), &photo).unwrap();
        write(d.path(), "b.png", 30, 30);
        let masks = d.path().join(".masks");
        std::fs::create_dir_all(masks.join("sub")).unwrap();
        GrayImage::from_fn(60, 40, |x, _| image::Luma([if x >= 35 { 255 } else { 0 }])).save(masks.join("sub/a.png")).unwrap();

        let files = scan(d.path()).unwrap();
        assert_eq!(files.len(), 2, "the hidden mask folder is not read as photos");
        let found = focus_masks(d.path(), &files, &masks).unwrap();
        assert_eq!(found, vec![None, Some(masks.join("sub/a.png"))]);

        let loader = Loader::start(files, Some(found), 2, 16, (0.5, 0.7), 7, 0);
        let (mut agree, mut total, mut focused) = (0, 0, 0);
        for _ in 0..6 {
            let batch = loader.next_batch().unwrap();
            let m = batch.masks.expect("masks travel with the batch");
            assert_eq!(m.len(), 2 * 16 * 16);
            for k in 0..2 {
                let red = &batch.pixels[k * 3 * 256..k * 3 * 256 + 256];
                let mask = &m[k * 256..(k + 1) * 256];
                // b.png (no mask) is dark red throughout: its mask is zero and agrees too.
                for (r, v) in red.iter().zip(mask) {
                    total += 1;
                    focused += (*v > 0.5) as usize;
                    agree += ((*r > 128.0) == (*v > 0.5)) as usize;
                }
            }
        }
        assert!(focused > 0 && focused < total / 2, "some crops hold the focus region: {focused} of {total}");
        assert!(agree as f64 > 0.95 * total as f64, "the mask follows its photo's pixels: {agree} of {total}");
    }

    #[test]
    fn focus_mask_folders_are_checked() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "a.png", 20, 10);
        let files = scan(d.path()).unwrap();
        let masks = d.path().join(".masks");
        assert!(focus_masks(d.path(), &files, &masks).unwrap_err().to_string().contains("not found"));
        std::fs::create_dir(&masks).unwrap();
        assert!(focus_masks(d.path(), &files, &masks).unwrap_err().to_string().contains("no focus mask"));
        GrayImage::new(10, 10).save(masks.join("a.png")).unwrap();
        let e = focus_masks(d.path(), &files, &masks).unwrap_err().to_string();
        assert!(e.contains("a.png") && e.contains("10x10") && e.contains("20x10"), "{e}");
        GrayImage::new(20, 10).save(masks.join("a.png")).unwrap();
        // A camera photo stored 20x10 on its side (EXIF orientation 6) is trained upright,
        // 10x20: its mask is drawn upright, and a mask of the stored size is refused.
        std::fs::write(d.path().join("b.jpg"), nst_tests::jpeg_with_orientation(&RgbImage::new(20, 10), 6)).unwrap();
        let files = scan(d.path()).unwrap();
        GrayImage::new(10, 20).save(masks.join("b.png")).unwrap();
        let found = focus_masks(d.path(), &files, &masks).unwrap();
        assert_eq!(found, vec![Some(masks.join("a.png")), Some(masks.join("b.png"))]);
        GrayImage::new(20, 10).save(masks.join("b.png")).unwrap();
        let e = focus_masks(d.path(), &files, &masks).unwrap_err().to_string();
        assert!(e.contains("b.png") && e.contains("b.jpg is 10x20"), "{e}");
    }
}
