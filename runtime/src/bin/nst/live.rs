//! `nst live` and `nst devices`: real time, in a window or headless, and the cameras.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use nst_runtime::{blend, bundled};
use nst_runtime::contract::Variant;
use nst_runtime::live;
use nst_runtime::model::StyleModel;

use crate::common::{load_model, ModelArgs};

#[derive(Args)]
pub struct LiveArgs {
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
    /// Inference scale: auto (every pixel up to 1.5 times the style's reference size,
    /// 768 px for the bundled styles; larger frames at the reference size, 512 px, their
    /// own detail put back), or 0.25 to 1 of the frame: smaller is faster, with larger
    /// strokes (`+`/`-` change it).
    #[arg(long, default_value = "auto", value_name = "auto|F", value_parser = parse_scale)]
    scale: ScaleArg,
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

/// `--scale`: `None` for auto.
#[derive(Debug, Clone, Copy)]
struct ScaleArg(Option<f32>);

fn parse_scale(s: &str) -> Result<ScaleArg, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "auto" => Ok(ScaleArg(None)),
        t => t
            .parse::<f32>()
            .ok()
            .filter(|f| (0.25..=1.0).contains(f))
            .map(|f| ScaleArg(Some(f)))
            .ok_or_else(|| format!("'{s}' is not a scale: give auto, or a number from 0.25 to 1")),
    }
}

fn parse_source(s: &str) -> Result<live::SourceSpec, String> {
    s.parse()
}

/// The models of `nst live`: --model first, then (unless `one`) every other bundled
/// style, loaded up front so that switching styles is instant; and the blender of the
/// `b`/`v` keys, which mixes two of them from their files.
fn live_models(args: &ModelArgs, one: bool) -> anyhow::Result<live::Styles> {
    let first = load_model(args, Variant::Fast, true)?;
    let first_name = first.info().style_name.clone();
    // The float file of an int8 copy: what blends mix and what identifies the style.
    let first_file = first.path().map(bundled::float_path);
    let first_path = first_file.as_ref().map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()));
    // Each stylizer's name and float file (none for a blend given as --model).
    let mut files: Vec<Option<(String, PathBuf)>> = vec![first_file.map(|p| (live::Stylizer::name(&first), p))];
    let mut models: Vec<Box<dyn live::Stylizer>> = vec![Box::new(first)];
    let config = args.hardware.session();
    if !one {
        // Every other style in the variant asked for (fast by default), or its other
        // variant where it has only that one.
        let variant = args.variant.unwrap_or(Variant::Fast);
        let all = bundled::list();
        for name in bundled::style_names(&all) {
            let Some(style) = all.iter().find(|s| s.name == name && s.variant == variant).or_else(|| all.iter().find(|s| s.name == name)) else {
                continue;
            };
            if name == first_name || Some(std::fs::canonicalize(&style.path).unwrap_or_else(|_| style.path.clone())) == first_path {
                continue;
            }
            // The int8 copy runs where --precision allows it; blends mix the float files.
            let path = match style.path_at(args.precision, true) {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!("{e}; running its float network");
                    &style.path
                }
            };
            match StyleModel::load(path, &config) {
                Ok(model) => {
                    files.push(Some((style.name.clone(), style.path.clone())));
                    models.push(Box::new(model));
                }
                Err(e) => tracing::warn!("style {} left out: {e}", style.name),
            }
        }
    }
    let blender: live::Blender = Box::new(move |a, b, share| {
        let (Some(Some(a)), Some(Some(b))) = (files.get(a), files.get(b)) else {
            return Err(nst_runtime::error::Error::Parameter("a blend given as --model cannot be blended again".into()));
        };
        let parts = [(a.0.clone(), a.1.clone(), 1.0 - share), (b.0.clone(), b.1.clone(), share)];
        Ok(Box::new(blend::load_parts(&parts, &config, blend::BlendBy::Auto)?) as Box<dyn live::Stylizer>)
    });
    Ok(live::Styles { stylizers: models, blender: Some(blender) })
}

pub fn run(args: LiveArgs) -> anyhow::Result<ExitCode> {
    let options = live::Options {
        frames: args.frames,
        headless: args.headless,
        record: args.record.clone(),
        snapshot_dir: args.snapshot_dir.clone(),
        style: 0,
        scale: args.scale.0,
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
    let report = live::run(open, models, &options, nst_runtime::signals::install())?;
    if report.ending == live::Ending::Interrupted {
        eprintln!("stopped: {}", nst_runtime::signals::describe());
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
        None if report.ending == live::Ending::Interrupted => Ok(ExitCode::from(nst_runtime::signals::exit_code())),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// `nst live --raw-inference`: the network alone on frames of the source.
fn raw_inference(args: &LiveArgs) -> anyhow::Result<ExitCode> {
    let mut model = load_model(&args.model, Variant::Fast, true)?;
    let mut source = live::open_source(&args.source, args.resolution, Some(args.test_fps))?;
    let frames = args.frames.unwrap_or(30) as usize;
    let raw = live::raw_inference(source.as_mut(), &mut model, frames, args.scale.0)?;
    if args.json {
        let out = serde_json::json!({"source": args.source.to_string(), "resolution": [args.resolution.0, args.resolution.1], "raw_inference": raw});
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        let (w, h) = source.size();
        let [rw, rh] = raw.size;
        let at = if (rw, rh) == (w, h) { String::new() } else { format!(" run at {rw}x{rh}") };
        println!(
            "raw inference: {} frames of {w}x{h}{at} in {:.2} s: {:.2} fps (mean {:.1} ms, p95 {:.1} ms per frame)",
            raw.frames, raw.seconds, raw.fps, raw.mean_ms, raw.p95_ms
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn devices(json: bool) -> anyhow::Result<ExitCode> {
    use std::fmt::Write;
    let cameras = live::camera::describe_all()?;
    let mut out = String::new();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&cameras)?)?;
        crate::common::print_out(&out)?;
        return Ok(ExitCode::SUCCESS);
    }
    if cameras.is_empty() {
        writeln!(out, "no cameras found (`nst live --source test` runs without one, and so does a video file)")?;
        crate::common::print_out(&out)?;
        return Ok(ExitCode::SUCCESS);
    }
    for cam in cameras {
        writeln!(out, "camera:{}  {}  {}", cam.index, cam.name, cam.description)?;
        match cam.formats {
            Ok(formats) if formats.is_empty() => writeln!(out, "    no format nst can read")?,
            Ok(formats) => {
                let mut kinds: Vec<&str> = formats.iter().map(|f| f.0.as_str()).collect();
                kinds.dedup();
                for kind in kinds {
                    let sizes: Vec<String> =
                        formats.iter().filter(|f| f.0 == kind).map(|(_, w, h, fps)| format!("{w}x{h}@{fps}")).collect();
                    writeln!(out, "    {kind:<6} {}", sizes.join(", "))?;
                }
            }
            Err(e) => writeln!(out, "    cannot read its formats: {e}")?,
        }
    }
    crate::common::print_out(&out)?;
    Ok(ExitCode::SUCCESS)
}
