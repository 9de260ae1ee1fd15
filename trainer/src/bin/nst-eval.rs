//! `nst-eval`: the project's quality metric. For each image, the VGG-19 content loss to
//! the photo, the style loss to the painting, and two ratios comparable across photos and
//! paintings (see `nst_trainer::eval`).
//!
//! `nst-eval --content photo.jpg --style painting.jpg out1.png out2.png [--json]`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::Parser;
use nst_trainer::classic;
use nst_trainer::device::DeviceArgs;
use nst_trainer::eval::{self, Evaluator, Scores};

#[derive(Parser)]
#[command(
    name = "nst-eval",
    version,
    about = "Measure content retention and style transfer of stylized images with VGG-19",
    after_help = "style_ratio = style loss of the image / style loss of the photo itself \
                  (1 = no style transferred, lower = closer to the painting).\n\
                  content_ratio = content loss of the image / content loss of the painting resized to the photo \
                  (0 = the photo's structure kept exactly)."
)]
struct Cli {
    /// The photo the images were made from.
    #[arg(long, short = 'c')]
    content: PathBuf,
    /// The painting whose style they should have.
    #[arg(long, short = 's')]
    style: PathBuf,
    /// The images to score.
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// Evaluation size: the photo's longer side is resized to this (the images to the
    /// photo's size, the painting to the same longer side).
    #[arg(long, default_value_t = eval::DEFAULT_SIZE)]
    size: u32,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    hardware: DeviceArgs,
}

fn main() -> ExitCode {
    nst_trainer::classic::reexec_with_short_openmp_spin();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).without_time().init();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let device = cli.hardware.select()?;
    if cli.size < eval::MIN_SIDE {
        bail!("--size {} is too small: VGG-19 needs at least {} pixels on the shorter side", cli.size, eval::MIN_SIDE);
    }
    let vgg_path = classic::vgg_weights_path()?;
    let evaluator = Evaluator::from_files(&vgg_path, &cli.content, &cli.style, cli.size, device)?;

    let results: Vec<(PathBuf, anyhow::Result<Scores>)> = cli.images.iter().map(|p| (p.clone(), evaluator.score_file(p))).collect();
    let failed = results.iter().filter(|(_, r)| r.is_err()).count();
    if cli.json {
        let images: Vec<serde_json::Value> = results
            .iter()
            .map(|(path, r)| match r {
                Ok(s) => {
                    let mut v = serde_json::to_value(s).expect("scores serialise");
                    v["path"] = serde_json::json!(path);
                    v
                }
                Err(e) => serde_json::json!({ "path": path, "error": format!("{e:#}") }),
            })
            .collect();
        let report = serde_json::json!({
            "content": cli.content,
            "style": cli.style,
            "width": evaluator.width,
            "height": evaluator.height,
            "photo_style_loss": evaluator.photo_style_loss,
            "painting_content_loss": evaluator.painting_content_loss,
            "images": images,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "evaluated at {}x{}: photo {}, painting {}",
            evaluator.width,
            evaluator.height,
            cli.content.display(),
            cli.style.display()
        );
        println!(
            "references: style loss of the photo {:.6e}, content loss of the painting {:.6e}",
            evaluator.photo_style_loss, evaluator.painting_content_loss
        );
        let width = results.iter().map(|(p, _)| p.display().to_string().len()).max().unwrap_or(5).max(5);
        println!("{:<width$}  {:>12}  {:>12}  {:>11}  {:>13}", "image", "content_loss", "style_loss", "style_ratio", "content_ratio");
        for (path, r) in &results {
            match r {
                Ok(s) => println!(
                    "{:<width$}  {:>12.5e}  {:>12.5e}  {:>11.4}  {:>13.4}",
                    path.display().to_string(),
                    s.content_loss,
                    s.style_loss,
                    s.style_ratio,
                    s.content_ratio
                ),
                Err(e) => println!("{:<width$}  error: {e:#}", path.display().to_string()),
            }
        }
    }
    if failed > 0 {
        eprintln!("error: {failed} of {} image{} could not be scored (see above)", results.len(), if results.len() == 1 { "" } else { "s" });
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
