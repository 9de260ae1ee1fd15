//! `nst video`: video files and folders of them, through ffmpeg.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use indicatif::ProgressBar;
use nst_runtime::logging::bar_style;
use nst_runtime::contract::Variant;
use nst_runtime::logging::count;
use nst_runtime::signals;
use nst_runtime::video::{self, VideoOptions};

use crate::common::{load_model, ModelArgs, PictureArgs};

#[derive(Args)]
pub struct VideoArgs {
    /// Input videos or folders of videos.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output file (.mp4, .m4v, .mov or .mkv; one input) or folder (several inputs, or a folder input).
    #[arg(short, long)]
    output: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    picture: PictureArgs,
    /// H.264 quality: 0 (lossless) to 51 (worst); 18-23 look good.
    #[arg(long, default_value_t = 20, value_name = "0-51")]
    crf: u8,
    /// Reduce flicker, 0 (off) to 1: blend with the previous output frame where the input did not change.
    #[arg(long, default_value_t = 0.0, value_name = "0-1")]
    smooth: f32,
    /// Start at this time (seconds, MM:SS or HH:MM:SS).
    #[arg(long, value_parser = video::parse_time, value_name = "TIME")]
    start: Option<f64>,
    /// Convert only this long (seconds, MM:SS or HH:MM:SS).
    #[arg(long, value_parser = video::parse_time, value_name = "TIME")]
    duration: Option<f64>,
    /// Skip inputs whose output already exists and is complete.
    #[arg(long)]
    skip_existing: bool,
    /// Print the temporal instability of each output (frame-to-frame change of the output over that of the input).
    #[arg(long)]
    report_instability: bool,
    /// Refuse a video with any decoding error; by default damaged parts are concealed as players do and counted in a warning.
    #[arg(long)]
    strict: bool,
}

pub fn run(args: VideoArgs) -> anyhow::Result<ExitCode> {
    let options = VideoOptions {
        image: args.picture.options(),
        crf: args.crf,
        smooth: args.smooth,
        span: video::Span { start: args.start, duration: args.duration },
        measure_instability: args.report_instability,
        decoding: if args.strict { video::Decoding::Strict } else { video::Decoding::Conceal },
    };
    options.validate()?;
    video::check_tools()?;
    let (jobs, failures) = video::plan(&args.inputs, &args.output)?;
    let mut failed: Vec<(PathBuf, String)> = failures.into_iter().map(|f| (f.input, f.error.to_string())).collect();
    for (_, msg) in &failed {
        eprintln!("error: {msg}");
    }
    let total = jobs.len() + failed.len();
    let (mut done, mut skipped) = (0usize, 0usize);
    let cancel = signals::install();
    let interrupted = || cancel.load(std::sync::atomic::Ordering::SeqCst);
    let mut model = None;
    for (i, job) in jobs.iter().enumerate() {
        if interrupted() {
            break;
        }
        let name = job.input.display().to_string();
        let info = match video::probe(&job.input) {
            Ok(info) => info,
            Err(e) => {
                eprintln!("error: {e}");
                failed.push((job.input.clone(), e.to_string()));
                continue;
            }
        };
        if args.skip_existing && video::is_complete(&job.output, &info, &options) {
            eprintln!("skipped {name}: {} is already complete", job.output.display());
            skipped += 1;
            continue;
        }
        let model = match &mut model {
            Some(m) => m,
            None => model.insert(load_model(&args.model, Variant::Full, false)?),
        };
        let expected = video::expected_frames(&info, &options).map(|(n, _)| n);
        let bar = expected.map_or_else(ProgressBar::no_length, ProgressBar::new);
        bar.set_style(bar_style("{prefix}{bar:30} {pos}/{len} frames  {rate}  eta {eta}  {msg}"));
        if jobs.len() > 1 {
            bar.set_prefix(format!("[{}/{}] ", i + 1, jobs.len()));
        }
        bar.set_message(name.clone());
        let result = video::convert(model, &info, &job.output, &options, cancel, |n| bar.set_position(n));
        bar.finish_and_clear();
        match result {
            Ok(c) => {
                done += 1;
                eprintln!(
                    "wrote {} ({}, {}x{}, {:.3} fps) in {:.1} s: {:.2} frames/s",
                    job.output.display(),
                    count(c.frames, "frame", "frames"),
                    c.size.0,
                    c.size.1,
                    c.frame_rate.as_f64(),
                    c.seconds,
                    c.frames as f64 / c.seconds.max(1e-9)
                );
                if !c.damage.is_empty() {
                    tracing::warn!(
                        "{name}: {}; those parts of {} show the decoder's best guess (--strict refuses such files)",
                        c.damage.summary(),
                        job.output.display()
                    );
                }
                if let Some(v) = c.instability {
                    println!("{}: temporal instability {v:.4}", job.output.display());
                }
            }
            Err(nst_runtime::Error::Interrupted) => {
                eprintln!("error: {} while converting {name}; {} was not written", signals::describe(), job.output.display());
                break;
            }
            Err(e) => {
                eprintln!("error: {e}");
                failed.push((job.input.clone(), e.to_string()));
            }
        }
    }
    if interrupted() {
        eprintln!("{}: converted {done} of {total} videos", signals::describe());
        return Ok(ExitCode::from(signals::exit_code()));
    }
    if total > 1 || skipped > 0 {
        eprintln!("converted {done} of {total} videos ({skipped} skipped) into {}", args.output.display());
    }
    if failed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    if total > 1 {
        eprintln!("{} failed:", failed.len());
        for (input, msg) in &failed {
            eprintln!("  {}: {}", input.display(), msg);
        }
    }
    Ok(ExitCode::FAILURE)
}
