//! `nst`: stylize images with trained style networks.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use nst_runtime::batch::{self, StylizeOptions};
use nst_runtime::bundled;
use nst_runtime::ep::Provider;
use nst_runtime::model::{SessionConfig, StyleModel};

/// Neural style transfer: turn photos into paintings with trained style networks.
#[derive(Parser)]
#[command(name = "nst", version, about)]
struct Cli {
    /// More log output (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Stylize one image or many (files and folders).
    Stylize(StylizeArgs),
    /// List the bundled style models.
    Styles {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct ModelArgs {
    /// Model: a path to an .onnx file or the name of a bundled style (see `nst styles`).
    #[arg(short, long)]
    model: Option<String>,
    /// Execution provider. An explicitly requested one that cannot start is an error.
    #[arg(long, value_enum, default_value_t = Provider::Auto)]
    ep: Provider,
    /// Inference threads (default: one per physical core).
    #[arg(long)]
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
    #[arg(long, default_value_t = 1.0)]
    strength: f32,
    /// Keep the photo's colours: stylized luminance, original chroma.
    #[arg(long)]
    preserve_color: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(verbose: u8) {
    // ONNX Runtime's own log is verbose; it shows with -vv.
    let default = match verbose {
        0 => "info,ort=warn",
        1 => "debug,ort=warn",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).without_time().init();
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Stylize(args) => stylize(args),
        Command::Styles { json } => {
            styles(json)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn load_model(args: &ModelArgs) -> anyhow::Result<StyleModel> {
    let path = bundled::resolve(args.model.as_deref())?;
    let config = SessionConfig { provider: args.ep, threads: args.threads };
    let model = StyleModel::load(&path, &config)?;
    let info = model.info();
    if !info.trained {
        tracing::warn!(
            "{} is an untrained (randomly initialised) network: the output shows the pipeline working, not a painting style",
            path.display()
        );
    }
    tracing::info!("model: {} ({}, on {})", info.style_name, path.display(), model.provider());
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
        let mut model = load_model(&args.model)?;
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
        eprintln!("stylized {done} of {total} images into {}", args.output.display());
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

fn styles(json: bool) -> anyhow::Result<()> {
    let styles = bundled::list();
    if json {
        println!("{}", serde_json::to_string_pretty(&styles)?);
        return Ok(());
    }
    if styles.is_empty() {
        println!("no bundled styles found (looked in {:?})", bundled::weights_dirs());
        return Ok(());
    }
    for s in styles {
        let default = if s.name == bundled::DEFAULT_STYLE { " (default)" } else { "" };
        println!("{:<28} {:>8.1} MB  {}{default}", s.name, s.bytes as f64 / 1e6, s.path.display());
    }
    Ok(())
}
