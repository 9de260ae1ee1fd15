//! A minimal streaming Matroska writer for raw RGB frames with millisecond timestamps:
//! how live frames, which come at an irregular rate, reach ffmpeg with their own times.
//! (Raw frames on a pipe carry no time; ffmpeg would have to stamp them when it reads
//! them, which bunches frames up whenever the pipe holds more than one.)
//!
//! The stream is an EBML header, a Segment and Clusters of unknown size (so nothing has
//! to be patched afterwards), one video track `V_UNCOMPRESSED` with the colour space
//! FourCC `RGB\x18` (ffmpeg's rgb24), and one SimpleBlock per frame.

use std::io::{self, Write};

/// An EBML element: ID bytes, size, payload.
fn element(id: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = id.to_vec();
    out.extend_from_slice(&size(payload.len() as u64));
    out.extend_from_slice(payload);
    out
}

/// An EBML variable-size integer for an element size (the all-ones value of each
/// length is reserved for "unknown", hence the `- 1`).
fn size(n: u64) -> Vec<u8> {
    let len = (1..=8).find(|&l| n < (1u64 << (7 * l)) - 1).expect("element smaller than 2^56");
    let marked = n | (1u64 << (7 * len));
    marked.to_be_bytes()[8 - len..].to_vec()
}

fn uint(id: &[u8], v: u64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take(7).take_while(|&&b| b == 0).count();
    element(id, &bytes[skip..])
}

fn text(id: &[u8], s: &str) -> Vec<u8> {
    element(id, s.as_bytes())
}

/// "Size unknown": the element runs until a parent-level element begins.
const UNKNOWN_SIZE: [u8; 8] = [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
const SEGMENT: [u8; 4] = [0x18, 0x53, 0x80, 0x67];
const CLUSTER: [u8; 4] = [0x1F, 0x43, 0xB6, 0x75];
/// A SimpleBlock's time is an i16 offset from its Cluster's: start a new Cluster well
/// before that runs out.
const CLUSTER_SPAN_MS: u64 = 30_000;

/// Writes frames of `width`x`height` RGB (3 bytes a pixel, row by row).
pub struct MkvWriter<W: Write> {
    out: W,
    frame_bytes: usize,
    cluster_start: Option<u64>,
    last_ms: Option<u64>,
}

impl<W: Write> MkvWriter<W> {
    /// Writes the headers.
    pub fn new(mut out: W, width: u32, height: u32) -> io::Result<Self> {
        let mut head = element(
            &[0x1A, 0x45, 0xDF, 0xA3],
            &[
                uint(&[0x42, 0x86], 1),          // EBMLVersion
                uint(&[0x42, 0xF7], 1),          // EBMLReadVersion
                uint(&[0x42, 0xF2], 4),          // EBMLMaxIDLength
                uint(&[0x42, 0xF3], 8),          // EBMLMaxSizeLength
                text(&[0x42, 0x82], "matroska"), // DocType
                uint(&[0x42, 0x87], 4),          // DocTypeVersion
                uint(&[0x42, 0x85], 2),          // DocTypeReadVersion
            ]
            .concat(),
        );
        head.extend_from_slice(&SEGMENT);
        head.extend_from_slice(&UNKNOWN_SIZE);
        head.extend(element(
            &[0x15, 0x49, 0xA9, 0x66], // Info
            &[uint(&[0x2A, 0xD7, 0xB1], 1_000_000), text(&[0x4D, 0x80], "nst"), text(&[0x57, 0x41], "nst live")].concat(),
        ));
        let video = [uint(&[0xB0], width as u64), uint(&[0xBA], height as u64), element(&[0x2E, 0xB5, 0x24], b"RGB\x18")].concat();
        let track = [
            uint(&[0xD7], 1),                // TrackNumber
            uint(&[0x73, 0xC5], 1),          // TrackUID
            uint(&[0x83], 1),                // TrackType: video
            uint(&[0x9C], 0),                // FlagLacing: off
            text(&[0x86], "V_UNCOMPRESSED"), // CodecID
            element(&[0xE0], &video),        // Video
        ]
        .concat();
        head.extend(element(&[0x16, 0x54, 0xAE, 0x6B], &element(&[0xAE], &track))); // Tracks
        out.write_all(&head)?;
        Ok(Self { out, frame_bytes: (width * height * 3) as usize, cluster_start: None, last_ms: None })
    }

    /// Writes one frame shown at `ms` milliseconds. Times are kept strictly increasing
    /// (a frame at or before the previous one is placed 1 ms after it); returns the time
    /// used.
    pub fn frame(&mut self, ms: u64, rgb: &[u8]) -> io::Result<u64> {
        if rgb.len() != self.frame_bytes {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a frame of {} bytes, expected {}", rgb.len(), self.frame_bytes),
            ));
        }
        let ms = match self.last_ms {
            Some(last) if ms <= last => last + 1,
            _ => ms,
        };
        let start = match self.cluster_start {
            Some(start) if ms - start < CLUSTER_SPAN_MS => start,
            _ => {
                let mut cluster = CLUSTER.to_vec();
                cluster.extend_from_slice(&UNKNOWN_SIZE);
                cluster.extend(uint(&[0xE7], ms)); // Cluster Timestamp
                self.out.write_all(&cluster)?;
                self.cluster_start = Some(ms);
                ms
            }
        };
        // SimpleBlock: track number (EBML vint 1), i16 time offset, flags (keyframe), data.
        let mut block = vec![0xA3];
        block.extend(size(4 + rgb.len() as u64));
        block.push(0x81);
        block.extend_from_slice(&((ms - start) as i16).to_be_bytes());
        block.push(0x80);
        self.out.write_all(&block)?;
        self.out.write_all(rgb)?;
        self.last_ms = Some(ms);
        Ok(ms)
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_use_the_shortest_vint() {
        assert_eq!(size(0), vec![0x80]);
        assert_eq!(size(126), vec![0xFE]);
        assert_eq!(size(127), vec![0x40, 0x7F], "0xFF alone would mean unknown");
        assert_eq!(size(921_604), vec![0x20 | 0x0E, 0x10, 0x04]);
        assert_eq!(uint(&[0xD7], 1), vec![0xD7, 0x81, 0x01]);
        assert_eq!(uint(&[0xE7], 0), vec![0xE7, 0x81, 0x00]);
    }

    #[test]
    fn times_increase_and_clusters_roll_over() {
        let mut w = MkvWriter::new(Vec::new(), 2, 1).unwrap();
        let px = [1u8, 2, 3, 4, 5, 6];
        assert_eq!(w.frame(5, &px).unwrap(), 5);
        assert_eq!(w.frame(5, &px).unwrap(), 6, "same time: moved 1 ms on");
        assert_eq!(w.frame(3, &px).unwrap(), 7);
        assert_eq!(w.frame(40_000, &px).unwrap(), 40_000);
        assert!(w.frame(50_000, &px[..3]).is_err());
        let bytes = w.into_inner();
        let clusters = bytes.windows(4).filter(|win| *win == CLUSTER).count();
        assert_eq!(clusters, 2);
    }
}
