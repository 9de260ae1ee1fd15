//! Damaged inputs: how the decoder treats them, and what it said about them.
//!
//! By default a video is decoded as players decode it: ffmpeg conceals a damaged
//! macroblock (from its neighbours and the previous frame) and goes on. Its reports
//! ("concealing 30 DC, 30 AC, 30 MV errors in P frame", "corrupt decoded frame") are
//! counted here and shown once at the end as a warning. A file is refused only when
//! frames cannot be produced (ffmpeg fails, or too few frames arrive; see
//! `video::falls_short`). [`Decoding::Strict`] keeps the old rule: any decoding error
//! refuses the file.
//!
//! The decoder runs with `-loglevel level+info`, so each line carries its level
//! (`[mpeg4 @ 0x55d1] [error] Error at MB: 1516`): errors are told from the concealment
//! notes (level `info`) and from ffmpeg's chatter about streams, which is ignored.

use std::path::Path;

/// How the decoder treats damage in the input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Decoding {
    /// As players do: damaged parts are concealed and reported (the default).
    #[default]
    Conceal,
    /// `--strict`: ffmpeg looks for errors closely (`-err_detect +aggressive`) and any
    /// decoding error refuses the file.
    Strict,
}

/// The level ffmpeg gave a line (with `-loglevel level+...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `panic`, `fatal` or `error`.
    Error,
    Warning,
    /// `info`, `verbose`, `debug`, `trace`, or a line without a level.
    Other,
}

/// One line of ffmpeg's stderr: its level and its text without the `[codec @ 0x...]`
/// and `[level]` tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub level: Level,
    pub text: String,
}

impl Line {
    pub fn parse(raw: &str) -> Line {
        let mut rest = raw.trim();
        let mut level = Level::Other;
        // Tags come first, each "[...] ": the component (`[mpeg4 @ 0x55d1]`), the level.
        while rest.starts_with('[') {
            let Some(end) = rest.find(']') else { break };
            let tag = &rest[1..end];
            match tag {
                "panic" | "fatal" | "error" => level = Level::Error,
                "warning" => level = Level::Warning,
                _ => {}
            }
            rest = rest[end + 1..].trim_start();
        }
        Line { level, text: rest.to_string() }
    }
}

/// What the decoder reported about damage in one input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Damage {
    /// Frames in which the decoder concealed errors ("concealing ... errors").
    pub concealed_frames: u64,
    /// Macroblocks it concealed, summed over those frames.
    pub macroblocks: u64,
    /// Frames it flagged as corrupt ("corrupt decoded frame").
    pub corrupt_frames: u64,
    /// Error lines.
    pub errors: u64,
    /// The first distinct error messages (a few), for the warning or the refusal.
    pub messages: Vec<String>,
}

/// How many distinct messages [`Damage`] keeps.
const KEPT_MESSAGES: usize = 3;

impl Damage {
    /// Takes one stderr line into account; returns it parsed.
    pub fn observe(&mut self, raw: &str, path: &Path) -> Line {
        let mut line = Line::parse(raw);
        let name = path.to_string_lossy();
        if let Some(rest) = line.text.strip_prefix(name.as_ref()).and_then(|r| r.strip_prefix(": ")) {
            line.text = rest.to_string();
        }
        if let Some(mbs) = concealed_macroblocks(&line.text) {
            self.concealed_frames += 1;
            self.macroblocks += mbs;
        } else if line.text.starts_with("corrupt decoded frame") {
            self.corrupt_frames += 1;
        } else if line.level == Level::Error {
            self.errors += 1;
            if self.messages.len() < KEPT_MESSAGES && !self.messages.contains(&line.text) {
                self.messages.push(line.text.clone());
            }
        }
        line
    }

    /// All of `stderr`'s lines (see [`Damage::observe`]).
    pub fn of_text(stderr: &str, path: &Path) -> Damage {
        let mut damage = Damage::default();
        for raw in stderr.lines() {
            damage.observe(raw, path);
        }
        damage
    }

    /// Whether the decoder reported anything.
    pub fn is_empty(&self) -> bool {
        self.concealed_frames == 0 && self.corrupt_frames == 0 && self.errors == 0
    }

    /// The warning for a file that was converted anyway, e.g. "12 damaged macroblocks
    /// concealed in 3 frames (ffmpeg: ac-tex damaged at 3 6)".
    pub fn summary(&self) -> String {
        let count = crate::logging::count;
        let what = if self.concealed_frames > 0 {
            format!("{} concealed in {}", count(self.macroblocks, "damaged macroblock", "damaged macroblocks"), count(self.concealed_frames, "frame", "frames"))
        } else if self.corrupt_frames > 0 {
            format!("{} concealed", count(self.corrupt_frames, "damaged frame", "damaged frames"))
        } else {
            format!("the decoder reported {}", count(self.errors, "error", "errors"))
        };
        format!("{what}{}", self.said())
    }

    /// What ffmpeg said, as a suffix for a message: " (ffmpeg: a; b)", or "" if nothing.
    pub fn said(&self) -> String {
        if self.messages.is_empty() { String::new() } else { format!(" (ffmpeg: {})", self.messages.join("; ")) }
    }
}

/// The macroblocks of a concealment note: "concealing 30 DC, 30 AC, 30 MV errors in I
/// frame" (the largest of the three counts).
fn concealed_macroblocks(text: &str) -> Option<u64> {
    let rest = text.strip_prefix("concealing ")?;
    let counts: Vec<u64> = rest
        .split(',')
        .take(3)
        .filter_map(|part| part.split_whitespace().next().and_then(|n| n.parse().ok()))
        .collect();
    counts.into_iter().max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_told_apart_by_level() {
        let l = Line::parse("[mpeg4 @ 0x55d1] [error] Error at MB: 1516");
        assert_eq!(l, Line { level: Level::Error, text: "Error at MB: 1516".into() });
        assert_eq!(Line::parse("[warning] a.avi: corrupt decoded frame in stream 0").level, Level::Warning);
        assert_eq!(Line::parse("[info] Input #0, avi, from 'a.avi':").level, Level::Other);
        assert_eq!(Line::parse("[h264 @ 0x1] [fatal] boom").level, Level::Error);
        assert_eq!(Line::parse("no tags at all").text, "no tags at all");
    }

    #[test]
    fn concealment_is_counted_and_summarised() {
        let path = Path::new("clip.avi");
        let stderr = "[info] Input #0, avi, from 'clip.avi':\n\
            [mpeg4 @ 0x1] [error] ac-tex damaged at 3 6\n\
            [mpeg4 @ 0x1] [error] Error at MB: 69\n\
            [mpeg4 @ 0x1] [info] concealing 30 DC, 30 AC, 30 MV errors in I frame\n\
            [warning] clip.avi: corrupt decoded frame in stream 0\n\
            [mpeg4 @ 0x1] [error] Error at MB: 69\n\
            [mpeg4 @ 0x1] [info] concealing 2 DC, 5 AC, 2 MV errors in P frame\n";
        let d = Damage::of_text(stderr, path);
        assert_eq!((d.concealed_frames, d.macroblocks, d.corrupt_frames, d.errors), (2, 35, 1, 3));
        assert_eq!(d.messages, ["ac-tex damaged at 3 6", "Error at MB: 69"]);
        assert_eq!(d.summary(), "35 damaged macroblocks concealed in 2 frames (ffmpeg: ac-tex damaged at 3 6; Error at MB: 69)");
        assert!(!d.is_empty());
    }

    #[test]
    fn other_reports_have_their_own_words() {
        let path = Path::new("a.mp4");
        let d = Damage::of_text("[warning] a.mp4: corrupt decoded frame in stream 0\n", path);
        assert_eq!(d.summary(), "1 damaged frame concealed");
        let d = Damage::of_text("[h264 @ 0x2] [error] no frame!\n", path);
        assert_eq!(d.summary(), "the decoder reported 1 error (ffmpeg: no frame!)");
        assert!(Damage::of_text("[info] Stream mapping:\n[warning] deprecated pixel format used\n", path).is_empty());
    }
}
