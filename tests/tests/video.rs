//! End-to-end tests of `nst video`: clips made here with ffmpeg (test pattern, sine-wave
//! audio, odd sizes, rotation) go through the built binary with an untrained network on
//! one CPU thread, and what comes out is read back with ffprobe and ffmpeg.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nst_tests::*;

/// A 1.5 s clip at 12 fps: the moving test pattern with a 440 Hz tone, H.264 + AAC.
fn clip_with_audio(s: &Scratch, rel: &str, size: &str) -> std::path::PathBuf {
    s.clip(
        rel,
        &[
            "-f", "lavfi", "-i", &format!("testsrc2=size={size}:rate=12"),
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
            "-t", "1.5", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
        ],
    )
}

fn duration(probe: &serde_json::Value, codec_type: &str) -> f64 {
    number(&stream(probe, codec_type)["duration"])
}

fn frames(probe: &serde_json::Value) -> u64 {
    number(&stream(probe, "video")["nb_frames"]) as u64
}

fn size(probe: &serde_json::Value) -> (u64, u64) {
    let v = stream(probe, "video");
    (v["width"].as_u64().unwrap(), v["height"].as_u64().unwrap())
}

/// Frame count, rate, duration (within one frame) and audio are those of the input.
#[track_caller]
fn assert_same_timing(input: &serde_json::Value, output: &serde_json::Value, frame_count: u64) {
    let rate = stream(input, "video")["r_frame_rate"].as_str().unwrap();
    assert_eq!(stream(output, "video")["r_frame_rate"], rate, "frame rate");
    assert_eq!(frames(output), frame_count, "frame count");
    let (num, den) = rate.split_once('/').unwrap();
    let frame = den.parse::<f64>().unwrap() / num.parse::<f64>().unwrap();
    let (din, dout) = (number(&input["format"]["duration"]), duration(output, "video"));
    assert!((din - dout).abs() <= frame + 1e-3, "duration {dout} vs {din}");
    let (ain, aout) = (number(&input["format"]["duration"]), duration(output, "audio"));
    assert!((ain - aout).abs() <= frame + 1e-3, "audio duration {aout} vs {ain}");
}

#[test]
fn converts_a_clip_keeping_frames_rate_duration_and_sound() {
    let s = Scratch::new();
    let input = clip_with_audio(&s, "in/clip.mp4", "66x50");
    let output = s.path("out/clip.mp4");
    let run = s.video(&[&input], &output, &[]);
    run.assert_ok();
    assert!(run.stderr.contains(&format!("wrote {}", output.display())), "{}", run.stderr);
    assert_eq!(tree(&s.path("out")), paths(["clip.mp4"]), "a temporary file was left behind");

    let (pin, pout) = (ffprobe(&input), ffprobe(&output));
    assert_same_timing(&pin, &pout, 18);
    assert_eq!(stream(&pout, "video")["codec_name"], "h264");
    assert_eq!(stream(&pout, "audio")["codec_name"], "aac", "AAC audio is copied into mp4");
    assert_eq!(stream(&pout, "audio")["bit_rate"], stream(&pin, "audio")["bit_rate"], "audio copied, not re-encoded");
    assert_eq!(size(&pout), (66, 50));
    let (fin, fout) = (video_frames(&input), video_frames(&output));
    assert_eq!(fout.len(), 18);
    let diff = mean_abs_diff(&fin[5], &fout[5]);
    assert!(diff > 5.0, "the output looks like the input (mean difference {diff}): not stylized");
}

#[test]
fn odd_sizes_are_padded_to_even_and_uncopyable_audio_is_reencoded() {
    // 65x49 at 29.97 fps in Matroska (no frame count in the header), lossless FFV1 video
    // and PCM audio, which mp4 cannot hold.
    let s = Scratch::new();
    let input = s.clip(
        "in/odd.mkv",
        &[
            "-f", "lavfi", "-i", "testsrc2=size=66x50:rate=30000/1001,scale=65:49",
            "-f", "lavfi", "-i", "sine=frequency=330:sample_rate=48000",
            "-t", "1", "-c:v", "ffv1", "-c:a", "pcm_s16le",
        ],
    );
    let output = s.path("out/odd.mp4");
    let run = s.video(&[&input], &output, &[]);
    run.assert_ok();
    assert!(run.stderr.contains("66x50"), "the padding should be announced:\n{}", run.stderr);
    let (pin, pout) = (ffprobe(&input), ffprobe(&output));
    assert_eq!(size(&pout), (66, 50), "odd sides grow by one pixel");
    assert_same_timing(&pin, &pout, video_frames(&input).len() as u64);
    assert_eq!(stream(&pout, "video")["r_frame_rate"], "30000/1001");
    assert_eq!(stream(&pout, "audio")["codec_name"], "aac", "PCM is re-encoded to AAC for mp4");

    // The padding repeats the last column and row.
    let frame = &video_frames(&output)[3];
    let d = (0..49).map(|y| frame.get_pixel(64, y).0[1].abs_diff(frame.get_pixel(65, y).0[1]) as u32).sum::<u32>() / 49;
    assert!(d <= 12, "the added column should repeat the last one (mean green difference {d})");
}

#[test]
fn rotation_is_applied_and_the_frames_are_the_inputs() {
    // A model that returns its input: the output must be the input as shown, frame for
    // frame (no rotation lost, no frame shifted), up to H.264's losses.
    let s = Scratch::new();
    let plain = clip_with_audio(&s, "in/plain.mp4", "66x50");
    let rotated = s.path("in/rotated.mp4");
    let mut tag = Command::new("ffmpeg");
    tag.args(["-nostdin", "-v", "error", "-y", "-i"]).arg(&plain);
    tag.args(["-c", "copy", "-metadata:s:v:0", "rotate=90"]).arg(&rotated);
    Run::of(&mut tag).assert_ok();
    assert_eq!(video_frames(&rotated)[0].dimensions(), (50, 66), "the test clip should be tagged as rotated");

    let model = s.write("identity.onnx", onnx_identity(NST_METADATA));
    let output = s.path("out/rotated.mp4");
    let mut cmd = s.video_command(&model, &[&rotated], &output);
    cmd.args(["--crf", "10"]);
    Run::of(&mut cmd).assert_ok();

    let pout = ffprobe(&output);
    assert_eq!(size(&pout), (50, 66), "the output is written upright");
    assert!(stream(&pout, "video")["side_data_list"].is_null(), "no rotation left on the output: {pout}");
    assert_same_timing(&ffprobe(&rotated), &pout, 18);
    let (fin, fout) = (video_frames(&rotated), video_frames(&output));
    assert_eq!(fin.len(), fout.len());
    for (i, (a, b)) in fin.iter().zip(&fout).enumerate() {
        let d = mean_abs_diff(a, b);
        assert!(d < 4.0, "frame {i} differs from the input by {d} on average");
    }
}

#[test]
fn start_and_duration_cut_video_and_audio_alike() {
    let s = Scratch::new();
    let input = clip_with_audio(&s, "in/clip.mp4", "66x50");
    for name in ["part.mkv", "part.mp4"] {
        let output = s.path(format!("out/{name}"));
        s.video(&[&input], &output, &["--start", "0.5", "--duration", "0.75"]).assert_ok();
        let pout = ffprobe(&output);
        assert_eq!(video_frames(&output).len(), 9, "{name}: 0.75 s at 12 fps");
        for codec_type in ["video", "audio"] {
            let st = stream(&pout, codec_type);
            // Within a frame (AAC's encoder delay can shift the start a little).
            assert!(number(&st["start_time"]).abs() < 0.08, "{name}: the {codec_type} should start at 0: {pout}");
        }
        assert!((number(&pout["format"]["duration"]) - 0.75).abs() < 0.05, "{name}: {pout}");
        assert_eq!(stream(&pout, "audio")["codec_name"], "aac");
    }
}

/// Asserts a failed run reported `named` in one error line and left no file in `dir`.
#[track_caller]
fn assert_refused(run: &Run, named: &Path, dir: &Path) -> String {
    let line = run.assert_one_error(&named.display().to_string()).to_string();
    let left = tree(dir);
    assert!(left.is_empty(), "files left behind in {}: {left:?}\n{}", dir.display(), run.stderr);
    line
}

#[test]
fn damaged_and_truncated_inputs_are_refused_with_nothing_left_behind() {
    let s = Scratch::new();
    let good = clip_with_audio(&s, "in/good.mp4", "66x50");
    let bytes = std::fs::read(&good).unwrap();
    // mp4 from ffmpeg keeps its index at the end: half a file has none.
    let cut = s.write("in/cut.mp4", &bytes[..bytes.len() / 2]);
    // With the index in front, half a file opens but its frames run out.
    let faststart = s.path("in/faststart.mp4");
    let mut remux = Command::new("ffmpeg");
    remux.args(["-nostdin", "-v", "error", "-i"]).arg(&good).args(["-c", "copy", "-movflags", "+faststart"]).arg(&faststart);
    Run::of(&mut remux).assert_ok();
    let bytes = std::fs::read(&faststart).unwrap();
    let cut_faststart = s.write("in/cut_faststart.mp4", &bytes[..bytes.len() / 2]);
    let text = s.write("in/notes.mp4", "not a video at all\n");
    // A photo is not a one-frame video.
    let photo = s.image("in/photo.jpg", pattern(64, 48));
    let empty = s.write("in/empty.mp4", "");

    let mut cases = vec![
        (cut, "moov atom not found"),
        (cut_faststart, "truncated"),
        (text, "cannot read the video"),
        (empty, "empty"),
        (photo, "still image"),
    ];
    // A cut AVI (MPEG-4 + AC3, no index left): half of its frames are gone.
    let avi = mpeg4_ac3_avi(&s, "in/whole.avi");
    let bytes = std::fs::read(&avi).unwrap();
    cases.push((s.write("in/cut.avi", &bytes[..bytes.len() / 2]), "announces 30 frames, only"));
    for (input, why) in cases {
        let out_dir = s.mkdir(format!("out-{}", input.file_stem().unwrap().to_string_lossy()));
        let run = s.video(&[&input], &out_dir.join("result.mp4"), &["--max-size", "96"]);
        let line = assert_refused(&run, &input, &out_dir);
        assert!(line.contains(why), "{} should be refused because {why:?}:\n{}", input.display(), run.stderr);
    }
}

/// A 3 s MPEG-4 part 2 AVI with AC3 sound at 10 fps, 160x120 (the kind of file that
/// old cameras and sample sites give out).
fn mpeg4_ac3_avi(s: &Scratch, rel: &str) -> std::path::PathBuf {
    s.clip(
        rel,
        &[
            "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", "3", "-c:v", "mpeg4", "-q:v", "5", "-c:a", "ac3", "-shortest",
        ],
    )
}

/// (position, size) in the file of each packet of a stream type, from ffprobe.
fn packets(path: &Path, codec_type: &str) -> Vec<(usize, usize)> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "packet=codec_type,pos,size", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f.first() == Some(&codec_type)).then(|| (f[2].parse().unwrap(), f[1].parse().unwrap()))
        })
        .collect()
}

#[test]
fn damaged_clips_are_concealed_with_a_warning_and_refused_with_strict() {
    let s = Scratch::new();
    let avi = mpeg4_ac3_avi(&s, "in/clip.avi");
    // Garble the middle third of the video packet in the middle of the stream.
    let mut bytes = std::fs::read(&avi).unwrap();
    let video = packets(&avi, "video");
    assert_eq!(video.len(), 30);
    let (pos, size) = video[15];
    for i in (pos + size / 3..pos + 2 * size / 3).step_by(7) {
        bytes[i] ^= 0x5a;
    }
    let damaged = s.write("in/damaged.avi", &bytes);

    // As players do: converted, every frame there, the sound kept, one warning with counts.
    let output = s.path("out/damaged.mp4");
    let run = s.video(&[&damaged], &output, &[]);
    run.assert_ok();
    let warning = run.stderr.lines().find(|l| l.contains("concealed in")).unwrap_or_else(|| panic!("no warning:\n{}", run.stderr));
    assert!(warning.contains("damaged macroblocks concealed in 1 frame") && warning.contains("--strict"), "{warning}");
    assert_eq!(run.stderr.matches("concealed in").count(), 1, "one warning at the end:\n{}", run.stderr);
    let pout = ffprobe(&output);
    assert_eq!(frames(&pout), 30);
    assert_eq!(stream(&pout, "audio")["codec_name"], "ac3", "AC3 is copied into mp4");
    assert_eq!(tree(&s.path("out")), paths(["damaged.mp4"]));

    // --strict refuses it, leaving nothing.
    let out_dir = s.mkdir("strict");
    let run = s.video(&[&damaged], &out_dir.join("damaged.mp4"), &["--strict"]);
    let line = assert_refused(&run, &damaged, &out_dir);
    assert!(line.contains("damaged") && line.contains("without --strict"), "{line}");

    // The last audio packet cut in half (and the index lost): the video's frames and the
    // sound up to the cut are still converted; the cut packet is copied, not dropped.
    let bytes = std::fs::read(&avi).unwrap();
    let audio = packets(&avi, "audio");
    let (pos, size) = *audio.last().unwrap();
    let cut = s.write("in/cut_audio.avi", &bytes[..pos + size / 2]);
    let output = s.path("out/cut_audio.mp4");
    s.video(&[&cut], &output, &[]).assert_ok();
    let pout = ffprobe(&output);
    assert_eq!(frames(&pout), 30);
    let audio_out = duration(&pout, "audio");
    assert!((audio_out - 3.0).abs() < 0.04, "the sound should run to the cut (3 s), got {audio_out} s");
}

/// Megamind_bugy.avi, "a deliberately damaged MPEG-4 file": decoded as players decode it,
/// ffmpeg reports nothing about it and gives all 270 frames, so it converts without a
/// warning; only its closest reading (`--strict`, `-err_detect +aggressive`) finds an
/// error (at macroblock 1516, a marker that does not match), and refuses it.
#[test]
fn the_shared_damaged_file_converts_and_strict_refuses_it() {
    let Some(megamind) = shared_dir().map(|d| d.join("videos/Megamind_bugy.avi")).filter(|p| p.is_file()) else {
        eprintln!("shared/videos/Megamind_bugy.avi is missing: not run");
        return;
    };
    let s = Scratch::new();
    let output = s.path("out/megamind.mp4");
    let run = s.video(&[&megamind], &output, &["--max-size", "96"]);
    run.assert_ok();
    assert!(!run.stderr.contains("concealed") && !run.stderr.contains("decoder"), "no damage warning expected:\n{}", run.stderr);
    assert_eq!(frames(&ffprobe(&output)), 270);
    let out_dir = s.mkdir("strict");
    let run = s.video(&[&megamind], &out_dir.join("megamind.mp4"), &["--max-size", "96", "--strict"]);
    let line = assert_refused(&run, &megamind, &out_dir);
    // The first thing the decoder says (it is stopped at once, so the rest may not come).
    assert!(line.contains("the file is damaged (ffmpeg: Error at MB: 1516"), "{line}");
}

#[test]
fn missing_ffmpeg_is_reported() {
    let s = Scratch::new();
    let input = s.write("in/a.mp4", "x");
    let empty_path = s.mkdir("no-tools");
    let mut cmd = s.video_command(s.model(), &[&input], &s.path("out/a.mp4"));
    cmd.env("PATH", &empty_path);
    let run = Run::of(&mut cmd);
    let line = run.assert_one_error("ffmpeg not found");
    assert!(line.contains("apt-get install ffmpeg"), "{line}");
    assert!(!s.path("out").exists());
}

#[test]
fn batch_goes_on_past_failures_and_skips_complete_outputs() {
    let s = Scratch::new();
    let a = clip_with_audio(&s, "in/a.mp4", "64x48");
    let b = clip_with_audio(&s, "in/sub/b.mov", "64x48");
    let bytes = std::fs::read(&a).unwrap();
    let bad = s.write("in/bad.mp4", &bytes[..bytes.len() / 3]);
    s.write("in/readme.txt", "not a video");
    let out = s.path("out");

    let run = s.video(&[&s.path("in")], &out, &[]);
    assert!(!run.success, "a failed file makes the batch fail:\n{}", run.stderr);
    assert_eq!(tree(&out), paths(["a.mp4", "sub", "sub/b.mov"]));
    assert!(run.stderr.contains("converted 2 of 3 videos"), "{}", run.stderr);
    assert!(run.stderr.contains("1 failed:"), "{}", run.stderr);
    let listed = run.stderr.lines().skip_while(|l| !l.contains("failed:")).collect::<Vec<_>>().join("\n");
    assert!(listed.contains(&bad.display().to_string()), "the summary should list {}:\n{}", bad.display(), run.stderr);

    // Again with --skip-existing: the complete outputs stay as they are; an incomplete
    // one (here: cut short by someone) is converted again.
    let b_out = out.join("sub/b.mov");
    let b_time = std::fs::metadata(&b_out).unwrap().modified().unwrap();
    let a_out = out.join("a.mp4");
    let a_bytes = std::fs::read(&a_out).unwrap();
    std::fs::write(&a_out, &a_bytes[..a_bytes.len() / 2]).unwrap();
    std::fs::remove_file(&bad).unwrap();
    let run = s.video(&[&s.path("in")], &out, &["--skip-existing"]);
    run.assert_ok();
    assert!(run.stderr.contains(&format!("skipped {}", b.display())), "{}", run.stderr);
    assert!(!run.stderr.contains(&format!("skipped {}", a.display())), "{}", run.stderr);
    assert_eq!(std::fs::metadata(&b_out).unwrap().modified().unwrap(), b_time, "a complete output was rewritten");
    assert_eq!(frames(&ffprobe(&a_out)), 18, "the cut output was converted again");
}

#[test]
fn smoothing_lowers_the_instability() {
    // The test pattern with grain that changes every frame, as a camera's: the network
    // turns the grain into shimmering texture; --smooth calms it where nothing moves.
    let s = Scratch::new();
    let input = s.clip(
        "in/grain.mp4",
        &[
            "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=12,noise=alls=12:allf=t",
            "-t", "1.5", "-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p",
        ],
    );
    let frames_in = video_frames(&input);
    let mut measured = Vec::new();
    for smooth in ["0", "0.8"] {
        let output = s.path(format!("out/smooth{smooth}.mp4"));
        let run = s.video(&[&input], &output, &["--smooth", smooth, "--report-instability", "--crf", "12"]);
        run.assert_ok();
        assert!(run.stdout.contains("temporal instability"), "{}", run.stdout);
        let value = nst_runtime::video::instability(&frames_in, &video_frames(&output)).expect("the input changes");
        eprintln!("--smooth {smooth}: instability {value:.3} (reported: {})", run.stdout.trim());
        measured.push(value);
    }
    assert!(measured[1] < 0.85 * measured[0], "--smooth 0.8 should cut the instability: {measured:?}");
}

#[test]
fn ctrl_c_stops_cleanly_with_nothing_left_behind() {
    let s = Scratch::new();
    let input = s.clip(
        "in/long.mp4",
        &["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "60", "-c:v", "libx264", "-preset", "ultrafast"],
    );
    let out_dir = s.mkdir("out");
    let child = s
        .video_command(s.model(), &[&input], &out_dir.join("long.mp4"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start nst");
    // Wait until the conversion is under way (its temporary output exists).
    let started = Instant::now();
    while tree(&out_dir).is_empty() {
        assert!(started.elapsed() < Duration::from_secs(60), "the conversion did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    Run::of(Command::new("kill").args(["-INT", &child.id().to_string()])).assert_ok();
    let out = child.wait_with_output().expect("wait for nst");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "exit status after Ctrl-C:\n{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(tree(&out_dir).is_empty(), "left behind: {:?}", tree(&out_dir));
}

#[test]
fn full_disk_is_reported_with_nothing_left_behind() {
    let s = Scratch::new();
    let input = s.clip(
        "in/big.mp4",
        &["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "3", "-c:v", "libx264", "-preset", "ultrafast"],
    );
    let Some(disk) = SmallDisk::mount(s.mkdir("full"), "1m", false) else {
        eprintln!("cannot mount a small tmpfs (not root?): the full-disk case is not run");
        return;
    };
    // Lossless: far more than 1 MiB.
    let run = s.video(&[&input], &disk.0.join("big.mp4"), &["--crf", "0"]);
    let line = assert_refused(&run, &disk.0.join("big.mp4"), &disk.0);
    assert!(line.contains("No space left on device"), "{line}");
}
