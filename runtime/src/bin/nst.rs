//! `nst`: stylize images with trained style networks.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use nst_runtime::batch::{self, StylizeOptions};
use nst_runtime::bundled;
use nst_runtime::contract::Variant;
use nst_runtime::logging::count;
use nst_runtime::imageio;
use nst_runtime::ep::Provider;
use nst_runtime::live;
use nst_runtime::sheet;
use nst_runtime::model::{SessionConfig, StyleModel};
use nst_runtime::video::{self, VideoOptions};

/// Neural style transfer: turn photos into paintings with trained style networks.
#[derive(Parser)]
#[command(name = "nst", version, about)]
struct Cli {
    #[command(flatten)]
    log: nst_runtime::logging::LogArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Stylize one image or many (files and folders).
    Stylize(StylizeArgs),
    /// Stylize video files (one, several, or folders of them) through ffmpeg.
    Video(VideoArgs),
    /// Stylize a camera, a video file or a test pattern live, in a window (or headless).
    ///
    /// Keys in the window: n/p next/previous style, +/- inference scale (detail or speed),
    /// m mirror, o original side by side, s snapshot (PNG), r start/stop recording,
    /// f overlay (FPS, latency), q or Esc quit. The window can be resized.
    Live(LiveArgs),
    /// List the cameras with their formats and resolutions.
    Devices {
        /// Print JSON instead of a list.
        #[arg(long)]
        json: bool,
    },
    /// List the bundled style models.
    Styles {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Render one photo in every bundled style (or those given) as a labelled contact sheet, the original first.
    Sheet(SheetArgs),
}

#[derive(Args)]
struct SheetArgs {
    /// The photo.
    photo: PathBuf,
    /// Output image (.png, .jpg, .webp, ...).
    #[arg(short, long)]
    output: PathBuf,
    /// Styles to show, comma-separated (bundled names or .onnx paths) [default: every trained bundled style].
    #[arg(long, value_delimiter = ',')]
    styles: Vec<String>,
    /// Longer side of each picture on the sheet.
    #[arg(long, default_value_t = 384, value_name = "N")]
    size: u32,
    /// Pictures per row [default: a compact grid, at most 4].
    #[arg(long)]
    columns: Option<usize>,
    /// Variant of the bundled styles: full or fast.
    #[arg(long, value_enum, default_value = "full")]
    variant: Variant,
    /// Execution provider.
    #[arg(long, value_enum, default_value_t = Provider::Auto)]
    ep: Provider,
    /// Inference threads [default: one per physical core].
    #[arg(long, value_parser = parse_threads)]
    threads: Option<usize>,
}

#[derive(Args)]
struct ModelArgs {
    /// Model: a bundled style (see `nst styles`; case and a trailing .onnx do not matter)
    /// or a path to an .onnx file [default: vg_starry_night].
    #[arg(short, long)]
    model: Option<String>,
    /// Variant of a bundled style: full (best quality) or fast (real time on a CPU)
    /// [default: fast for `nst live`, full otherwise].
    #[arg(long, value_enum)]
    variant: Option<Variant>,
    /// Execution provider. An explicitly requested one that cannot start is an error.
    #[arg(long, value_enum, default_value_t = Provider::Auto)]
    ep: Provider,
    /// Inference threads [default: one per physical core].
    #[arg(long, value_parser = parse_threads)]
    threads: Option<usize>,
}

#[derive(Args)]
struct StylizeArgs {
    /// Input images or folders of images.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output file (one input) or folder (several inputs, or a folder input).
    #[arg(short, long)]
    output: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
    /// Downscale so the longer side is at most N pixels before stylizing.
    #[arg(long, value_name = "N")]
    max_size: Option<u32>,
    /// Blend with the original: 1 = fully stylized, 0 = unchanged.
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    strength: f32,
    /// Keep the photo's colours: stylized luminance, original chroma.
    #[arg(long)]
    preserve_color: bool,
}

#[derive(Args)]
struct VideoArgs {
    /// Input videos or folders of videos.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output file (.mp4, .m4v, .mov or .mkv; one input) or folder (several inputs, or a folder input).
    #[arg(short, long)]
    output: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
    /// Downscale so the longer side is at most N pixels (sides rounded to even numbers).
    #[arg(long, value_name = "N")]
    max_size: Option<u32>,
    /// Blend with the original: 1 = fully stylized, 0 = unchanged.
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    strength: f32,
    /// Keep the video's colours: stylized luminance, original chroma.
    #[arg(long)]
    preserve_color: bool,
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    nst_runtime::logging::init(cli.log, "info,ort=warn");
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Stylize(args) => stylize(args),
        Command::Video(args) => video_command(args),
        Command::Live(args) => live_command(args),
        Command::Devices { json } => devices(json),
        Command::Styles { json } => styles(json),
        Command::Sheet(args) => sheet(args),
    }
}

/// Loads `--model` in `--variant`, or in `default` when none is given (then a style
/// without that variant falls back to its other one, with a warning).
fn load_model(args: &ModelArgs, default: Variant) -> anyhow::Result<StyleModel> {
    let variant = args.variant.unwrap_or(default);
    let resolved = bundled::resolve(args.model.as_deref(), variant, args.variant.is_none())?;
    let path = resolved.path().to_path_buf();
    let config = SessionConfig { provider: args.ep, threads: args.threads };
    let model = StyleModel::load(&path, &config)?;
    let info = model.info();
    if !info.trained {
        tracing::warn!(
            "{} is an untrained (randomly initialised) network: the output shows the pipeline working, not a painting style",
            path.display()
        );
    }
    tracing::info!("model: {} ({} variant, {}, on {})", info.style_name, info.variant, path.display(), model.provider());
    Ok(model)
}

fn stylize(args: StylizeArgs) -> anyhow::Result<ExitCode> {
    let options = StylizeOptions { max_size: args.max_size, strength: args.strength, preserve_color: args.preserve_color };
    options.validate()?;
    let (jobs, failures) = batch::plan(&args.inputs, &args.output)?;
    let mut failed: Vec<String> = failures.into_iter().map(|f| f.error.to_string()).collect();
    for msg in &failed {
        eprintln!("error: {msg}");
    }
    let total = jobs.len() + failed.len();
    let mut done = 0usize;
    if !jobs.is_empty() {
        let mut model = load_model(&args.model, Variant::Full)?;
        let bar = if jobs.len() > 1 { ProgressBar::new(jobs.len() as u64) } else { ProgressBar::hidden() };
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} images  {per_sec}  eta {eta}  {msg}")
                .context("progress bar template")?,
        );
        batch::run(&mut model, jobs, &options, |outcome| {
            bar.inc(1);
            match &outcome.result {
                Ok(()) => {
                    done += 1;
                    bar.set_message(outcome.job.input.display().to_string());
                    tracing::debug!("{} -> {}", outcome.job.input.display(), outcome.job.output.display());
                }
                Err(e) => {
                    bar.suspend(|| eprintln!("error: {e}"));
                    failed.push(e.to_string());
                }
            }
        });
        bar.finish_and_clear();
    }
    if total == 1 && failed.is_empty() {
        eprintln!("wrote {}", args.output.display());
    } else {
        eprintln!("stylized {done} of {} into {}", count(total as u64, "image", "images"), args.output.display());
    }
    if failed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    if total > 1 {
        eprintln!("{} failed:", failed.len());
        for msg in &failed {
            eprintln!("  {msg}");
        }
    }
    Ok(ExitCode::FAILURE)
}

fn video_command(args: VideoArgs) -> anyhow::Result<ExitCode> {
    let options = VideoOptions {
        image: StylizeOptions { max_size: args.max_size, strength: args.strength, preserve_color: args.preserve_color },
        crf: args.crf,
        smooth: args.smooth,
        span: video::Span { start: args.start, duration: args.duration },
        measure_instability: args.report_instability,
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
    let cancel = video::interrupt_flag();
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
            None => model.insert(load_model(&args.model, Variant::Full)?),
        };
        let expected = video::expected_frames(&info, &options).map(|(n, _)| n);
        let bar = expected.map_or_else(ProgressBar::no_length, ProgressBar::new);
        bar.set_style(
            ProgressStyle::with_template("{prefix}{bar:30} {pos}/{len} frames  {per_sec}  eta {eta}  {msg}")
                .context("progress bar template")?,
        );
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
                    "wrote {} ({} frames, {}x{}, {:.3} fps) in {:.1} s: {:.2} frames/s",
                    job.output.display(),
                    c.frames,
                    c.size.0,
                    c.size.1,
                    c.frame_rate.as_f64(),
                    c.seconds,
                    c.frames as f64 / c.seconds.max(1e-9)
                );
                if let Some(v) = c.instability {
                    println!("{}: temporal instability {v:.4}", job.output.display());
                }
            }
            Err(nst_runtime::Error::Interrupted) => {
                eprintln!("error: interrupted while converting {name}; {} was not written", job.output.display());
                break;
            }
            Err(e) => {
                eprintln!("error: {e}");
                failed.push((job.input.clone(), e.to_string()));
            }
        }
    }
    if interrupted() {
        eprintln!("interrupted: converted {done} of {total} videos");
        return Ok(ExitCode::from(130));
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

fn styles(json: bool) -> anyhow::Result<ExitCode> {
    let styles = bundled::list();
    let infos: Vec<_> = styles.iter().map(|s| StyleModel::read_info(&s.path)).collect();
    let broken = infos.iter().filter(|i| i.is_err()).count();
    if json {
        // One row per model file; a style's variants share its name.
        let rows: Vec<serde_json::Value> = styles
            .iter()
            .zip(&infos)
            .map(|(s, info)| {
                let mut row = serde_json::json!({
                    "name": s.name,
                    "variant": s.variant.name(),
                    "speed": s.variant.speed_class(),
                    "select": format!("--model {} --variant {}", s.name, s.variant),
                    "path": s.path,
                    "bytes": s.bytes,
                    "default": s.name == bundled::DEFAULT_STYLE,
                });
                match info {
                    Ok(i) => {
                        row["painting"] = serde_json::json!(i.painting);
                        row["style_image"] = serde_json::json!(i.style_image);
                        row["trained"] = serde_json::json!(i.trained);
                        row["architecture"] = serde_json::json!(i.architecture);
                        if i.variant != s.variant {
                            row["warning"] = serde_json::json!(format!("the file name says {} but the model is {}", s.variant, i.variant));
                        }
                    }
                    Err(e) => row["error"] = serde_json::json!(e.to_string()),
                }
                row
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else if styles.is_empty() {
        println!("no bundled styles found (looked in {})", bundled::searched());
    } else {
        let width = styles.iter().map(|s| s.name.len()).max().unwrap_or(0).max(4);
        println!("{:<width$}  {:<19}  {:>7}  painting", "name", "variant", "size");
        for (s, info) in styles.iter().zip(&infos) {
            let default = if s.name == bundled::DEFAULT_STYLE { "  (default)" } else { "" };
            let about = match info {
                Ok(i) if !i.trained => "untrained network (pipeline check only)".to_string(),
                Ok(i) => i.painting.clone().or_else(|| i.style_image.clone()).unwrap_or_else(|| i.style_name.clone()),
                Err(e) => format!("unreadable: {e}"),
            };
            let variant = format!("{} ({})", s.variant, s.variant.speed_class());
            println!("{:<width$}  {variant:<19}  {:>4.1} MB  {about}{default}", s.name, s.bytes as f64 / 1e6);
        }
        let names = bundled::style_names(&styles);
        if let Some(dir) = bundled::weights_dir() {
            let n = names.len();
            println!("({} in {}; pick one with --model NAME, and --variant full|fast)", count(n as u64, "style", "styles"), dir.display());
        }
    }
    Ok(if broken > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn sheet(args: SheetArgs) -> anyhow::Result<ExitCode> {
    if args.size < 16 {
        anyhow::bail!("--size must be at least 16 pixels, got {}", args.size);
    }
    if args.columns == Some(0) {
        anyhow::bail!("--columns must be at least 1");
    }
    if args.output.exists() && std::fs::canonicalize(&args.output).ok() == std::fs::canonicalize(&args.photo).ok() {
        anyhow::bail!("{}: the output would overwrite the photo; choose another -o", args.output.display());
    }
    imageio::OutputFormat::from_path(&args.output)?;
    let photo = imageio::load_rgb(&args.photo)?;
    let (w, h) = imageio::fit_size(photo.width(), photo.height(), args.size);
    let photo = imageio::resize(&photo, w, h);
    // Every bundled style unless a list is given (untrained networks are left out below);
    // listed names must resolve.
    let all_bundled = args.styles.is_empty();
    let variant = args.variant;
    let mut failed = Vec::new();
    if let Some(i) = args.styles.iter().position(|s| s.trim().is_empty()) {
        anyhow::bail!("--styles has an empty entry (position {}): list names separated by single commas, e.g. udnie,wave_crop", i + 1);
    }
    let specs: Vec<(String, std::path::PathBuf)> = if all_bundled {
        bundled::list_variant(variant).into_iter().map(|s| (s.name, s.path)).collect()
    } else {
        let mut specs = Vec::new();
        for s in &args.styles {
            // A name that matches nothing is reported and left out, like a missing file.
            match bundled::resolve(Some(s), variant, false) {
                Ok(r) => specs.push((s.clone(), r.path().to_path_buf())),
                Err(e) => {
                    eprintln!("error: {e}");
                    failed.push(s.clone());
                }
            }
        }
        specs
    };
    if specs.is_empty() && failed.is_empty() {
        anyhow::bail!("no {variant} styles found (looked in {}); pass --styles", bundled::searched());
    }
    let mut tiles = vec![sheet::Tile { image: photo.clone(), title: "original".into(), subtitle: args.photo.file_name().map(|n| n.to_string_lossy().into_owned()) }];
    let bar = ProgressBar::new(specs.len() as u64);
    bar.set_style(ProgressStyle::with_template("{bar:30} {pos}/{len} styles  eta {eta}  {msg}").context("progress bar template")?);
    let config = SessionConfig { provider: args.ep, threads: args.threads };
    for (name, path) in &specs {
        bar.set_message(name.clone());
        let result = StyleModel::load(path, &config).and_then(|mut m| {
            let info = m.info().clone();
            // An untrained network is not a style: shown only when asked for by name.
            let image = if info.trained || !all_bundled { Some(m.stylize(&photo)?) } else { None };
            Ok((image, info))
        });
        match result {
            Ok((None, _)) => {}
            Ok((Some(image), info)) => {
                let subtitle = info.painting.or(info.style_image);
                tiles.push(sheet::Tile { image, title: name.clone(), subtitle });
            }
            Err(e) => {
                bar.suspend(|| eprintln!("error: {name}: {e}"));
                failed.push(name.clone());
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    if tiles.len() == 1 && failed.is_empty() {
        anyhow::bail!("no trained styles found (looked in {}); pass --styles", bundled::searched());
    }
    if tiles.len() == 1 {
        // Each failure has had its error line; this only says what happened to the sheet.
        eprintln!("no style could be applied: {} not written", args.output.display());
        return Ok(ExitCode::FAILURE);
    }
    let columns = args.columns.unwrap_or_else(|| sheet::default_columns(tiles.len()));
    imageio::save_rgb(&args.output, &sheet::compose(&tiles, columns))?;
    eprintln!("wrote {} ({})", args.output.display(), count(tiles.len() as u64 - 1, "style", "styles"));
    if failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("{} failed and {} missing from the sheet: {}", count(failed.len() as u64, "style", "styles"), if failed.len() == 1 { "is" } else { "are" }, failed.join(", "));
        Ok(ExitCode::FAILURE)
    }
}

#[derive(Args)]
struct LiveArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Frames from: camera or camera:N (see `nst devices`), a video file (played in real time), or test (a moving pattern).
    #[arg(long, default_value = "camera:0", value_parser = parse_source, value_name = "camera:N|FILE|test")]
    source: live::SourceSpec,
    /// Capture size: what the camera is asked for, the test pattern's size, the box a video is scaled into.
    #[arg(long, default_value = "640x480", value_parser = live::parse_resolution, value_name = "WxH")]
    resolution: (u32, u32),
    /// Frame rate of the test pattern.
    #[arg(long, default_value_t = 30.0, value_name = "FPS")]
    test_fps: f64,
    /// No window: run the pipeline, print FPS and latency at the end (use with --frames and --record).
    #[arg(long)]
    headless: bool,
    /// Stop after N frames shown (or recorded, headless).
    #[arg(long, value_name = "N")]
    frames: Option<u64>,
    /// Record the stylized frames to this file (.mp4, .m4v, .mov or .mkv) from the start; `r` toggles recording.
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// Inference scale, 0.25 to 1: smaller is faster and less detailed (`+`/`-` change it).
    #[arg(long, default_value_t = 1.0)]
    scale: f32,
    /// Mirror the picture (`m` toggles).
    #[arg(long)]
    mirror: bool,
    /// Show the original beside the stylized picture (`o` toggles).
    #[arg(long)]
    side_by_side: bool,
    /// Start with the FPS/latency overlay hidden (`f` toggles).
    #[arg(long)]
    no_overlay: bool,
    /// Folder for snapshots (`s`) and recordings started with `r`.
    #[arg(long, default_value = ".", value_name = "DIR")]
    snapshot_dir: PathBuf,
    /// Load only --model, not every bundled style (starts faster; n/p have nothing to switch to).
    #[arg(long)]
    one_style: bool,
    /// Print the figures as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Benchmark: time the network alone on --frames frames of the source (default 30), no pipeline, and exit.
    #[arg(long)]
    raw_inference: bool,
}

/// `--threads N`: at least 1.
fn parse_threads(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1 (leave --threads out for one per physical core)".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("'{s}' is not a whole number of threads")),
    }
}

fn parse_source(s: &str) -> Result<live::SourceSpec, String> {
    s.parse()
}

/// The models of `nst live`: --model first, then (unless `one`) every other bundled
/// style, loaded up front so that switching styles is instant.
fn live_models(args: &ModelArgs, one: bool) -> anyhow::Result<Vec<Box<dyn live::Stylizer>>> {
    let first = load_model(args, Variant::Fast)?;
    let first_name = first.info().style_name.clone();
    let first_path = std::fs::canonicalize(first.path()).unwrap_or_else(|_| first.path().to_path_buf());
    let mut models: Vec<Box<dyn live::Stylizer>> = vec![Box::new(first)];
    if !one {
        let config = SessionConfig { provider: args.ep, threads: args.threads };
        // Every other style in the variant asked for (fast by default), or its other
        // variant where it has only that one.
        let variant = args.variant.unwrap_or(Variant::Fast);
        let all = bundled::list();
        for name in bundled::style_names(&all) {
            let Some(style) = all.iter().find(|s| s.name == name && s.variant == variant).or_else(|| all.iter().find(|s| s.name == name)) else {
                continue;
            };
            if name == first_name || std::fs::canonicalize(&style.path).unwrap_or_else(|_| style.path.clone()) == first_path {
                continue;
            }
            match StyleModel::load(&style.path, &config) {
                Ok(model) => models.push(Box::new(model)),
                Err(e) => tracing::warn!("style {} left out: {e}", style.name),
            }
        }
    }
    Ok(models)
}

fn live_command(args: LiveArgs) -> anyhow::Result<ExitCode> {
    let options = live::Options {
        frames: args.frames,
        headless: args.headless,
        record: args.record.clone(),
        snapshot_dir: args.snapshot_dir.clone(),
        style: 0,
        scale: args.scale,
        mirror: args.mirror,
        side_by_side: args.side_by_side,
        overlay: !args.no_overlay,
    };
    options.validate()?;
    live::preflight(&args.source, args.headless || args.raw_inference)?;
    if args.raw_inference {
        return raw_inference(&args);
    }
    let models = live_models(&args.model, args.one_style)?;
    let (spec, resolution, rate) = (args.source.clone(), args.resolution, args.test_fps);
    let open: live::Opener = Box::new(move || live::open_source(&spec, resolution, Some(rate)));
    let report = live::run(open, models, &options, video::interrupt_flag())?;
    if report.ending == live::Ending::Interrupted {
        eprintln!("stopped (Ctrl-C)");
    }
    if args.json {
        let recordings: Vec<_> = report.recordings.iter().map(|(p, n)| serde_json::json!({"path": p, "frames": n})).collect();
        let out = serde_json::json!({
            "source": args.source.to_string(),
            "resolution": [args.resolution.0, args.resolution.1],
            "summary": report.summary,
            "ending": report.ending,
            "recordings": recordings,
            "snapshots": report.snapshots,
            "error": report.error.as_ref().map(|e| e.to_string()),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else if report.summary.frames > 0 {
        println!("{}", report.summary);
    }
    match report.error {
        Some(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::FAILURE)
        }
        None => Ok(ExitCode::SUCCESS),
    }
}

/// `nst live --raw-inference`: the network alone on frames of the source.
fn raw_inference(args: &LiveArgs) -> anyhow::Result<ExitCode> {
    let mut model = load_model(&args.model, Variant::Fast)?;
    let mut source = live::open_source(&args.source, args.resolution, Some(args.test_fps))?;
    let frames = args.frames.unwrap_or(30) as usize;
    let raw = live::raw_inference(source.as_mut(), &mut model, frames)?;
    if args.json {
        let out = serde_json::json!({"source": args.source.to_string(), "resolution": [args.resolution.0, args.resolution.1], "raw_inference": raw});
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        let (w, h) = source.size();
        println!(
            "raw inference: {} frames of {w}x{h} in {:.2} s: {:.2} fps (mean {:.1} ms, p95 {:.1} ms per frame)",
            raw.frames, raw.seconds, raw.fps, raw.mean_ms, raw.p95_ms
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn devices(json: bool) -> anyhow::Result<ExitCode> {
    let cameras = live::camera::describe_all()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&cameras)?);
        return Ok(ExitCode::SUCCESS);
    }
    if cameras.is_empty() {
        println!("no cameras found (`nst live --source test` runs without one, and so does a video file)");
        return Ok(ExitCode::SUCCESS);
    }
    for cam in cameras {
        println!("camera:{}  {}  {}", cam.index, cam.name, cam.description);
        match cam.formats {
            Ok(formats) if formats.is_empty() => println!("    no format nst can read"),
            Ok(formats) => {
                let mut kinds: Vec<&str> = formats.iter().map(|f| f.0.as_str()).collect();
                kinds.dedup();
                for kind in kinds {
                    let sizes: Vec<String> =
                        formats.iter().filter(|f| f.0 == kind).map(|(_, w, h, fps)| format!("{w}x{h}@{fps}")).collect();
                    println!("    {kind:<6} {}", sizes.join(", "));
                }
            }
            Err(e) => println!("    cannot read its formats: {e}"),
        }
    }
    Ok(ExitCode::SUCCESS)
}
