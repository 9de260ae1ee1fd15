//! Options and helpers shared by the commands: the model to load and the thread count.

use nst_runtime::batch::StylizeOptions;
use nst_runtime::contract::Variant;
use nst_runtime::ep::Provider;
use nst_runtime::model::{SessionConfig, StyleModel};

#[derive(clap::Args)]
pub struct ModelArgs {
    /// Model: a bundled style (see `nst styles`; case and a trailing .onnx do not matter),
    /// a path to an .onnx file, or a blend of styles with their shares, e.g.
    /// vg_starry_night:0.6,wave_crop:0.4 [default: vg_starry_night].
    #[arg(short, long)]
    pub model: Option<String>,
    /// Variant of a bundled style: full (best quality) or fast (real time on a CPU)
    /// [default: fast for `nst live`, full otherwise].
    #[arg(long, value_enum)]
    pub variant: Option<Variant>,
    /// How a blend of styles is made: auto (their weights mixed into one network when
    /// they share it, as the bundled styles of one variant do: the cost of one style;
    /// else their outputs) or outputs (every style run, the results mixed).
    #[arg(long, value_enum, default_value_t = nst_runtime::blend::BlendBy::Auto)]
    pub blend_by: nst_runtime::blend::BlendBy,
    /// Which copy of a bundled style runs: float, or int8 (its int8 copy, `<style>.fast.int8.onnx`:
    /// up to 1.7x as fast, depending on the CPU; nearly the same picture) or auto (int8 where the style has
    /// one in `nst live`, float elsewhere). Blends always mix the float networks.
    #[arg(long, value_enum, default_value_t = nst_runtime::bundled::Precision::Auto)]
    pub precision: nst_runtime::bundled::Precision,
    #[command(flatten)]
    pub hardware: HardwareArgs,
}

/// Where inference runs: `--ep` and `--threads` (with a model, or for sheet's many).
#[derive(clap::Args)]
pub struct HardwareArgs {
    /// Execution provider. An explicitly requested one that cannot start is an error.
    #[arg(long, value_enum, default_value_t = Provider::Auto)]
    pub ep: Provider,
    /// Inference threads [default: one per physical core].
    #[arg(long, value_parser = parse_threads)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub tile: TileArgs,
}

/// `--tile`: large pictures in tiles.
#[derive(clap::Args)]
pub struct TileArgs {
    /// Run pictures larger than SIDE x SIDE pixels in tiles of that side, with shared
    /// statistics (bounded memory, no seams); `off` runs every picture whole [default:
    /// tiles of 768 above 2 MP for the full networks, of 1536 above 8 MP for the fast ones].
    #[arg(long, value_name = "SIDE", value_parser = nst_runtime::tiling::Tiling::parse)]
    pub tile: Option<nst_runtime::tiling::Tiling>,
}

impl TileArgs {
    pub fn tiling(&self) -> Option<nst_runtime::tiling::Tiling> {
        self.tile
    }
}

impl HardwareArgs {
    pub fn session(&self) -> SessionConfig {
        SessionConfig { provider: self.ep, threads: self.threads, tiling: self.tile.tiling() }
    }
}

/// What is done to each picture, in stylize and video: size, strength, colours.
#[derive(clap::Args)]
pub struct PictureArgs {
    /// Downscale so the longer side is at most N pixels before stylizing (video: sides
    /// rounded to even numbers) [default: the input's own size].
    #[arg(long, value_name = "N")]
    pub max_size: Option<u32>,
    /// Blend with the original: 1 = fully stylized, 0 = unchanged.
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub strength: f32,
    /// Keep the input's colours: stylized luminance, original chroma.
    #[arg(long)]
    pub preserve_color: bool,
    /// How large the painting's strokes are relative to the picture: auto (as the model
    /// paints a picture of its reference size, the painting's size in training, 512 px
    /// for the bundled styles: a large photo looks as painted as a small one), or a
    /// factor: 1 = the picture's own resolution (fine strokes on a large photo), 2 =
    /// strokes twice as large. Above 1 the result is brought back to full size with the
    /// photo's own edges and detail.
    #[arg(long, default_value = "auto", value_name = "auto|F", value_parser = nst_runtime::stroke::StrokeScale::parse)]
    pub stroke_scale: nst_runtime::stroke::StrokeScale,
}

impl PictureArgs {
    pub fn options(&self) -> StylizeOptions {
        StylizeOptions { max_size: self.max_size, strength: self.strength, preserve_color: self.preserve_color, stroke_scale: self.stroke_scale }
    }
}

/// Loads `--model` in `--variant`, or in `default` when none is given (then a style
/// without that variant falls back to its other one, with a warning), at `--precision`
/// (`auto_int8`: whether auto means the int8 copy for this command).
pub fn load_model(args: &ModelArgs, default: Variant, auto_int8: bool) -> anyhow::Result<StyleModel> {
    let variant = args.variant.unwrap_or(default);
    let config = args.hardware.session();
    let model = nst_runtime::blend::load_at(
        args.model.as_deref(),
        variant,
        args.variant.is_none(),
        &config,
        args.blend_by,
        args.precision,
        auto_int8,
    )?;
    let info = model.info();
    if !info.trained {
        tracing::warn!(
            "{} is an untrained (randomly initialised) network: the output shows the pipeline working, not a painting style",
            model.label()
        );
    }
    let precision = if info.quantization.is_some() { ", int8" } else { "" };
    tracing::info!("model: {} ({} variant{precision}, {}, on {})", info.style_name, info.variant, model.label(), model.provider());
    Ok(model)
}

/// `--threads N`: at least 1.
pub fn parse_threads(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1 (leave --threads out for one per physical core)".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("'{s}' is not a whole number of threads")),
    }
}

/// Writes a command's report to stdout. A reader that stops early (`nst styles | head`)
/// is not an error: the rest is dropped quietly instead of a panic on the closed pipe.
pub fn print_out(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(anyhow::Error::new(e).context("cannot write to standard output")),
        _ => Ok(()),
    }
}
