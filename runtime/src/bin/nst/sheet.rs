//! `nst sheet`: one photo in many styles, as a labelled contact sheet.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use indicatif::ProgressBar;
use nst_runtime::logging::bar_style;
use nst_runtime::{blend, bundled};
use nst_runtime::contract::Variant;
use nst_runtime::imageio;
use nst_runtime::logging::count;
use nst_runtime::model::StyleModel;
use nst_runtime::sheet;

use crate::common::HardwareArgs;

#[derive(Args)]
pub struct SheetArgs {
    /// The photo.
    photo: PathBuf,
    /// Output image (.png, .jpg, .webp, ...).
    #[arg(short, long)]
    output: PathBuf,
    /// Styles to show, comma-separated (bundled names or .onnx paths) [default: every trained bundled style].
    #[arg(long, value_delimiter = ',')]
    styles: Vec<String>,
    /// A blend of styles to show (e.g. vg_starry_night:0.6,wave_crop:0.4, see `nst
    /// stylize --model`); may be given many times. With --blend and no --styles, the
    /// sheet shows the blends only.
    #[arg(long, value_name = "STYLE:SHARE,...")]
    blend: Vec<String>,
    /// Leave the original photo off the sheet (e.g. to keep rows of blends aligned).
    #[arg(long)]
    no_original: bool,
    /// Downscale the photo so the longer side of each picture on the sheet is at most N
    /// pixels (the same option as stylize's; `--size` is an old name for it).
    #[arg(long, default_value_t = 384, value_name = "N", alias = "size")]
    max_size: u32,
    /// Pictures per row [default: a compact grid, at most 4].
    #[arg(long)]
    columns: Option<usize>,
    /// Variant of the bundled styles: full or fast.
    #[arg(long, value_enum, default_value = "full")]
    variant: Variant,
    #[command(flatten)]
    hardware: HardwareArgs,
}

pub fn run(args: SheetArgs) -> anyhow::Result<ExitCode> {
    if args.max_size < 16 {
        anyhow::bail!("--max-size must be at least 16 pixels, got {}", args.max_size);
    }
    if args.columns == Some(0) {
        anyhow::bail!("--columns must be at least 1");
    }
    if args.output.exists() && std::fs::canonicalize(&args.output).ok() == std::fs::canonicalize(&args.photo).ok() {
        anyhow::bail!("{}: the output would overwrite the photo; choose another -o", args.output.display());
    }
    imageio::OutputFormat::from_path(&args.output)?;
    let photo = imageio::load_rgb(&args.photo)?;
    let (w, h) = imageio::fit_size(photo.width(), photo.height(), args.max_size);
    let photo = imageio::resize(&photo, w, h);
    // Every bundled style unless a list is given (untrained networks are left out below);
    // listed names must resolve.
    let all_bundled = args.styles.is_empty() && args.blend.is_empty();
    let variant = args.variant;
    let mut failed = Vec::new();
    if let Some(i) = args.styles.iter().position(|s| s.trim().is_empty()) {
        anyhow::bail!("--styles has an empty entry (position {}): list names separated by single commas, e.g. udnie,wave_crop", i + 1);
    }
    // Each picture: its title and its file (`None`: a blend, made when its turn comes).
    let mut specs: Vec<(String, Option<std::path::PathBuf>)> = Vec::new();
    if all_bundled {
        specs.extend(bundled::list_variant(variant).into_iter().map(|s| (s.name, Some(s.path))));
    }
    for s in &args.styles {
        // A name that matches nothing is reported and left out, like a missing file.
        match bundled::resolve(Some(s), variant, false) {
            Ok(r) => specs.push((s.clone(), Some(r.path().to_path_buf()))),
            Err(e) => {
                eprintln!("error: {e}");
                failed.push(s.clone());
            }
        }
    }
    for b in &args.blend {
        match blend::BlendSpec::parse(b) {
            Ok(_) => specs.push((b.trim().to_string(), None)),
            Err(e) => {
                eprintln!("error: {e}");
                failed.push(b.clone());
            }
        }
    }
    if specs.is_empty() && failed.is_empty() {
        anyhow::bail!("no {variant} styles found (looked in {}); pass --styles", bundled::searched());
    }
    let mut tiles = Vec::new();
    if !args.no_original {
        tiles.push(sheet::Tile { image: photo.clone(), title: "original".into(), subtitle: args.photo.file_name().map(|n| n.to_string_lossy().into_owned()) });
    }
    let originals = tiles.len();
    let bar = ProgressBar::new(specs.len() as u64);
    bar.set_style(bar_style("{bar:30} {pos}/{len} styles  eta {eta}  {msg}"));
    let config = args.hardware.session();
    let stop = nst_runtime::signals::install();
    for (name, path) in &specs {
        if stop.load(std::sync::atomic::Ordering::SeqCst) {
            bar.finish_and_clear();
            eprintln!("{}: {} not written", nst_runtime::signals::describe(), args.output.display());
            return Ok(ExitCode::from(nst_runtime::signals::exit_code()));
        }
        bar.set_message(name.clone());
        let model = match path {
            Some(path) => StyleModel::load(path, &config),
            None => blend::load(Some(name), variant, false, &config),
        };
        let result = model.and_then(|mut m| {
            let info = m.info().clone();
            // An untrained network is not a style: shown only when asked for by name.
            let image = if info.trained || !all_bundled { Some(m.stylize(&photo)?) } else { None };
            Ok((image, info))
        });
        match result {
            Ok((None, _)) => {}
            Ok((Some(image), info)) => {
                let (title, subtitle) = match &info.blend {
                    // A blend: its shares as the title, the styles' names below.
                    Some(_) => blend_titles(&info.style_name),
                    None => (name.clone(), info.painting.or(info.style_image)),
                };
                tiles.push(sheet::Tile { image, title, subtitle });
            }
            Err(e) => {
                bar.suspend(|| eprintln!("error: {name}: {e}"));
                failed.push(name.clone());
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    if tiles.len() == originals && failed.is_empty() {
        anyhow::bail!("no trained styles found (looked in {}); pass --styles", bundled::searched());
    }
    if tiles.len() == originals {
        // Each failure has had its error line; this only says what happened to the sheet.
        eprintln!("no style could be applied: {} not written", args.output.display());
        return Ok(ExitCode::FAILURE);
    }
    let columns = args.columns.unwrap_or_else(|| sheet::default_columns(tiles.len()));
    imageio::save_rgb(&args.output, &sheet::compose(&tiles, columns))?;
    eprintln!("wrote {} ({})", args.output.display(), count((tiles.len() - originals) as u64, "style", "styles"));
    if failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("{} failed and {} missing from the sheet: {}", count(failed.len() as u64, "style", "styles"), if failed.len() == 1 { "is" } else { "are" }, failed.join(", "));
        Ok(ExitCode::FAILURE)
    }
}

/// A blend's caption: "60% + 40%" over "vg_starry_night + wave_crop" (read back with the
/// blend parser from the model's recipe).
fn blend_titles(label: &str) -> (String, Option<String>) {
    let parts = blend::BlendSpec::parse_name(label).ok().flatten().map(|b| b.parts).unwrap_or_default();
    let shares = parts.iter().map(|p| format!("{:.0}%", p.weight * 100.0)).collect::<Vec<_>>().join(" + ");
    let names = parts.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(" + ");
    (shares, Some(names))
}
