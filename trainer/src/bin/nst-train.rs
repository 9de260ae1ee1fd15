//! `nst-train`: train fast style-transfer networks and export them to ONNX.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use nst_trainer::{export, TransformerConfig, TransformerNet};

#[derive(Parser)]
#[command(name = "nst-train", version, about = "Train fast neural style transfer networks and export them to ONNX")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Export a randomly initialised (untrained) network: exercises the whole pipeline.
    Init {
        /// Output .onnx file.
        #[arg(short, long)]
        output: PathBuf,
        /// Random seed for the weights.
        #[arg(long, default_value_t = 0)]
        seed: i64,
    },
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt().with_writer(std::io::stderr).with_target(false).without_time().init();
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Init { output, seed } => {
            tch::manual_seed(seed);
            let vs = tch::nn::VarStore::new(tch::Device::Cpu);
            let config = TransformerConfig::default();
            let net = TransformerNet::new(&vs.root(), config);
            let info = export::model_info(config, "untrained", None, None);
            export::write_onnx(&output, &net, &info)?;
            eprintln!("wrote {} (untrained network, seed {seed})", output.display());
            Ok(())
        }
    }
}
