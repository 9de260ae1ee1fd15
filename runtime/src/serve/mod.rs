//! `nst serve`: the HTTP API over the runtime (axum on tokio, tower-http layers).
//!
//! - [`api`]: the routes, their parameters and the OpenAPI document.
//! - [`pool`]: the inference workers (OS threads) and their bounded queue.
//! - [`catalog`]: the styles offered, their loaded sessions and thumbnails.
//! - [`jobs`]: long work with progress, results kept for a bounded time and size.
//! - [`classic`]: `classic` jobs through the trainer's `nst-classic` (a child process).
//! - [`metrics`]: Prometheus text on `/metrics`.
//! - [`problem`]: every error answer, as `application/problem+json`.
//! - [`live`]: the live WebSocket: camera frames in, stylized frames out, dropped not queued.
//! - [`web`]: the web page at `/` (embedded HTML, CSS and JavaScript from `web/`).
//!
//! Requests never run inference on the async threads: they parse and check the upload,
//! queue the work for a worker (or answer 503 with `Retry-After` when the queue is
//! full) and wait for it within the request timeout. On SIGTERM or SIGINT the server
//! stops accepting, answers what is queued with 503, lets running work finish within
//! the grace period, cancels the rest and exits 0.

pub mod api;
pub mod catalog;
pub mod classic;
pub mod jobs;
pub mod live;
pub mod metrics;
pub mod pool;
pub mod problem;
pub mod web;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::model::SessionConfig;
use catalog::Catalog;
use jobs::Jobs;
use metrics::Metrics;
use pool::Pool;

/// The largest picture decoded at all (its header is read first): 64 megapixels.
/// `max_pixels` bounds what is stylized; a larger upload is refused before decoding.
pub const MAX_DECODE_PIXELS: u64 = 64_000_000;

/// How the server runs; `nst serve`'s options.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub bind: SocketAddr,
    /// Inference workers (each runs one request at a time).
    pub workers: usize,
    /// ONNX Runtime threads per worker.
    pub threads: usize,
    /// Work waiting for a worker, at most; beyond it, 503.
    pub queue: usize,
    /// Largest request body, in bytes.
    pub max_upload: u64,
    /// Most pixels stylized per request (after `max_size`).
    pub max_pixels: u64,
    /// More models (`.onnx`) besides the bundled ones.
    pub models: Option<PathBuf>,
    pub session: SessionConfig,
    /// With a key, every `/api` route needs `Authorization: Bearer <key>`.
    pub api_key: Option<String>,
    /// Origins allowed by CORS; none: CORS off.
    pub cors_origins: Vec<String>,
    /// Longest a synchronous request may take (queue and work); then it is cancelled.
    pub timeout: Duration,
    /// How long running work may go on after SIGTERM/SIGINT.
    pub grace: Duration,
    /// How long a finished job's result is kept.
    pub job_ttl: Duration,
    /// Most bytes of job results kept in all.
    pub job_store: u64,
    /// Where `nst-classic` is, for classic jobs (`None`: classic jobs are refused).
    pub classic: Option<PathBuf>,
}

/// The server's shared state.
pub struct App {
    pub config: ServeConfig,
    pub pool: Pool,
    pub jobs: Jobs,
    pub metrics: Metrics,
    catalog: OnceLock<Catalog>,
    stopping: AtomicBool,
    stop: tokio::sync::watch::Sender<bool>,
    wound_down: std::sync::Once,
}

impl App {
    pub fn new(config: ServeConfig) -> Arc<Self> {
        let (stop, _) = tokio::sync::watch::channel(false);
        Arc::new(Self {
            pool: Pool::new(config.workers, config.queue),
            jobs: Jobs::new(config.job_ttl, usize::try_from(config.job_store).unwrap_or(usize::MAX)),
            metrics: Metrics::default(),
            catalog: OnceLock::new(),
            stopping: AtomicBool::new(false),
            stop,
            wound_down: std::sync::Once::new(),
            config,
        })
    }

    /// The styles, once loaded.
    pub fn catalog(&self) -> Option<&Catalog> {
        self.catalog.get()
    }

    /// Loads the styles (blocking: call off the async threads).
    pub fn load_catalog(&self) -> Result<usize> {
        let catalog = Catalog::load(self.config.models.as_deref(), self.config.session)?;
        if catalog.is_empty() {
            return Err(Error::Parameter(format!("no style models found; looked in {}", crate::bundled::searched())));
        }
        let n = catalog.len();
        let _ = self.catalog.set(catalog);
        Ok(n)
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// A receiver that turns `true` when the server starts stopping.
    pub fn stopping_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.stop.subscribe()
    }

    /// Stops taking work and winds it down (blocking: off the async threads). Once: a
    /// second caller waits for the first to finish.
    fn stop_work(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.stop.send_replace(true);
        self.wound_down.call_once(|| {
            self.pool.shutdown(self.config.grace);
            for job in self.jobs.unfinished() {
                job.cancel();
            }
        });
    }
}

/// Runs the server until SIGTERM/SIGINT; returns once everything has stopped.
pub fn run(config: ServeConfig) -> Result<()> {
    let flag = crate::signals::install();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("nst-serve")
        .build()
        .map_err(|e| Error::Runtime(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .map_err(|e| Error::Parameter(format!("cannot listen on {}: {e}{}", config.bind, bind_hint(&e))))?;
        let addr = listener.local_addr().map_err(|e| Error::Runtime(e.to_string()))?;
        let app = App::new(config);
        let c = &app.config;
        // One line a script can wait for.
        println!("nst serve: listening on http://{addr}/ ({} worker{} x {} thread{}, queue {})", c.workers, plural(c.workers), c.threads, plural(c.threads), c.queue);
        if c.api_key.is_some() {
            println!("nst serve: /api needs `Authorization: Bearer <key>`");
        }
        if !addr.ip().is_loopback() {
            tracing::warn!("listening on {addr}, beyond this machine{}", if c.api_key.is_none() { " and without --api-key-file" } else { "" });
        }
        {
            let app = Arc::clone(&app);
            tokio::task::spawn_blocking(move || match app.load_catalog() {
                Ok(n) => tracing::info!("ready: {n} models loaded"),
                Err(e) => {
                    eprintln!("error: {e}");
                    std::process::exit(1);
                }
            });
        }
        {
            // Finished jobs past their time or size limit go, twice a minute.
            let app = Arc::clone(&app);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(2));
                loop {
                    tick.tick().await;
                    let gone = app.jobs.sweep();
                    if gone > 0 {
                        tracing::debug!("deleted {gone} finished job(s)");
                    }
                }
            });
        }
        let router = api::router(Arc::clone(&app));
        let stopping = {
            let app = Arc::clone(&app);
            async move {
                while !flag.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                tracing::info!("stopping: no new requests; running work has {:?} to finish", app.config.grace);
                let winding = Arc::clone(&app);
                // Queued work is answered 503 at once, running work may finish.
                tokio::task::spawn_blocking(move || winding.stop_work());
            }
        };
        let served = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).with_graceful_shutdown(stopping);
        // Connections that outlive the grace period (a slow client) do not hold the exit.
        let limit = app.config.grace + Duration::from_secs(10);
        let mut stop = app.stopping_signal();
        let deadline = async move {
            let _ = stop.wait_for(|s| *s).await;
            tokio::time::sleep(limit).await;
        };
        tokio::select! {
            r = served => r.map_err(|e| Error::Runtime(format!("the server failed: {e}")))?,
            _ = deadline => tracing::warn!("connections still open after the grace period: closing them"),
        }
        // Whatever still runs is cancelled (stop_work may still be waiting out the grace).
        let app2 = Arc::clone(&app);
        let _ = tokio::task::spawn_blocking(move || app2.stop_work()).await;
        tracing::info!("stopped");
        Ok(())
    })
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn bind_hint(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => " (another program uses this port: choose another with --bind)",
        std::io::ErrorKind::PermissionDenied => " (ports below 1024 need privileges: choose a port above 1024)",
        std::io::ErrorKind::AddrNotAvailable => " (this machine has no such address)",
        _ => "",
    }
}
