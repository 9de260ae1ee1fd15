//! `nst serve` from the outside: the real server on a free loopback port, a real HTTP
//! client (reqwest) on every route and every error the API promises, jobs with their
//! events and a cancel, classic jobs through nst-classic, the API key, CORS, and the
//! shutdown on SIGTERM with requests in flight.

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use image::{ImageFormat, RgbImage};
use nst_tests::*;
use reqwest::blocking::{multipart, Client, Response};
use serde_json::Value;

fn client() -> Client {
    Client::builder().timeout(Duration::from_secs(300)).build().unwrap()
}

fn jpeg(w: u32, h: u32) -> Vec<u8> {
    encode(&pattern(w, h), ImageFormat::Jpeg)
}

fn png(w: u32, h: u32) -> Vec<u8> {
    encode(&pattern(w, h), ImageFormat::Png)
}

fn post_image(s: &Server, query: &str, body: Vec<u8>, content_type: &str) -> Response {
    client().post(s.url(&format!("/api/v1/stylize{query}"))).header("content-type", content_type).body(body).send().unwrap()
}

/// An error answer: the status, problem+json with its four members, no path of this
/// machine in it; returns its detail.
fn problem(r: Response, status: u16) -> String {
    assert_eq!(r.status().as_u16(), status, "{:?}", r.text());
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let body: Value = r.json().unwrap();
    for key in ["type", "title", "status", "detail"] {
        assert!(body.get(key).is_some(), "no {key} in {body}");
    }
    assert_eq!(body["status"], status);
    let detail = body["detail"].as_str().unwrap().to_string();
    let root = env!("CARGO_MANIFEST_DIR");
    let root = std::path::Path::new(root).parent().unwrap().display().to_string();
    assert!(!detail.contains(&root) && !detail.contains("/tmp/"), "a path of the machine in: {detail}");
    detail
}

fn decode_body(r: Response) -> (image::DynamicImage, String) {
    assert_eq!(r.status(), 200, "{:?}", r.text());
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    let bytes = r.bytes().unwrap();
    (image::load_from_memory(&bytes).expect("the answer decodes"), ct)
}

#[test]
fn health_styles_thumbnails_openapi_and_metrics() {
    let s = Server::start(&[]);
    let c = client();
    let health: Value = c.get(s.url("/healthz")).send().unwrap().json().unwrap();
    assert_eq!(health["status"], "ok");
    let ready: Value = c.get(s.url("/readyz")).send().unwrap().json().unwrap();
    assert!(ready["models"].as_u64().unwrap() >= 12, "{ready}");

    let styles: Value = c.get(s.url("/api/v1/styles")).send().unwrap().json().unwrap();
    let list = styles["styles"].as_array().unwrap();
    assert!(list.len() >= 6, "{styles}");
    let udnie = list.iter().find(|s| s["name"] == "udnie").expect("udnie is listed");
    let variants: Vec<&str> = udnie["variants"].as_array().unwrap().iter().map(|v| v["variant"].as_str().unwrap()).collect();
    assert_eq!(variants, ["full", "fast"]);
    assert!(udnie["painting"].as_str().unwrap().contains("Picabia"), "{udnie}");
    assert_eq!(styles["default_style"], "vg_starry_night");
    assert_eq!(styles["limits"]["max_upload"], 32 << 20);

    // The thumbnail: the bundled photo, 256 px, made once (the same bytes again).
    let url = s.url(udnie["thumbnail"].as_str().unwrap());
    let first = c.get(&url).send().unwrap();
    assert_eq!(first.headers()["content-type"], "image/jpeg");
    let first = first.bytes().unwrap();
    let img = image::load_from_memory(&first).unwrap();
    assert_eq!(img.width().max(img.height()), 256);
    assert_eq!(c.get(&url).send().unwrap().bytes().unwrap(), first);
    let fast = c.get(format!("{url}?variant=fast")).send().unwrap().bytes().unwrap();
    assert_ne!(fast, first, "the fast variant has its own thumbnail");
    problem(c.get(s.url("/api/v1/styles/nope/thumbnail")).send().unwrap(), 404);

    // The painting itself, from the model's metadata: every bundled style has one.
    for style in list {
        let url = style["painting_image"].as_str().unwrap_or_else(|| panic!("no painting_image: {style}"));
        let r = c.get(s.url(url)).send().unwrap();
        assert_eq!(r.headers()["content-type"], "image/jpeg");
        let painting = image::load_from_memory_with_format(&r.bytes().unwrap(), ImageFormat::Jpeg).unwrap();
        // 256 px on its longer side, or the painting's own size when smaller.
        let side = painting.width().max(painting.height());
        assert!((128..=256).contains(&side), "{url}: {side} px");
    }
    assert!(problem(c.get(s.url("/api/v1/styles/nope/painting")).send().unwrap(), 404).contains("no style named 'nope'"));
    problem(c.get(s.url("/api/v1/styles/..%2F..%2Fetc/painting")).send().unwrap(), 404);

    // The OpenAPI document names every route and every parameter.
    let doc: Value = c.get(s.url("/api/v1/openapi.json")).send().unwrap().json().unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for p in ["/api/v1/styles", "/api/v1/styles/{name}/thumbnail", "/api/v1/styles/{name}/painting", "/api/v1/live", "/api/v1/stylize", "/api/v1/jobs", "/api/v1/jobs/{id}", "/api/v1/jobs/{id}/events", "/api/v1/jobs/{id}/result", "/healthz", "/readyz", "/metrics"] {
        assert!(paths.contains_key(p), "{p} missing from the OpenAPI document");
    }
    let params: Vec<&str> = doc["paths"]["/api/v1/stylize"]["post"]["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(params, ["style", "variant", "strength", "preserve_color", "max_size", "format", "stroke_scale"]);
    let job_params: Vec<&str> = doc["paths"]["/api/v1/jobs"]["post"]["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    for p in ["kind", "size", "iterations", "Prefer"] {
        assert!(job_params.contains(&p), "{p} not documented for POST /jobs: {job_params:?}");
    }

    let r = post_image(&s, "?variant=fast", jpeg(64, 48), "image/jpeg");
    assert_eq!(r.status(), 200);
    // The worker hands the answer over before it counts itself idle: wait for that.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut metrics = c.get(s.url("/metrics")).send().unwrap().text().unwrap();
    while !metrics.contains("nst_workers_busy 0") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        metrics = c.get(s.url("/metrics")).send().unwrap().text().unwrap();
    }
    for needle in [
        "nst_http_requests_total{method=\"POST\",route=\"/api/v1/stylize\",status=\"200\"} 1",
        "nst_http_request_duration_seconds_bucket{le=",
        "nst_queue_length 0",
        "nst_workers_busy 0",
        "nst_jobs{state=\"queued\"} 0",
    ] {
        assert!(metrics.contains(needle), "{needle} not in:\n{metrics}");
    }
    // Request ids: made when absent, kept when given.
    let r = c.get(s.url("/healthz")).send().unwrap();
    assert_eq!(r.headers()["x-request-id"].len(), 36);
    let r = c.get(s.url("/healthz")).header("x-request-id", "abc-123").send().unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123");
}

#[test]
fn stylize_raw_and_multipart_with_every_parameter() {
    let s = Server::start(&[]);
    let photo = pattern(96, 64);
    // Raw JPEG in, JPEG out (the upload's format), at its size, stylized.
    let r = post_image(&s, "?style=udnie&variant=fast", jpeg(96, 64), "image/jpeg");
    assert_eq!(r.headers()["x-image-width"], "96");
    assert_eq!(r.headers()["x-image-height"], "64");
    assert!(r.headers()["x-work-ms"].to_str().unwrap().parse::<f64>().unwrap() > 0.0);
    assert!(r.headers()["server-timing"].to_str().unwrap().starts_with("work;dur="));
    let (out, ct) = decode_body(r);
    assert_eq!(ct, "image/jpeg");
    assert_eq!((out.width(), out.height()), (96, 64));
    assert!(mean_abs_diff(&out.to_rgb8(), &photo) > 20.0, "not stylized");

    // Multipart with every parameter as fields: PNG out, downscaled.
    let form = multipart::Form::new()
        .part("image", multipart::Part::bytes(png(96, 64)).file_name("beach.png").mime_str("image/png").unwrap())
        .text("style", "wave_crop")
        .text("variant", "full")
        .text("max_size", "48")
        .text("format", "webp");
    let r = client().post(s.url("/api/v1/stylize")).multipart(form).send().unwrap();
    assert!(r.headers()["content-disposition"].to_str().unwrap().contains("beach-wave_crop.webp"), "{:?}", r.headers());
    let (out, ct) = decode_body(r);
    assert_eq!(ct, "image/webp");
    assert_eq!((out.width(), out.height()), (48, 32));

    // strength 0 gives the photo back; preserve_color keeps its colours.
    let (same, ct) = decode_body(post_image(&s, "?variant=fast&strength=0&format=png", png(96, 64), "image/png"));
    assert_eq!(ct, "image/png");
    assert!(max_abs_diff(&same.to_rgb8(), &photo) <= 1);
    let (styled, _) = decode_body(post_image(&s, "?variant=fast&format=png", png(96, 64), "application/octet-stream"));
    let (kept, _) = decode_body(post_image(&s, "?variant=fast&format=png&preserve_color=true", png(96, 64), "image/png"));
    let (styled, kept) = (styled.to_rgb8(), kept.to_rgb8());
    assert!(mean_chroma_diff(&kept, &photo) * 2.0 < mean_chroma_diff(&styled, &photo), "preserve_color did not keep the colours");

    // A tiny picture (smaller than the network's minimum side) and an alpha channel.
    let rgba = image::RgbaImage::from_fn(20, 10, |x, _| image::Rgba([200, 100, 50, if x < 10 { 0 } else { 255 }]));
    let mut buf = std::io::Cursor::new(Vec::new());
    rgba.write_to(&mut buf, ImageFormat::Png).unwrap();
    let (out, _) = decode_body(post_image(&s, "?variant=fast", buf.into_inner(), "image/png"));
    let out = out.to_rgba8();
    assert_eq!(out.dimensions(), (20, 10));
    assert_eq!(out.get_pixel(0, 0)[3], 0, "alpha kept");
    assert_eq!(out.get_pixel(15, 0)[3], 255);
}

#[test]
fn every_error_is_a_problem_in_words() {
    let s = Server::start(&["--max-upload", "200KiB", "--max-pixels", "20000"]);
    let c = client();
    // 413: too large, announced or not.
    let big = vec![0u8; 300 << 10];
    assert!(problem(post_image(&s, "", big.clone(), "image/jpeg"), 413).contains("200 KiB"));
    // Without a Content-Length (chunked), the server stops reading at the limit and
    // answers at once; the client may still be sending.
    let head = raw_request(&s, "POST /api/v1/stylize HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nTransfer-Encoding: chunked\r\n\r\n", &big);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(head.to_ascii_lowercase().contains("content-type: application/problem+json"), "{head}");
    // 422: not an image, empty, truncated, too many pixels (with the max_size that fits).
    assert!(problem(post_image(&s, "", b"hello, world".to_vec(), "image/jpeg"), 422).contains("not a supported image"));
    assert!(problem(post_image(&s, "", Vec::new(), "image/jpeg"), 422).contains("no image"));
    let mut cut = jpeg(120, 100);
    cut.truncate(cut.len() / 2);
    assert!(problem(post_image(&s, "", cut, "image/jpeg"), 422).contains("truncated"));
    let detail = problem(post_image(&s, "", jpeg(300, 200), "image/jpeg"), 422);
    assert!(detail.contains("300x200") && detail.contains("max_size=173"), "{detail}");
    assert_eq!(post_image(&s, "?max_size=173&variant=fast", jpeg(300, 200), "image/jpeg").status(), 200);
    // A JPEG whose header claims 60000x60000: refused from the header, before decoding.
    let mut lying = jpeg(16, 16);
    let sof = lying.windows(2).position(|w| w == [0xFF, 0xC0]).expect("a baseline JPEG");
    lying[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]);
    let detail = problem(post_image(&s, "", lying, "image/jpeg"), 422);
    assert!(detail.contains("megapixels"), "{detail}");
    // 404: unknown style or variant, listing what exists; names are never paths.
    let detail = problem(post_image(&s, "?style=picasso", jpeg(32, 32), "image/jpeg"), 404);
    assert!(detail.contains("udnie") && detail.contains("wave_crop"), "{detail}");
    for name in ["../weights/udnie", "%2E%2E%2Fweights%2Fudnie.onnx", "/etc/passwd"] {
        problem(post_image(&s, &format!("?style={name}"), jpeg(32, 32), "image/jpeg"), 404);
        problem(c.get(s.url(&format!("/api/v1/styles/{name}/thumbnail"))).send().unwrap(), 404);
    }
    // 400: bad parameters, each named.
    for (query, words) in [
        ("?strength=2", "strength must be between 0 and 1"),
        ("?strength=lots", "strength must be a number"),
        ("?variant=medium", "variant must be full or fast"),
        ("?format=gif", "format must be png, jpeg or webp"),
        ("?max_size=0", "max_size must be at least 1"),
        ("?preserve_color=maybe", "preserve_color must be true or false"),
        ("?stlye=udnie", "unknown parameter 'stlye'"),
    ] {
        let detail = problem(post_image(&s, query, jpeg(32, 32), "image/jpeg"), 400);
        assert!(detail.contains(words), "{query}: {detail}");
    }
    // Routes and methods that do not exist.
    problem(c.get(s.url("/api/v2/stylize")).send().unwrap(), 404);
    problem(c.get(s.url("/api/v1/stylize")).send().unwrap(), 405);
    problem(c.get(s.url("/api/v1/jobs/nope")).send().unwrap(), 404);
}

/// Sends `head` and then `body` in chunks on a raw connection (ignoring a server that
/// stops reading), and returns what the server answered.
fn raw_request(s: &Server, head: &str, body: &[u8]) -> String {
    use std::io::{Read, Write};
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let (head, body) = (head.to_string(), body.to_vec());
    let sender = std::thread::spawn(move || {
        let _ = writer.write_all(head.as_bytes());
        for chunk in body.chunks(16 << 10) {
            if writer.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).and_then(|_| writer.write_all(chunk)).and_then(|_| writer.write_all(b"\r\n")).is_err() {
                return;
            }
        }
        let _ = writer.write_all(b"0\r\n\r\n");
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
        if answer.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let _ = sender.join();
    String::from_utf8_lossy(&answer).into_owned()
}

/// A picture that keeps a worker busy for seconds: the full network at 1600x1200 on one
/// thread.
fn slow_photo() -> Vec<u8> {
    jpeg(1600, 1200)
}

#[test]
fn a_full_queue_answers_503_with_retry_after_and_a_timeout_cancels() {
    let s = Server::start(&["--workers", "1", "--threads", "1", "--queue", "0", "--max-pixels", "4000000", "--timeout", "60s"]);
    let slow = {
        let url = s.url("/api/v1/stylize?variant=full");
        std::thread::spawn(move || client().post(url).header("content-type", "image/jpeg").body(slow_photo()).send().unwrap().status().as_u16())
    };
    wait_busy(&s, 1);
    let r = post_image(&s, "?variant=fast", jpeg(32, 32), "image/jpeg");
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1);
    assert!(problem(r, 503).contains("busy"));
    assert_eq!(slow.join().unwrap(), 200);

    // A request past the time limit is cancelled, and the worker is free again at once.
    let s = Server::start(&["--workers", "1", "--threads", "1", "--timeout", "500ms", "--max-pixels", "4000000"]);
    let started = Instant::now();
    let detail = problem(post_image(&s, "?variant=full", slow_photo(), "image/jpeg"), 503);
    assert!(detail.contains("longer than"), "{detail}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    let freed = Instant::now();
    wait_busy(&s, 0);
    assert!(freed.elapsed() < Duration::from_secs(3), "the cancelled run went on for {:?}", freed.elapsed());
    assert_eq!(post_image(&s, "?variant=fast", jpeg(32, 32), "image/jpeg").status(), 200);
}

/// Waits until the server says `n` workers are busy.
fn wait_busy(s: &Server, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let m = client().get(s.url("/metrics")).send().unwrap().text().unwrap();
        if m.contains(&format!("nst_workers_busy {n}\n")) {
            return;
        }
        assert!(Instant::now() < deadline, "workers busy never became {n}:\n{m}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Reads a job's event stream to its end: (event, data) pairs.
fn events(s: &Server, id: &str) -> Vec<(String, Value)> {
    let r = client().get(s.url(&format!("/api/v1/jobs/{id}/events"))).send().unwrap();
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let mut out = Vec::new();
    let mut event = String::new();
    for line in BufReader::new(r).lines() {
        let line = line.unwrap();
        if let Some(e) = line.strip_prefix("event: ").or_else(|| line.strip_prefix("event:")) {
            event = e.trim().to_string();
        } else if let Some(d) = line.strip_prefix("data: ").or_else(|| line.strip_prefix("data:")) {
            out.push((event.clone(), serde_json::from_str(d.trim()).unwrap()));
        }
    }
    out
}

#[test]
fn jobs_progress_events_results_wait_and_cancel() {
    let s = Server::start(&["--workers", "1", "--threads", "1", "--max-pixels", "4000000"]);
    let c = client();
    let r = c.post(s.url("/api/v1/jobs?style=udnie&variant=fast&format=png")).header("content-type", "image/jpeg").body(jpeg(200, 150)).send().unwrap();
    assert_eq!(r.status(), 202);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let status: Value = r.json().unwrap();
    let id = status["id"].as_str().unwrap().to_string();
    assert_eq!(location, format!("/api/v1/jobs/{id}"));
    assert_eq!(status["kind"], "stylize");
    let evs = events(&s, &id);
    let (last, data) = evs.last().unwrap();
    assert_eq!(last, "end");
    assert_eq!(data["status"], "succeeded");
    assert_eq!(data["progress"], 1.0);
    assert!(evs[..evs.len() - 1].iter().all(|(e, _)| e == "progress"));
    let (out, ct) = decode_body(c.get(s.url(&format!("{location}/result"))).send().unwrap());
    assert_eq!((ct.as_str(), out.width(), out.height()), ("image/png", 200, 150));
    let status: Value = c.get(s.url(&location)).send().unwrap().json().unwrap();
    assert_eq!(status["status"], "succeeded");

    // Prefer: wait answers the picture itself when it is ready in time.
    let r = c.post(s.url("/api/v1/jobs?variant=fast")).header("prefer", "wait=60").header("content-type", "image/jpeg").body(jpeg(64, 48)).send().unwrap();
    assert_eq!(r.headers()["preference-applied"], "wait=60");
    let (out, _) = decode_body(r);
    assert_eq!((out.width(), out.height()), (64, 48));

    // A slow job running, a second queued behind it (position 0); cancel both.
    let post = |body: Vec<u8>| -> Value {
        let r = c.post(s.url("/api/v1/jobs?variant=full")).header("content-type", "image/jpeg").body(body).send().unwrap();
        assert_eq!(r.status(), 202);
        r.json().unwrap()
    };
    let running = post(slow_photo());
    let queued = post(jpeg(64, 48));
    wait_busy(&s, 1);
    let q: Value = c.get(s.url(queued["links"]["self"].as_str().unwrap())).send().unwrap().json().unwrap();
    assert_eq!((q["status"].as_str(), q["queue_position"].as_u64()), (Some("queued"), Some(0)), "{q}");
    for job in [&queued, &running] {
        let r = c.delete(s.url(job["links"]["self"].as_str().unwrap())).send().unwrap();
        assert_eq!(r.status(), 200);
        let st: Value = r.json().unwrap();
        assert_eq!(st["status"], "cancelled");
    }
    let id = running["id"].as_str().unwrap();
    let evs = events(&s, id);
    assert_eq!(evs.last().unwrap().1["status"], "cancelled");
    assert!(problem(c.get(s.url(&format!("/api/v1/jobs/{id}/result"))).send().unwrap(), 409).contains("cancelled"));
    wait_busy(&s, 0);
    // Deleting a finished job deletes it.
    assert_eq!(c.delete(s.url(&location)).send().unwrap().status(), 204);
    problem(c.get(s.url(&location)).send().unwrap(), 404);
    // A job that fails says why: a truncated JPEG passes the header check, then fails
    // to decode on the worker.
    let mut cut = jpeg(120, 100);
    cut.truncate(cut.len() / 2);
    let failed = post(cut);
    let evs = events(&s, failed["id"].as_str().unwrap());
    let end = &evs.last().unwrap().1;
    assert_eq!(end["status"], "failed");
    assert_eq!(end["error"]["status"], 422);
    assert!(end["error"]["detail"].as_str().unwrap().contains("truncated"), "{end}");
}

#[test]
fn finished_jobs_are_kept_for_a_bounded_time() {
    let s = Server::start(&["--job-ttl", "1s"]);
    let c = client();
    let r = c.post(s.url("/api/v1/jobs?variant=fast")).header("prefer", "wait=60").header("content-type", "image/jpeg").body(jpeg(32, 32)).send().unwrap();
    assert_eq!(r.status(), 200);
    let url = s.url(r.headers()["content-location"].to_str().unwrap());
    assert_eq!(c.get(&url).send().unwrap().status(), 200);
    std::thread::sleep(Duration::from_secs(4));
    assert!(problem(c.get(&url).send().unwrap(), 404).contains("kept for 1s"));
}

#[test]
fn classic_jobs_run_the_optimisation_with_progress() {
    let s = Server::start(&[]);
    let c = client();
    let form = multipart::Form::new()
        .part("image", multipart::Part::bytes(jpeg(80, 60)).file_name("photo.jpg"))
        .part("style_image", multipart::Part::bytes(encode(&RgbImage::from_fn(64, 64, |x, y| image::Rgb([(x * 4) as u8, (y * 4) as u8, 128])), ImageFormat::Png)).file_name("mine.png"))
        .text("kind", "classic")
        .text("size", "64")
        .text("iterations", "20");
    let r = c.post(s.url("/api/v1/jobs")).multipart(form).send().unwrap();
    assert_eq!(r.status(), 202, "{:?}", r.text());
    let st: Value = r.json().unwrap();
    assert_eq!(st["kind"], "classic");
    let evs = events(&s, st["id"].as_str().unwrap());
    let (_, end) = evs.last().unwrap();
    assert_eq!(end["status"], "succeeded", "{end}\n{}", s.log());
    let steps: Vec<f64> = evs.iter().map(|(_, d)| d["progress"].as_f64().unwrap()).collect();
    assert!(steps.len() >= 3 && steps.windows(2).all(|w| w[0] <= w[1]), "{steps:?}");
    let (out, _) = decode_body(c.get(s.url(st["links"]["result"].as_str().unwrap())).send().unwrap());
    assert_eq!((out.width(), out.height()), (64, 48));
    let preview = c.get(s.url(st["links"]["preview"].as_str().unwrap())).send().unwrap();
    assert_eq!(preview.status(), 200);
    image::load_from_memory(&preview.bytes().unwrap()).unwrap();
    // Without a painting, or with a bad parameter: refused up front.
    let form = multipart::Form::new().part("image", multipart::Part::bytes(jpeg(80, 60))).text("kind", "classic");
    assert!(problem(c.post(s.url("/api/v1/jobs")).multipart(form).send().unwrap(), 422).contains("style_image"));
    let form = multipart::Form::new().part("image", multipart::Part::bytes(jpeg(80, 60))).text("kind", "classic").text("iterations", "999999");
    problem(c.post(s.url("/api/v1/jobs")).multipart(form).send().unwrap(), 400);
}

#[test]
fn the_api_key_guards_the_api_and_cors_is_off_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let key = "0123456789abcdef0123456789abcdef";
    std::fs::write(dir.path().join("key"), format!("{key}\n")).unwrap();
    let key_file = dir.path().join("key").display().to_string();
    let s = Server::start(&["--api-key-file", &key_file, "--cors-origin", "https://app.example.com"]);
    let c = client();
    for path in ["/api/v1/styles", "/api/v1/openapi.json", "/api/v1/jobs/x"] {
        let r = c.get(s.url(path)).send().unwrap();
        assert_eq!(r.headers()["www-authenticate"], "Bearer");
        problem(r, 401);
        problem(c.get(s.url(path)).bearer_auth("0123456789abcdef0123456789abcdeX").send().unwrap(), 401);
    }
    problem(post_image(&s, "", jpeg(32, 32), "image/jpeg"), 401);
    assert_eq!(c.get(s.url("/api/v1/styles")).bearer_auth(key).send().unwrap().status(), 200);
    let r = c.post(s.url("/api/v1/stylize?variant=fast")).bearer_auth(key).header("content-type", "image/jpeg").body(jpeg(32, 32)).send().unwrap();
    assert_eq!(r.status(), 200);
    for open in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(c.get(s.url(open)).send().unwrap().status(), 200, "{open}");
    }
    // CORS for the named origin only.
    let r = c.get(s.url("/healthz")).header("origin", "https://app.example.com").send().unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], "https://app.example.com");
    let r = c.get(s.url("/healthz")).header("origin", "https://evil.example.com").send().unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    let pre = c
        .request(reqwest::Method::OPTIONS, s.url("/api/v1/stylize"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization")
        .send()
        .unwrap();
    assert!(pre.status().is_success(), "preflight: {}", pre.status());

    let plain = Server::start(&[]);
    let r = c.get(plain.url("/api/v1/styles")).header("origin", "https://app.example.com").send().unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("access-control-allow-origin").is_none(), "CORS on without --cors-origin");

    // Keys too short to be keys are refused at start.
    std::fs::write(dir.path().join("short"), "abc\n").unwrap();
    let run = Run::of(nst().args(["serve", "--api-key-file"]).arg(dir.path().join("short")));
    assert!(!run.success && run.stderr.contains("at least 16 characters"), "{}", run.stderr);
}

#[test]
fn sigterm_finishes_running_work_refuses_the_queue_and_exits_0() {
    let mut s = Server::start(&["--workers", "1", "--threads", "1", "--max-pixels", "4000000", "--grace", "60s"]);
    let spawn_post = |query: &str, body: Vec<u8>| {
        let url = s.url(&format!("/api/v1/stylize{query}"));
        std::thread::spawn(move || {
            let r = client().post(url).header("content-type", "image/jpeg").body(body).send().unwrap();
            let status = r.status().as_u16();
            (status, r.bytes().unwrap().to_vec())
        })
    };
    let running = spawn_post("?variant=full", slow_photo());
    wait_busy(&s, 1);
    let queued = spawn_post("?variant=fast", jpeg(32, 32));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !client().get(s.url("/metrics")).send().unwrap().text().unwrap().contains("nst_queue_length 1\n") {
        assert!(Instant::now() < deadline, "the second request was not queued");
        std::thread::sleep(Duration::from_millis(20));
    }
    s.signal("TERM");
    let (status, body) = queued.join().unwrap();
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("shutting-down"));
    let (status, body) = running.join().unwrap();
    assert_eq!(status, 200, "the running request did not finish: {}", String::from_utf8_lossy(&body));
    image::load_from_memory(&body).expect("a whole picture");
    assert_eq!(s.wait_exit(60), Some(0), "{}", s.log());
    assert!(reqwest::blocking::get(s.url("/healthz")).is_err(), "still accepting");

    // Past the grace period the running work is cancelled, and the server still exits 0.
    let mut s = Server::start(&["--workers", "1", "--threads", "1", "--max-pixels", "4000000", "--grace", "200ms"]);
    let url = s.url("/api/v1/stylize?variant=full");
    let running = std::thread::spawn(move || client().post(url).header("content-type", "image/jpeg").body(slow_photo()).send().unwrap().status().as_u16());
    wait_busy(&s, 1);
    let started = Instant::now();
    s.signal("INT");
    assert_eq!(running.join().unwrap(), 503);
    assert_eq!(s.wait_exit(30), Some(0), "{}", s.log());
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
}

/// A live WebSocket client on `path` (query included), reading with a timeout.
fn live_socket(s: &Server, path: &str) -> Result<tungstenite::WebSocket<std::net::TcpStream>, tungstenite::Error> {
    let host = s.base.trim_start_matches("http://").to_string();
    let stream = std::net::TcpStream::connect(&host).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    tungstenite::client(format!("ws://{host}{path}"), stream).map(|(ws, _)| ws).map_err(|e| match e {
        tungstenite::HandshakeError::Failure(e) => e,
        tungstenite::HandshakeError::Interrupted(_) => panic!("handshake interrupted"),
    })
}

fn read_live(ws: &mut tungstenite::WebSocket<std::net::TcpStream>) -> tungstenite::Message {
    loop {
        match ws.read().expect("a message from the live socket") {
            tungstenite::Message::Ping(_) | tungstenite::Message::Pong(_) => continue,
            m => return m,
        }
    }
}

fn note(m: tungstenite::Message) -> Value {
    match m {
        tungstenite::Message::Text(t) => serde_json::from_str(t.as_str()).unwrap(),
        other => panic!("expected a text note, got {other:?}"),
    }
}

#[test]
fn live_websocket_stylizes_frames_keeps_only_the_newest_and_switches_style() {
    use tungstenite::Message;
    let s = Server::start(&["--workers", "1"]);
    let c = client();
    // Checked before the upgrade: plain HTTP errors in words.
    assert!(problem(c.get(s.url("/api/v1/live?style=picasso")).send().unwrap(), 404).contains("no style named 'picasso'"));
    assert!(problem(c.get(s.url("/api/v1/live?max_size=5000")).send().unwrap(), 400).contains("max_size must be between 16 and 1280"));
    assert!(problem(c.get(s.url("/api/v1/live")).send().unwrap(), 400).contains("WebSocket"));

    // A frame in, a JPEG out at the asked size, in the fast variant by default.
    let mut ws = live_socket(&s, "/api/v1/live?style=udnie&max_size=64").unwrap();
    ws.send(Message::Binary(jpeg(128, 96).into())).unwrap();
    let Message::Binary(b) = read_live(&mut ws) else { panic!("expected a frame") };
    let frame = image::load_from_memory_with_format(&b, ImageFormat::Jpeg).expect("a JPEG frame").to_rgb8();
    assert_eq!(frame.dimensions(), (64, 48));
    let plain = image::imageops::resize(&pattern(128, 96), 64, 48, image::imageops::FilterType::Triangle);
    assert!(mean_abs_diff(&frame, &plain) > 10.0, "the frame is stylized");

    // Settings: a switch is confirmed; a bad one is a note in words, the socket stays.
    ws.send(Message::Text(r#"{"style": "the_scream"}"#.into())).unwrap();
    assert_eq!(note(read_live(&mut ws)), serde_json::json!({"type": "style", "style": "the_scream", "variant": "fast"}));
    ws.send(Message::Text(r#"{"style": "nope"}"#.into())).unwrap();
    let n = note(read_live(&mut ws));
    assert_eq!(n["type"], "error");
    assert!(n["detail"].as_str().unwrap().contains("no style named 'nope'"), "{n}");
    ws.send(Message::Text("not json".into())).unwrap();
    assert_eq!(note(read_live(&mut ws))["type"], "error");
    // Not an image: a note, and the next frame still works.
    ws.send(Message::Binary(b"garbage".to_vec().into())).unwrap();
    let n = note(read_live(&mut ws));
    assert!(n["detail"].as_str().unwrap().contains("not a supported image"), "{n}");

    // Frames that arrive while one is stylized: only the newest is kept. Slow frames (the
    // full variant at 320 px) sent back to back.
    drop(ws);
    let mut ws = live_socket(&s, "/api/v1/live?style=udnie&variant=full&max_size=320").unwrap();
    let burst = 6;
    for _ in 0..burst {
        ws.send(Message::Binary(jpeg(320, 240).into())).unwrap();
    }
    let mut answers = 0;
    ws.get_mut().set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    loop {
        match ws.read() {
            Ok(Message::Binary(_)) => answers += 1,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    assert!((2..burst).contains(&answers), "{answers} answers to {burst} frames sent at once (the first and the newest, not a queue)");
    drop(ws);
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.log().matches("live: closed").count() < 2 {
        assert!(Instant::now() < deadline, "{}", s.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = s.log();
    let last = log.lines().filter(|l| l.contains("live: closed")).last().unwrap();
    let skipped: u64 = last.split("skipped=").nth(1).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap();
    assert_eq!(skipped as usize + answers, burst, "each frame either answered or counted as skipped\n{}", s.log());

    // With an API key, a browser passes it as access_token.
    let dir = tempfile::tempdir().unwrap();
    let key = "0123456789abcdef0123456789abcdef";
    std::fs::write(dir.path().join("key"), key).unwrap();
    let guarded = Server::start(&["--api-key-file", &dir.path().join("key").display().to_string()]);
    match live_socket(&guarded, "/api/v1/live") {
        Err(tungstenite::Error::Http(r)) => assert_eq!(r.status(), 401),
        other => panic!("no key: {:?}", other.map(|_| "connected")),
    }
    let mut ws = live_socket(&guarded, &format!("/api/v1/live?max_size=32&access_token={key}")).unwrap();
    ws.send(Message::Binary(jpeg(64, 48).into())).unwrap();
    assert!(matches!(read_live(&mut ws), Message::Binary(_)));
}

#[test]
fn blends_of_styles_by_name() {
    let s = Server::start(&[]);
    let get = |style: &str| post_image(&s, &format!("?style={style}&variant=fast&format=png"), png(96, 64), "image/png");
    let (a, _) = decode_body(get("udnie"));
    let (b, _) = decode_body(get("wave_crop"));
    let r = get("udnie:0.5,wave_crop:0.5");
    assert_eq!(r.headers()["x-style"], "udnie:0.5,wave_crop:0.5; variant=fast");
    assert!(r.headers()["content-disposition"].to_str().unwrap().contains("image-udnie-0.5_wave_crop-0.5.png"), "{:?}", r.headers());
    let (half, _) = decode_body(r);
    let (a, b, half) = (a.to_rgb8(), b.to_rgb8(), half.to_rgb8());
    let apart = mean_abs_diff(&a, &b);
    assert!(mean_abs_diff(&half, &a) < apart && mean_abs_diff(&half, &b) < apart, "the blend lies between its styles");
    // The same blend, written another way, is the same model; a second request reuses it.
    let (again, _) = decode_body(get("UDNIE:50%25,wave_crop:50%25"));
    assert_eq!(max_abs_diff(&again.to_rgb8(), &half), 0);
    assert!(problem(get("udnie:0.5,wave_crop"), 400).contains("give every style a weight"));
    assert!(problem(get("udnie:0.5,nope:0.5"), 404).contains("no style named 'nope'"));
    assert!(problem(get("../weights/udnie:0.5,wave_crop:0.5"), 404).contains("no style named"));
    assert_eq!(s.log().matches("weights mixed").count(), 1, "made once:\n{}", s.log());
}
