//! Training data: any folder tree of images, turned into batches of random square crops
//! resized to the training size. Decoding runs on a background thread with rayon, ahead
//! of the training step; unreadable files are skipped with a warning and counted.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;

use anyhow::bail;
use image::RgbImage;
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
    let (w, h) = img.dimensions();
    let mut out = RgbImage::new(1, 1);
    for _ in 0..4 {
        let side = ((w.min(h) as f64) * rng.random_range(scale.0..=scale.1)).round().clamp(1.0, w.min(h) as f64) as u32;
        let x = rng.random_range(0..=w - side);
        let y = rng.random_range(0..=h - side);
        let crop = image::imageops::crop_imm(img, x, y, side, side).to_image();
        out = imageio::resize(&crop, size, size);
        if !is_flat(&out) {
            break;
        }
    }
    if rng.random_bool(0.5) {
        image::imageops::flip_horizontal_in_place(&mut out);
    }
    out
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

/// Batches of `[batch, 3, size, size]` planar RGB (0-255), produced ahead of use.
pub struct Loader {
    rx: Receiver<Vec<f32>>,
    skipped: Arc<AtomicUsize>,
    pub batch_size: usize,
    pub image_size: u32,
}

impl Loader {
    /// Starts loading from `files`, as if `start_batch` batches had already been drawn
    /// (for resuming). The order is a function of `seed` only.
    pub fn start(files: Vec<PathBuf>, batch_size: usize, image_size: u32, crop_scale: (f64, f64), seed: u64, start_batch: u64) -> Self {
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
                    let mut batch: Vec<f32> = Vec::with_capacity(batch_size * 3 * (image_size * image_size) as usize);
                    let mut got = 0;
                    while got < batch_size {
                        if bad.iter().all(|b| *b) {
                            return; // every file is unreadable: the receiver reports it
                        }
                        let take: Vec<usize> = order.iter().cycle().skip(position).take(batch_size - got).copied().collect();
                        position += take.len();
                        let crops: Vec<Option<RgbImage>> = take
                            .par_iter()
                            .map(|&i| {
                                if bad[i] {
                                    return None;
                                }
                                let mut rng = StdRng::seed_from_u64(seed ^ ((epoch * n + i) as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
                                match imageio::load_rgb(&files[i]) {
                                    Ok(img) => Some(random_crop(&img, image_size, crop_scale, &mut rng)),
                                    Err(e) => {
                                        tracing::warn!("skipping {e}");
                                        None
                                    }
                                }
                            })
                            .collect();
                        for (&i, crop) in take.iter().zip(crops) {
                            match crop {
                                Some(img) => {
                                    batch.extend(imageio::to_chw(&img));
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
    pub fn next_batch(&self) -> anyhow::Result<Vec<f32>> {
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

        let a = Loader::start(files.clone(), 2, 16, (0.75, 1.0), 42, 0);
        let first: Vec<Vec<f32>> = (0..4).map(|_| a.next_batch().unwrap()).collect();
        assert!(first.iter().all(|b| b.len() == 2 * 3 * 16 * 16));
        assert_eq!(a.skipped(), 1);
        let b = Loader::start(files, 2, 16, (0.75, 1.0), 42, 0);
        assert_eq!(b.next_batch().unwrap(), first[0], "same seed, same batches");
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
        let loader = Loader::start(scan(d.path()).unwrap(), 2, 16, (0.75, 1.0), 1, 0);
        assert!(loader.next_batch().is_err());
    }
}
