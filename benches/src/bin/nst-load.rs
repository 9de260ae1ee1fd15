//! `nst-load`: a loopback load generator for `nst serve` (used by `benches/serve_load.sh`).
//!
//!   nst-load prepare SRC_DIR OUT_DIR [WxH]    photos cropped and resized to WxH (JPEG)
//!   nst-load run URL PHOTO_DIR [--clients 32] [--seconds 60] [--pid PID]
//!
//! `run` posts the photos (round robin) as raw JPEG bodies from CLIENTS threads, each
//! with its own connection, for SECONDS, and prints requests/s, latency p50/p95/p99, the
//! count of each status, and (with --pid) the server's resident memory: at the start,
//! its peak (VmHWM) and at every tenth of the run, to see that it stays flat.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("prepare") if args.len() >= 3 => prepare(Path::new(&args[1]), Path::new(&args[2]), args.get(3).map(String::as_str).unwrap_or("640x480")),
        Some("run") if args.len() >= 3 => run(&args[1], Path::new(&args[2]), &args[3..]),
        _ => Err("usage: nst-load prepare SRC_DIR OUT_DIR [WxH] | nst-load run URL PHOTO_DIR [--clients N] [--seconds S] [--pid PID]".into()),
    };
    if let Err(e) = result {
        eprintln!("nst-load: {e}");
        std::process::exit(1);
    }
}

fn photos(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| ["jpg", "jpeg", "png"].contains(&x.to_string_lossy().to_ascii_lowercase().as_str())))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("{}: no photos", dir.display()));
    }
    Ok(files)
}

fn prepare(src: &Path, out: &Path, size: &str) -> Result<(), String> {
    let (w, h) = size.split_once('x').and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?))).ok_or("size: WxH")?;
    std::fs::create_dir_all(out).map_err(|e| e.to_string())?;
    for path in photos(src)? {
        let img = image::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let img = img.resize_to_fill(w, h, image::imageops::FilterType::Triangle).to_rgb8();
        let name = out.join(format!("{}.jpg", path.file_stem().unwrap().to_string_lossy()));
        img.save(&name).map_err(|e| format!("{}: {e}", name.display()))?;
    }
    Ok(())
}

fn rss_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with(key))?.split_whitespace().nth(1)?.parse().ok()
}

fn run(url: &str, dir: &Path, rest: &[String]) -> Result<(), String> {
    let mut clients = 32usize;
    let mut seconds = 60u64;
    let mut pid: Option<u32> = None;
    let mut it = rest.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--clients" => clients = value.parse().map_err(|_| "--clients: a number")?,
            "--seconds" => seconds = value.parse().map_err(|_| "--seconds: a number")?,
            "--pid" => pid = Some(value.parse().map_err(|_| "--pid: a number")?),
            other => return Err(format!("unknown option {other}")),
        }
    }
    if clients == 0 || seconds == 0 {
        return Err("--clients and --seconds must be at least 1".into());
    }
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(photos(dir)?.iter().map(std::fs::read).collect::<Result<_, _>>().map_err(|e| e.to_string())?);
    let stop = Arc::new(AtomicBool::new(false));
    // (latency of each 200, status counts)
    let results = Arc::new(Mutex::new((Vec::<f64>::new(), BTreeMap::<String, u64>::new())));
    let rss_start = pid.and_then(|p| rss_kib(p, "VmRSS:"));
    let started = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|i| {
            let (bodies, stop, results, url) = (Arc::clone(&bodies), Arc::clone(&stop), Arc::clone(&results), url.to_string());
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(300)).pool_max_idle_per_host(1).build().unwrap();
                let mut n = i;
                while !stop.load(Ordering::Relaxed) {
                    let body = bodies[n % bodies.len()].clone();
                    n += 1;
                    let t = Instant::now();
                    let outcome = client.post(&url).header("content-type", "image/jpeg").body(body).send().and_then(|r| {
                        let status = r.status().as_u16();
                        r.bytes().map(|_| status)
                    });
                    let latency = t.elapsed().as_secs_f64();
                    let busy = matches!(outcome, Ok(503) | Ok(429));
                    let mut res = results.lock().unwrap();
                    match outcome {
                        Ok(status) => {
                            if status == 200 {
                                res.0.push(latency);
                            }
                            *res.1.entry(status.to_string()).or_default() += 1;
                        }
                        Err(e) => *res.1.entry(format!("error ({})", if e.is_timeout() { "timeout" } else if e.is_connect() { "connect" } else { "other" })).or_default() += 1,
                    }
                    drop(res);
                    if busy {
                        // A client told to retry later waits a moment, as a real one would.
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            })
        })
        .collect();
    let mut samples = Vec::new();
    for tenth in 1..=10 {
        std::thread::sleep(Duration::from_secs_f64(seconds as f64 / 10.0));
        if let Some(p) = pid {
            samples.push((tenth, rss_kib(p, "VmRSS:").unwrap_or(0)));
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    // Requests in flight at the end still count: the window runs to the last answer.
    let window = started.elapsed().as_secs_f64();
    let (mut lat, counts) = std::mem::take(&mut *results.lock().unwrap());
    lat.sort_by(f64::total_cmp);
    let q = |p: f64| if lat.is_empty() { f64::NAN } else { lat[((lat.len() as f64 - 1.0) * p).round() as usize] * 1000.0 };
    let ok = lat.len();
    println!("requests: {} in {window:.1} s with {clients} clients", counts.values().sum::<u64>());
    println!("throughput: {:.2} images/s (200 answers)", ok as f64 / window);
    println!("latency of 200 answers: p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms", q(0.5), q(0.95), q(0.99));
    println!("statuses: {}", counts.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", "));
    if let Some(p) = pid {
        let mb = |k: u64| k as f64 / 1024.0;
        println!(
            "server memory: {:.0} MB at the start, peak {:.0} MB; over the run: {}",
            mb(rss_start.unwrap_or(0)),
            mb(rss_kib(p, "VmHWM:").unwrap_or(0)),
            samples.iter().map(|(_, k)| format!("{:.0}", mb(*k))).collect::<Vec<_>>().join(" ")
        );
    }
    println!("json: {}", serde_json::json!({"throughput": ok as f64 / window, "p50_ms": q(0.5), "p95_ms": q(0.95), "p99_ms": q(0.99), "statuses": counts}));
    Ok(())
}
