//! `nst stylize`: images and folders of images.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Args;
use indicatif::ProgressBar;
use nst_runtime::logging::bar_style;
use nst_runtime::batch;
use nst_runtime::contract::Variant;
use nst_runtime::logging::count;
use nst_runtime::signals;

use crate::common::{load_model, ModelArgs, PictureArgs};

#[derive(Args)]
pub struct StylizeArgs {
    /// Input images or folders of images.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output file (one input) or folder (several inputs, or a folder input).
    #[arg(short, long)]
    output: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    picture: PictureArgs,
}

pub fn run(args: StylizeArgs) -> anyhow::Result<ExitCode> {
    let options = args.picture.options();
    options.validate()?;
    let (jobs, failures) = batch::plan(&args.inputs, &args.output)?;
    let mut failed: Vec<String> = failures.into_iter().map(|f| f.error.to_string()).collect();
    for msg in &failed {
        eprintln!("error: {msg}");
    }
    let total = jobs.len() + failed.len();
    let mut done = 0usize;
    let mut no_room = false;
    if !jobs.is_empty() {
        let mut model = load_model(&args.model, Variant::Full, false)?;
        let bar = if jobs.len() > 1 { ProgressBar::new(jobs.len() as u64) } else { ProgressBar::hidden() };
        bar.set_style(bar_style("{bar:30} {pos}/{len} images  {rate}  eta {eta}  {msg}"));
        signals::install();
        let out_of_room = AtomicBool::new(false);
        let stop = || signals::requested() || out_of_room.load(Ordering::SeqCst);
        batch::run(&mut model, jobs, &options, &stop, |outcome| {
            bar.inc(1);
            match &outcome.result {
                Ok(()) => {
                    done += 1;
                    bar.set_message(outcome.job.input.display().to_string());
                    tracing::debug!("{} -> {}", outcome.job.input.display(), outcome.job.output.display());
                }
                // Images already under way when the disk filled up fail alike: said once.
                Err(nst_runtime::Error::NoRoom { .. }) if no_room => {}
                Err(e) => {
                    bar.suspend(|| eprintln!("error: {e}"));
                    failed.push(e.to_string());
                    if matches!(e, nst_runtime::Error::NoRoom { .. }) {
                        // Every further image would fail alike: stop here.
                        no_room = true;
                        out_of_room.store(true, Ordering::SeqCst);
                    }
                }
            }
        });
        bar.finish_and_clear();
    }
    if no_room {
        eprintln!("stopped after {done} of {}: no room left for the outputs", count(total as u64, "image", "images"));
        return Ok(ExitCode::FAILURE);
    }
    if signals::requested() {
        eprintln!("{}: stylized {done} of {}; nothing else was written", signals::describe(), count(total as u64, "image", "images"));
        return Ok(ExitCode::from(signals::exit_code()));
    }
    if total == 1 && failed.is_empty() {
        eprintln!("wrote {}", args.output.display());
    } else if done == 0 {
        // Each failure has had its error line; say only that nothing came of the run.
        eprintln!("nothing was written to {}", args.output.display());
    } else {
        eprintln!("stylized {done} of {} into {}", count(total as u64, "image", "images"), args.output.display());
    }
    if failed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    if total > 1 && done > 0 {
        eprintln!("{} failed:", failed.len());
        for msg in &failed {
            eprintln!("  {msg}");
        }
    }
    Ok(ExitCode::FAILURE)
}
