//! The live window (minifb, X11): the picture letterboxed into the window at any window
//! size (the aspect ratio is kept, the rest is black), the overlay on top, and the keys.

use std::cell::RefCell;
use std::rc::Rc;

use image::RgbImage;
use minifb::{InputCallback, Key, ScaleMode, Window, WindowOptions};

use super::overlay::{self, Canvas};
use super::Command;
use crate::error::{Error, Result};
use crate::imageio::to_0rgb;

/// The message when no window can be shown.
pub const NO_DISPLAY: &str = "no display: run with --headless (and --record out.mp4) or set DISPLAY";

/// Whether a display is configured at all (X11; Wayland desktops run X11 programs
/// through Xwayland, which sets DISPLAY).
pub fn display_available() -> bool {
    std::env::var_os("DISPLAY").is_some_and(|d| !d.is_empty())
}

/// Where a `src_w`x`src_h` picture goes in a `dst_w`x`dst_h` window: as large as fits,
/// aspect ratio kept, centred. `(x, y, w, h)`.
pub fn letterbox(src_w: usize, src_h: usize, dst_w: usize, dst_h: usize) -> (usize, usize, usize, usize) {
    if src_w == 0 || src_h == 0 || dst_w == 0 || dst_h == 0 {
        return (0, 0, 0, 0);
    }
    // Compare dst_w / dst_h with src_w / src_h without rounding.
    let (w, h) =
        if dst_w * src_h <= dst_h * src_w { (dst_w, (src_h * dst_w / src_w).max(1)) } else { ((src_w * dst_h / src_h).max(1), dst_h) };
    ((dst_w - w) / 2, (dst_h - h) / 2, w, h)
}

/// Scales `src` (nearest neighbour, cheap enough for every frame) into the rectangle of
/// a framebuffer `width` words wide.
pub fn blit(src: &RgbImage, dst: &mut [u32], width: usize, (x0, y0, w, h): (usize, usize, usize, usize)) {
    let (sw, sh) = (src.width() as usize, src.height() as usize);
    if w == 0 || h == 0 || sw == 0 || sh == 0 {
        return;
    }
    let raw = src.as_raw();
    let columns: Vec<usize> = (0..w).map(|x| (x * sw / w).min(sw - 1) * 3).collect();
    for y in 0..h {
        let sy = (y * sh / h).min(sh - 1);
        let row = &raw[sy * sw * 3..(sy + 1) * sw * 3];
        let out = &mut dst[(y0 + y) * width + x0..(y0 + y) * width + x0 + w];
        for (o, &c) in out.iter_mut().zip(&columns) {
            *o = to_0rgb([row[c], row[c + 1], row[c + 2]]);
        }
    }
}

/// Collects key presses as the window's events arrive. (Polling which keys are down
/// misses a press and release that both happen between two polls: a quick tap, or a
/// key sent by a tool.)
struct KeyQueue(Rc<RefCell<Vec<Key>>>);

impl InputCallback for KeyQueue {
    fn add_char(&mut self, _: u32) {}

    fn set_key_state(&mut self, key: Key, down: bool) {
        if down {
            self.0.borrow_mut().push(key);
        }
    }
}

/// The window and its framebuffer.
pub struct LiveWindow {
    window: Window,
    buffer: Vec<u32>,
    title: String,
    keys: Rc<RefCell<Vec<Key>>>,
}

impl LiveWindow {
    /// Opens a resizable window of `width`x`height`. Fails with a message that says what
    /// to do when there is no display or it refuses the window.
    pub fn open(title: &str, width: usize, height: usize) -> Result<Self> {
        if !display_available() {
            return Err(Error::Display(NO_DISPLAY.into()));
        }
        let options = WindowOptions { resize: true, scale_mode: ScaleMode::UpperLeft, ..WindowOptions::default() };
        let mut window = Window::new(title, width, height, options).map_err(|e| {
            let display = std::env::var("DISPLAY").unwrap_or_default();
            Error::Display(format!(
                "cannot open a window on display '{display}': {e}; run with --headless (and --record out.mp4) or fix DISPLAY"
            ))
        })?;
        // Frames come from the pipeline; minifb should not add waits of its own.
        window.set_target_fps(0);
        let keys = Rc::new(RefCell::new(Vec::new()));
        window.set_input_callback(Box::new(KeyQueue(keys.clone())));
        Ok(Self { window, buffer: Vec::new(), title: title.to_string(), keys })
    }

    pub fn set_title(&mut self, title: &str) {
        if title != self.title {
            self.window.set_title(title);
            self.title = title.to_string();
        }
    }

    /// Shows a picture (letterboxed) with the overlay lines on top; returns once it has
    /// been handed to the display.
    pub fn show(&mut self, picture: &RgbImage, overlay_lines: Option<&[String]>) -> Result<()> {
        let (mut ww, mut wh) = self.window.get_size();
        if ww == 0 || wh == 0 {
            (ww, wh) = (picture.width() as usize, picture.height() as usize);
        }
        self.buffer.clear();
        self.buffer.resize(ww * wh, 0);
        let rect = letterbox(picture.width() as usize, picture.height() as usize, ww, wh);
        blit(picture, &mut self.buffer, ww, rect);
        if let Some(lines) = overlay_lines {
            overlay::draw(&mut Canvas { pixels: &mut self.buffer, width: ww, height: wh }, lines);
        }
        self.window.update_with_buffer(&self.buffer, ww, wh).map_err(|e| Error::Display(format!("cannot draw the window: {e}")))
    }

    /// Keeps the window responsive (events, redraws) while no new frame is there.
    pub fn idle(&mut self) {
        self.window.update();
    }

    /// What the user asked for since the last call (closing the window is `Quit`).
    pub fn commands(&mut self) -> Vec<Command> {
        if !self.window.is_open() {
            return vec![Command::Quit];
        }
        self.keys.borrow_mut().drain(..).filter_map(key_command).collect()
    }
}

/// The command of a key.
pub fn key_command(key: Key) -> Option<Command> {
    Some(match key {
        Key::N | Key::Right => Command::NextStyle,
        Key::P | Key::Left => Command::PreviousStyle,
        Key::Equal | Key::NumPadPlus | Key::Up => Command::ScaleUp,
        Key::Minus | Key::NumPadMinus | Key::Down => Command::ScaleDown,
        Key::M => Command::Mirror,
        Key::O => Command::SideBySide,
        Key::B => Command::BlendForward,
        Key::V => Command::BlendBack,
        Key::S => Command::Snapshot,
        Key::R => Command::Record,
        Key::F | Key::I => Command::Overlay,
        Key::Q | Key::Escape => Command::Quit,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letterbox_keeps_the_aspect_ratio() {
        // Same shape: fills the window.
        assert_eq!(letterbox(640, 480, 1280, 960), (0, 0, 1280, 960));
        // Wider window: bars left and right.
        assert_eq!(letterbox(640, 480, 1000, 480), (180, 0, 640, 480));
        // Taller window: bars above and below.
        assert_eq!(letterbox(640, 480, 640, 800), (0, 160, 640, 480));
        // Side by side (2:1) in a 4:3 window.
        assert_eq!(letterbox(1280, 480, 640, 480), (0, 120, 640, 240));
        assert_eq!(letterbox(640, 480, 0, 0), (0, 0, 0, 0));
    }

    #[test]
    fn blit_scales_into_the_rectangle_only() {
        let src = RgbImage::from_fn(2, 2, |x, y| image::Rgb([if x == 1 { 255 } else { 0 }, if y == 1 { 255 } else { 0 }, 7]));
        let mut dst = vec![0xDEADu32; 6 * 5];
        blit(&src, &mut dst, 6, (1, 1, 4, 4));
        assert_eq!(dst[0], 0xDEAD, "outside the rectangle");
        assert_eq!(dst[6 + 1], to_0rgb([0, 0, 7]), "top-left quarter");
        assert_eq!(dst[6 + 4], to_0rgb([255, 0, 7]), "top-right quarter");
        assert_eq!(dst[4 * 6 + 4], to_0rgb([255, 255, 7]), "bottom-right quarter");
        assert_eq!(dst[4 * 6 + 5], 0xDEAD);
    }

    #[test]
    fn keys_map_to_commands() {
        assert_eq!(key_command(Key::N), Some(Command::NextStyle));
        assert_eq!(key_command(Key::Escape), Some(Command::Quit));
        assert_eq!(key_command(Key::Equal), Some(Command::ScaleUp));
        assert_eq!(key_command(Key::Z), None);
    }
}
