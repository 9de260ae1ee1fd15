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
                  (0 = the photo's structure kept exactly).\n\
                  blown_out = share of pixels the image made near-white (smallest channel >= 248) where the photo \
                  was not (smallest channel < 235).\n\
                  flat_patches = share of 16-px tiles painted in one even colour (every channel's standard deviation \
                  < 3) where the photo had detail (a channel's >= 8): discs and flat patches.\n\
                  The JSON output (--json, --pairs) also gives style_layer_losses and photo_style_layer_losses: \
                  the style losses layer by layer (relu1_1, relu2_1, relu3_1, relu4_1, relu5_1)."
)]
struct Cli {
    #[command(flatten)]
    log: nst_runtime::logging::LogArgs,
    /// The photo the images were made from.
    #[arg(long, short = 'c', required_unless_present = "pairs")]
    content: Option<PathBuf>,
    /// The painting whose style they should have.
    #[arg(long, short = 's', required_unless_present = "pairs")]
    style: Option<PathBuf>,
    /// The images to score.
    #[arg(required_unless_present = "pairs")]
    images: Vec<PathBuf>,
    /// Score many images of many photos and paintings in one run (VGG-19 loaded once, each
    /// photo and painting prepared once): a file of lines `PHOTO<TAB>PAINTING<TAB>IMAGE`.
    /// Prints one JSON object per line (the scores, or an error), in the file's order.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["content", "style", "images", "json"])]
    pairs: Option<PathBuf>,
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
    let cli = Cli::parse();
    nst_runtime::logging::init(cli.log, "warn");
    match run(cli) {
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
    if let Some(pairs) = &cli.pairs {
        return score_pairs(pairs, &vgg_path, cli.size, device);
    }
    let (content, style) = (cli.content.clone().expect("clap requires --content"), cli.style.clone().expect("clap requires --style"));
    let evaluator = Evaluator::from_files(&vgg_path, &content, &style, cli.size, device)?;

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
            "content": content,
            "style": style,
            "width": evaluator.width,
            "height": evaluator.height,
            "photo_style_loss": evaluator.photo_style_loss,
            "style_layers": eval::STYLE_LAYERS,
            "photo_style_layer_losses": evaluator.photo_style_layer_losses,
            "painting_content_loss": evaluator.painting_content_loss,
            "images": images,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "evaluated at {}x{}: photo {}, painting {}",
            evaluator.width,
            evaluator.height,
            content.display(),
            style.display()
        );
        println!(
            "references: style loss of the photo {:.6e}, content loss of the painting {:.6e}",
            evaluator.photo_style_loss, evaluator.painting_content_loss
        );
        let width = results.iter().map(|(p, _)| p.display().to_string().len()).max().unwrap_or(5).max(5);
        println!("{:<width$}  {:>12}  {:>12}  {:>11}  {:>13}  {:>9}  {:>12}", "image", "content_loss", "style_loss", "style_ratio", "content_ratio", "blown_out", "flat_patches");
        for (path, r) in &results {
            match r {
                Ok(s) => println!(
                    "{:<width$}  {:>12.5e}  {:>12.5e}  {:>11.4}  {:>13.4}  {:>8.3}%  {:>11.3}%",
                    path.display().to_string(),
                    s.content_loss,
                    s.style_loss,
                    s.style_ratio,
                    s.content_ratio,
                    100.0 * s.blown_out,
                    100.0 * s.flat_patches
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

/// `--pairs`: every line scored, one JSON line each. Each photo and each painting is
/// prepared once (a VGG-19 pass each), the evaluator of a (photo, painting) once for the
/// lines that follow with the same pair (one more pass): sorted by photo, a line costs
/// little more than the pass over its image.
fn score_pairs(list: &std::path::Path, vgg_path: &std::path::Path, size: u32, device: tch::Device) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    use nst_trainer::eval::{PaintingRef, PhotoRef};
    use std::collections::HashMap;
    let text = std::fs::read_to_string(list).with_context(|| format!("{}: cannot read the list of pairs", list.display()))?;
    let vgg = nst_trainer::vgg::Vgg19::load(vgg_path, device, tch::Kind::Float)?;
    // Errors are kept as messages so that every line of a bad photo or painting reports it.
    let mut paintings: HashMap<String, Result<PaintingRef, String>> = HashMap::new();
    let mut photo_ref: Option<(String, Result<PhotoRef, String>)> = None;
    let mut current: Option<((String, String), anyhow::Result<Evaluator>)> = None;
    let mut failed = 0usize;
    let mut total = 0usize;
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        total += 1;
        let fields: Vec<&str> = line.split('\t').collect();
        let [photo, painting, image] = fields[..] else {
            bail!("{}:{}: expected PHOTO<TAB>PAINTING<TAB>IMAGE, got {line:?}", list.display(), n + 1);
        };
        let key = (photo.to_string(), painting.to_string());
        if current.as_ref().is_none_or(|(k, _)| *k != key) {
            if photo_ref.as_ref().is_none_or(|(p, _)| p != photo) {
                let made = nst_runtime::imageio::load_rgb(std::path::Path::new(photo))
                    .context("cannot use the photo")
                    .and_then(|img| PhotoRef::new(&vgg, &img, size, device))
                    .map_err(|e| format!("{e:#}"));
                photo_ref = Some((photo.to_string(), made));
            }
            let painting_ref = paintings
                .entry(painting.to_string())
                .or_insert_with(|| {
                    nst_runtime::imageio::load_rgb(std::path::Path::new(painting))
                        .context("cannot use the painting")
                        .and_then(|img| PaintingRef::new(&vgg, &img, size, device))
                        .map_err(|e| format!("{e:#}"))
                });
            let made = match (&photo_ref.as_ref().expect("set above").1, &*painting_ref) {
                (Ok(p), Ok(s)) => Evaluator::from_refs(vgg.clone(), p, s, device),
                (Err(e), _) | (_, Err(e)) => Err(anyhow::anyhow!("{e}")),
            };
            current = Some((key, made));
        }
        let result = match &current.as_ref().expect("set above").1 {
            Ok(e) => e.score_file(std::path::Path::new(image)),
            Err(e) => Err(anyhow::anyhow!("{e:#}")),
        };
        let row = match result {
            Ok(s) => {
                let mut v = serde_json::to_value(s).expect("scores serialise");
                v["content"] = serde_json::json!(photo);
                v["style"] = serde_json::json!(painting);
                v["path"] = serde_json::json!(image);
                if let Ok(e) = &current.as_ref().expect("set above").1 {
                    v["photo_style_layer_losses"] = serde_json::json!(e.photo_style_layer_losses);
                }
                v
            }
            Err(e) => {
                failed += 1;
                serde_json::json!({"content": photo, "style": painting, "path": image, "error": format!("{e:#}")})
            }
        };
        println!("{row}");
    }
    if failed > 0 {
        eprintln!("error: {failed} of {total} images could not be scored (see their lines)");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
