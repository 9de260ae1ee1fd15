//! Image I/O and pixel conversion, in one place for the runtime and the trainer:
//! decoding with size limits and EXIF orientation, alpha kept aside, atomic saving,
//! resizing, and conversion between 8-bit RGB images and planar float tensors (0-255).

use std::io::Write;
use std::path::Path;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::imageops::FilterType;
use image::error::{ImageFormatHint, UnsupportedErrorKind};
use image::{DynamicImage, GrayImage, ImageDecoder, ImageEncoder, ImageError, ImageFormat, ImageReader, Limits, RgbImage};

use crate::error::{Error, Result};
use crate::fsio;

/// Formats we decode, for error messages.
pub const SUPPORTED_INPUTS: &str = "jpg, png, webp, bmp, tiff, gif";

/// File extensions treated as images when walking a folder.
pub const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff", "gif"];

/// Largest side we decode (pixels); anything larger is refused before decoding.
pub const MAX_SIDE: u32 = 16_384;
/// Largest total decoder allocation (bytes).
pub const MAX_ALLOC: u64 = 1 << 30;

/// A decoded image: RGB pixels, plus the alpha channel when the file had one.
#[derive(Debug, Clone)]
pub struct Picture {
    pub rgb: RgbImage,
    pub alpha: Option<GrayImage>,
}

/// The decoder limits used for every input.
pub fn decoder_limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    limits
}

/// Decodes an image file, applying its EXIF orientation and the decoder limits.
pub fn load(path: &Path) -> Result<Picture> {
    Ok(picture_of(load_dynamic(path)?))
}

/// Decodes an image file held in memory (an upload), like [`load`]: EXIF orientation,
/// a JPEG must be complete, the decoder limits apply. Before decoding, its header must
/// show at most `max_pixels` pixels. `what` names it in errors.
pub fn decode_picture(bytes: &[u8], what: &Path, max_pixels: Option<u64>) -> Result<Picture> {
    if let Some(max) = max_pixels {
        let (w, h) = probe(bytes, what)?;
        let pixels = u64::from(w) * u64::from(h);
        if pixels > max {
            return Err(Error::TooLarge {
                path: what.to_path_buf(),
                reason: format!("{w}x{h} is {:.1} megapixels; at most {:.1} are accepted", pixels as f64 / 1e6, max as f64 / 1e6),
            });
        }
    } else if bytes.is_empty() {
        return Err(Error::EmptyFile { path: what.to_path_buf() });
    }
    Ok(picture_of(decode_bytes(bytes, what, true)?))
}

/// The width and height an image held in memory says it has, read from its header
/// alone (nothing is decoded): cheap enough to check an upload before queueing it.
pub fn probe(bytes: &[u8], what: &Path) -> Result<(u32, u32)> {
    if bytes.is_empty() {
        return Err(Error::EmptyFile { path: what.to_path_buf() });
    }
    Ok(header(ImageReader::new(std::io::Cursor::new(bytes)), what)?.dimensions())
}

/// The decoder of an image's header (nothing decoded yet), its format guessed from its
/// first bytes; `what` names the image in errors.
fn header<'a, R: std::io::BufRead + std::io::Seek + 'a>(reader: ImageReader<R>, what: &Path) -> Result<impl ImageDecoder + 'a> {
    let reader = reader.with_guessed_format().map_err(|source| Error::Read { path: what.to_path_buf(), source })?;
    if reader.format().is_none() {
        return Err(Error::UnsupportedFormat { path: what.to_path_buf(), supported: SUPPORTED_INPUTS });
    }
    reader.into_decoder().map_err(|e| image_error(what, e))
}

/// RGB, plus the alpha channel when the image has one.
/// Takes the decoded buffer over where it already is RGB (no copy of a large picture).
fn picture_of(image: DynamicImage) -> Picture {
    if !image.color().has_alpha() {
        return Picture { rgb: image.into_rgb8(), alpha: None };
    }
    let rgba = image.into_rgba8();
    let (w, h) = rgba.dimensions();
    let alpha = GrayImage::from_fn(w, h, |x, y| image::Luma([rgba.get_pixel(x, y)[3]]));
    let rgb = RgbImage::from_fn(w, h, |x, y| {
        let p = rgba.get_pixel(x, y);
        image::Rgb([p[0], p[1], p[2]])
    });
    Picture { rgb, alpha: Some(alpha) }
}

/// Whether a file name has one of the image extensions we read.
pub fn is_image_name(path: &Path) -> bool {
    has_extension(path, IMAGE_EXTENSIONS)
}

/// Whether a path's extension, without regard to case, is one of `extensions`
/// (lower-case, without the dot).
pub fn has_extension(path: &Path, extensions: &[&str]) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| extensions.contains(&e.to_ascii_lowercase().as_str()))
}

/// Decodes an image file into RGB only (alpha dropped), oriented and limited like [`load`].
pub fn load_rgb(path: &Path) -> Result<RgbImage> {
    Ok(load_dynamic(path)?.into_rgb8())
}

/// The width and height an image file decodes to with [`load`]: its header's size, turned
/// by its EXIF orientation (a camera's portrait photo stored on its side reads upright).
/// Reads the header alone; nothing is decoded.
pub fn upright_dimensions(path: &Path) -> Result<(u32, u32)> {
    let reader = ImageReader::open(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
    let mut decoder = header(reader, path)?;
    let (w, h) = decoder.dimensions();
    use image::metadata::Orientation::*;
    Ok(match decoder.orientation().unwrap_or(NoTransforms) {
        Rotate90 | Rotate270 | Rotate90FlipH | Rotate270FlipH => (h, w),
        _ => (w, h),
    })
}

fn load_dynamic(path: &Path) -> Result<DynamicImage> {
    let read_err = |source| Error::Read { path: path.to_path_buf(), source };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if meta.is_dir() {
        return Err(Error::Decode { path: path.to_path_buf(), reason: "is a folder, not an image file".into() });
    }
    if meta.len() == 0 {
        return Err(Error::EmptyFile { path: path.to_path_buf() });
    }
    // Read once; the same bytes are checked (JPEG) and decoded.
    let bytes = std::fs::read(path).map_err(read_err)?;
    decode_bytes(&bytes, path, true)
}

/// Decodes image bytes with the decoder limits. For a file (`file`), the EXIF orientation
/// is applied and a JPEG must reach its end-of-image marker (the decoder fills a truncated
/// file's missing part with grey and says nothing); camera frames get neither, as before.
/// `what` names the image in errors.
fn decode_bytes(bytes: &[u8], what: &Path, file: bool) -> Result<DynamicImage> {
    let mut reader = ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|source| Error::Read { path: what.to_path_buf(), source })?;
    let format = reader.format();
    match format {
        None => return Err(Error::UnsupportedFormat { path: what.to_path_buf(), supported: SUPPORTED_INPUTS }),
        Some(ImageFormat::Jpeg) if file => jpeg_is_complete(bytes).map_err(|reason| Error::Decode { path: what.to_path_buf(), reason })?,
        Some(_) => {}
    }
    reader.limits(decoder_limits());
    let convert = |e| image_error(what, e);
    let mut decoder = reader.into_decoder().map_err(convert)?;
    let orientation = if file { decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms) } else { image::metadata::Orientation::NoTransforms };
    let mut image = DynamicImage::from_decoder(decoder).map_err(convert)?;
    image.apply_orientation(orientation);
    // Only once the first frame decoded within the limits (a damaged GIF's canvas can
    // claim gigabytes).
    if file && format == Some(ImageFormat::Gif) && gif_is_animated(bytes) {
        tracing::warn!(
            "{} is an animated GIF: only its first frame is stylized (`nst video {} -o OUT.mp4` does every frame)",
            what.display(),
            what.display()
        );
    }
    Ok(image)
}

/// Whether a GIF holds more than one frame (its first two frames decode within the
/// decoder limits; a broken file yields errors, not frames).
pub fn gif_is_animated(bytes: &[u8]) -> bool {
    use image::{AnimationDecoder, ImageDecoder};
    let Ok(mut decoder) = image::codecs::gif::GifDecoder::new(std::io::Cursor::new(bytes)) else { return false };
    if decoder.set_limits(decoder_limits()).is_err() {
        return false;
    }
    decoder.into_frames().take(2).take_while(|f| f.is_ok()).count() == 2
}

/// Whether a JPEG file is whole: its markers parse up to the first start-of-scan, and an
/// end-of-image marker follows it (inside entropy-coded data a 0xFF byte is always
/// followed by 0x00 or a restart marker, so 0xFF 0xD9 there can only be the end). An
/// EXIF thumbnail's own end marker sits before the scan and does not count.
pub fn jpeg_is_complete(bytes: &[u8]) -> std::result::Result<(), String> {
    let truncated = |what: &str| Err(format!("the file is truncated ({what}): a partial download or copy? Get the whole file again"));
    if bytes.len() < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8 {
        return Err("not a JPEG file (no start-of-image marker)".into());
    }
    let mut i = 2;
    let scan = loop {
        while i < bytes.len() && bytes[i] != 0xFF {
            i += 1; // tolerate stray bytes between segments, as decoders do
        }
        while i < bytes.len() && bytes[i] == 0xFF {
            i += 1; // fill bytes
        }
        let Some(&marker) = bytes.get(i) else { return truncated("it ends before the picture data") };
        i += 1;
        match marker {
            0xDA => break i,
            0xD9 => return truncated("it ends before the picture data"),
            0x01 | 0xD0..=0xD7 => {}
            _ => {
                let Some(len) = bytes.get(i..i + 2).map(|b| u16::from_be_bytes([b[0], b[1]]) as usize) else {
                    return truncated("it ends inside a header");
                };
                i += len;
                if i > bytes.len() {
                    return truncated("it ends inside a header");
                }
            }
        }
    };
    if bytes[scan..].windows(2).any(|w| w == [0xFF, 0xD9]) {
        Ok(())
    } else {
        truncated("the picture data has no end-of-image marker")
    }
}

fn image_error(path: &Path, e: ImageError) -> Error {
    let path = path.to_path_buf();
    match e {
        ImageError::Limits(l) => Error::TooLarge { path, reason: l.to_string() },
        ImageError::Unsupported(u) => match u.kind() {
            UnsupportedErrorKind::Format(format) => {
                let name = match format {
                    ImageFormatHint::Exact(f) => format!("{f:?}").to_uppercase(),
                    ImageFormatHint::Name(n) => n.to_uppercase(),
                    ImageFormatHint::PathExtension(e) => e.to_string_lossy().to_uppercase(),
                    _ => "this format of".into(),
                };
                Error::Decode { path, reason: format!("{name} images cannot be read (supported: {SUPPORTED_INPUTS}); convert it to PNG or JPEG first") }
            }
            UnsupportedErrorKind::Color(c) => {
                Error::Decode { path, reason: format!("its colour type ({c:?}) is not supported; convert it to 8-bit RGB PNG or JPEG first") }
            }
            _ => Error::Decode { path, reason: format!("it uses a feature of its format that cannot be decoded ({u}); convert it to PNG or JPEG first") },
        },
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            Error::Decode { path, reason: "the file is truncated".into() }
        }
        // Decoders word a cut-off file in their own terms ("Corrupt bitstream"): say what
        // it most often is.
        ImageError::Decoding(d) => Error::Decode { path, reason: format!("{d} (the file is damaged or truncated)") },
        other => Error::Decode { path, reason: other.to_string() },
    }
}

/// The formats we can write, chosen by the output file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Png,
    Jpeg,
    WebP,
    Bmp,
    Tiff,
}

impl OutputFormat {
    pub fn from_path(path: &Path) -> Result<Self> {
        match ImageFormat::from_path(path) {
            Ok(ImageFormat::Png) => Ok(Self::Png),
            Ok(ImageFormat::Jpeg) => Ok(Self::Jpeg),
            Ok(ImageFormat::WebP) => Ok(Self::WebP),
            Ok(ImageFormat::Bmp) => Ok(Self::Bmp),
            Ok(ImageFormat::Tiff) => Ok(Self::Tiff),
            _ => Err(Error::UnsupportedOutput { path: path.to_path_buf() }),
        }
    }

    /// The format of an image held in memory, when it is one we can also write.
    pub fn guess(bytes: &[u8]) -> Option<Self> {
        match image::guess_format(bytes).ok()? {
            ImageFormat::Png => Some(Self::Png),
            ImageFormat::Jpeg => Some(Self::Jpeg),
            ImageFormat::WebP => Some(Self::WebP),
            ImageFormat::Bmp => Some(Self::Bmp),
            ImageFormat::Tiff => Some(Self::Tiff),
            _ => None,
        }
    }

    /// The media type (`image/png`, ...).
    pub fn mime_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::WebP => "image/webp",
            Self::Bmp => "image/bmp",
            Self::Tiff => "image/tiff",
        }
    }

    pub fn supports_alpha(self) -> bool {
        matches!(self, Self::Png | Self::WebP | Self::Tiff)
    }

    /// Canonical extension, used when an output name is derived from an input name.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpg",
            Self::WebP => "webp",
            Self::Bmp => "bmp",
            Self::Tiff => "tiff",
        }
    }
}

/// JPEG quality used for outputs.
pub const JPEG_QUALITY: u8 = 92;

/// Saves a picture atomically (temporary file in the same folder, then rename). The format
/// follows the extension; alpha is kept where the format has it, and composited over
/// white where it does not.
pub fn save(path: &Path, picture: &Picture) -> Result<()> {
    let format = OutputFormat::from_path(path)?;
    fsio::write_atomic(path, |out| {
        encode_to(&mut *out, picture, format)?;
        out.flush()
    })
    .map_err(|e| Error::write(path, &e))
}

/// Encodes a picture in memory (for an HTTP answer), alpha handled as in [`save`].
pub fn encode(picture: &Picture, format: OutputFormat) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    encode_to(&mut out, picture, format).map_err(|e| Error::Inference(format!("cannot encode the result as {}: {e}", format.extension())))?;
    Ok(out)
}

/// Writes `picture` in `format`: alpha kept where the format has it, composited over
/// white where it does not.
fn encode_to(out: &mut dyn Write, picture: &Picture, format: OutputFormat) -> std::io::Result<()> {
    let (w, h) = picture.rgb.dimensions();
    let (bytes, color): (std::borrow::Cow<[u8]>, image::ExtendedColorType) = match (&picture.alpha, format.supports_alpha()) {
        (Some(alpha), true) => {
            let mut rgba = Vec::with_capacity((w * h * 4) as usize);
            for (p, a) in picture.rgb.pixels().zip(alpha.pixels()) {
                rgba.extend_from_slice(&[p[0], p[1], p[2], a[0]]);
            }
            (rgba.into(), image::ExtendedColorType::Rgba8)
        }
        (Some(alpha), false) => {
            let mut rgb = picture.rgb.clone();
            for (p, a) in rgb.pixels_mut().zip(alpha.pixels()) {
                let a = a[0] as u32;
                for c in p.0.iter_mut() {
                    *c = ((*c as u32 * a + 255 * (255 - a) + 127) / 255) as u8;
                }
            }
            (rgb.into_raw().into(), image::ExtendedColorType::Rgb8)
        }
        (None, _) => (picture.rgb.as_raw().as_slice().into(), image::ExtendedColorType::Rgb8),
    };
    let result = match format {
        OutputFormat::Png => PngEncoder::new(&mut *out).write_image(&bytes, w, h, color),
        OutputFormat::Jpeg => JpegEncoder::new_with_quality(&mut *out, JPEG_QUALITY).write_image(&bytes, w, h, color),
        OutputFormat::WebP => WebPEncoder::new_lossless(&mut *out).write_image(&bytes, w, h, color),
        OutputFormat::Bmp => image::codecs::bmp::BmpEncoder::new(&mut &mut *out).write_image(&bytes, w, h, color),
        OutputFormat::Tiff => {
            let mut buf = std::io::Cursor::new(Vec::new());
            image::codecs::tiff::TiffEncoder::new(&mut buf)
                .write_image(&bytes, w, h, color)
                .and_then(|_| out.write_all(buf.get_ref()).map_err(ImageError::IoError))
        }
    };
    result.map_err(|e| match e {
        ImageError::IoError(io) => io,
        other => std::io::Error::other(other.to_string()),
    })
}

/// Saves an RGB image atomically (see [`save`]).
pub fn save_rgb(path: &Path, rgb: &RgbImage) -> Result<()> {
    save(path, &Picture { rgb: rgb.clone(), alpha: None })
}

/// The size that fits `(w, h)` within `max_side` on its longer side, keeping the aspect
/// ratio; unchanged when it already fits.
pub fn fit_size(w: u32, h: u32, max_side: u32) -> (u32, u32) {
    let longer = w.max(h);
    if longer <= max_side || max_side == 0 {
        return (w, h);
    }
    let scale = max_side as f64 / longer as f64;
    (((w as f64 * scale).round() as u32).max(1), ((h as f64 * scale).round() as u32).max(1))
}

/// Resizes to exactly `(w, h)` with a high-quality filter (no-op when already that size).
pub fn resize(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    if img.dimensions() == (w, h) {
        return img.clone();
    }
    image::imageops::resize(img, w, h, FilterType::CatmullRom)
}

/// Resizes a single-channel image (alpha) to `(w, h)`.
pub fn resize_gray(img: &GrayImage, w: u32, h: u32) -> GrayImage {
    if img.dimensions() == (w, h) {
        return img.clone();
    }
    image::imageops::resize(img, w, h, FilterType::CatmullRom)
}

/// Planar (CHW) float32 values in 0-255 from an RGB image: the network's input layout.
pub fn to_chw(img: &RgbImage) -> Vec<f32> {
    let (w, h) = img.dimensions();
    let plane = (w * h) as usize;
    let mut out = vec![0f32; 3 * plane];
    let (r, rest) = out.split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    deinterleave(img.as_raw(), r, g, b);
    out
}

/// Interleaved RGB bytes to three float planes. Zipped iterators without indexing: no
/// bounds checks, so the loop vectorises (with AVX2 where the CPU has it: `nst live` runs
/// this on every frame).
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn deinterleave(rgb: &[u8], r: &mut [f32], g: &mut [f32], b: &mut [f32]) {
    for (((px, r), g), b) in rgb.chunks_exact(3).zip(r).zip(g).zip(b) {
        *r = px[0] as f32;
        *g = px[1] as f32;
        *b = px[2] as f32;
    }
}

/// The `w`x`h` region of `img` at (`x0`, `y0`), grown to `pw`x`ph` (at least `w`x`h`) by
/// repeating its last column and row: for networks with a minimum input side.
pub fn edge_padded(img: &RgbImage, x0: u32, y0: u32, w: u32, h: u32, pw: u32, ph: u32) -> RgbImage {
    RgbImage::from_fn(pw, ph, |x, y| *img.get_pixel(x0 + x.min(w - 1), y0 + y.min(h - 1)))
}

/// An RGB image from planar (CHW) float32 values in 0-255 (rounded, clamped).
pub fn from_chw(data: &[f32], w: u32, h: u32) -> RgbImage {
    let plane = (w * h) as usize;
    assert_eq!(data.len(), 3 * plane, "tensor size does not match {w}x{h}x3");
    let (r, rest) = data.split_at(plane);
    let (g, b) = rest.split_at(plane);
    let mut raw = vec![0u8; 3 * plane];
    interleave(r, g, b, &mut raw);
    RgbImage::from_raw(w, h, raw).expect("buffer size checked above")
}

/// Three float planes to interleaved RGB bytes ([`to_u8`] each), vectorised like
/// [`deinterleave`].
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn interleave(r: &[f32], g: &[f32], b: &[f32], rgb: &mut [u8]) {
    for (((px, r), g), b) in rgb.chunks_exact_mut(3).zip(r).zip(g).zip(b) {
        px[0] = to_u8(*r);
        px[1] = to_u8(*g);
        px[2] = to_u8(*b);
    }
}

/// A 0-255 float as a byte: rounded half up, clamped (NaN gives 0). Written so that the
/// conversion loops vectorise: no `f32::round` (a libm call), no `f32::clamp` (its NaN
/// rule), and no saturating `as u8` (a branch per value): the clamped value is in
/// 0.5..=255.5, where the unchecked conversion is exact.
#[inline(always)]
pub fn to_u8(v: f32) -> u8 {
    let clamped = if v > 0.0 {
        if v < 255.0 {
            v
        } else {
            255.0
        }
    } else {
        0.0 // also NaN
    };
    // SAFETY: `clamped + 0.5` is finite and within 0.5..=255.5, so it fits an i32.
    unsafe { (clamped + 0.5).to_int_unchecked::<i32>() as u8 }
}

/// Decodes an image held in memory (a camera's MJPEG frame, say) to RGB, with the
/// decoder limits; `what` names it in errors.
pub fn decode_rgb(bytes: &[u8], what: &Path) -> Result<RgbImage> {
    Ok(decode_bytes(bytes, what, false)?.to_rgb8())
}

/// Resizes to exactly `(w, h)` with a bilinear filter (antialiased when shrinking), on
/// the CPU's vector units (fast_image_resize): for live video, where a frame has a few
/// milliseconds (no-op when already that size).
pub fn resize_fast(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    use fast_image_resize::{images::Image, images::ImageRef, PixelType};
    if img.dimensions() == (w, h) {
        return img.clone();
    }
    let (w, h) = (w.max(1), h.max(1));
    let src = ImageRef::new(img.width(), img.height(), img.as_raw(), PixelType::U8x3).expect("an RgbImage holds w*h*3 bytes");
    let mut dst = Image::new(w, h, PixelType::U8x3);
    fast_image_resize::Resizer::new().resize(&src, &mut dst, &bilinear()).expect("same pixel types, non-empty sizes");
    RgbImage::from_raw(w, h, dst.into_vec()).expect("w*h*3 bytes")
}

/// Enlarges (or shrinks) a three-channel float picture (`[f32; 3]` pixels, row by row)
/// from `(sw, sh)` to `(w, h)` with the same bilinear filter as [`resize_fast`]. The
/// result is `w*h*3` native-endian `f32`s as bytes (12 bytes a pixel), read without a
/// copy with [`f32_at`].
pub fn resize_f32x3(src: Vec<[f32; 3]>, (sw, sh): (u32, u32), (w, h): (u32, u32)) -> Vec<u8> {
    use fast_image_resize::images::{Image, ImageRef};
    use fast_image_resize::pixels::F32x3;
    let pixels: Vec<F32x3> = src.into_iter().map(F32x3::new).collect();
    let src = ImageRef::from_pixels(sw, sh, &pixels).expect("sw*sh pixels");
    let mut dst = Image::new(w.max(1), h.max(1), fast_image_resize::PixelType::F32x3);
    fast_image_resize::Resizer::new().resize(&src, &mut dst, &bilinear()).expect("non-empty sizes");
    dst.into_vec()
}

/// The `i`-th `f32` of bytes made by [`resize_f32x3`].
#[inline]
pub fn f32_at(bytes: &[u8], i: usize) -> f32 {
    f32::from_ne_bytes([bytes[4 * i], bytes[4 * i + 1], bytes[4 * i + 2], bytes[4 * i + 3]])
}

fn bilinear() -> fast_image_resize::ResizeOptions {
    fast_image_resize::ResizeOptions::new().resize_alg(fast_image_resize::ResizeAlg::Convolution(fast_image_resize::FilterType::Bilinear))
}

/// An RGB pixel as the `0x00RRGGBB` word that window framebuffers (minifb) take.
#[inline]
pub fn to_0rgb(px: [u8; 3]) -> u32 {
    ((px[0] as u32) << 16) | ((px[1] as u32) << 8) | px[2] as u32
}

/// The RGB pixel of a `0x00RRGGBB` word (the inverse of [`to_0rgb`]).
#[inline]
pub fn from_0rgb(word: u32) -> [u8; 3] {
    [(word >> 16) as u8, (word >> 8) as u8, word as u8]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chw_round_trip() {
        let img = RgbImage::from_fn(5, 3, |x, y| image::Rgb([x as u8 * 40, y as u8 * 70, 200]));
        let chw = to_chw(&img);
        assert_eq!(chw[0], 0.0);
        assert_eq!(chw[15 + 1 * 5], 70.0); // green plane, (x=0, y=1)
        assert_eq!(from_chw(&chw, 5, 3), img);
    }

    #[test]
    fn packed_0rgb_round_trip() {
        assert_eq!(to_0rgb([0x12, 0x34, 0x56]), 0x0012_3456);
        assert_eq!(from_0rgb(0xFF12_3456), [0x12, 0x34, 0x56]);
    }

    #[test]
    fn decodes_in_memory_images_and_names_bad_ones() {
        let img = RgbImage::from_fn(8, 6, |x, y| image::Rgb([x as u8 * 30, y as u8 * 40, 99]));
        let mut png = Vec::new();
        img.write_with_encoder(PngEncoder::new(&mut png)).unwrap();
        assert_eq!(decode_rgb(&png, Path::new("frame")).unwrap(), img);
        let err = decode_rgb(&png[..png.len() / 2], Path::new("camera 0 frame")).unwrap_err();
        assert!(err.to_string().contains("camera 0 frame"), "{err}");
        assert!(decode_rgb(b"nope", Path::new("x")).is_err());
    }

    #[test]
    fn from_chw_clamps_and_rounds() {
        let img = from_chw(&[-20.0, 300.0, 127.6], 1, 1);
        assert_eq!(img.get_pixel(0, 0).0, [0, 255, 128]);
    }

    #[test]
    fn conversion_to_bytes_rounds_half_up_and_clamps_everything_in_the_vector_path_too() {
        let special = [
            (-0.0, 0),
            (0.49, 0),
            (0.5, 1),
            (127.5, 128),
            (254.49, 254),
            (254.5, 255),
            (255.0, 255),
            (255.6, 255),
            (1e9, 255),
            (-1e9, 0),
            (f32::INFINITY, 255),
            (f32::NEG_INFINITY, 0),
            (f32::NAN, 0),
        ];
        for (v, want) in special {
            assert_eq!(to_u8(v), want, "to_u8({v})");
        }
        // 100 pixels (long enough for the vectorised loop and its tail): every value of
        // every plane, against the scalar rule.
        let (w, h) = (25u32, 4u32);
        let n = (w * h) as usize;
        let values: Vec<f32> = (0..3 * n).map(|i| special[i % special.len()].0).collect();
        let img = from_chw(&values, w, h);
        for (i, px) in img.pixels().enumerate() {
            for c in 0..3 {
                assert_eq!(px.0[c], special[(c * n + i) % special.len()].1, "pixel {i}, channel {c}");
            }
        }
    }

    #[test]
    fn fit_size_keeps_aspect() {
        assert_eq!(fit_size(1000, 500, 200), (200, 100));
        assert_eq!(fit_size(300, 301, 1000), (300, 301));
        assert_eq!(fit_size(3, 1000, 100), (1, 100));
    }

    #[test]
    fn alpha_survives_png_and_is_composited_for_jpeg() {
        let dir = tempfile::tempdir().unwrap();
        let rgb = RgbImage::from_pixel(4, 4, image::Rgb([0, 0, 0]));
        let alpha = GrayImage::from_fn(4, 4, |x, _| image::Luma([if x < 2 { 0 } else { 255 }]));
        let pic = Picture { rgb, alpha: Some(alpha.clone()) };
        let png = dir.path().join("a.png");
        save(&png, &pic).unwrap();
        let back = load(&png).unwrap();
        assert_eq!(back.alpha.unwrap(), alpha);
        let jpg = dir.path().join("a.jpg");
        save(&jpg, &pic).unwrap();
        let back = load(&jpg).unwrap();
        assert!(back.alpha.is_none());
        assert!(back.rgb.get_pixel(0, 0)[0] > 240, "transparent area should become white");
        assert!(back.rgb.get_pixel(3, 0)[0] < 15, "opaque area keeps its colour");
    }

    #[test]
    fn bad_inputs_give_named_errors() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.jpg");
        std::fs::write(&empty, b"").unwrap();
        assert!(matches!(load(&empty), Err(Error::EmptyFile { .. })));
        let text = dir.path().join("notes.png");
        std::fs::write(&text, b"hello, this is not an image").unwrap();
        let err = load(&text).unwrap_err();
        assert!(matches!(err, Error::UnsupportedFormat { .. }), "{err}");
        assert!(err.to_string().contains("notes.png"));
        let missing = dir.path().join("missing.png");
        assert!(matches!(load(&missing), Err(Error::Read { .. })));
    }

    #[test]
    fn truncated_and_oversized_images_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let img = RgbImage::from_fn(64, 64, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let png = dir.path().join("full.png");
        save_rgb(&png, &img).unwrap();
        let bytes = std::fs::read(&png).unwrap();
        let cut = dir.path().join("cut.png");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        assert!(matches!(load(&cut), Err(Error::Decode { .. })));
        // A PNG header that claims 20000x20000 pixels.
        let huge = dir.path().join("huge.png");
        std::fs::write(&huge, png_header(20_000, 20_000)).unwrap();
        let err = load(&huge).unwrap_err();
        assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    }

    /// A PNG signature and IHDR chunk for an 8-bit RGB image of the given size.
    fn png_header(w: u32, h: u32) -> Vec<u8> {
        let mut ihdr = b"IHDR".to_vec();
        ihdr.extend_from_slice(&w.to_be_bytes());
        ihdr.extend_from_slice(&h.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        out.extend_from_slice(&13u32.to_be_bytes());
        out.extend_from_slice(&ihdr);
        out.extend_from_slice(&crc32(&ihdr).to_be_bytes());
        out
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    fn gif(frames: usize) -> Vec<u8> {
        let mut bytes = Vec::new();
        {
            let mut enc = image::codecs::gif::GifEncoder::new(&mut bytes);
            for i in 0..frames {
                let frame = image::RgbaImage::from_pixel(8, 6, image::Rgba([40 * i as u8, 100, 200, 255]));
                enc.encode_frame(image::Frame::new(frame)).unwrap();
            }
        }
        bytes
    }

    #[test]
    fn animated_gifs_are_told_apart_and_give_their_first_frame() {
        assert!(gif_is_animated(&gif(3)));
        assert!(!gif_is_animated(&gif(1)));
        assert!(!gif_is_animated(b"GIF89a not really"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.gif");
        std::fs::write(&path, gif(3)).unwrap();
        let img = load_rgb(&path).unwrap();
        assert_eq!(img.dimensions(), (8, 6));
        assert_eq!(img.get_pixel(0, 0).0[0], 0, "the first frame");
    }
}
