//! Cameras through nokhwa (Video4Linux on Linux, AVFoundation on macOS, Media
//! Foundation on Windows): listing them with their formats (`nst devices`), and
//! capturing frames (`nst live --source camera:N`).
//!
//! Every failure becomes an [`Error::Camera`] that says what happened and what to do: no
//! camera, no camera with that number, a camera busy in another program, a resolution it
//! cannot give, a camera that stops delivering (unplugged).
//!
//! Frames arrive as YUYV, NV12, RGB or grey (converted by nokhwa) or as MJPEG (decoded
//! with [`crate::imageio::decode_rgb`]; nokhwa's own MJPEG decoder would need libjpeg
//! built from source, so it is left out).

use std::path::Path;
use std::time::Duration;

use image::RgbImage;
use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{ApiBackend, CameraFormat, CameraIndex, CameraInfo, FrameFormat, RequestedFormat, RequestedFormatType};
use nokhwa::{Camera, NokhwaError};

use super::source::{Captured, Source};
use crate::error::{Error, Result};
use crate::imageio;

/// The pixel formats we can turn into RGB.
const USABLE: &[FrameFormat] =
    &[FrameFormat::YUYV, FrameFormat::NV12, FrameFormat::RAWRGB, FrameFormat::RAWBGR, FrameFormat::MJPEG, FrameFormat::GRAY];

/// A camera and what it can deliver.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CameraDescription {
    pub index: String,
    pub name: String,
    pub description: String,
    /// Formats as `(pixel format, width, height, frames per second)`, or why they could
    /// not be read.
    pub formats: std::result::Result<Vec<(String, u32, u32, u32)>, String>,
}

const NO_CAMERA_HINT: &str = "connect one (and check `ls /dev/video*` and that you may read it), or use --source test or a video file";

/// The cameras the system knows about (none is not an error).
pub fn list() -> Result<Vec<CameraInfo>> {
    if cfg!(target_os = "linux") && !has_video_devices() {
        // A server or a container without /dev/video*: nothing to ask V4L2 about.
        return Ok(Vec::new());
    }
    let backend = nokhwa::native_api_backend().unwrap_or(ApiBackend::Auto);
    nokhwa::query(backend).map_err(|e| Error::Camera(format!("cannot list the cameras: {e}")))
}

/// Whether Linux has any `/dev/video*` device.
fn has_video_devices() -> bool {
    std::fs::read_dir("/dev").map(|dir| dir.flatten().any(|e| e.file_name().to_string_lossy().starts_with("video"))).unwrap_or(false)
}

/// Every camera with its formats, for `nst devices`. Cameras that cannot be opened are
/// listed with the reason instead of their formats.
pub fn describe_all() -> Result<Vec<CameraDescription>> {
    let mut out = Vec::new();
    for info in list()? {
        let formats = Camera::new(info.index().clone(), RequestedFormat::with_formats(RequestedFormatType::None, USABLE))
            .and_then(|mut cam| cam.compatible_camera_formats())
            .map(|mut formats| {
                formats.sort_by_key(|f| {
                    (f.format().to_string(), std::cmp::Reverse(f.width() * f.height()), std::cmp::Reverse(f.frame_rate()))
                });
                formats.dedup();
                formats.iter().map(|f| (f.format().to_string(), f.width(), f.height(), f.frame_rate())).collect()
            })
            .map_err(|e| explain(&info.index().to_string(), e));
        out.push(CameraDescription {
            index: info.index().to_string(),
            name: info.human_name(),
            description: info.description().to_string(),
            formats,
        });
    }
    Ok(out)
}

/// Turns a nokhwa error into a message that says what to do.
fn explain(camera: &str, e: NokhwaError) -> String {
    let text = e.to_string();
    let lower = text.to_lowercase();
    if lower.contains("busy") || lower.contains("ebusy") {
        format!("camera {camera} is in use by another program: close that program and try again ({text})")
    } else if lower.contains("permission denied") || lower.contains("eacces") {
        format!("camera {camera}: permission denied; add your user to the 'video' group (then log in again) ({text})")
    } else if lower.contains("no such device") || lower.contains("enodev") || lower.contains("no such file") {
        format!("camera {camera} is gone (unplugged?) ({text})")
    } else {
        format!("camera {camera}: {text}")
    }
}

/// Picks the format for a wanted size among those a camera offers: that exact size,
/// the highest frame rate, and of equal rates one that needs no JPEG decoding.
pub fn choose_format(formats: &[CameraFormat], width: u32, height: u32) -> Option<CameraFormat> {
    formats
        .iter()
        .filter(|f| f.width() == width && f.height() == height && USABLE.contains(&f.format()))
        .max_by_key(|f| (f.frame_rate(), f.format() != FrameFormat::MJPEG, f.format() != FrameFormat::GRAY))
        .copied()
}

/// Checks that camera `index` exists (without opening it).
pub fn check(index: u32) -> Result<()> {
    find(&list()?, index).map(|_| ())
}

fn find(cameras: &[CameraInfo], index: u32) -> Result<&CameraInfo> {
    if cameras.is_empty() {
        return Err(Error::Camera(format!("no camera found: {NO_CAMERA_HINT}")));
    }
    cameras.iter().find(|c| c.index().as_index().ok() == Some(index)).ok_or_else(|| {
        let known = cameras.iter().map(|c| format!("camera:{} ({})", c.index(), c.human_name())).collect::<Vec<_>>().join(", ");
        Error::Camera(format!("no camera {index}; the cameras are: {known} (see `nst devices`)"))
    })
}

/// A camera frame in RGB.
fn convert(index: u32, buffer: &nokhwa::Buffer, expected: (u32, u32)) -> Result<RgbImage> {
    let image = if buffer.source_frame_format() == FrameFormat::MJPEG {
        imageio::decode_rgb(buffer.buffer(), Path::new(&format!("a frame of camera {index}")))?
    } else {
        buffer
            .decode_image::<RgbFormat>()
            .map_err(|e| Error::Camera(format!("camera {index}: cannot convert a {} frame: {e}", buffer.source_frame_format())))?
    };
    if image.dimensions() != expected {
        return Err(Error::Camera(format!(
            "camera {index} changed its frame size to {}x{} (asked for {}x{})",
            image.width(),
            image.height(),
            expected.0,
            expected.1
        )));
    }
    Ok(image)
}

/// A camera delivering frames.
pub struct CameraSource {
    camera: Camera,
    name: String,
    index: u32,
    format: CameraFormat,
}

impl CameraSource {
    /// Opens camera `index` at exactly `width`x`height`.
    pub fn open(index: u32, (width, height): (u32, u32)) -> Result<Self> {
        let cameras = list()?;
        let name = find(&cameras, index)?.human_name();
        let label = index.to_string();
        let mut camera = Camera::new(CameraIndex::Index(index), RequestedFormat::with_formats(RequestedFormatType::None, USABLE))
            .map_err(|e| Error::Camera(explain(&label, e)))?;
        let formats = camera.compatible_camera_formats().map_err(|e| Error::Camera(explain(&label, e)))?;
        let Some(format) = choose_format(&formats, width, height) else {
            let mut sizes: Vec<(u32, u32)> =
                formats.iter().filter(|f| USABLE.contains(&f.format())).map(|f| (f.width(), f.height())).collect();
            sizes.sort_by_key(|&(w, h)| std::cmp::Reverse(w * h));
            sizes.dedup();
            let offered = sizes.iter().map(|(w, h)| format!("{w}x{h}")).collect::<Vec<_>>().join(", ");
            return Err(Error::Camera(format!(
                "camera {index} ({name}) cannot give {width}x{height}; it offers {}: choose one with --resolution",
                if offered.is_empty() { "no format nst can read".to_string() } else { offered }
            )));
        };
        camera
            .set_camera_requset(RequestedFormat::with_formats(RequestedFormatType::Exact(format), &[format.format()]))
            .map_err(|e| Error::Camera(explain(&label, e)))?;
        camera.open_stream().map_err(|e| Error::Camera(explain(&label, e)))?;
        tracing::info!(
            "camera {index} ({name}): {}x{} {} at {} fps",
            format.width(),
            format.height(),
            format.format(),
            format.frame_rate()
        );
        Ok(Self { camera, name, index, format })
    }
}

impl Source for CameraSource {
    fn describe(&self) -> String {
        format!("camera {} ({})", self.index, self.name)
    }

    fn size(&self) -> (u32, u32) {
        (self.format.width(), self.format.height())
    }

    fn frame_rate(&self) -> Option<f64> {
        Some(self.format.frame_rate() as f64)
    }

    fn next_frame(&mut self) -> Result<Option<RgbImage>> {
        self.next_captured()?.map(Captured::into_image).transpose()
    }

    /// The frame is taken from the camera now; its conversion to RGB (YUYV, NV12, MJPEG)
    /// is done only if the frame is used.
    fn next_captured(&mut self) -> Result<Option<Captured>> {
        let index = self.index;
        let buffer = self.camera.frame().map_err(|e| {
            Error::Camera(format!("camera {index} stopped delivering frames ({e}); was it unplugged or taken by another program?"))
        })?;
        let expected = self.size();
        Ok(Some(Captured::Later(Box::new(move || convert(index, &buffer, expected)))))
    }

    fn stall_timeout(&self) -> Duration {
        // Some cameras take a couple of seconds to deliver the first frame.
        Duration::from_secs(5)
    }
}

impl Drop for CameraSource {
    fn drop(&mut self) {
        let _ = self.camera.stop_stream();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nokhwa::utils::Resolution;

    #[test]
    fn picks_the_exact_size_fastest_uncompressed() {
        let f = |w, h, fmt, fps| CameraFormat::new(Resolution::new(w, h), fmt, fps);
        let formats = [
            f(1280, 720, FrameFormat::MJPEG, 30),
            f(640, 480, FrameFormat::MJPEG, 30),
            f(640, 480, FrameFormat::YUYV, 30),
            f(640, 480, FrameFormat::YUYV, 15),
            f(320, 240, FrameFormat::YUYV, 60),
        ];
        assert_eq!(choose_format(&formats, 640, 480), Some(f(640, 480, FrameFormat::YUYV, 30)));
        assert_eq!(choose_format(&formats, 1280, 720), Some(f(1280, 720, FrameFormat::MJPEG, 30)));
        assert_eq!(choose_format(&formats, 800, 600), None);
    }

    #[test]
    fn errors_say_what_to_do() {
        let busy = explain("0", NokhwaError::OpenStreamError("Device or resource busy (os error 16)".into()));
        assert!(busy.contains("in use by another program"), "{busy}");
        let gone = explain("0", NokhwaError::ReadFrameError("No such device (os error 19)".into()));
        assert!(gone.contains("unplugged"), "{gone}");
    }
}
