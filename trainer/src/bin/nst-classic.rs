//! `nst-classic`: classic neural style transfer (Gatys et al.): optimises the image itself
//! against the VGG-19 content and style losses, with L-BFGS (default) or Adam.
//!
//! `nst-classic --content photo.jpg --style monet.jpg -o out.png` writes `out.png` and its
//! final losses to `out.losses.json`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use nst_runtime::{fsio, imageio};
use nst_trainer::classic::{self, Classic, ClassicSettings, Init, Optimizer};
use nst_trainer::device::DeviceArgs;

#[derive(Parser)]
#[command(
    name = "nst-classic",
    version,
    about = "Classic neural style transfer (Gatys et al.): optimise an image against VGG-19 content and style losses",
    after_help = "The final losses are written next to the output as <name>.losses.json.\n\
                  Example: nst-classic --content photo.jpg --style monet.jpg -o out.png"
)]
struct Cli {
    #[command(flatten)]
    log: nst_runtime::logging::LogArgs,
    /// The photo whose content is kept.
    #[arg(long, short = 'c')]
    content: PathBuf,
    /// The painting whose style is transferred. Repeat (or list several after one --style)
    /// to blend paintings; see --style-weights.
    #[arg(long, short = 's', required = true, num_args = 1..)]
    style: Vec<PathBuf>,
    /// Relative weight of each --style, in the same order, comma-separated (normalised to
    /// sum to 1) [default: equal].
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    style_weights: Vec<f64>,
    /// The output image (.png, .jpg, .webp, .bmp or .tiff).
    #[arg(short, long)]
    output: PathBuf,
    /// Longer side of the output, in pixels.
    #[arg(long, default_value_t = 512)]
    size: u32,
    /// Coarse-to-fine: the longer side of each scale, comma-separated and increasing, e.g.
    /// 256,512; each scale starts from the previous result, upsampled. The last is the
    /// output's size (replaces --size).
    #[arg(long, value_delimiter = ',', num_args = 1.., conflicts_with = "size")]
    scales: Vec<u32>,
    /// Longer side of the paintings at the output's scale [default: the output's size].
    /// Larger gives larger brush strokes.
    #[arg(long)]
    style_size: Option<u32>,
    /// Iterations (optimiser updates) per scale.
    #[arg(long, default_value_t = 500)]
    iterations: usize,
    #[arg(long, value_enum, default_value_t = OptimizerArg::Lbfgs)]
    optimizer: OptimizerArg,
    /// Step size [default: 1 for L-BFGS, 10 (pixel levels) for Adam].
    #[arg(long)]
    lr: Option<f64>,
    /// L-BFGS: number of past updates kept (m); each costs two copies of the image in
    /// memory.
    #[arg(long, default_value_t = 100)]
    history: usize,
    /// L-BFGS: strong-Wolfe line search instead of a fixed step (more evaluations per
    /// iteration, each step safer).
    #[arg(long)]
    line_search: bool,
    /// Starting image: `content` (the photo), `noise`, or the path of an image.
    #[arg(long, default_value = "content")]
    init: Init,
    /// Weight of the content loss (MSE of relu4_2 features).
    #[arg(long, default_value_t = 1.0)]
    content_weight: f64,
    /// Weight of the style loss (Gram-matrix MSE / C², summed over relu1_1…relu5_1).
    #[arg(long, default_value_t = 1000.0)]
    style_weight: f64,
    /// Weight of the total-variation loss (mean absolute difference of neighbouring
    /// pixels, 0-255).
    #[arg(long, default_value_t = 0.0)]
    tv_weight: f64,
    /// Transfer luminance only: the output keeps the photo's colours.
    #[arg(long)]
    preserve_color: bool,
    /// Save the current image every N iterations, next to the output
    /// (<name>.<iteration>.<ext>; <name>.<scale>px.<iteration>.<ext> with --scales).
    #[arg(long, value_name = "N")]
    save_every: Option<usize>,
    /// How progress is shown: a bar on the terminal, or JSON lines on stdout (one per
    /// iteration, one per saved intermediate, and one at the end) for a program that
    /// runs nst-classic (as `nst serve` does).
    #[arg(long, value_enum, default_value_t = ProgressArg::Bar)]
    progress: ProgressArg,
    /// Seed for --init noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    hardware: DeviceArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ProgressArg {
    Bar,
    Json,
}

/// One line of `--progress json`.
fn json_line(value: serde_json::Value) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{value}");
    let _ = out.flush();
}

#[derive(Clone, Copy, ValueEnum)]
enum OptimizerArg {
    /// L-BFGS (history --history, fixed step --lr or --line-search).
    Lbfgs,
    /// Adam with step --lr.
    Adam,
}

fn main() -> ExitCode {
    nst_trainer::classic::reexec_with_short_openmp_spin();
    let cli = Cli::parse();
    nst_runtime::logging::init(cli.log, "info");
    let output = cli.output.clone();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) if nst_runtime::signals::requested() => {
            eprintln!("{}: {} was not written", nst_runtime::signals::describe(), output.display());
            ExitCode::from(nst_runtime::signals::exit_code())
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let started = Instant::now();
    let device = cli.hardware.select()?;
    let mut settings = ClassicSettings::new(cli.content.clone(), cli.style.clone());
    settings.style_weights = cli.style_weights.clone();
    settings.sizes = if cli.scales.is_empty() { vec![cli.size] } else { cli.scales.clone() };
    settings.style_size = cli.style_size;
    settings.iterations = cli.iterations;
    settings.optimizer = match cli.optimizer {
        OptimizerArg::Lbfgs => Optimizer::Lbfgs,
        OptimizerArg::Adam => Optimizer::Adam,
    };
    settings.lr = cli.lr;
    settings.history = cli.history;
    settings.line_search = cli.line_search;
    settings.init = cli.init.clone();
    settings.content_weight = cli.content_weight;
    settings.style_weight = cli.style_weight;
    settings.tv_weight = cli.tv_weight;
    settings.preserve_color = cli.preserve_color;
    settings.seed = cli.seed;
    settings.validate()?;
    if cli.save_every == Some(0) {
        bail!("--save-every must be at least 1");
    }
    if cli.line_search && settings.optimizer != Optimizer::Lbfgs {
        bail!("--line-search applies to --optimizer lbfgs only");
    }
    check_output(&cli.output, &settings)?;

    let vgg_path = classic::vgg_weights_path()?;
    let job = Classic::new(settings, &vgg_path, device)?;
    let s = job.settings();
    let scales = s.sizes.len();
    eprintln!(
        "{} of {} with {} ({}), {} iteration{} per scale at {}, on {}",
        optimizer_name(s),
        s.content.display(),
        s.styles.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" + "),
        s.normalised_style_weights().iter().map(|w| format!("{w:.3}")).collect::<Vec<_>>().join("/"),
        s.iterations,
        if s.iterations == 1 { "" } else { "s" },
        s.sizes.iter().map(|v| format!("{v} px")).collect::<Vec<_>>().join(" → "),
        describe(device)
    );

    let json = cli.progress == ProgressArg::Json;
    let total = s.iterations * scales;
    let bar = if json { ProgressBar::hidden() } else { ProgressBar::new(total as u64) };
    bar.set_style(ProgressStyle::with_template("{bar:30} {pos}/{len} it  {elapsed_precise} eta {eta_precise}  {msg}").expect("template"));
    let output = cli.output.clone();
    let save_every = cli.save_every;
    // SIGINT, SIGTERM, SIGHUP: the optimisation stops at the next iteration; intermediates
    // already saved stay, the output is not written.
    let stop = nst_runtime::signals::install();
    let mut observer = |p: &classic::Progress| -> anyhow::Result<()> {
        if stop.load(std::sync::atomic::Ordering::SeqCst) {
            bail!("stopped by a signal");
        }
        let done = p.scale * p.iterations + p.iteration;
        bar.set_position(done as u64);
        let l = p.losses;
        if json {
            json_line(serde_json::json!({
                "event": "iteration", "done": done, "total": total, "width": p.width, "height": p.height,
                "losses": {"content": l.content, "style": l.style, "tv": l.tv, "total": l.total},
            }));
        }
        bar.set_message(format!(
            "{}x{}  content {:.4e}  style {:.4e}  tv {:.3e}  total {:.4e}",
            p.width, p.height, l.content, l.style, l.tv, l.total
        ));
        if let Some(n) = save_every {
            if p.iteration % n == 0 {
                let path = intermediate_path(&output, (p.scales > 1).then_some(p.width.max(p.height)), p.iteration);
                imageio::save_rgb(&path, &p.image())?;
                if json {
                    json_line(serde_json::json!({"event": "intermediate", "done": done, "path": path}));
                }
            }
        }
        Ok(())
    };
    let outcome = job.run(&mut observer);
    bar.finish_and_clear();
    let outcome = outcome?;

    imageio::save_rgb(&cli.output, &outcome.image)?;
    let json_path = losses_path(&cli.output);
    let openmp_env: serde_json::Map<String, serde_json::Value> = ["OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS"]
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v.into())))
        .collect();
    let report = serde_json::json!({
        "output": cli.output,
        "width": outcome.width,
        "height": outcome.height,
        "losses": outcome.losses,
        "output_losses": outcome.output_losses,
        "initial_losses": outcome.initial_losses,
        "iterations": outcome.iterations,
        "evaluations": outcome.evaluations,
        "optimise_secs": outcome.elapsed_secs,
        "iterations_secs": outcome.iterations_secs,
        "total_secs": started.elapsed().as_secs_f64(),
        "device": describe(device),
        "threads": tch::get_num_threads(),
        "openmp_env": openmp_env,
        "style_weights_normalised": s.normalised_style_weights(),
        "settings": s,
    });
    fsio::write_atomic(&json_path, |w| {
        serde_json::to_writer_pretty(&mut *w, &report).map_err(std::io::Error::other)?;
        std::io::Write::write_all(w, b"\n")
    })
    .with_context(|| format!("{}: cannot write the losses", json_path.display()))?;
    if json {
        json_line(serde_json::json!({"event": "done", "output": cli.output, "width": outcome.width, "height": outcome.height}));
    }
    let (l, o) = (&outcome.losses, &outcome.output_losses);
    eprintln!(
        "wrote {} ({}x{}, {} iterations, {} evaluations, {:.1} s)\n  final losses: content {:.4e}, style {:.4e}, tv {:.3e}, total {:.4e}\n  \
         of the saved 8-bit image: content {:.4e}, style {:.4e}, tv {:.3e}, total {:.4e}\n  (in {})",
        cli.output.display(),
        outcome.width,
        outcome.height,
        outcome.iterations,
        outcome.evaluations,
        outcome.elapsed_secs,
        l.content,
        l.style,
        l.tv,
        l.total,
        o.content,
        o.style,
        o.tv,
        o.total,
        json_path.display()
    );
    Ok(())
}

fn optimizer_name(s: &ClassicSettings) -> String {
    match (s.optimizer, s.line_search) {
        (Optimizer::Lbfgs, false) => format!("L-BFGS (m={}, fixed step)", s.history),
        (Optimizer::Lbfgs, true) => format!("L-BFGS (m={}, strong-Wolfe line search)", s.history),
        (Optimizer::Adam, _) => "Adam".into(),
        (Optimizer::Gd, _) => "gradient descent".into(),
    }
}

fn describe(device: tch::Device) -> String {
    match device {
        tch::Device::Cpu => format!("cpu ({} threads)", tch::get_num_threads()),
        tch::Device::Cuda(i) => format!("cuda:{i}"),
        other => format!("{other:?}"),
    }
}

/// `out.png` → `out.losses.json`.
fn losses_path(output: &Path) -> PathBuf {
    output.with_extension("losses.json")
}

/// `out.png` → `out.0100.png`, or `out.512px.0100.png` for a scale of several.
fn intermediate_path(output: &Path, side: Option<u32>, iteration: usize) -> PathBuf {
    let stem = output.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    let ext = output.extension().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "png".into());
    let name = match side {
        Some(side) => format!("{stem}.{side}px.{iteration:04}.{ext}"),
        None => format!("{stem}.{iteration:04}.{ext}"),
    };
    output.with_file_name(name)
}

/// Fails early (before any optimisation) when the output cannot be written, or would
/// overwrite an input.
fn check_output(output: &Path, settings: &ClassicSettings) -> anyhow::Result<()> {
    if output.is_dir() {
        bail!("{}: is a folder; -o/--output needs a file name such as out.png", output.display());
    }
    imageio::OutputFormat::from_path(output)?;
    let same = |a: &Path| match (a.canonicalize(), output.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    let mut inputs: Vec<&Path> = vec![&settings.content];
    inputs.extend(settings.styles.iter().map(PathBuf::as_path));
    if let Init::Image(p) = &settings.init {
        inputs.push(p);
    }
    if let Some(input) = inputs.into_iter().find(|p| same(p)) {
        bail!("{}: refusing to overwrite an input image with the output; choose another -o", input.display());
    }
    let dir = fsio::parent_dir(output);
    std::fs::create_dir_all(&dir).with_context(|| format!("{}: cannot create the output folder", dir.display()))?;
    fsio::temp_in_same_dir(output).with_context(|| format!("{}: cannot write the output there", output.display()))?;
    Ok(())
}
