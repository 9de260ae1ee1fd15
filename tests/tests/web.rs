//! The web page in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`, installed by scripts/setup.sh) driven over WebDriver (fantoccini)
//! against a real `nst serve` on loopback. Screenshots of the main states are saved in
//! `target/test-artifacts/web/`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use image::RgbImage;
use nst_tests::*;
use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a free port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn driver() -> Driver {
    for path in [CHROMIUM, CHROMEDRIVER] {
        assert!(Path::new(path).exists(), "{path} is missing: scripts/setup.sh installs Debian's chromium and chromium-driver (run `make test`, or `scripts/setup.sh`)");
    }
    let port = free_port();
    let child = Command::new(CHROMEDRIVER).arg(format!("--port={port}")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start chromedriver");
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::blocking::get(format!("{url}/status")).map(|r| r.status() != 200).unwrap_or(true) {
        assert!(Instant::now() < deadline, "chromedriver did not answer within 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    Driver { child, url }
}

/// A headless Chromium with a fake camera, downloading into `downloads`.
async fn browser(driver: &Driver, downloads: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,1100",
                     "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", "--no-first-run", "--no-default-browser-check"],
            "prefs": {"download.default_directory": downloads.display().to_string(), "download.prompt_for_download": false},
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a WebDriver session with Chromium")
}

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-artifacts/web");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(artifacts().join(name), png).unwrap();
}

async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
}

/// Waits until `script` returns something truthy; returns it.
async fn until(c: &Client, what: &str, secs: u64, script: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let v = js(c, script).await;
        if !(v.is_null() || v == json!(false) || v == json!(0) || v == json!("")) {
            return v;
        }
        if Instant::now() > deadline {
            let status = js(c, "return document.getElementById('status').textContent + ' | ' + document.getElementById('error').textContent").await;
            screenshot(c, &format!("timeout-{}.png", what.replace(' ', "-"))).await;
            panic!("{what}: not within {secs} s (page says: {status})");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The mean absolute difference between the two canvases (painting and photo), 0-255.
const CANVAS_DIFF: &str = r#"
const a = document.getElementById('after'), b = document.getElementById('before');
const pa = a.getContext('2d').getImageData(0, 0, a.width, a.height).data;
const pb = b.getContext('2d').getImageData(0, 0, b.width, b.height).data;
let sum = 0;
for (let i = 0; i < pa.length; i += 4) sum += Math.abs(pa[i] - pb[i]) + Math.abs(pa[i+1] - pb[i+1]) + Math.abs(pa[i+2] - pb[i+2]);
return sum / (pa.length / 4 * 3);
"#;

/// A subsampled copy of the painting's pixels (every 7th RGB value).
const AFTER_PIXELS: &str = r#"
const a = document.getElementById('after');
const d = a.getContext('2d').getImageData(0, 0, a.width, a.height).data;
const out = [];
for (let i = 0; i < d.length; i += 28) out.push(d[i], d[i+1], d[i+2]);
return out;
"#;

/// The mean absolute difference of two [`AFTER_PIXELS`] samples.
fn pixels_diff(a: &Value, b: &Value) -> f64 {
    let (a, b) = (a.as_array().expect("pixels"), b.as_array().expect("pixels"));
    assert_eq!(a.len(), b.len(), "the same picture size");
    a.iter().zip(b).map(|(x, y)| (x.as_f64().unwrap() - y.as_f64().unwrap()).abs()).sum::<f64>() / a.len().max(1) as f64
}

fn set_range(id: &str, value: u32) -> String {
    format!("const e = document.getElementById('{id}'); e.value = '{value}'; e.dispatchEvent(new Event('input', {{bubbles: true}})); return true;")
}

fn diff_of(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_pick_a_style_tune_download_and_a_bad_file() {
    let server = Server::start(&[]);
    let drv = driver();
    let s = Scratch::new();
    let downloads = s.mkdir("downloads");
    let c = browser(&drv, &downloads).await;
    c.goto(&server.url("/")).await.unwrap();
    assert_eq!(c.title().await.unwrap(), "nst: turn a photo into a painting");

    // The gallery: every bundled style, with its thumbnail loaded.
    let cards = until(&c, "the gallery", 120, "const n = document.querySelectorAll('#gallery .style').length; \
        const loaded = [...document.querySelectorAll('#gallery img')].every(i => i.complete && i.naturalWidth > 0); return n >= 6 && loaded ? n : 0").await;
    assert!(cards.as_u64().unwrap() >= 6, "{cards}");
    let limits = js(&c, "return document.getElementById('limits').textContent").await;
    assert!(limits.as_str().unwrap().contains("32.0 MiB"), "the page shows the upload limit: {limits}");
    screenshot(&c, "1-gallery.png").await;

    // A photo through the file picker: the default style runs at once.
    // The bundled photo (451x300), under a name with a space.
    let photo: RgbImage = image::open(Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/photos/chelsea.jpg")).unwrap().to_rgb8();
    let photo_path = s.image("chelsea the cat.png", photo.clone());
    c.find(Locator::Id("photo-input")).await.unwrap().send_keys(&photo_path.display().to_string()).await.unwrap();
    until(&c, "the first result", 120, "return document.getElementById('status').textContent.startsWith('Done') && !document.getElementById('stage').hidden").await;
    let size = js(&c, "const a = document.getElementById('after'); return [a.width, a.height]").await;
    assert_eq!(size, json!([451, 300]), "the painting has the photo's size");
    let styled = diff_of(&js(&c, CANVAS_DIFF).await);
    assert!(styled > 15.0, "the painting differs from the photo: mean difference {styled}");
    let timing = js(&c, "return document.getElementById('timing').textContent").await;
    assert!(timing.as_str().unwrap().contains("vg starry night"), "the time taken and the style: {timing}");
    screenshot(&c, "2-result.png").await;

    // Strength acts in the browser: at 30% the painting is about 30% as far from the photo.
    let requests_before = js(&c, "return performance.getEntriesByType('resource').filter(e => e.name.includes('/api/v1/stylize')).length").await;
    js(&c, &set_range("strength", 30)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let weaker = diff_of(&js(&c, CANVAS_DIFF).await);
    assert!((weaker / styled - 0.3).abs() < 0.05, "strength 30%: difference {weaker} against {styled} at 100%");
    let requests_after = js(&c, "return performance.getEntriesByType('resource').filter(e => e.name.includes('/api/v1/stylize')).length").await;
    assert_eq!(requests_before, requests_after, "the strength slider must not ask the server again");
    // The keyboard moves it too.
    js(&c, &set_range("strength", 100)).await;
    c.find(Locator::Id("strength")).await.unwrap().send_keys("\u{E012}\u{E012}").await.unwrap(); // ArrowLeft twice
    let value = js(&c, "return document.getElementById('strength').value").await;
    assert_eq!(value, json!("98"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let keys = diff_of(&js(&c, CANVAS_DIFF).await);
    assert!(keys < styled && keys > 0.9 * styled, "{keys} against {styled}");

    // Keep colours: the painting takes the photo's colours, so it comes nearer the photo.
    js(&c, &set_range("strength", 100)).await;
    c.find(Locator::Id("keep-colors")).await.unwrap().click().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let kept = diff_of(&js(&c, CANVAS_DIFF).await);
    assert!(kept < styled && (kept - styled).abs() > 1.0, "keep colours: {kept} against {styled}");
    screenshot(&c, "3-keep-colours.png").await;

    // The before/after slider shows the photo on the left.
    js(&c, &set_range("compare", 80)).await;
    let clip = js(&c, "return document.getElementById('before').style.clipPath").await;
    assert_eq!(clip, json!("inset(0px 20% 0px 0px)"));

    // Download: a PNG named after the photo and the style, as shown.
    c.find(Locator::Id("download")).await.unwrap().click().await.unwrap();
    let file = downloads.join("chelsea_the_cat-vg_starry_night.png");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !file.exists() {
        let listing: Vec<_> = std::fs::read_dir(&downloads).unwrap().flatten().map(|e| e.file_name()).collect();
        assert!(Instant::now() < deadline, "no download {} (folder holds {listing:?})", file.display());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let saved = image::open(&file).expect("the download decodes").to_rgb8();
    assert_eq!(saved.dimensions(), (451, 300));
    let shown = js(&c, "const a = document.getElementById('after'); const d = a.getContext('2d').getImageData(0, 0, a.width, a.height).data; \
        let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i] + d[i+1] + d[i+2]; return s / (d.length / 4 * 3)").await;
    let saved_mean = saved.as_raw().iter().map(|&v| f64::from(v)).sum::<f64>() / saved.as_raw().len() as f64;
    assert!((saved_mean - diff_of(&shown)).abs() < 1.0, "the file is the picture shown: mean {saved_mean} against {shown}");
    assert!(mean_abs_diff(&saved, &photo) > 5.0, "the download is not the photo");

    // Another style from the gallery, with the keyboard: a new painting.
    c.find(Locator::Css("#gallery .style[aria-checked=true]")).await.unwrap().send_keys("\u{E014}").await.unwrap(); // ArrowRight
    until(&c, "the second style", 120, "return document.getElementById('status').textContent.startsWith('Done') && !document.getElementById('timing').textContent.includes('starry')").await;
    let chosen = js(&c, "return document.querySelector('#gallery .style[aria-checked=true]').dataset.style").await;
    assert_ne!(chosen, json!("vg_starry_night"));

    // Mixing: the chosen style with Starry Night at 40%, a new painting between the two.
    let single = js(&c, AFTER_PIXELS).await;
    let mix_off = js(&c, "return document.getElementById('mix').disabled").await;
    assert_eq!(mix_off, json!(true), "the share slider is off until a second style is chosen");
    js(&c, "const m = document.getElementById('mix'); m.value = '40'; m.dispatchEvent(new Event('input')); \
        const s = document.getElementById('mix-with'); s.value = 'vg_starry_night'; s.dispatchEvent(new Event('change')); return true").await;
    let timing = until(&c, "the blend", 120, "const t = document.getElementById('timing').textContent; \
        return document.getElementById('status').textContent.startsWith('Done') && t.includes('+') && t").await;
    let timing = timing.as_str().unwrap().to_string();
    assert!(timing.contains("60%") && timing.contains("vg starry night 40%"), "the blend's styles and shares are shown: {timing}");
    let sent = js(&c, "return performance.getEntriesByType('resource').filter(e => e.name.includes('/api/v1/stylize')).length").await;
    assert!(sent.as_u64().unwrap() > requests_after.as_u64().unwrap());
    let blended = js(&c, AFTER_PIXELS).await;
    let moved = pixels_diff(&single, &blended);
    assert!(moved > 3.0, "the blend is a new painting, not the first style: mean difference {moved}");
    screenshot(&c, "3b-blend.png").await;
    // Back to one style.
    js(&c, "const s = document.getElementById('mix-with'); s.value = ''; s.dispatchEvent(new Event('change')); return true").await;
    until(&c, "the single style again", 120, "const t = document.getElementById('timing').textContent; \
        return document.getElementById('status').textContent.startsWith('Done') && !t.includes('+')").await;
    let again = js(&c, AFTER_PIXELS).await;
    assert!(pixels_diff(&single, &again) < 0.5, "without the mix the painting is the single style's again");

    // Not an image: a message in words, and the painting stays.
    let text = s.write("notes.txt", "this is not a photo");
    c.find(Locator::Id("photo-input")).await.unwrap().send_keys(&text.display().to_string()).await.unwrap();
    let error = until(&c, "the message for a non-image", 10, "const e = document.getElementById('error'); return !e.hidden && e.textContent").await;
    assert!(error.as_str().unwrap().contains("\"notes.txt\" is not an image"), "{error}");
    // A damaged one that claims to be a JPEG.
    let broken = s.write("broken.jpg", b"\xFF\xD8\xFF\xE0 not really");
    c.find(Locator::Id("photo-input")).await.unwrap().send_keys(&broken.display().to_string()).await.unwrap();
    let error = until(&c, "the message for a damaged file", 10, "const e = document.getElementById('error'); return !e.hidden && e.textContent.includes('broken.jpg') && e.textContent").await;
    assert!(error.as_str().unwrap().contains("cannot be read as an image"), "{error}");
    screenshot(&c, "4-not-an-image.png").await;

    // At phone width: one column, nothing wider than the screen.
    c.set_window_size(400, 860).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fits = js(&c, "return [document.documentElement.scrollWidth, window.innerWidth]").await;
    assert!(fits[0].as_u64() <= fits[1].as_u64(), "wider than a phone: {fits}");
    js(&c, "document.getElementById('result-title').scrollIntoView(); return true").await;
    screenshot(&c, "8-phone.png").await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_webcam_shows_stylized_frames_and_switches_style() {
    let server = Server::start(&[]);
    let drv = driver();
    let s = Scratch::new();
    let c = browser(&drv, &s.mkdir("downloads")).await;
    c.goto(&server.url("/")).await.unwrap();
    until(&c, "the styles", 60, "return document.querySelectorAll('#live-style option').length").await;
    c.find(Locator::Id("tab-live")).await.unwrap().click().await.unwrap();
    assert_eq!(js(&c, "return document.getElementById('photo-mode').hidden").await, json!(true));
    c.find(Locator::Id("live-start")).await.unwrap().click().await.unwrap();
    until(&c, "the first live frames", 60, "return Number(document.getElementById('live-frames').textContent) >= 3").await;
    let first = js(&c, "return Number(document.getElementById('live-frames').textContent)").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let later = js(&c, "return Number(document.getElementById('live-frames').textContent)").await;
    assert!(later.as_u64() > first.as_u64(), "the frame count rises: {first} then {later}");
    let fps = js(&c, "return parseFloat(document.getElementById('live-fps').textContent)").await;
    assert!(diff_of(&fps) > 0.5, "FPS shown: {fps}");
    let latency = js(&c, "return document.getElementById('live-latency').textContent").await;
    assert!(latency.as_str().unwrap().ends_with(" ms"), "{latency}");
    // The frames shown are the server's paintings: the fake camera's picture is mostly a
    // flat green; a painting of it is not.
    let spread = js(&c, "const o = document.getElementById('live-out'); const d = o.getContext('2d').getImageData(0, 0, o.width, o.height).data; \
        let m = 0, n = d.length / 4; for (let i = 0; i < d.length; i += 4) m += d[i+1]; m /= n; let v = 0; \
        for (let i = 0; i < d.length; i += 4) v += (d[i+1] - m) ** 2; return [o.width, o.height, Math.sqrt(v / n)]").await;
    assert_eq!(spread[0], json!(480), "frames at the chosen size: {spread}");
    assert!(diff_of(&spread[2]) > 10.0, "a painted frame has texture: {spread}");
    screenshot(&c, "5-live.png").await;
    let stats = js(&c, "return ['live-fps', 'live-latency', 'live-frames', 'live-dropped'].map(id => document.getElementById(id).textContent)").await;
    eprintln!("live in the browser (FPS, latency, frames shown, skipped): {stats}");

    // A style switch takes effect on the next frame, and frames keep coming.
    js(&c, "const s = document.getElementById('live-style'); s.value = 'the_scream'; s.dispatchEvent(new Event('change')); return true").await;
    until(&c, "the style switch", 30, "return document.getElementById('live-status').textContent.includes('the scream')").await;
    let before = js(&c, "return Number(document.getElementById('live-frames').textContent)").await;
    until(&c, "frames after the switch", 30, &format!("return Number(document.getElementById('live-frames').textContent) > {} + 3", before)).await;
    screenshot(&c, "6-live-the-scream.png").await;

    // A blend of two styles, live: the server says which, and frames keep coming.
    js(&c, "const m = document.getElementById('live-mix'); m.value = '50'; m.dispatchEvent(new Event('input')); \
        const s = document.getElementById('live-mix-with'); s.value = 'udnie'; s.dispatchEvent(new Event('change')); return true").await;
    let status = until(&c, "the live blend", 30, "const t = document.getElementById('live-status').textContent; return t.includes('+') && t").await;
    assert!(status.as_str().unwrap().contains("the scream 50% + udnie 50% (fast)"), "{status}");
    let before = js(&c, "return Number(document.getElementById('live-frames').textContent)").await;
    until(&c, "frames of the blend", 30, &format!("return Number(document.getElementById('live-frames').textContent) > {} + 3", before)).await;

    // Stop: the camera is released.
    c.find(Locator::Id("live-start")).await.unwrap().click().await.unwrap();
    let status = js(&c, "return document.getElementById('live-status').textContent").await;
    assert_eq!(status, json!("The camera is off."));
    c.close().await.unwrap();
    assert!(server.log().contains("live: closed"), "{}", server.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn your_own_painting_runs_the_classic_optimisation_with_progress() {
    let server = Server::start(&[]);
    let drv = driver();
    let s = Scratch::new();
    let c = browser(&drv, &s.mkdir("downloads")).await;
    c.goto(&server.url("/")).await.unwrap();
    until(&c, "the own-painting entry", 60, "return !document.getElementById('own').hidden").await;
    let photo = s.image("street.png", pattern(96, 64));
    c.find(Locator::Id("photo-input")).await.unwrap().send_keys(&photo.display().to_string()).await.unwrap();
    until(&c, "the first result", 120, "return document.getElementById('status').textContent.startsWith('Done')").await;
    js(&c, "document.getElementById('iterations').innerHTML += '<option value=\"40\">40</option>'; document.getElementById('iterations').value = '40'; return true").await;
    let painting = s.image("my painting.png", RgbImage::from_fn(64, 64, |x, y| image::Rgb([(x * 4) as u8, if (x / 8 + y / 8) % 2 == 0 { 255 } else { 0 }, (y * 4) as u8])));
    c.find(Locator::Id("painting-input")).await.unwrap().send_keys(&painting.display().to_string()).await.unwrap();
    until(&c, "progress", 120, "return document.getElementById('status').textContent.includes('Painting in the style of my painting.png')").await;
    until(&c, "the classic result", 300, "return document.getElementById('status').textContent.startsWith('Done')").await;
    let size = js(&c, "const a = document.getElementById('after'); return [a.width, a.height]").await;
    assert_eq!(size, json!([96, 64]));
    let timing = js(&c, "return document.getElementById('timing').textContent").await;
    assert!(timing.as_str().unwrap().starts_with("Your painting (40 steps)"), "{timing}");
    assert!(diff_of(&js(&c, CANVAS_DIFF).await) > 5.0);
    screenshot(&c, "7-own-painting.png").await;
    c.close().await.unwrap();
}

/// A picture made in the page (a canvas gradient, `w`x`h`), handed to the page as if
/// dropped on the drop zone or pasted: `event` is "drop" or "paste".
fn hand_over(event: &str, name: &str, w: u32, h: u32) -> String {
    format!(
        r#"const c = document.createElement('canvas'); c.width = {w}; c.height = {h};
        const g = c.getContext('2d'); const grad = g.createLinearGradient(0, 0, {w}, {h});
        grad.addColorStop(0, '#c33'); grad.addColorStop(0.5, '#3c3'); grad.addColorStop(1, '#33c');
        g.fillStyle = grad; g.fillRect(0, 0, {w}, {h}); g.fillStyle = '#fff'; g.fillRect({w} / 4, {h} / 4, {w} / 2, {h} / 8);
        const blob = await new Promise(r => c.toBlob(r, 'image/png'));
        const dt = new DataTransfer(); dt.items.add(new File([blob], '{name}', {{type: 'image/png'}}));
        if ('{event}' === 'drop') document.getElementById('drop').dispatchEvent(new DragEvent('drop', {{dataTransfer: dt, bubbles: true, cancelable: true}}));
        else window.dispatchEvent(new ClipboardEvent('paste', {{clipboardData: dt, bubbles: true}}));
        return true;"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_and_paste_a_photo_and_the_upload_limit_is_told_before_sending() {
    let server = Server::start(&["--max-upload", "200KiB"]);
    let drv = driver();
    let s = Scratch::new();
    let c = browser(&drv, &s.mkdir("downloads")).await;
    c.goto(&server.url("/")).await.unwrap();
    until(&c, "the gallery", 60, "return document.querySelectorAll('#gallery .style').length >= 6").await;
    let limits = js(&c, "return document.getElementById('limits').textContent").await;
    assert!(limits.as_str().unwrap().starts_with("Up to 200 KiB"), "{limits}");

    // Dropped: painted at its size.
    c.execute_async(&format!("const done = arguments[0]; (async () => {{ {} }})().then(done)", hand_over("drop", "dropped.png", 160, 120)), vec![]).await.unwrap();
    until(&c, "the dropped photo's result", 120, "return document.getElementById('status').textContent.startsWith('Done')").await;
    assert_eq!(js(&c, "const a = document.getElementById('after'); return [a.width, a.height]").await, json!([160, 120]));
    assert!(js(&c, "return document.getElementById('photo-info').textContent").await.as_str().unwrap().starts_with("dropped.png: 160×120"));

    // Pasted: replaces it.
    c.execute_async(&format!("const done = arguments[0]; (async () => {{ {} }})().then(done)", hand_over("paste", "pasted.png", 96, 128)), vec![]).await.unwrap();
    until(&c, "the pasted photo's result", 120, "const a = document.getElementById('after'); return document.getElementById('status').textContent.startsWith('Done') && a.width === 96 && a.height === 128").await;

    // Over the server's upload limit: said before anything is sent.
    let big = s.image("big.png", RgbImage::from_fn(400, 400, |x, y| image::Rgb([(x * 7 + y * 13) as u8, (x * y) as u8, (x ^ y) as u8])));
    assert!(std::fs::metadata(&big).unwrap().len() > 200 << 10);
    let sent = js(&c, "return performance.getEntriesByType('resource').filter(e => e.name.includes('/api/v1/stylize')).length").await;
    c.find(Locator::Id("photo-input")).await.unwrap().send_keys(&big.display().to_string()).await.unwrap();
    let error = until(&c, "the size message", 10, "const e = document.getElementById('error'); return !e.hidden && e.textContent").await;
    assert!(error.as_str().unwrap().contains("this server accepts photos up to 200 KiB"), "{error}");
    assert_eq!(js(&c, "return performance.getEntriesByType('resource').filter(e => e.name.includes('/api/v1/stylize')).length").await, sent);
    c.close().await.unwrap();
}
