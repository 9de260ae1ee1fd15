//! `nst`: stylize images with trained style networks. One module per command; the work
//! itself is in the `nst_runtime` library.

mod common;
mod live;
mod serve;
mod sheet;
mod styles;
mod stylize;
mod video;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    Stylize(stylize::StylizeArgs),
    /// Stylize video files (one, several, or folders of them) through ffmpeg.
    Video(video::VideoArgs),
    /// Stylize a camera, a video file or a test pattern live, in a window (or headless).
    ///
    /// Keys in the window: n/p next/previous style, +/- inference scale (detail or speed),
    /// m mirror, o original side by side, s snapshot (PNG), r start/stop recording,
    /// f overlay (FPS, latency), q or Esc quit. The window can be resized.
    Live(live::LiveArgs),
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
    Sheet(sheet::SheetArgs),
    /// Serve the HTTP API (stylize, jobs, styles, health, metrics) for apps and web pages.
    Serve(serve::ServeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    nst_runtime::logging::init(cli.log, "info,ort=warn");
    let result = match cli.command {
        Command::Stylize(args) => stylize::run(args),
        Command::Video(args) => video::run(args),
        Command::Live(args) => live::run(args),
        Command::Devices { json } => live::devices(json),
        Command::Styles { json } => styles::run(json),
        Command::Sheet(args) => sheet::run(args),
        Command::Serve(args) => serve::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
