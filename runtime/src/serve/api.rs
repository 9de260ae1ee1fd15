//! The routes: health and metrics at the root, the API under `/api/v1` (documented by
//! `/api/v1/openapi.json`, generated from the annotations here).

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::Stream;
use serde::Serialize;
use subtle::ConstantTimeEq;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use utoipa::{IntoParams, OpenApi, ToSchema};

use super::catalog::{clip, Entry};
use super::classic::{self, ClassicParams};
use super::jobs::{Job, JobKind, JobState, Rendered};
use super::pool::{Cancel, Refused};
use super::problem::{human_bytes, Problem};
use super::{App, MAX_DECODE_PIXELS};
use crate::batch::StylizeOptions;
use crate::contract::Variant;
use crate::error::Error;
use crate::imageio::{self, OutputFormat};

/// The photo the thumbnails show (bundled in the binary).
const THUMBNAIL_PHOTO: &[u8] = include_bytes!("../../../assets/photos/chelsea.jpg");
/// Longer side of a thumbnail, in pixels.
pub const THUMBNAIL_SIDE: u32 = 256;

#[derive(OpenApi)]
#[openapi(
    info(title = "nst", description = "Neural style transfer: photos into paintings. Errors are `application/problem+json`."),
    paths(list_styles, thumbnail, painting, stylize, super::live::live, create_job, get_job, job_events, job_result, job_preview, delete_job, healthz, readyz, metrics),
    components(schemas(StylesAnswer, StyleDoc, VariantDoc, Limits, JobStatus, JobLinks, JobState, JobKind, Problem))
)]
struct ApiDoc;

/// The OpenAPI document, as served.
pub fn openapi_json() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default()
}

pub fn router(app: Arc<App>) -> Router {
    let api = Router::new()
        .route("/openapi.json", get(openapi))
        .route("/styles", get(list_styles))
        .route("/styles/{name}/thumbnail", get(thumbnail))
        .route("/styles/{name}/painting", get(painting))
        .route("/stylize", post(stylize))
        .route("/jobs", post(create_job))
        .route("/jobs/{id}", get(get_job).delete(delete_job))
        .route("/jobs/{id}/events", get(job_events))
        .route("/jobs/{id}/result", get(job_result))
        .route("/jobs/{id}/preview", get(job_preview))
        .route("/live", get(super::live::live))
        .route_layer(middleware::from_fn_with_state(Arc::clone(&app), authorize));
    let cors = (!app.config.cors_origins.is_empty()).then(|| {
        let origins: Vec<HeaderValue> = app.config.cors_origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([axum::http::Method::GET, axum::http::Method::POST, axum::http::Method::DELETE])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::HeaderName::from_static("prefer")])
            .expose_headers([
                header::HeaderName::from_static("x-request-id"),
                header::HeaderName::from_static("x-image-width"),
                header::HeaderName::from_static("x-image-height"),
                header::HeaderName::from_static("x-work-ms"),
                header::LOCATION,
                header::RETRY_AFTER,
            ])
    });
    Router::new()
        .route("/", get(super::web::index))
        .route("/app.js", get(super::web::script))
        .route("/app.css", get(super::web::style))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .nest("/api/v1", api)
        .route_layer(middleware::from_fn_with_state(Arc::clone(&app), super::metrics::track))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(
            tower::ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
                    let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                    tracing::info_span!("request", id, method = %req.method(), path = %req.uri().path())
                }).on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO)))
                .layer(PropagateRequestIdLayer::x_request_id())
                .option_layer(cors),
        )
        .with_state(app)
}

pub(super) fn request_id(headers: &HeaderMap) -> String {
    headers.get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-").to_string()
}

// ---------------------------------------------------------------------------------------
// Authentication, fallbacks, health

async fn authorize(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    if let Some(key) = &app.config.api_key {
        let header_key = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).map(str::to_string);
        // Browsers cannot set Authorization on a WebSocket: the live route also takes the
        // key as `access_token` in its query (never logged: the log has the path only).
        let query_key = || {
            (req.uri().path().ends_with("/live"))
                .then(|| serde_urlencoded::from_str::<Vec<(String, String)>>(req.uri().query().unwrap_or("")).ok())
                .flatten()
                .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "access_token").map(|(_, v)| v))
        };
        let given = header_key.or_else(query_key).unwrap_or_default();
        // Constant time over the key's bytes: the answer's timing says nothing about how
        // much of a guess was right.
        if !bool::from(given.trim().as_bytes().ct_eq(key.as_bytes())) {
            return Problem::unauthorized().into_response();
        }
    }
    next.run(req).await
}

async fn not_found(req: Request) -> Problem {
    Problem::not_found(format!("no route {}; the API is under /api/v1 (see /api/v1/openapi.json)", clip(req.uri().path())))
}

async fn method_not_allowed(req: Request) -> Problem {
    Problem::new(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "Method not allowed", format!("{} is not allowed on {}", req.method(), clip(req.uri().path())))
}


#[derive(Serialize, ToSchema)]
struct Health {
    status: &'static str,
    /// Models loaded (readiness only).
    #[serde(skip_serializing_if = "Option::is_none")]
    models: Option<usize>,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "alive", body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok", models: None })
}

/// Readiness: the models are loaded and the server is not stopping.
#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, description = "ready", body = Health),
    (status = 503, description = "loading models or stopping", body = Problem, content_type = "application/problem+json")))]
async fn readyz(State(app): State<Arc<App>>) -> Response {
    if app.is_stopping() {
        return Problem::shutting_down().into_response();
    }
    match app.catalog() {
        Some(c) => Json(Health { status: "ready", models: Some(c.len()) }).into_response(),
        None => Problem::busy("the server is loading its models", 1).into_response(),
    }
}

/// Prometheus metrics (OpenMetrics text).
#[utoipa::path(get, path = "/metrics", tag = "health", responses((status = 200, description = "metrics", content_type = "application/openmetrics-text")))]
async fn metrics(State(app): State<Arc<App>>) -> Response {
    ([(header::CONTENT_TYPE, super::metrics::CONTENT_TYPE)], app.metrics.render(&app)).into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], openapi_json()).into_response()
}

// ---------------------------------------------------------------------------------------
// Styles

#[derive(Serialize, ToSchema)]
struct StylesAnswer {
    styles: Vec<StyleDoc>,
    /// The style used when a request names none.
    default_style: String,
    limits: Limits,
    /// Whether `classic` jobs (your own painting) run on this server.
    classic: bool,
}

#[derive(Serialize, ToSchema)]
struct Limits {
    /// Largest request body, in bytes.
    max_upload: u64,
    /// Most pixels stylized per request (after `max_size`).
    max_pixels: u64,
    /// Largest picture accepted at all, in pixels (with a `max_size` that brings it
    /// within `max_pixels`).
    max_decode_pixels: u64,
    /// Image formats accepted.
    input_formats: Vec<&'static str>,
    /// Output formats (`format`).
    output_formats: Vec<&'static str>,
    /// Longest a `POST /stylize` may take, in seconds.
    timeout_secs: f64,
}

#[derive(Serialize, ToSchema)]
struct StyleDoc {
    name: String,
    /// The painting: artist, title and year, when the model says.
    painting: Option<String>,
    variants: Vec<VariantDoc>,
    /// The variant used when a request names none.
    default_variant: String,
    /// A picture of the bundled photo in this style.
    thumbnail: String,
    /// A picture of the painting, when the model carries one.
    #[serde(skip_serializing_if = "Option::is_none")]
    painting_image: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct VariantDoc {
    /// `full` (best quality) or `fast` (real time on a CPU).
    variant: String,
    /// `quality` or `real-time`.
    speed_class: String,
    architecture: String,
}

/// Every style with its variants.
#[utoipa::path(get, path = "/api/v1/styles", tag = "styles", responses(
    (status = 200, description = "the styles", body = StylesAnswer),
    (status = 503, description = "models still loading", body = Problem, content_type = "application/problem+json")))]
async fn list_styles(State(app): State<Arc<App>>) -> Response {
    let Some(catalog) = app.catalog() else { return Problem::busy("the server is loading its models", 1).into_response() };
    let styles = catalog
        .names()
        .into_iter()
        .filter_map(|name| {
            let variants = catalog.variants(name)?;
            let first = variants.values().next()?;
            let default = catalog.find(name, None).ok()?;
            Some(StyleDoc {
                name: name.to_string(),
                painting: variants.values().find_map(|e| e.info.painting.clone()),
                variants: variants
                    .values()
                    .map(|e| VariantDoc { variant: e.variant.name().into(), speed_class: e.variant.speed_class().into(), architecture: e.info.architecture.clone() })
                    .collect(),
                default_variant: default.variant.name().into(),
                thumbnail: format!("/api/v1/styles/{}/thumbnail", first.name),
                painting_image: variants.values().any(|e| e.info.painting_picture.is_some()).then(|| format!("/api/v1/styles/{}/painting", first.name)),
            })
        })
        .collect();
    let default_style = if catalog.variants(crate::bundled::DEFAULT_STYLE).is_some() { crate::bundled::DEFAULT_STYLE.to_string() } else { catalog.names()[0].to_string() };
    Json(StylesAnswer {
        styles,
        default_style,
        limits: Limits {
            max_upload: app.config.max_upload,
            max_pixels: app.config.max_pixels,
            max_decode_pixels: MAX_DECODE_PIXELS,
            input_formats: imageio::IMAGE_EXTENSIONS.to_vec(),
            output_formats: vec!["png", "jpeg", "webp"],
            timeout_secs: app.config.timeout.as_secs_f64(),
        },
        classic: app.config.classic.is_some(),
    })
    .into_response()
}

/// The painting the style was trained on: a small JPEG from the model's metadata.
#[utoipa::path(get, path = "/api/v1/styles/{name}/painting", tag = "styles", params(("name" = String, Path, description = "style name")),
    responses(
        (status = 200, description = "the painting, 256 px on its longer side", content_type = "image/jpeg"),
        (status = 404, description = "no such style, or its model carries no picture of the painting", body = Problem, content_type = "application/problem+json")))]
async fn painting(State(app): State<Arc<App>>, UrlPath(name): UrlPath<String>) -> Response {
    let Some(catalog) = app.catalog() else { return Problem::busy("the server is loading its models", 1).into_response() };
    let Some(variants) = catalog.variants(&name) else {
        return match find_entry(&app, &name, None) {
            Err(p) => p.into_response(),
            Ok(_) => Problem::not_found(format!("no style named '{}'", clip(&name))).into_response(),
        };
    };
    match variants.values().find_map(|e| e.info.painting_picture_jpeg()) {
        Some(jpeg) => ([(header::CONTENT_TYPE, "image/jpeg"), (header::CACHE_CONTROL, "public, max-age=86400")], jpeg).into_response(),
        None => Problem::not_found(format!("the model of '{}' carries no picture of its painting (nst-train metadata --painting-picture adds one)", clip(&name))).into_response(),
    }
}

#[derive(serde::Deserialize, IntoParams)]
#[allow(dead_code)]
struct ThumbnailQuery {
    /// `full` or `fast` [default: the style's default].
    variant: Option<String>,
}

/// The bundled photo in this style, 256 px on its longer side (JPEG), made once.
#[utoipa::path(get, path = "/api/v1/styles/{name}/thumbnail", tag = "styles", params(("name" = String, Path, description = "style name"), ThumbnailQuery),
    responses(
        (status = 200, description = "the thumbnail", content_type = "image/jpeg"),
        (status = 404, description = "no such style or variant", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "busy", body = Problem, content_type = "application/problem+json")))]
async fn thumbnail(State(app): State<Arc<App>>, UrlPath(name): UrlPath<String>, req: Request) -> Response {
    let rid = request_id(req.headers());
    let pairs = match query_pairs(&req) {
        Ok(p) => p,
        Err(p) => return p.into_response(),
    };
    let mut variant = None;
    for (k, v) in &pairs {
        match k.as_str() {
            "variant" => match parse_variant(v) {
                Ok(v) => variant = Some(v),
                Err(p) => return p.into_response(),
            },
            other => return Problem::bad_request(format!("unknown parameter '{}'; this route takes: variant", clip(other))).into_response(),
        }
    }
    let entry = match find_entry(&app, &name, variant) {
        Ok(e) => e,
        Err(p) => return p.into_response(),
    };
    let bytes = match entry.thumbnail() {
        Some(b) => b,
        None => {
            let cancel = Cancel::new();
            let e = Arc::clone(&entry);
            let c = Arc::clone(&cancel);
            let work = move || -> Result<Rendered, Error> {
                let started = Instant::now();
                let photo = imageio::decode_picture(THUMBNAIL_PHOTO, Path::new("the bundled photo"), None)?;
                let options = StylizeOptions { max_size: Some(THUMBNAIL_SIDE), ..Default::default() };
                let photo = options.prepare(photo);
                let mut session = e.checkout()?;
                let run = c.run_options();
                let out = options.stylize_with(session.model(), &photo, run.as_deref())?;
                let bytes = imageio::encode(&out, OutputFormat::Jpeg)?;
                let (width, height) = out.rgb.dimensions();
                Ok(Rendered { bytes: Arc::new(bytes), content_type: "image/jpeg", width, height, work: started.elapsed(), extension: "jpg" })
            };
            match run_sync(&app, cancel, work, &rid).await {
                Ok(r) => entry.set_thumbnail(r.bytes.to_vec()),
                Err(p) => return p.into_response(),
            }
        }
    };
    ([(header::CONTENT_TYPE, "image/jpeg"), (header::CACHE_CONTROL, "public, max-age=86400")], bytes.to_vec()).into_response()
}

// ---------------------------------------------------------------------------------------
// Parameters and uploads

/// The parameters of `POST /stylize` (query parameters, or multipart fields).
#[derive(serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct StylizeQuery {
    /// Style name (see `GET /api/v1/styles`), or a blend of styles with their shares,
    /// e.g. `vg_starry_night:0.6,wave_crop:0.4` [default: `default_style`].
    style: Option<String>,
    /// `full` (best quality) or `fast` (real time) [default: the style's `default_variant`].
    variant: Option<String>,
    /// 1 = fully stylized, 0 = the photo unchanged.
    #[param(minimum = 0.0, maximum = 1.0, default = 1.0)]
    strength: Option<f32>,
    /// Keep the photo's colours (stylized luminance only): true or false.
    #[param(default = false)]
    preserve_color: Option<bool>,
    /// Downscale so the longer side is at most this many pixels before stylizing.
    #[param(minimum = 1)]
    max_size: Option<u32>,
    /// Output format: png, jpeg or webp [default: the upload's, when one of these, else png].
    format: Option<String>,
    /// How large the strokes are relative to the picture: `auto` (as on a picture of the
    /// model's reference size, 512 px for the bundled styles) or a factor of at least 1
    /// (1 = the picture's own resolution).
    #[param(default = "auto")]
    stroke_scale: Option<String>,
}

/// The parameters of `POST /jobs`: those of `POST /stylize` and these.
#[derive(serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct JobQuery {
    /// `stylize` (a bundled or loaded style; the parameters of `POST /stylize`) or
    /// `classic` (your own painting as the multipart field `style_image`: the classic
    /// optimisation; takes `size`, `iterations`, `preserve_color`, `format`).
    #[param(default = "stylize")]
    kind: Option<String>,
    style: Option<String>,
    variant: Option<String>,
    strength: Option<f32>,
    preserve_color: Option<bool>,
    max_size: Option<u32>,
    format: Option<String>,
    /// classic: longer side of the result, 64 to 1024.
    #[param(default = 384)]
    size: Option<u32>,
    /// classic: optimisation steps, 1 to 2000.
    #[param(default = 300)]
    iterations: Option<u32>,
}

/// A request's parameters (query and multipart text fields) and files.
struct Upload {
    params: Vec<(String, String)>,
    /// Multipart file fields (or the raw body, as `image`), by name.
    files: HashMap<String, Bytes>,
    /// The photo's file name, when the client gave one.
    filename: Option<String>,
}

pub(super) fn query_pairs(req: &Request) -> Result<Vec<(String, String)>, Problem> {
    let query = req.uri().query().unwrap_or("");
    serde_urlencoded::from_str::<Vec<(String, String)>>(query).map_err(|e| Problem::bad_request(format!("the query string cannot be read: {e}")))
}

/// Reads the request: its query, then its body within `--max-upload` (413 beyond), as
/// multipart fields or as the raw image.
async fn read_upload(app: &App, req: Request) -> Result<Upload, Problem> {
    let mut params = query_pairs(&req)?;
    let limit = app.config.max_upload;
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(Problem::too_large(limit));
    }
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let body = match tokio::time::timeout(app.config.timeout, axum::body::to_bytes(req.into_body(), usize::try_from(limit).unwrap_or(usize::MAX))).await {
        Err(_) => return Err(Problem::new(StatusCode::REQUEST_TIMEOUT, "slow-upload", "Upload too slow", "the request body did not arrive within the server's time limit")),
        Ok(Err(e)) => {
            let too_large = std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>()) || e.to_string().contains("length limit");
            return Err(if too_large { Problem::too_large(limit) } else { Problem::bad_request(format!("the request body could not be read: {e}")) });
        }
        Ok(Ok(b)) => b,
    };
    let mut files = HashMap::new();
    let mut filename = None;
    if content_type.to_ascii_lowercase().starts_with("multipart/form-data") {
        let boundary = multer::parse_boundary(&content_type).map_err(|e| Problem::bad_request(format!("bad multipart Content-Type: {e}")))?;
        let stream = futures_util::stream::once(async move { Ok::<Bytes, Infallible>(body) });
        let mut multipart = multer::Multipart::new(stream, boundary);
        loop {
            let field = match multipart.next_field().await {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => return Err(Problem::bad_request(format!("the multipart body cannot be read: {e}"))),
            };
            let name = field.name().unwrap_or("").to_string();
            let is_file = field.file_name().is_some() || matches!(name.as_str(), "image" | "style_image");
            if name == "image" {
                filename = field.file_name().map(str::to_string);
            }
            let data = field.bytes().await.map_err(|e| Problem::bad_request(format!("the multipart field '{}' cannot be read: {e}", clip(&name))))?;
            if is_file {
                files.insert(name, data);
            } else {
                let text = String::from_utf8(data.to_vec()).map_err(|_| Problem::bad_request(format!("the field '{}' is not text", clip(&name))))?;
                params.push((name, text));
            }
        }
    } else if !body.is_empty() {
        files.insert("image".into(), body);
    }
    Ok(Upload { params, files, filename })
}

/// `POST /stylize`'s parameters, checked.
pub(super) struct StylizeParams {
    pub(super) style: Option<String>,
    pub(super) variant: Option<Variant>,
    pub(super) options: StylizeOptions,
    pub(super) format: Option<OutputFormat>,
}

pub(super) fn parse_variant(v: &str) -> Result<Variant, Problem> {
    Variant::parse(v).ok_or_else(|| Problem::bad_request(format!("variant must be full or fast, got '{}'", clip(v))))
}

pub(super) fn parse_bool(name: &str, v: &str) -> Result<bool, Problem> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(Problem::bad_request(format!("{name} must be true or false, got '{}'", clip(v)))),
    }
}

fn parse_number<T: std::str::FromStr>(name: &str, v: &str, what: &str) -> Result<T, Problem> {
    v.trim().parse::<T>().map_err(|_| Problem::bad_request(format!("{name} must be {what}, got '{}'", clip(v))))
}

fn parse_format(v: &str) -> Result<OutputFormat, Problem> {
    match v.trim().to_ascii_lowercase().as_str() {
        "png" => Ok(OutputFormat::Png),
        "jpeg" | "jpg" => Ok(OutputFormat::Jpeg),
        "webp" => Ok(OutputFormat::WebP),
        _ => Err(Problem::bad_request(format!("format must be png, jpeg or webp, got '{}'", clip(v)))),
    }
}

const STYLIZE_PARAMS: &str = "style, variant, strength, preserve_color, max_size, format, stroke_scale";

/// Checks the stylize parameters among `params`; `extra` names the others the route
/// takes (checked by the caller).
pub(super) fn parse_stylize(params: &[(String, String)], extra: &[&str]) -> Result<StylizeParams, Problem> {
    let mut p = StylizeParams { style: None, variant: None, options: StylizeOptions::default(), format: None };
    for (k, v) in params {
        match k.as_str() {
            "style" => p.style = Some(v.clone()),
            "variant" => p.variant = Some(parse_variant(v)?),
            "strength" => {
                let s: f32 = parse_number(k, v, "a number from 0 to 1")?;
                if !(0.0..=1.0).contains(&s) {
                    return Err(Problem::bad_request(format!("strength must be between 0 and 1, got {s}")));
                }
                p.options.strength = s;
            }
            "preserve_color" => p.options.preserve_color = parse_bool(k, v)?,
            "max_size" => {
                let n: u32 = parse_number(k, v, "a whole number of pixels")?;
                if n == 0 {
                    return Err(Problem::bad_request("max_size must be at least 1"));
                }
                p.options.max_size = Some(n);
            }
            "format" => p.format = Some(parse_format(v)?),
            "stroke_scale" => p.options.stroke_scale = crate::stroke::StrokeScale::parse(v).map_err(|e| Problem::bad_request(format!("stroke_scale: {e}")))?,
            other if extra.contains(&other) => {}
            other => {
                let mut all = STYLIZE_PARAMS.to_string();
                for e in extra {
                    all.push_str(", ");
                    all.push_str(e);
                }
                return Err(Problem::bad_request(format!("unknown parameter '{}'; parameters: {all}", clip(other))));
            }
        }
    }
    Ok(p)
}

pub(super) fn find_entry(app: &App, name: &str, variant: Option<Variant>) -> Result<Arc<Entry>, Problem> {
    let catalog = app.catalog().ok_or_else(|| Problem::busy("the server is loading its models", 1))?;
    match crate::blend::BlendSpec::parse_name(name) {
        Err(e) => Err(Problem::bad_request(e.to_string())),
        // A blend is made on first use (loading models): off the async workers.
        Ok(Some(_)) if tokio::runtime::Handle::try_current().is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread) => {
            tokio::task::block_in_place(|| catalog.find(name, variant)).map_err(Problem::not_found)
        }
        _ => catalog.find(name, variant).map_err(Problem::not_found),
    }
}

pub(super) fn default_style(app: &App) -> String {
    match app.catalog() {
        Some(c) if c.variants(crate::bundled::DEFAULT_STYLE).is_none() => c.names().first().map(|s| s.to_string()).unwrap_or_default(),
        _ => crate::bundled::DEFAULT_STYLE.to_string(),
    }
}

/// Checks the upload from its header alone (an image, not too many pixels for the size
/// asked) so that a bad one is refused before it waits for a worker.
fn check_image(app: &App, bytes: &[u8], what: &str, max_size: Option<u32>) -> Result<(), Problem> {
    let (w, h) = imageio::probe(bytes, Path::new(what)).map_err(|e| Problem::unprocessable(e.to_string()))?;
    let pixels = u64::from(w) * u64::from(h);
    let mp = |n: u64| n as f64 / 1e6;
    if pixels > MAX_DECODE_PIXELS {
        return Err(Problem::unprocessable(format!("{what}: {w}x{h} is {:.1} megapixels, more than this server decodes ({:.0}); downscale it first", mp(pixels), mp(MAX_DECODE_PIXELS))));
    }
    let (sw, sh) = match max_size {
        Some(m) => imageio::fit_size(w, h, m),
        None => (w, h),
    };
    let work = u64::from(sw) * u64::from(sh);
    let max = app.config.max_pixels;
    if work > max {
        // The longest side that brings it within the limit.
        let side = ((max as f64 / (w as f64 * h as f64)).sqrt() * f64::from(w.max(h))).floor() as u32;
        return Err(Problem::unprocessable(format!(
            "{what}: {sw}x{sh} is {:.1} megapixels; this server stylizes at most {:.1}: send max_size={} or less, or a smaller image",
            mp(work),
            mp(max),
            side.max(1)
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Running work

/// Cancels the work when the request goes away (the client hung up, or the timeout).
pub(super) struct CancelOnDrop(pub(super) Arc<Cancel>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

pub(super) fn refused(app: &App, r: Refused) -> Problem {
    match r {
        Refused::Closed => Problem::shutting_down(),
        Refused::Full { retry_after } => Problem::busy(
            format!("all {} workers are busy and {} requests are waiting; retry in {retry_after} s", app.pool.workers(), app.pool.capacity()),
            retry_after,
        ),
    }
}

/// Runs `work` on a worker and waits for it within the request timeout; cancelled if the
/// request goes away first.
async fn run_sync(app: &App, cancel: Arc<Cancel>, work: impl FnOnce() -> Result<Rendered, Error> + Send + 'static, rid: &str) -> Result<Rendered, Problem> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.pool.submit(Arc::clone(&cancel), move || {
        let _ = tx.send(work());
    })
    .map_err(|r| refused(app, r))?;
    let _guard = CancelOnDrop(cancel);
    match tokio::time::timeout(app.config.timeout, rx).await {
        Ok(Ok(Ok(r))) => Ok(r),
        Ok(Ok(Err(e))) => Err(Problem::from_error(&e, rid)),
        // The work was dropped unrun: the server is stopping (or the work panicked).
        Ok(Err(_)) if app.is_stopping() => Err(Problem::shutting_down()),
        Ok(Err(_)) => Err(Problem::internal(rid)),
        Err(_) => Err(Problem::timed_out(app.config.timeout.as_secs_f64())),
    }
}

/// The work of one stylize request, for a worker: decode, resize, network, colours,
/// encode. `progress` hears each stage.
pub(super) fn stylize_work(
    entry: Arc<Entry>,
    image: Bytes,
    params: &StylizeParams,
    cancel: Arc<Cancel>,
    max_pixels: u64,
    progress: impl Fn(f32, &str) + Send + 'static,
) -> impl FnOnce() -> Result<Rendered, Error> + Send + 'static {
    let options = params.options;
    let format = params.format.or_else(|| OutputFormat::guess(&image).filter(|f| matches!(f, OutputFormat::Png | OutputFormat::Jpeg | OutputFormat::WebP))).unwrap_or(OutputFormat::Png);
    move || {
        let started = Instant::now();
        progress(0.05, "decoding");
        let picture = imageio::decode_picture(&image, Path::new("the image"), Some(MAX_DECODE_PIXELS))?;
        drop(image);
        let picture = options.prepare(picture);
        let (w, h) = picture.rgb.dimensions();
        if u64::from(w) * u64::from(h) > max_pixels {
            return Err(Error::TooLarge { path: "the image".into(), reason: format!("{w}x{h} is more than this server stylizes ({max_pixels} pixels); send a smaller max_size") });
        }
        progress(0.1, "stylizing");
        let mut session = entry.checkout()?;
        let run = cancel.run_options();
        let out = options.stylize_with(session.model(), &picture, run.as_deref())?;
        drop(session);
        progress(0.9, "encoding");
        let bytes = imageio::encode(&out, format)?;
        Ok(Rendered { bytes: Arc::new(bytes), content_type: format.mime_type(), width: w, height: h, work: started.elapsed(), extension: format.extension() })
    }
}

fn image_response(r: &Rendered, name: &str, total: Duration) -> Response {
    let mut res = (StatusCode::OK, Body::from(r.bytes.to_vec())).into_response();
    let h = res.headers_mut();
    let set = |h: &mut HeaderMap, k: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    };
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(r.content_type));
    set(h, "x-image-width", r.width.to_string());
    set(h, "x-image-height", r.height.to_string());
    set(h, "x-work-ms", format!("{:.1}", r.work.as_secs_f64() * 1000.0));
    set(h, "server-timing", format!("work;dur={:.1}, total;dur={:.1}", r.work.as_secs_f64() * 1000.0, total.as_secs_f64() * 1000.0));
    set(h, "content-disposition", format!("inline; filename=\"{name}.{}\"", r.extension));
    res
}

/// The download name: the photo's name and the style, e.g. `beach-udnie`.
fn result_name(filename: Option<&str>, style: &str) -> String {
    let stem = filename.and_then(|f| Path::new(f).file_stem()).and_then(|s| s.to_str()).unwrap_or("image");
    let clean: String = stem.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')).take(80).collect();
    // A blend's recipe (`a:0.6,b:0.4`) becomes `a-0.6_b-0.4`.
    let style: String = style.chars().map(|c| match c {
        ':' => '-',
        ',' => '_',
        c => c,
    }).filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')).collect();
    format!("{}-{style}", if clean.is_empty() { "image" } else { &clean })
}

/// Stylize a photo and answer the picture.
///
/// The photo is the raw request body (with its `Content-Type`, e.g. `image/jpeg`) or the
/// multipart field `image`; parameters are query parameters or multipart fields.
#[utoipa::path(post, path = "/api/v1/stylize", tag = "stylize", params(StylizeQuery),
    request_body(description = "the photo", content(("image/*"), ("application/octet-stream"), ("multipart/form-data"))),
    responses(
        (status = 200, description = "the stylized picture; headers X-Image-Width, X-Image-Height, X-Work-Ms (time spent working, ms) and Server-Timing", content_type = "image/png"),
        (status = 400, description = "a bad parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no or wrong API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such style or variant (the answer lists those that exist)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "larger than the server's upload limit", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "not an image, a damaged one, or too many pixels", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "busy (see Retry-After), took longer than the time limit, or stopping", body = Problem, content_type = "application/problem+json")))]
async fn stylize(State(app): State<Arc<App>>, req: Request) -> Response {
    let started = Instant::now();
    let rid = request_id(req.headers());
    match stylize_inner(&app, req, &rid, started).await {
        Ok(r) => r,
        Err(p) => p.into_response(),
    }
}

async fn stylize_inner(app: &Arc<App>, req: Request, rid: &str, started: Instant) -> Result<Response, Problem> {
    let mut upload = read_upload(app, req).await?;
    let params = parse_stylize(&upload.params, &[])?;
    let style = params.style.clone().unwrap_or_else(|| default_style(app));
    let entry = find_entry(app, &style, params.variant)?;
    let image = upload.files.remove("image").ok_or_else(no_image)?;
    check_image(app, &image, "the image", params.options.max_size)?;
    let cancel = Cancel::new();
    let work = stylize_work(Arc::clone(&entry), image, &params, Arc::clone(&cancel), app.config.max_pixels, |_, _| {});
    let rendered = run_sync(app, cancel, work, rid).await?;
    let mut res = image_response(&rendered, &result_name(upload.filename.as_deref(), &entry.name), started.elapsed());
    if let Ok(v) = HeaderValue::from_str(&format!("{}; variant={}", entry.name, entry.variant)) {
        res.headers_mut().insert("x-style", v);
    }
    Ok(res)
}

fn no_image() -> Problem {
    Problem::unprocessable("no image: send the photo as the request body (Content-Type image/jpeg, image/png, ...) or as the multipart field 'image'")
}

// ---------------------------------------------------------------------------------------
// Jobs

#[derive(Serialize, ToSchema)]
struct JobStatus {
    id: String,
    kind: JobKind,
    style: String,
    status: JobState,
    /// 0 to 1.
    progress: f32,
    /// What the job is doing, in words.
    stage: String,
    /// Work ahead of this job in the queue (0: next), while queued.
    queue_position: Option<usize>,
    /// Why it failed.
    error: Option<Problem>,
    /// When it was made (RFC 3339).
    created_at: String,
    links: JobLinks,
}

#[derive(Serialize, ToSchema)]
struct JobLinks {
    #[serde(rename = "self")]
    this: String,
    events: String,
    result: String,
    /// classic jobs: the optimisation's latest picture.
    preview: String,
}

fn job_url(id: &str) -> String {
    format!("/api/v1/jobs/{id}")
}

fn status_of(app: &App, job: &Job) -> JobStatus {
    let snap = job.snapshot();
    let ticket = job.ticket.load(std::sync::atomic::Ordering::SeqCst);
    let url = job_url(&job.id);
    JobStatus {
        id: job.id.clone(),
        kind: job.kind,
        style: job.style.clone(),
        status: snap.state,
        progress: snap.progress,
        stage: snap.stage,
        queue_position: (snap.state == JobState::Queued).then(|| app.pool.position(ticket)).flatten(),
        error: snap.error,
        created_at: humantime::format_rfc3339_seconds(job.created).to_string(),
        links: JobLinks { events: format!("{url}/events"), result: format!("{url}/result"), preview: format!("{url}/preview"), this: url },
    }
}

fn find_job(app: &App, id: &str) -> Result<Arc<Job>, Problem> {
    app.jobs.get(id).ok_or_else(|| {
        Problem::not_found(format!(
            "no job '{}' (finished jobs are kept for {}, or less when their results exceed {})",
            clip(id),
            humantime::format_duration(app.jobs.ttl),
            human_bytes(app.jobs.max_bytes as u64)
        ))
    })
}

/// `Prefer: wait=N` (RFC 7240), in seconds.
fn prefer_wait(headers: &HeaderMap) -> Option<u64> {
    headers.get_all("prefer").iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split([',', ';'])).find_map(|p| p.trim().strip_prefix("wait=").and_then(|n| n.trim().parse().ok()))
}

/// Start a job: `stylize` (as `POST /stylize`) or `classic` (your own painting).
///
/// Answers 202 with the job's status and its URL in `Location`. With `Prefer: wait=N` the
/// request is held up to N seconds (at most the server's time limit) and answers the
/// result itself (200) when it is ready in time.
#[utoipa::path(post, path = "/api/v1/jobs", tag = "jobs", params(JobQuery, ("Prefer" = Option<String>, Header, description = "wait=N: hold the request up to N seconds for the result")),
    request_body(description = "the photo (raw body or multipart field `image`); classic jobs: multipart with `image` and `style_image`", content(("image/*"), ("multipart/form-data"))),
    responses(
        (status = 202, description = "queued", body = JobStatus),
        (status = 200, description = "done within Prefer: wait (the picture)", content_type = "image/png"),
        (status = 400, description = "a bad parameter", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such style or variant", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "upload too large", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "not an image, or too many pixels", body = Problem, content_type = "application/problem+json"),
        (status = 501, description = "classic jobs are not available on this server", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "busy (see Retry-After) or stopping", body = Problem, content_type = "application/problem+json")))]
async fn create_job(State(app): State<Arc<App>>, req: Request) -> Response {
    let started = Instant::now();
    let rid = request_id(req.headers());
    let wait = prefer_wait(req.headers());
    let job = match create_job_inner(&app, req, &rid).await {
        Ok(job) => job,
        Err(p) => return p.into_response(),
    };
    if let Some(secs) = wait {
        let limit = Duration::from_secs(secs).min(app.config.timeout);
        let mut rx = job.watch();
        let _ = tokio::time::timeout(limit, rx.wait_for(|s| s.state.is_final())).await;
        if let Some(r) = job.result() {
            let mut res = image_response(&r, &result_name(None, &job.style), started.elapsed());
            res.headers_mut().insert("preference-applied", HeaderValue::from_str(&format!("wait={secs}")).unwrap_or(HeaderValue::from_static("wait")));
            res.headers_mut().insert(header::CONTENT_LOCATION, HeaderValue::from_str(&format!("{}/result", job_url(&job.id))).unwrap_or(HeaderValue::from_static("/")));
            return res;
        }
    }
    let status = status_of(&app, &job);
    let mut res = (StatusCode::ACCEPTED, Json(status)).into_response();
    if let Ok(v) = HeaderValue::from_str(&job_url(&job.id)) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

async fn create_job_inner(app: &Arc<App>, req: Request, rid: &str) -> Result<Arc<Job>, Problem> {
    let mut upload = read_upload(app, req).await?;
    let kind = match upload.params.iter().rev().find(|(k, _)| k == "kind").map(|(_, v)| v.trim().to_ascii_lowercase()) {
        None => JobKind::Stylize,
        Some(k) if k == "stylize" => JobKind::Stylize,
        Some(k) if k == "classic" => JobKind::Classic,
        Some(k) => return Err(Problem::bad_request(format!("kind must be stylize or classic, got '{}'", clip(&k)))),
    };
    let image = upload.files.remove("image").ok_or_else(no_image)?;
    let cancel = Cancel::new();
    let (job, work): (Arc<Job>, Box<dyn FnOnce() + Send>) = match kind {
        JobKind::Stylize => {
            let params = parse_stylize(&upload.params, &["kind"])?;
            let style = params.style.clone().unwrap_or_else(|| default_style(app));
            let entry = find_entry(app, &style, params.variant)?;
            check_image(app, &image, "the image", params.options.max_size)?;
            let job = app.jobs.create(kind, entry.name.clone(), Arc::clone(&cancel));
            let weak = Arc::downgrade(&job);
            let progress = move |p: f32, stage: &str| {
                if let Some(j) = weak.upgrade() {
                    j.progress(p, stage);
                }
            };
            let work = stylize_work(entry, image, &params, Arc::clone(&cancel), app.config.max_pixels, progress);
            let (j, rid) = (Arc::downgrade(&job), rid.to_string());
            (job, Box::new(move || finish(&j, work(), &rid)))
        }
        JobKind::Classic => {
            let binary = app.config.classic.clone().ok_or_else(|| {
                Problem::new(
                    StatusCode::NOT_IMPLEMENTED,
                    "no-classic",
                    "Classic jobs not available",
                    "this server cannot run the classic optimisation (nst-classic was not found beside nst; build it with `make build`)",
                )
            })?;
            let params = parse_classic(&upload.params)?;
            let painting = upload.files.remove("style_image").ok_or_else(|| Problem::unprocessable("a classic job needs your painting as the multipart field 'style_image'"))?;
            check_image(app, &image, "the image", Some(params.size))?;
            check_image(app, &painting, "the painting", Some(params.size))?;
            let job = app.jobs.create(kind, "classic".into(), Arc::clone(&cancel));
            let (j, rid, c) = (Arc::downgrade(&job), rid.to_string(), Arc::clone(&cancel));
            let threads = app.config.threads.max(1);
            (
                job,
                Box::new(move || {
                    let Some(job) = j.upgrade() else { return };
                    let result = classic::run(&binary, &job, &c, &image, &painting, params, threads);
                    finish(&j, result, &rid);
                }),
            )
        }
    };
    {
        // Cancelled while queued (DELETE, or the server stopping): the job says so.
        let weak = Arc::downgrade(&job);
        cancel.on_cancel(move || {
            if let Some(j) = weak.upgrade() {
                j.cancel();
            }
        });
    }
    match app.pool.submit(Arc::clone(&cancel), work) {
        Ok(ticket) => {
            job.ticket.store(ticket, std::sync::atomic::Ordering::SeqCst);
            Ok(job)
        }
        Err(r) => {
            app.jobs.remove(&job.id);
            Err(refused(app, r))
        }
    }
}

fn finish(job: &Weak<Job>, result: Result<Rendered, Error>, rid: &str) {
    let Some(job) = job.upgrade() else { return };
    match result {
        Ok(r) => job.succeed(r),
        Err(Error::Interrupted) => job.cancel(),
        Err(e) => job.fail(Problem::from_error(&e, rid)),
    }
}

fn parse_classic(params: &[(String, String)]) -> Result<ClassicParams, Problem> {
    let mut p = ClassicParams { size: classic::DEFAULT_SIZE, iterations: classic::DEFAULT_ITERATIONS, preserve_color: false, format: OutputFormat::Png };
    for (k, v) in params {
        match k.as_str() {
            "kind" => {}
            "size" => {
                p.size = parse_number(k, v, "a whole number of pixels")?;
                if !(64..=classic::MAX_SIZE).contains(&p.size) {
                    return Err(Problem::bad_request(format!("size must be between 64 and {}, got {}", classic::MAX_SIZE, p.size)));
                }
            }
            "iterations" => {
                p.iterations = parse_number(k, v, "a whole number")?;
                if !(1..=classic::MAX_ITERATIONS).contains(&p.iterations) {
                    return Err(Problem::bad_request(format!("iterations must be between 1 and {}, got {}", classic::MAX_ITERATIONS, p.iterations)));
                }
            }
            "preserve_color" => p.preserve_color = parse_bool(k, v)?,
            "format" => p.format = parse_format(v)?,
            other => return Err(Problem::bad_request(format!("unknown parameter '{}' for a classic job; parameters: kind, size, iterations, preserve_color, format", clip(other)))),
        }
    }
    Ok(p)
}

/// A job's status.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "jobs", params(("id" = String, Path, description = "job id")),
    responses((status = 200, description = "the job", body = JobStatus), (status = 404, description = "no such job", body = Problem, content_type = "application/problem+json")))]
async fn get_job(State(app): State<Arc<App>>, UrlPath(id): UrlPath<String>) -> Response {
    match find_job(&app, &id) {
        Ok(job) => Json(status_of(&app, &job)).into_response(),
        Err(p) => p.into_response(),
    }
}

/// A job's progress as server-sent events: `progress` events (the job's status), then
/// one `end` event, then the stream closes.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/events", tag = "jobs", params(("id" = String, Path, description = "job id")),
    responses((status = 200, description = "event stream; each event's data is the job's status", content_type = "text/event-stream"),
        (status = 404, description = "no such job", body = Problem, content_type = "application/problem+json")))]
async fn job_events(State(app): State<Arc<App>>, UrlPath(id): UrlPath<String>) -> Response {
    let job = match find_job(&app, &id) {
        Ok(j) => j,
        Err(p) => return p.into_response(),
    };
    Sse::new(events(app, job)).keep_alive(KeepAlive::default()).into_response()
}

fn events(app: Arc<App>, job: Arc<Job>) -> impl Stream<Item = Result<Event, Infallible>> {
    struct S {
        app: Arc<App>,
        job: Arc<Job>,
        rx: tokio::sync::watch::Receiver<super::jobs::Snapshot>,
        last: String,
        ended: bool,
    }
    let rx = job.watch();
    let s = S { app, job, rx, last: String::new(), ended: false };
    futures_util::stream::unfold(s, |mut s| async move {
        loop {
            if s.ended {
                return None;
            }
            let status = status_of(&s.app, &s.job);
            let done = status.status.is_final();
            let data = serde_json::to_string(&status).unwrap_or_default();
            if data != s.last || done {
                s.last.clone_from(&data);
                s.ended = done;
                let event = Event::default().event(if done { "end" } else { "progress" }).data(data);
                return Some((Ok(event), s));
            }
            // The next change, or a second later (the queue position moves without one).
            tokio::select! {
                _ = s.rx.changed() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    })
}

/// A job's result: the picture once it succeeded.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/result", tag = "jobs", params(("id" = String, Path, description = "job id")),
    responses((status = 200, description = "the picture", content_type = "image/png"),
        (status = 404, description = "no such job", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "not finished, failed or cancelled", body = Problem, content_type = "application/problem+json")))]
async fn job_result(State(app): State<Arc<App>>, UrlPath(id): UrlPath<String>) -> Response {
    let job = match find_job(&app, &id) {
        Ok(j) => j,
        Err(p) => return p.into_response(),
    };
    if let Some(r) = job.result() {
        return image_response(&r, &result_name(None, &job.style), r.work);
    }
    let snap = job.snapshot();
    let detail = match (snap.state, snap.error) {
        (JobState::Failed, Some(e)) => format!("the job failed: {}", e.detail),
        (JobState::Cancelled, _) => "the job was cancelled".to_string(),
        (state, _) => format!("the job is {}; its events (GET {}/events) say when it ends", state.name(), job_url(&job.id)),
    };
    Problem::new(StatusCode::CONFLICT, "no-result", "No result", detail).into_response()
}

/// A classic job's latest intermediate picture (PNG), while it runs.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/preview", tag = "jobs", params(("id" = String, Path, description = "job id")),
    responses((status = 200, description = "the latest picture", content_type = "image/png"),
        (status = 404, description = "no such job, or no preview yet", body = Problem, content_type = "application/problem+json")))]
async fn job_preview(State(app): State<Arc<App>>, UrlPath(id): UrlPath<String>) -> Response {
    let job = match find_job(&app, &id) {
        Ok(j) => j,
        Err(p) => return p.into_response(),
    };
    match job.preview() {
        Some(bytes) => ([(header::CONTENT_TYPE, "image/png"), (header::CACHE_CONTROL, "no-store")], bytes.to_vec()).into_response(),
        None => Problem::not_found("no preview yet (classic jobs make one every tenth of their iterations)").into_response(),
    }
}

/// Cancel a job (queued or running: answers its status, now cancelled), or delete a
/// finished one and its result (204).
#[utoipa::path(delete, path = "/api/v1/jobs/{id}", tag = "jobs", params(("id" = String, Path, description = "job id")),
    responses((status = 200, description = "cancelled", body = JobStatus), (status = 204, description = "deleted"),
        (status = 404, description = "no such job", body = Problem, content_type = "application/problem+json")))]
async fn delete_job(State(app): State<Arc<App>>, UrlPath(id): UrlPath<String>) -> Response {
    let job = match find_job(&app, &id) {
        Ok(j) => j,
        Err(p) => return p.into_response(),
    };
    if job.snapshot().state.is_final() {
        app.jobs.remove(&job.id);
        return StatusCode::NO_CONTENT.into_response();
    }
    job.cancel();
    Json(status_of(&app, &job)).into_response()
}
