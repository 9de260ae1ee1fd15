//! `nst serve`: the HTTP API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use nst_runtime::ep::Provider;
use nst_runtime::model::SessionConfig;
use nst_runtime::serve::{self, ServeConfig};

#[derive(Args)]
#[command(after_help = "The API is under /api/v1 and documented by /api/v1/openapi.json; /healthz, /readyz and /metrics \
                        stay open without the key.\nExample: nst serve --bind 127.0.0.1:8080, then \
                        curl --data-binary @photo.jpg -H 'Content-Type: image/jpeg' \
                        'http://127.0.0.1:8080/api/v1/stylize?style=udnie&variant=fast' -o out.jpg")]
pub struct ServeArgs {
    /// Address and port to listen on. The default answers this machine only; 0.0.0.0:8080
    /// answers every network (then set --api-key-file).
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// Inference workers: requests stylized at the same time [default: one per core, at
    /// most 4].
    #[arg(long)]
    workers: Option<usize>,
    /// Inference threads per worker [default: the cores shared among the workers, at
    /// least 1].
    #[arg(long)]
    threads: Option<usize>,
    /// Requests that may wait for a worker; beyond them the answer is 503 with Retry-After.
    #[arg(long, default_value_t = 32)]
    queue: usize,
    /// Largest request body (413 beyond): bytes, or with a unit (KiB, MiB, GiB, KB, MB, GB).
    #[arg(long, default_value = "32MiB", value_parser = parse_size)]
    max_upload: u64,
    /// Most pixels stylized per request, after max_size (422 beyond, with the max_size
    /// that fits).
    #[arg(long, default_value_t = 4_194_304)]
    max_pixels: u64,
    /// A folder of more models (.onnx from nst-train) offered beside the bundled styles,
    /// named after their files.
    #[arg(long, value_name = "DIR")]
    models: Option<PathBuf>,
    /// Execution provider.
    #[arg(long, value_enum, default_value_t = Provider::Auto)]
    ep: Provider,
    #[command(flatten)]
    tile: crate::common::TileArgs,
    /// A file holding the API key (one line): every /api route then needs
    /// `Authorization: Bearer <key>`.
    #[arg(long, value_name = "FILE")]
    api_key_file: Option<PathBuf>,
    /// An origin allowed to call the API from a browser (CORS), e.g.
    /// https://app.example.com; repeat for several. CORS is off without it.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    cors_origins: Vec<String>,
    /// Longest a POST /stylize may take, queue included, before it is cancelled (503):
    /// e.g. 60s, 2m.
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// On SIGTERM/SIGINT, how long running work may go on before it is cancelled.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    grace: Duration,
    /// How long a finished job's result is kept.
    #[arg(long, default_value = "15m", value_parser = humantime::parse_duration)]
    job_ttl: Duration,
    /// Most bytes of job results kept in memory; the oldest go first.
    #[arg(long, default_value = "512MiB", value_parser = parse_size)]
    job_store: u64,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("'{s}' is not a size: write e.g. 32MiB, 500KB or 1048576"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        other => return Err(format!("unknown unit '{other}' in '{s}': use KiB, MiB, GiB, KB, MB or GB")),
    };
    let bytes = n * mult as f64;
    if bytes < 1.0 {
        return Err("the size must be at least 1 byte".into());
    }
    Ok(bytes as u64)
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let workers = args.workers.unwrap_or_else(|| cores.min(4));
    if workers == 0 {
        bail!("--workers must be at least 1");
    }
    let threads = args.threads.unwrap_or_else(|| (cores / workers).max(1));
    if threads == 0 {
        bail!("--threads must be at least 1");
    }
    if workers * threads > cores {
        tracing::warn!("{workers} workers x {threads} threads is more than this machine's {cores} cores: requests will slow each other down");
    }
    if args.max_pixels == 0 {
        bail!("--max-pixels must be at least 1");
    }
    let api_key = match &args.api_key_file {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read the API key file", path.display()))?;
            let key = text.lines().next().unwrap_or("").trim().to_string();
            if key.len() < 16 {
                bail!("{}: the API key must be at least 16 characters on the first line (e.g. `openssl rand -hex 32 > {}`)", path.display(), path.display());
            }
            Some(key)
        }
    };
    for origin in &args.cors_origins {
        if !(origin.starts_with("http://") || origin.starts_with("https://")) || origin.ends_with('/') {
            bail!("--cors-origin {origin}: an origin is a scheme and a host, e.g. https://app.example.com (no path, no trailing /)");
        }
    }
    if let Some(dir) = &args.models {
        if !dir.is_dir() {
            bail!("--models {}: not a folder", dir.display());
        }
    }
    let classic = serve::classic::find_binary();
    if classic.is_none() {
        tracing::warn!("nst-classic is not beside nst: classic jobs (your own painting) are refused (build it with `make build`)");
    }
    let config = ServeConfig {
        bind: args.bind,
        workers,
        threads,
        queue: args.queue,
        max_upload: args.max_upload,
        max_pixels: args.max_pixels,
        models: args.models,
        session: SessionConfig { provider: args.ep, threads: Some(threads), tiling: args.tile.tiling() },
        api_key,
        cors_origins: args.cors_origins,
        timeout: args.timeout,
        grace: args.grace,
        job_ttl: args.job_ttl,
        job_store: args.job_store,
        classic,
    };
    serve::run(config)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("32MiB"), Ok(32 << 20));
        assert_eq!(parse_size("1.5 KB"), Ok(1500));
        assert_eq!(parse_size("100"), Ok(100));
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("MiB").is_err());
    }
}
