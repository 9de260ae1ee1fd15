//! `nst-train`: train fast style-transfer networks and export them to ONNX.
//!
//! `nst-train --style monet.jpg --dataset photos/` trains; `nst-train --resume
//! --checkpoint-dir runs/monet` continues; `nst-train export --checkpoint … -o m.onnx`
//! exports any checkpoint; `nst-train init -o m.onnx` writes an untrained network;
//! `nst-train metadata m.onnx --painting-picture p.jpg` changes a model's painting.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use nst_trainer::checkpoint;
use nst_trainer::device::DeviceArgs;
use nst_trainer::train::{self, Finish, TrainSettings};
use nst_trainer::transformer::{Family, Norm, Output};
use nst_trainer::{export, TransformerConfig, TransformerNet};

#[derive(Parser)]
#[command(name = "nst-train", version, about = "Train fast neural style transfer networks and export them to ONNX")]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(flatten)]
    log: nst_runtime::logging::LogArgs,
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    train: TrainArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Export a checkpoint to an ONNX model.
    Export {
        /// Checkpoint file (a run folder's checkpoint.safetensors) or run folder.
        #[arg(long)]
        checkpoint: PathBuf,
        /// Output .onnx file.
        #[arg(short, long)]
        output: PathBuf,
        /// Set the painting's description (artist, title, year) in the model's metadata.
        #[arg(long)]
        painting: Option<String>,
        /// The painting's picture for the model's metadata [default: the style image the
        /// run was trained on, when it can be read here].
        #[arg(long, value_name = "IMAGE")]
        painting_picture: Option<PathBuf>,
    },
    /// Change the painting's description or picture in a model nst-train wrote, in place
    /// (the network is left as it is).
    Metadata {
        /// The .onnx model to change.
        model: PathBuf,
        /// The painting's artist, title and year, e.g. "Vincent van Gogh, The Starry Night (1889)".
        #[arg(long)]
        painting: Option<String>,
        /// The painting's picture (any image; kept as a 256 px JPEG): shown by the web
        /// page's gallery.
        #[arg(long, value_name = "IMAGE")]
        painting_picture: Option<PathBuf>,
    },
    /// Export a randomly initialised (untrained) network: exercises the whole pipeline.
    Init {
        /// Output .onnx file.
        #[arg(short, long)]
        output: PathBuf,
        /// Random seed for the weights.
        #[arg(long, default_value_t = 0)]
        seed: i64,
        #[command(flatten)]
        network: NetworkArgs,
    },
}

#[derive(Args)]
struct TrainArgs {
    /// The style image (a painting).
    #[arg(long, required_unless_present = "resume")]
    style: Option<PathBuf>,
    /// Folder of training photos (any tree of jpg/png/webp/…; COCO train2014 is the usual choice).
    #[arg(long, default_value = "datasets/train")]
    dataset: PathBuf,
    /// Output model [default: <style name>.onnx; with --resume: the run's own].
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Run folder for checkpoints, samples and the loss log [default: runs/<style name>].
    #[arg(long)]
    checkpoint_dir: Option<PathBuf>,
    /// Continue the run in --checkpoint-dir from its last checkpoint, with its saved settings
    /// (only --iterations and --output may change them).
    #[arg(long, conflicts_with = "overwrite")]
    resume: bool,
    /// Start over in a run folder that already holds a run: its checkpoint, loss log and
    /// samples are deleted first. Without this (or --resume) such a folder is refused.
    #[arg(long)]
    overwrite: bool,
    /// Side of the square training crops.
    #[arg(long, default_value_t = 256)]
    image_size: u32,
    /// Longer side of the style image for the style targets (sets the stroke scale).
    #[arg(long, default_value_t = 512)]
    style_size: u32,
    /// Training crops per step; more is smoother and slower per step.
    #[arg(long, default_value_t = 4, value_name = "N")]
    batch_size: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Number of training steps (one batch each) [default: 2000]. With --resume: extend
    /// the run to this many.
    #[arg(long, conflicts_with = "epochs", value_name = "N")]
    iterations: Option<u64>,
    /// Passes over the dataset (alternative to --iterations).
    #[arg(long)]
    epochs: Option<f64>,
    /// VGG-19 layers whose features the output must keep from the photo, comma-separated
    /// (relu1_1 ... relu5_4).
    #[arg(long, value_delimiter = ',', default_value = "relu4_2", value_name = "LAYERS")]
    content_layers: Vec<String>,
    /// VGG-19 layers whose Gram matrices the output must match to the painting,
    /// comma-separated (relu1_1 ... relu5_4).
    #[arg(long, value_delimiter = ',', default_value = "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1", value_name = "LAYERS")]
    style_layers: Vec<String>,
    /// Weight of the content loss (feature MSE).
    #[arg(long, default_value_t = 5.0)]
    content_weight: f64,
    /// Weight of the style loss (Gram MSE / C², summed over the style layers).
    #[arg(long, default_value_t = 10.0)]
    style_weight: f64,
    /// Weight of the total-variation loss (mean |gradient|).
    #[arg(long, default_value_t = 0.5)]
    tv_weight: f64,
    /// Random seed: the initial weights and the order and crops of the training photos.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    hardware: DeviceArgs,
    /// Save a checkpoint every N iterations (and on Ctrl-C and at the end).
    #[arg(long, default_value_t = 100)]
    checkpoint_every: u64,
    /// Save a stylized sample of the validation photo every N iterations.
    #[arg(long, default_value_t = 100)]
    sample_every: u64,
    /// The fixed photo for samples and the export check [default: the bundled photo].
    #[arg(long)]
    validation_image: Option<PathBuf>,
    #[command(flatten)]
    network: NetworkArgs,
    /// Run the VGG-19 loss network in bfloat16 (faster on CPUs with AVX512-BF16).
    #[arg(long)]
    vgg_bf16: bool,
    /// Training crops as a fraction of each photo's shorter side, MIN,MAX, before resizing
    /// to --image-size. Small fractions with a small --image-size keep the photos near
    /// their own pixel scale at a fraction of the cost of large crops.
    #[arg(long, value_parser = parse_crop_scale, default_value = "0.75,1")]
    crop_scale: (f64, f64),
    /// Start from the weights of another run (checkpoint file or run folder) or of a
    /// trained model (`.onnx`, such as a bundled style) instead of a random network:
    /// fine-tuning a trained style reaches a new one in fewer iterations.
    #[arg(long, value_name = "CHECKPOINT|MODEL.onnx")]
    init_from: Option<PathBuf>,
    /// The painting's artist, title and year, recorded in the model (shown by `nst styles`).
    #[arg(long)]
    painting: Option<String>,
    /// Distil a trained model of this style (run folder, checkpoint or `.onnx`, e.g. its
    /// full network for a fast variant): the content loss compares each output with the
    /// teacher's stylised photo instead of the photo. The style and TV losses stay.
    #[arg(long, value_name = "CHECKPOINT|MODEL.onnx")]
    teacher: Option<PathBuf>,
    /// A folder of focus masks: for a photo `DATASET/sub/a.jpg`, `DIR/sub/a.png`, a grey
    /// image of the photo's size, white where the output must keep the photo's fine
    /// features (lettering). Photos without one have no focus. `datasets/text_overlay.py`
    /// writes the masks of its lettering as `DEST/.masks`.
    #[arg(long, value_name = "DIR", requires = "focus_weight")]
    focus_masks: Option<PathBuf>,
    /// Weight of the focus loss: the feature MSE at --focus-layers where the masks are
    /// white (averaged over the whole crop, like the content loss).
    #[arg(long, value_name = "W", requires = "focus_masks")]
    focus_weight: Option<f64>,
    /// VGG-19 layers of the focus loss, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "relu2_2", value_name = "LAYERS")]
    focus_layers: Vec<String>,
}

/// The network to train (or initialise).
#[derive(Args)]
struct NetworkArgs {
    /// Network family: `full` (Johnson et al., for quality) or `fast` (half resolution
    /// and below, for real time on a CPU).
    #[arg(long, value_enum, default_value = "full")]
    variant: Family,
    /// Channels of the first layer [default: 32 for full, 16 for fast].
    #[arg(long)]
    base_channels: Option<i64>,
    /// Residual blocks at the bottleneck: more capacity, slower [default: 5 for full, 3 for
    /// fast].
    #[arg(long)]
    residual_blocks: Option<usize>,
    /// Normalisation: instance (every layer), frn (filter response normalisation with a
    /// thresholded linear unit, every layer), for the full network also below-full
    /// (instance norm on every layer but the two at full resolution; can start from an
    /// instance-norm model), and for the fast network also deep (instance norm at 1/4
    /// resolution and below) or none [default: instance].
    #[arg(long, value_enum)]
    norm: Option<Norm>,
    /// Stride-2 convs of the fast network: 2 (bottleneck at 1/4 resolution) or 3 (at 1/8)
    /// [default: 2].
    #[arg(long, value_parser = clap::value_parser!(u8).range(2..=3))]
    downsamplings: Option<u8>,
    /// Output function: clamp (linear, clamped to 0-255) or tanh (the format-1 models;
    /// saturates and blows out highlights, kept for comparisons).
    #[arg(long, value_enum, default_value = "clamp", value_name = "FUNCTION")]
    output_function: Output,
}

impl NetworkArgs {
    fn config(&self) -> anyhow::Result<TransformerConfig> {
        let d = TransformerConfig::of(self.variant);
        match (self.norm, self.variant) {
            (Some(norm @ (Norm::Deep | Norm::None)), Family::Johnson2016) => {
                let name = if norm == Norm::Deep { "deep" } else { "none" };
                bail!("--norm {name} applies to --variant fast; the full network takes --norm instance, frn or below-full");
            }
            (Some(Norm::BelowFull), Family::Fast) => {
                bail!("--norm below-full applies to --variant full (the fast network has no normalised layer at full resolution)")
            }
            _ => {}
        }
        let config = TransformerConfig {
            family: self.variant,
            base_channels: self.base_channels.unwrap_or(d.base_channels),
            residual_blocks: self.residual_blocks.unwrap_or(d.residual_blocks),
            output: self.output_function,
            norm: self.norm.unwrap_or(d.norm),
            downsamplings: self.downsamplings.unwrap_or(d.downsamplings),
        };
        if self.downsamplings.is_some() && self.variant == Family::Johnson2016 {
            bail!("--downsamplings applies to --variant fast");
        }
        if !(1..=512).contains(&config.base_channels) {
            bail!("--base-channels {}: expected 1 to 512", config.base_channels);
        }
        if config.residual_blocks > 64 {
            bail!("--residual-blocks {}: expected 0 to 64", config.residual_blocks);
        }
        Ok(config)
    }
}

/// Parses MIN,MAX; the range itself is checked with the other settings
/// (`TrainSettings::validate`).
fn parse_crop_scale(s: &str) -> Result<(f64, f64), String> {
    let bad = || format!("'{s}': expected MIN,MAX with 0 < MIN <= MAX <= 1, e.g. 0.3,0.5");
    let (lo, hi) = s.split_once(',').ok_or_else(bad)?;
    Ok((lo.trim().parse().map_err(|_| bad())?, hi.trim().parse().map_err(|_| bad())?))
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
        Some(Command::Init { output, seed, network }) => {
            check_onnx_name(&output)?;
            let config = network.config()?;
            tch::manual_seed(seed);
            let vs = tch::nn::VarStore::new(tch::Device::Cpu);
            let net = TransformerNet::new(&vs.root(), config);
            export::write_onnx(&output, &net, &export::model_info(config, "untrained", None, None, None))?;
            eprintln!("wrote {} (untrained network, seed {seed})", output.display());
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Export { checkpoint, output, painting, painting_picture }) => {
            export_checkpoint(&checkpoint, &output, painting, painting_picture.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Metadata { model, painting, painting_picture }) => {
            use nst_runtime::contract::keys;
            if painting.is_none() && painting_picture.is_none() {
                bail!("nothing to change: give --painting and/or --painting-picture");
            }
            let mut changes = Vec::new();
            if let Some(p) = painting {
                changes.push((keys::PAINTING, Some(p)));
            }
            if let Some(p) = &painting_picture {
                changes.push((keys::PAINTING_PICTURE, Some(export::painting_picture(p)?)));
            }
            let info = export::set_metadata(&model, &changes)?;
            eprintln!("{}: painting {}, picture {}", model.display(), info.painting.as_deref().unwrap_or("(none)"), info.painting_picture_jpeg().map_or("(none)".to_string(), |j| format!("{} bytes", j.len())));
            Ok(ExitCode::SUCCESS)
        }
        None => train_command(cli.train),
    }
}

fn style_name(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "style".into())
}

fn train_command(args: TrainArgs) -> anyhow::Result<ExitCode> {
    let device = args.hardware.select()?;
    let (settings, resume) = if args.resume {
        let dir = args.checkpoint_dir.clone().context("--resume needs --checkpoint-dir (the run folder to continue)")?;
        let path = dir.join(checkpoint::LATEST);
        let ckpt = checkpoint::load(&path)?;
        let mut settings = ckpt.meta.settings.clone();
        settings.checkpoint_dir = dir;
        if let Some(n) = args.iterations {
            settings.iterations = n;
        }
        if let Some(output) = &args.output {
            settings.output = output.clone();
        }
        eprintln!("resuming from iteration {} of {} ({})", ckpt.meta.iteration, settings.iterations, path.display());
        (settings, Some(ckpt))
    } else {
        let style = args.style.clone().expect("clap requires --style without --resume");
        let name = style_name(&style);
        let iterations = match (args.iterations, args.epochs) {
            (Some(n), _) => n,
            (None, Some(e)) => {
                let n = nst_trainer::data::scan(&args.dataset)?.len() as f64;
                ((e * n) / args.batch_size as f64).ceil().max(1.0) as u64
            }
            (None, None) => 2000,
        };
        let settings = TrainSettings {
            style_name: name.clone(),
            output: args.output.clone().unwrap_or_else(|| PathBuf::from(format!("{name}.onnx"))),
            checkpoint_dir: args.checkpoint_dir.clone().unwrap_or_else(|| PathBuf::from("runs").join(&name)),
            style_image: style,
            dataset: args.dataset.clone(),
            validation_image: args.validation_image.clone(),
            image_size: args.image_size,
            style_size: Some(args.style_size),
            crop_scale: args.crop_scale,
            init_from: args.init_from.clone(),
            painting: args.painting.clone(),
            teacher: args.teacher.clone(),
            focus_masks: args.focus_masks.clone(),
            focus_weight: args.focus_weight.unwrap_or(0.0),
            focus_layers: args.focus_layers.clone(),
            batch_size: args.batch_size,
            lr: args.lr,
            iterations,
            content_layers: args.content_layers.clone(),
            style_layers: args.style_layers.clone(),
            content_weight: args.content_weight,
            style_weight: args.style_weight,
            tv_weight: args.tv_weight,
            seed: args.seed,
            model: args.network.config()?,
            vgg_bf16: args.vgg_bf16,
            checkpoint_every: args.checkpoint_every,
            sample_every: args.sample_every,
            command: std::env::args().collect::<Vec<_>>().join(" "),
        };
        (settings, None)
    };
    settings.validate()?;
    check_output_writable(&settings.output)?;
    train::check_inputs(&settings)?;
    if !args.resume {
        if let Some(init) = &settings.init_from {
            let same = |a: &Path, b: &Path| a.canonicalize().ok().zip(b.canonicalize().ok()).is_some_and(|(a, b)| a == b);
            if args.overwrite && same(&checkpoint::in_run(init), &settings.checkpoint_dir.join(checkpoint::LATEST)) {
                bail!("--init-from {} is the checkpoint that --overwrite would delete: pass another --checkpoint-dir", init.display());
            }
        }
        train::claim_run_dir(&settings.checkpoint_dir, args.overwrite)?;
    }

    // SIGINT, SIGTERM, SIGHUP: the loop saves a checkpoint and returns; a second signal
    // exits at once (the last saved checkpoint is intact: checkpoints are atomic).
    let stop = nst_runtime::signals::install();

    eprintln!(
        "training '{}' ({} network) on {} for {} (batch {}, {} px) on {}; run folder {}",
        settings.style_name,
        settings.model.family.variant(),
        settings.dataset.display(),
        nst_runtime::logging::count(settings.iterations, "iteration", "iterations"),
        settings.batch_size,
        settings.image_size,
        train::device_name(device),
        settings.checkpoint_dir.display()
    );
    match train::train(&settings, device, resume, stop)? {
        Finish::Done { output, max_diff, losses } => {
            eprintln!(
                "wrote {} (final losses: content {:.3}, style {:.3}, tv {:.3}); ONNX Runtime matches libtorch within {max_diff:.4}",
                output.display(),
                losses.content,
                losses.style,
                losses.tv
            );
            Ok(ExitCode::SUCCESS)
        }
        Finish::Interrupted { iteration, checkpoint } => {
            eprintln!(
                "{}: stopped at iteration {iteration}; checkpoint saved to {}\ncontinue with: nst-train --resume --checkpoint-dir {}",
                nst_runtime::signals::describe(),
                checkpoint.display(),
                settings.checkpoint_dir.display()
            );
            Ok(ExitCode::from(nst_runtime::signals::exit_code()))
        }
    }
}

/// Refuses an output model name that is not `.onnx` (a model written as `x.png` would
/// be mistaken for a picture).
fn check_onnx_name(output: &Path) -> anyhow::Result<()> {
    let ext = output.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    if ext.as_deref() != Some("onnx") {
        bail!("{}: a model file must end in .onnx (for example {})", output.display(), output.with_extension("onnx").display());
    }
    Ok(())
}

/// Fails early (before hours of training) when the output cannot be written.
fn check_output_writable(output: &Path) -> anyhow::Result<()> {
    check_onnx_name(output)?;
    if output.is_dir() {
        bail!("{}: is a folder; -o/--output needs a file name such as style.onnx", output.display());
    }
    let dir = nst_runtime::fsio::parent_dir(output);
    std::fs::create_dir_all(&dir).with_context(|| format!("{}: cannot create its folder {}", output.display(), dir.display()))?;
    nst_runtime::fsio::temp_in_same_dir(output).with_context(|| format!("{}: cannot write the output model there", output.display()))?;
    Ok(())
}

fn export_checkpoint(path: &Path, output: &Path, painting: Option<String>, painting_picture: Option<&Path>) -> anyhow::Result<()> {
    check_onnx_name(output)?;
    let path = checkpoint::in_run(path);
    let ckpt = checkpoint::load(&path)?;
    let mut settings = ckpt.meta.settings.clone();
    if painting.is_some() {
        settings.painting = painting;
    }
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let net = TransformerNet::new(&vs.root(), settings.model);
    train::restore_weights(&vs, &ckpt, &path)?;
    let losses = ckpt.meta.losses.map(|[content, style, tv, _]| train::StepLosses { content, style, tv });
    let mut info = train::trained_model_info(&settings, ckpt.meta.iteration, losses, ckpt.meta.elapsed_secs);
    if let Some(p) = painting_picture {
        info.painting_picture = Some(export::painting_picture(p)?);
    }
    export::write_onnx(output, &net, &info)?;
    eprintln!("wrote {} from {} (iteration {})", output.display(), path.display(), ckpt.meta.iteration);
    Ok(())
}
