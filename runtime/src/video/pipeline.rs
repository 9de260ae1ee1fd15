//! One conversion as three stages on their own threads, joined by bounded channels so that
//! each keeps the others busy: decode (frames from ffmpeg's stdout), stylize (network,
//! post-processing, smoothing), encode (frames to the other ffmpeg's stdin). The calling
//! thread supervises: it reports progress, watches for Ctrl-C and (with `--strict`) for the
//! decoder's error messages, and on the first failure stops every stage and kills both
//! ffmpeg processes. The decoder's reports of concealed damage are counted ([`Damage`]).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, sync_channel, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::Mutex;
use std::time::Duration;

use image::RgbImage;

use super::damage::{Damage, Decoding, Level};
use super::ffmpeg::{self, FFMPEG};
use super::smooth::{Instability, Smoother};
use crate::batch::StylizeOptions;
use crate::error::{Error, Result};
use crate::imageio::Picture;
use crate::model::StyleModel;

/// Frames waiting between two stages.
const QUEUE: usize = 4;

/// What the stylize stage does besides the network.
pub struct StyleStage<'a> {
    pub model: &'a mut StyleModel,
    pub options: StylizeOptions,
    pub smoother: Option<Smoother>,
    pub measure_instability: bool,
}

/// Frame sizes: what the decoder delivers (and the network sees), what the encoder takes.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub work: (u32, u32),
    pub output: (u32, u32),
}

/// What a finished run gives back.
#[derive(Debug)]
pub struct Finished {
    pub frames: u64,
    pub instability: Option<f64>,
    /// What the decoder concealed (empty for an undamaged input).
    pub damage: Damage,
}

#[derive(Default)]
struct Counts {
    decoded: u64,
    styled: u64,
    encoded: u64,
    instability: Option<f64>,
}

enum Event {
    /// The stylize stage finished its n-th frame.
    Frame(u64),
    /// The decoder printed an error and decoding is strict: the input is refused.
    DecoderError,
    Decoded(Result<u64>),
    Styled(Result<(u64, Option<f64>)>),
    Encoded(Result<u64>),
}

/// The two ffmpeg processes; both are killed and reaped however the run ends.
struct Processes {
    decoder: Child,
    encoder: Child,
    killed: bool,
}

impl Processes {
    fn kill(&mut self) {
        if !self.killed {
            let _ = self.decoder.kill();
            let _ = self.encoder.kill();
            self.killed = true;
        }
    }

    /// Whether a process failed by itself (not because we killed it).
    fn failed_alone(&self, status: ExitStatus) -> bool {
        let killed_by_us = self.killed && status.signal() == Some(9);
        !status.success() && !killed_by_us
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        self.kill();
        let _ = self.decoder.wait();
        let _ = self.encoder.wait();
    }
}

/// Runs one conversion: `decoder` and `encoder` are the ffmpeg commands (see
/// [`ffmpeg::decoder`], [`ffmpeg::encoder`]); `on_frame` gets the number of frames done.
/// Errors name `input` when it is at fault, `output` when writing failed.
#[allow(clippy::too_many_arguments)]
pub fn run(
    input: &Path,
    output: &Path,
    mut decoder: Command,
    mut encoder: Command,
    sizes: Sizes,
    style: StyleStage<'_>,
    decoding: Decoding,
    cancel: &AtomicBool,
    on_frame: &mut dyn FnMut(u64),
) -> Result<Finished> {
    tracing::debug!("decoder: {decoder:?}");
    tracing::debug!("encoder: {encoder:?}");
    let mut decoder = decoder.spawn().map_err(|e| ffmpeg::spawn_error(FFMPEG, e))?;
    let encoder = match encoder.spawn() {
        Ok(child) => child,
        Err(e) => {
            let _ = decoder.kill();
            let _ = decoder.wait();
            return Err(ffmpeg::spawn_error(FFMPEG, e));
        }
    };
    let mut procs = Processes { decoder, encoder, killed: false };
    let (Some(frames_out), Some(decoder_err), Some(frames_in), Some(encoder_err)) =
        (procs.decoder.stdout.take(), procs.decoder.stderr.take(), procs.encoder.stdin.take(), procs.encoder.stderr.take())
    else {
        return Err(Error::Tool("ffmpeg was started without its pipes".into()));
    };

    let stop = &AtomicBool::new(false);
    let damage = &Mutex::new(Damage::default());
    let encoder_lines = &Mutex::new(Vec::<String>::new());
    let (events, event_rx) = mpsc::channel::<Event>();
    let (decoded_tx, decoded_rx) = sync_channel::<RgbImage>(QUEUE);
    let (styled_tx, styled_rx) = sync_channel::<RgbImage>(QUEUE);

    let outcome = std::thread::scope(|scope| {
        let tx = events.clone();
        scope.spawn(move || {
            for raw in BufReader::new(decoder_err).lines() {
                let Ok(raw) = raw else { break };
                let Ok(mut damage) = damage.lock() else { break };
                let line = damage.observe(&raw, input);
                if line.level == Level::Error && decoding == Decoding::Strict {
                    let _ = tx.send(Event::DecoderError);
                }
            }
        });
        scope.spawn(move || collect_lines(encoder_err, encoder_lines));
        let tx = events.clone();
        scope.spawn(move || {
            let _ = tx.send(Event::Decoded(decode(input, frames_out, decoded_tx, sizes.work, stop)));
        });
        let tx = events.clone();
        scope.spawn(move || {
            let result = stylize(style, decoded_rx, styled_tx, &tx, stop);
            let _ = tx.send(Event::Styled(result));
        });
        let tx = events;
        scope.spawn(move || {
            let _ = tx.send(Event::Encoded(encode(output, frames_in, styled_rx, sizes.output)));
        });

        // Supervise until the three stages are over. A failing stage, a decoder error or
        // Ctrl-C stops everything: the flag ends the loops, killing ffmpeg ends the pipes.
        let stop_all = |procs: &mut Processes| {
            stop.store(true, Ordering::SeqCst);
            procs.kill();
        };
        let mut counts = Counts::default();
        let mut first_error: Option<Error> = None;
        let mut stages_left = 3;
        while stages_left > 0 {
            if cancel.load(Ordering::SeqCst) {
                stop_all(&mut procs);
            }
            let event = match event_rx.recv_timeout(Duration::from_millis(50)) {
                Ok(event) => event,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let result = match event {
                Event::Frame(n) => {
                    on_frame(n);
                    continue;
                }
                Event::DecoderError => {
                    stop_all(&mut procs);
                    continue;
                }
                Event::Decoded(r) => r.map(|n| counts.decoded = n),
                Event::Styled(r) => r.map(|(n, instability)| (counts.styled, counts.instability) = (n, instability)),
                Event::Encoded(r) => r.map(|n| counts.encoded = n),
            };
            stages_left -= 1;
            if let Err(e) = result {
                // Later stage errors are mostly echoes of this one (we killed their pipes).
                first_error.get_or_insert(e);
                stop_all(&mut procs);
            }
        }
        // The encoder is finishing the file (moving the index to the front, for mp4):
        // wait for it, still listening for Ctrl-C.
        if wait(&mut procs.encoder, cancel).is_none() {
            stop_all(&mut procs);
        }
        let encoder_status = procs.encoder.wait().unwrap_or_default();
        let decoder_status = procs.decoder.wait().unwrap_or_default();
        (counts, first_error, decoder_status, encoder_status)
    });
    let (counts, first_error, decoder_status, encoder_status) = outcome;

    // The most telling cause first: Ctrl-C, then what ffmpeg said about the input or the
    // output, then what a stage hit first.
    if cancel.load(Ordering::SeqCst) {
        return Err(Error::Interrupted);
    }
    let damage = damage.lock().map(|d| d.clone()).unwrap_or_default();
    if decoding == Decoding::Strict && damage.errors > 0 {
        return Err(Error::VideoDecode { path: input.to_path_buf(), reason: format!("the file is damaged (ffmpeg: {}); without --strict, damaged parts are concealed as players do", damage.messages.join("; ")) });
    }
    if counts.decoded == 0 && !procs.killed {
        // The decoder ended by itself without a frame (the encoder then fails too).
        return Err(Error::VideoDecode { path: input.to_path_buf(), reason: format!("no frame could be decoded{}", damage.said()) });
    }
    if procs.failed_alone(encoder_status) {
        let said = lines(encoder_lines).join("\n");
        let reason = if said.contains("No space left on device") {
            "the disk is full (No space left on device)".to_string()
        } else {
            format!("ffmpeg: {}", ffmpeg::reason(&said, output).unwrap_or_else(|| encoder_status.to_string()))
        };
        return Err(Error::Write { path: output.to_path_buf(), reason });
    }
    if procs.failed_alone(decoder_status) {
        return Err(Error::VideoDecode { path: input.to_path_buf(), reason: format!("ffmpeg stopped decoding ({decoder_status}){}", damage.said()) });
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    let Counts { decoded, styled, encoded, instability } = counts;
    if decoded == 0 {
        return Err(Error::VideoDecode { path: input.to_path_buf(), reason: format!("no frame could be decoded{}", damage.said()) });
    }
    if styled != decoded || encoded != decoded {
        return Err(Error::Write {
            path: output.to_path_buf(),
            reason: format!("frames were lost on the way: {decoded} decoded, {styled} stylized, {encoded} encoded"),
        });
    }
    for line in lines(encoder_lines) {
        tracing::warn!("{}: ffmpeg: {line}", output.display());
    }
    Ok(Finished { frames: decoded, instability, damage })
}

fn lines(store: &Mutex<Vec<String>>) -> Vec<String> {
    store.lock().map(|l| l.clone()).unwrap_or_default()
}

/// Reads a process's stderr to the end, keeping the (last 50) lines.
fn collect_lines(stderr: impl Read, store: &Mutex<Vec<String>>) {
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        if let Ok(mut store) = store.lock() {
            if store.len() == 50 {
                store.remove(0);
            }
            store.push(line);
        }
    }
}

/// Waits for a process, polling `cancel`; `None` when cancelled first.
fn wait(child: &mut Child, cancel: &AtomicBool) -> Option<ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => {}
            Err(_) => return child.wait().ok(),
        }
        if cancel.load(Ordering::SeqCst) {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Decode stage: whole rgb24 frames from the decoder's stdout, until it ends.
fn decode(input: &Path, mut from: impl Read, to: SyncSender<RgbImage>, (w, h): (u32, u32), stop: &AtomicBool) -> Result<u64> {
    let size = w as usize * h as usize * 3;
    let mut frames = 0;
    while !stop.load(Ordering::SeqCst) {
        let mut buf = vec![0u8; size];
        let got = read_full(&mut from, &mut buf)
            .map_err(|e| Error::VideoDecode { path: input.to_path_buf(), reason: format!("reading the decoder's frames: {e}") })?;
        if got == 0 {
            break;
        }
        if got < size {
            return Err(Error::VideoDecode { path: input.to_path_buf(), reason: "the decoder stopped in the middle of a frame".into() });
        }
        let frame = RgbImage::from_raw(w, h, buf).expect("the buffer has the frame's size");
        if to.send(frame).is_err() {
            break;
        }
        frames += 1;
    }
    Ok(frames)
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
fn read_full(from: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match from.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Stylize stage: network and post-processing, then smoothing; measures the instability
/// when asked.
fn stylize(
    mut style: StyleStage<'_>,
    from: Receiver<RgbImage>,
    to: SyncSender<RgbImage>,
    events: &Sender<Event>,
    stop: &AtomicBool,
) -> Result<(u64, Option<f64>)> {
    let mut meter = style.measure_instability.then(Instability::default);
    let mut frames = 0;
    for frame in from {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let picture = Picture { rgb: frame, alpha: None };
        let mut out = style.options.stylize(style.model, &picture)?.rgb;
        if let Some(smoother) = style.smoother.as_mut() {
            out = smoother.apply(&picture.rgb, out);
        }
        if let Some(meter) = meter.as_mut() {
            meter.push(&picture.rgb, &out);
        }
        if to.send(out).is_err() {
            break;
        }
        frames += 1;
        let _ = events.send(Event::Frame(frames));
    }
    Ok((frames, meter.and_then(|m| m.value())))
}

/// Encode stage: frames (padded to the output size) to the encoder's stdin; closing it at
/// the end tells the encoder to finish the file.
fn encode(output: &Path, mut to: impl Write, from: Receiver<RgbImage>, (w, h): (u32, u32)) -> Result<u64> {
    let mut frames = 0;
    for frame in from {
        let frame = pad_to(frame, w, h);
        to.write_all(frame.as_raw()).map_err(|e| Error::Write {
            path: output.to_path_buf(),
            reason: format!("the encoder stopped taking frames ({e})"),
        })?;
        frames += 1;
    }
    to.flush().map_err(|e| Error::Write { path: output.to_path_buf(), reason: e.to_string() })?;
    Ok(frames)
}

/// Grows a frame to `w`x`h` by repeating its last column and row (H.264 4:2:0 needs even
/// sizes; an odd-sized frame gains one).
pub fn pad_to(frame: RgbImage, w: u32, h: u32) -> RgbImage {
    let (fw, fh) = frame.dimensions();
    if (fw, fh) == (w, h) {
        return frame;
    }
    RgbImage::from_fn(w, h, |x, y| *frame.get_pixel(x.min(fw - 1), y.min(fh - 1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_repeats_the_edge() {
        let img = RgbImage::from_fn(3, 1, |x, _| image::Rgb([x as u8 * 10, 0, 0]));
        let padded = pad_to(img.clone(), 4, 2);
        assert_eq!(padded.dimensions(), (4, 2));
        assert_eq!(padded.get_pixel(3, 0).0, [20, 0, 0]);
        assert_eq!(padded.get_pixel(3, 1).0, [20, 0, 0]);
        assert_eq!(pad_to(img.clone(), 3, 1), img);
    }

    #[test]
    fn partial_frames_are_told_apart_from_the_end() {
        let mut data: &[u8] = &[1, 2, 3, 4, 5];
        let mut buf = [0u8; 3];
        assert_eq!(read_full(&mut data, &mut buf).unwrap(), 3);
        assert_eq!(read_full(&mut data, &mut buf).unwrap(), 2);
        assert_eq!(read_full(&mut data, &mut buf).unwrap(), 0);
    }
}
