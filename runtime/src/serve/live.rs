//! `GET /api/v1/live`: a WebSocket that stylizes camera frames as they arrive (the web
//! page's live mode; any client can use it).
//!
//! The client sends frames as binary messages (JPEG, PNG or WebP) and settings as text
//! (`{"style": "udnie", "variant": "fast"}`: takes effect on the next frame). The server
//! answers each frame it stylizes with a binary JPEG, and says in text what else
//! happened: `{"type":"style",...}` when a style switch took, `{"type":"skipped",...}`
//! when a frame could not be taken (workers busy), `{"type":"error","detail":...}`.
//!
//! Frames are dropped, never queued: one frame per connection is being stylized; of the
//! frames that arrive meanwhile only the newest is kept, and the others are counted as
//! skipped. A slow server so shows the newest picture late, never a growing backlog.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request, State};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::api::{find_entry, parse_stylize, parse_variant, query_pairs, refused, request_id, stylize_work, CancelOnDrop, StylizeParams};
use super::catalog::Entry;
use super::jobs::Rendered;
use super::pool::Cancel;
use super::problem::Problem;
use super::App;
use crate::contract::Variant;
use crate::error::Error;
use crate::imageio::OutputFormat;

/// Longer side of a live frame when the client asks for none, and the most it may ask.
pub const DEFAULT_SIDE: u32 = 640;
pub const MAX_SIDE: u32 = 1280;

/// A settings message from the client.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    style: Option<String>,
    variant: Option<String>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Note {
    /// The style now in use.
    Style { style: String, variant: String },
    /// A frame was not stylized (workers busy); `skipped` counts them all so far.
    Skipped { skipped: u64, retry_after: Option<u64> },
    Error { detail: String },
}

/// Upgrades to the live WebSocket after checking the parameters (so that a bad style is
/// a plain 404 in words, not a closed socket).
#[utoipa::path(get, path = "/api/v1/live", tag = "live",
    params(
        ("style" = Option<String>, Query, description = "style name [default: the default style]"),
        ("variant" = Option<String>, Query, description = "`fast` (default where the style has one) or `full`"),
        ("max_size" = Option<u32>, Query, description = "longer side of the stylized frames, 16-1280 [default 640]"),
        ("strength" = Option<f32>, Query, description = "0-1 [default 1]"),
        ("preserve_color" = Option<bool>, Query, description = "keep the frame's colours"),
        ("access_token" = Option<String>, Query, description = "the API key, for browsers (which cannot set Authorization on a WebSocket)")),
    responses(
        (status = 101, description = "WebSocket: binary frames in, binary JPEG frames out; text messages for settings and notes"),
        (status = 400, description = "a bad parameter, or not a WebSocket request", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such style or variant", body = Problem, content_type = "application/problem+json")))]
pub async fn live(State(app): State<Arc<App>>, req: Request) -> Response {
    let rid = request_id(req.headers());
    let (entry, params) = match check(&app, &req) {
        Ok(x) => x,
        Err(p) => return p.into_response(),
    };
    let (mut parts, _) = req.into_parts();
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &app).await {
        Ok(u) => u,
        Err(_) => return Problem::bad_request("this route is a WebSocket: connect with a WebSocket client (GET with Upgrade: websocket)").into_response(),
    };
    let limit = usize::try_from(app.config.max_upload).unwrap_or(usize::MAX);
    upgrade.max_message_size(limit).max_frame_size(limit).on_upgrade(move |socket| session(app, socket, entry, params, rid)).into_response()
}

/// The connection's parameters, checked.
fn check(app: &App, req: &Request) -> Result<(Arc<Entry>, StylizeParams), Problem> {
    let pairs = query_pairs(req)?;
    let mut params = parse_stylize(&pairs, &["access_token"])?;
    if params.format.is_some_and(|f| f != OutputFormat::Jpeg) {
        return Err(Problem::bad_request("live frames are JPEG: leave out format"));
    }
    params.format = Some(OutputFormat::Jpeg);
    let side = params.options.max_size.unwrap_or(DEFAULT_SIDE);
    if !(16..=MAX_SIDE).contains(&side) {
        return Err(Problem::bad_request(format!("max_size must be between 16 and {MAX_SIDE} for live frames, got {side}")));
    }
    params.options.max_size = Some(side);
    let name = params.style.clone().unwrap_or_else(|| super::api::default_style(app));
    let entry = find_entry(app, &name, Some(params.variant.unwrap_or(preferred_variant(app, &name))))?;
    Ok((entry, params))
}

/// `fast` where the style has it: live wants speed.
fn preferred_variant(app: &App, name: &str) -> Variant {
    match app.catalog().and_then(|c| c.variants(name)) {
        Some(v) if !v.contains_key(&Variant::Fast) => v.keys().next().copied().unwrap_or(Variant::Fast),
        _ => Variant::Fast,
    }
}

/// What woke the connection up.
enum Event {
    Frame(Bytes),
    Settings(String),
    Done(Result<Rendered, Error>),
    Closed,
    Stopping,
}

async fn session(app: Arc<App>, mut socket: WebSocket, mut entry: Arc<Entry>, params: StylizeParams, rid: String) {
    tracing::info!(request_id = rid, style = entry.name, variant = %entry.variant, "live: connected");
    let mut stop = app.stopping_signal();
    let mut pending: Option<Bytes> = None;
    let mut running: Option<(tokio::sync::oneshot::Receiver<Result<Rendered, Error>>, CancelOnDrop)> = None;
    let (mut shown, mut skipped) = (0u64, 0u64);
    loop {
        let event = tokio::select! {
            msg = socket.recv() => match msg {
                Some(Ok(Message::Binary(b))) => Event::Frame(b),
                Some(Ok(Message::Text(t))) => Event::Settings(t.to_string()),
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => Event::Closed,
                Some(Ok(_)) => continue,
            },
            done = async { (&mut running.as_mut().expect("guarded").0).await }, if running.is_some() => {
                running = None;
                match done {
                    Ok(r) => Event::Done(r),
                    // Dropped unrun: the server is stopping.
                    Err(_) => Event::Stopping,
                }
            },
            _ = stop.wait_for(|s| *s) => Event::Stopping,
        };
        let note = match event {
            Event::Frame(b) => {
                if pending.replace(b).is_some() {
                    skipped += 1;
                }
                None
            }
            Event::Settings(text) => match switch(&app, &text) {
                Ok(e) => {
                    entry = e;
                    Some(Note::Style { style: entry.name.clone(), variant: entry.variant.name().into() })
                }
                Err(p) => Some(Note::Error { detail: p.detail }),
            },
            Event::Done(Ok(r)) => {
                shown += 1;
                if socket.send(Message::Binary(Bytes::from(r.bytes.to_vec()))).await.is_err() {
                    break;
                }
                None
            }
            Event::Done(Err(e)) => Some(Note::Error { detail: Problem::from_error(&e, &rid).detail }),
            Event::Closed => break,
            Event::Stopping => {
                let _ = socket.send(Message::Close(Some(CloseFrame { code: 1001, reason: "the server is stopping".into() }))).await;
                break;
            }
        };
        if let Some(note) = note {
            if send_note(&mut socket, &note).await.is_err() {
                break;
            }
        }
        if running.is_none() {
            if let Some(frame) = pending.take() {
                let cancel = Cancel::new();
                let work = stylize_work(Arc::clone(&entry), frame, &params, Arc::clone(&cancel), app.config.max_pixels, |_, _| {});
                let (tx, rx) = tokio::sync::oneshot::channel();
                match app.pool.submit(Arc::clone(&cancel), move || {
                    let _ = tx.send(work());
                }) {
                    Ok(_) => running = Some((rx, CancelOnDrop(cancel))),
                    Err(r) => {
                        skipped += 1;
                        let retry_after = refused(&app, r).retry_after;
                        if send_note(&mut socket, &Note::Skipped { skipped, retry_after }).await.is_err() {
                            break;
                        }
                    }
                }
            }
        }
    }
    tracing::info!(request_id = rid, shown, skipped, "live: closed");
}

/// A settings message: the style (and variant) for the next frames.
fn switch(app: &App, text: &str) -> Result<Arc<Entry>, Problem> {
    let s: Settings = serde_json::from_str(text).map_err(|e| Problem::bad_request(format!("a settings message is JSON like {{\"style\": \"udnie\", \"variant\": \"fast\"}}: {e}")))?;
    let name = s.style.ok_or_else(|| Problem::bad_request("a settings message needs a style"))?;
    let variant = match s.variant {
        Some(v) => parse_variant(&v)?,
        None => preferred_variant(app, &name),
    };
    find_entry(app, &name, Some(variant))
}

async fn send_note(socket: &mut WebSocket, note: &Note) -> Result<(), axum::Error> {
    let text = serde_json::to_string(note).unwrap_or_default();
    socket.send(Message::Text(text.into())).await
}
