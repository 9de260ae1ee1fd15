// nst's web page: pick a photo and a style, see the painting, tune it in the browser,
// download it; or paint the webcam live. Plain JavaScript, no framework, nothing fetched
// from anywhere but this server. The API it uses is documented at /api/v1/openapi.json.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  key: sessionStorage.getItem("nst-key") || "",
  styles: [],
  limits: null,
  classic: false,
  defaultStyle: "",
  style: "",
  photo: null,        // { file, name, bitmap (or null), width, height }
  result: null,       // { styled: ImageData, original: ImageData, name, width, height }
  request: null,      // what can be cancelled: { abort() }
  run: 0,             // the number of the newest run: older answers are ignored
};

// ---------------------------------------------------------------------------------------
// Talking to the server

function authHeaders(extra = {}) {
  return state.key ? { ...extra, Authorization: `Bearer ${state.key}` } : extra;
}

/** A problem+json answer (or any failed answer) in words. */
async function problemText(res) {
  let detail = "";
  try {
    const body = await res.json();
    detail = body.detail || body.title || "";
  } catch (_) { /* not JSON */ }
  return explainStatus(res.status, detail, res.headers.get("retry-after"));
}

function explainStatus(status, detail, retryAfter) {
  switch (status) {
    case 401: askForKey(); return "This server needs an API key: enter it above.";
    case 404: return detail || "The server does not know this.";
    case 413: return `This file is too large for the server. ${detail}`.trim();
    case 422: return detail ? upperFirst(detail) + "." : "The server cannot use this picture.";
    case 503: return (detail ? upperFirst(detail) + ". " : "The server is busy. ") + (retryAfter ? `Try again in ${retryAfter} s.` : "Try again shortly.");
    case 0: return "The server cannot be reached: is nst serve still running?";
    default: return detail ? upperFirst(detail) + "." : `The server answered ${status}.`;
  }
}

const upperFirst = (s) => s.charAt(0).toUpperCase() + s.slice(1).replace(/\.$/, "");

async function api(path, options = {}) {
  let res;
  try {
    res = await fetch(path, { ...options, headers: authHeaders(options.headers || {}) });
  } catch (_) {
    throw new Error(explainStatus(0));
  }
  if (!res.ok) throw new Error(await problemText(res));
  return res;
}

function askForKey() {
  $("key-box").hidden = false;
}

$("key-form").addEventListener("submit", (e) => {
  e.preventDefault();
  state.key = $("key-input").value.trim();
  sessionStorage.setItem("nst-key", state.key);
  $("key-box").hidden = true;
  hideError();
  loadStyles();
});

function showError(text) {
  const el = $("error");
  el.textContent = text;
  el.hidden = false;
}
function hideError() { $("error").hidden = true; }

function setStatus(text) { $("status").textContent = text; }

function humanBytes(n) {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(1)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(0)} KiB`;
  return `${n} bytes`;
}

// ---------------------------------------------------------------------------------------
// Styles

async function loadStyles() {
  let answer;
  try {
    answer = await (await api("/api/v1/styles")).json();
  } catch (e) {
    $("gallery").innerHTML = "";
    showError(`The styles cannot be loaded. ${e.message}`);
    return;
  }
  state.styles = answer.styles;
  state.limits = answer.limits;
  state.classic = answer.classic;
  state.defaultStyle = answer.default_style;
  $("limits").textContent = `Up to ${humanBytes(answer.limits.max_upload)}: ${answer.limits.input_formats.filter((f) => f !== "jpeg").map((f) => f.toUpperCase()).join(", ")}.`;
  $("own").hidden = !state.classic;
  renderGallery();
  renderLiveStyles();
  renderMixOptions("");
  renderMixOptions("live-");
  updateSizes();
}

function hasVariant(style, variant) {
  return style.variants.some((v) => v.variant === variant);
}

/** Fills a list with every style: `label(style)` its text, `first` an option before them
 * (or null); keeps the list's choice when it still exists, else `fallback`. */
function fillStyleOptions(select, label, first, fallback) {
  const previous = select.value;
  select.innerHTML = "";
  for (const [value, text] of [...(first ? [first] : []), ...state.styles.map((s) => [s.name, label(s)])]) {
    const o = document.createElement("option");
    o.value = value;
    o.textContent = text;
    select.append(o);
  }
  select.value = [...select.options].some((o) => o.value === previous && previous) ? previous : fallback;
}

/** A "Mix with" row (the photo mode's and the live mode's): a list of the styles and the
 * share of the one chosen, ids `${prefix}mix-with`, `${prefix}mix`, `${prefix}mix-value`.
 * The slider is on only when a second style is chosen; `changed` runs when the blend
 * changes (the slider when let go). */
function mixControls(prefix, changed) {
  const id = (name) => `${prefix}${name}`;
  $(id("mix-row")).innerHTML = `<label for="${id("mix-with")}">Mix with</label>
    <select id="${id("mix-with")}"><option value="">no other style</option></select>
    <label class="slider">Share of it <output id="${id("mix-value")}" for="${id("mix")}">30%</output>
      <input id="${id("mix")}" type="range" min="5" max="95" step="5" value="30" disabled></label>`;
  const sync = () => {
    $(id("mix")).disabled = !$(id("mix-with")).value;
    $(id("mix-value")).textContent = `${$(id("mix")).value}%`;
  };
  $(id("mix-with")).addEventListener("change", () => { sync(); changed(); });
  $(id("mix")).addEventListener("input", sync);
  $(id("mix")).addEventListener("change", changed);
}

/** Refills a "Mix with" list (see `mixControls`) with the styles. */
function renderMixOptions(prefix) {
  fillStyleOptions($(`${prefix}mix-with`), (s) => s.name.replace(/_/g, " "), ["", "no other style"], "");
}

/** The style to ask the server for: a name, or a blend `a:70,b:30` of `name` and the style
 * chosen in the "Mix with" row of `prefix` at its share. The server blends in weight space
 * where the two models allow it, else their outputs. */
function styleSpec(name, prefix) {
  const other = $(`${prefix}mix-with`).value;
  if (!other || other === name) return name;
  const share = Number($(`${prefix}mix`).value);
  return `${name}:${100 - share},${other}:${share}`;
}

/** A spec in words for people: "udnie", or "udnie 70% + wave crop 30%" for the page's
 * `udnie:70,wave_crop:30` and the server's `udnie:0.7,wave_crop:0.3` alike. */
function specLabel(spec) {
  const parts = spec.split(",").map((part) => {
    const [name, w] = part.split(":");
    return { name: name.replace(/_/g, " "), weight: w === undefined ? 1 : Number(w) };
  });
  if (parts.length === 1) return parts[0].name;
  const total = parts.reduce((sum, p) => sum + p.weight, 0) || 1;
  return parts.map((p) => `${p.name} ${Math.round((p.weight / total) * 100)}%`).join(" + ");
}

function renderGallery() {
  const gallery = $("gallery");
  gallery.innerHTML = "";
  const variant = $("variant").value;
  for (const style of state.styles) {
    const card = document.createElement("button");
    card.type = "button";
    card.className = "style";
    card.setAttribute("role", "radio");
    card.dataset.style = style.name;
    card.setAttribute("aria-checked", String(style.name === state.style));
    card.tabIndex = style.name === (state.style || state.styles[0].name) ? 0 : -1;
    const pics = document.createElement("span");
    pics.className = "pics";
    const thumb = document.createElement("img");
    thumb.alt = "";
    thumb.width = 128;
    thumb.height = 128;
    pics.append(thumb);
    const v = hasVariant(style, variant) ? variant : style.default_variant;
    loadImage(thumb, `${style.thumbnail}?variant=${v}`);
    if (style.painting_image) {
      const painting = document.createElement("img");
      painting.alt = "";
      painting.className = "painting-pic";
      painting.title = style.painting || style.name;
      loadImage(painting, style.painting_image);
      pics.append(painting);
    }
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = style.name.replace(/_/g, " ");
    const painting = document.createElement("span");
    painting.className = "painting";
    painting.textContent = style.painting || "";
    card.append(pics, name, painting);
    card.setAttribute("aria-label", `${style.name.replace(/_/g, " ")}${style.painting ? ", after " + style.painting : ""}`);
    card.addEventListener("click", () => chooseStyle(style.name));
    card.addEventListener("keydown", galleryKeys);
    gallery.append(card);
  }
}

/** Images behind the API key are fetched with it; otherwise the browser fetches them. */
async function loadImage(img, url) {
  if (!state.key) {
    img.src = url;
    return;
  }
  try {
    const blob = await (await api(url)).blob();
    img.src = URL.createObjectURL(blob);
  } catch (_) { /* the card keeps its name */ }
}

/** Arrow keys move between the styles, as in any radio group. */
function galleryKeys(e) {
  const cards = [...$("gallery").querySelectorAll(".style")];
  const i = cards.indexOf(e.currentTarget);
  const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[e.key];
  if (step === undefined) return;
  e.preventDefault();
  const next = cards[(i + step + cards.length) % cards.length];
  next.focus();
  chooseStyle(next.dataset.style);
}

function chooseStyle(name) {
  state.style = name;
  for (const card of $("gallery").querySelectorAll(".style")) {
    const on = card.dataset.style === name;
    card.setAttribute("aria-checked", String(on));
    card.tabIndex = on ? 0 : -1;
  }
  if (state.photo) stylize();
  else setStatus("Now choose a photo.");
}

$("variant").addEventListener("change", () => {
  renderGallery();
  if (state.photo && state.style) stylize();
});
mixControls("", () => state.photo && state.style && stylize());

// ---------------------------------------------------------------------------------------
// The photo

function checkFile(file, what) {
  const looksLikeImage = file.type.startsWith("image/") || /\.(jpe?g|png|webp|bmp|tiff?|gif)$/i.test(file.name);
  if (!looksLikeImage) {
    return `"${file.name}" is not an image. Choose a photo (${state.limits ? state.limits.input_formats.filter((f) => f !== "jpeg").map((f) => f.toUpperCase()).join(", ") : "JPEG, PNG, WebP"}).`;
  }
  if (state.limits && file.size > state.limits.max_upload) {
    return `"${file.name}" is ${humanBytes(file.size)}; this server accepts ${what}s up to ${humanBytes(state.limits.max_upload)}. Choose a smaller file, or save it as JPEG.`;
  }
  return null;
}

async function setPhoto(file) {
  hideError();
  const problem = checkFile(file, "photo");
  if (problem) {
    showError(problem);
    return;
  }
  let bitmap = null;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch (_) {
    // The browser cannot show it (TIFF, say) or it is damaged: the server will say which.
  }
  if (!bitmap && file.type.startsWith("image/") && !/tiff?/.test(file.type)) {
    showError(`"${file.name}" cannot be read as an image: it may be damaged or not really a ${file.type.split("/")[1].toUpperCase()} file.`);
    return;
  }
  if (bitmap && state.limits && bitmap.width * bitmap.height > state.limits.max_decode_pixels) {
    showError(`"${file.name}" is ${bitmap.width}×${bitmap.height}, more pixels than this server reads (${(state.limits.max_decode_pixels / 1e6).toFixed(0)} megapixels).`);
    return;
  }
  state.photo = { file, name: file.name, bitmap, width: bitmap ? bitmap.width : 0, height: bitmap ? bitmap.height : 0 };
  $("photo-info").textContent = bitmap ? `${file.name}: ${bitmap.width}×${bitmap.height}, ${humanBytes(file.size)}` : `${file.name}: ${humanBytes(file.size)}`;
  updateSizes();
  if (!state.style) {
    chooseStyle(state.defaultStyle || (state.styles[0] && state.styles[0].name) || "");
  } else {
    stylize();
  }
}

$("photo-input").addEventListener("change", (e) => e.target.files[0] && setPhoto(e.target.files[0]));
$("camera-input").addEventListener("change", (e) => e.target.files[0] && setPhoto(e.target.files[0]));

const drop = $("drop");
["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add("over"); }));
["dragleave", "drop"].forEach((t) => drop.addEventListener(t, () => drop.classList.remove("over")));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  const file = e.dataTransfer.files[0];
  if (file) setPhoto(file);
  else showError("What was dropped is not a file: drop a photo from your files.");
});
// Dropping beside the zone must not make the browser leave the page for the picture.
window.addEventListener("dragover", (e) => e.preventDefault());
window.addEventListener("drop", (e) => e.preventDefault());
window.addEventListener("paste", (e) => {
  const item = [...e.clipboardData.items].find((i) => i.kind === "file");
  if (!item) return;
  const file = item.getAsFile();
  if (file) setPhoto(new File([file], file.name && file.name !== "image.png" ? file.name : "pasted.png", { type: file.type }));
});

/** The sizes offered: common ones below the photo's, and its full size when the server
 * stylizes that many pixels; else the largest it does. */
function updateSizes() {
  const select = $("size");
  const previous = select.value;
  select.innerHTML = "";
  const p = state.photo;
  const maxPixels = state.limits ? state.limits.max_pixels : Infinity;
  const long = p && p.width ? Math.max(p.width, p.height) : 0;
  const fitsAll = (side) => !p || !p.width || (side / long) ** 2 * p.width * p.height <= maxPixels;
  const add = (value, text) => {
    const o = document.createElement("option");
    o.value = String(value);
    o.textContent = text;
    select.append(o);
  };
  for (const side of [512, 1024, 1600, 2048]) {
    if ((!long || side < long) && fitsAll(side)) add(side, `${side} px`);
  }
  if (long) {
    if (fitsAll(long)) add(long, `Full size (${p.width}×${p.height})`);
    else {
      const side = Math.floor(long * Math.sqrt(maxPixels / (p.width * p.height)));
      add(side, `${side} px (the most this server paints)`);
    }
  } else if (!p) {
    add(0, "Full size");
  }
  const wanted = previous && [...select.options].some((o) => o.value === previous) ? previous : "1024";
  select.value = [...select.options].some((o) => o.value === wanted) ? wanted : select.options[select.options.length - 1].value;
}

$("size").addEventListener("change", () => state.photo && state.style && stylize());

// ---------------------------------------------------------------------------------------
// Stylizing

function busy(on, text) {
  $("progress-box").hidden = !on;
  if (on) $("progress").removeAttribute("value");
  if (text) setStatus(text);
}

function cancelRunning() {
  if (state.request) state.request.abort();
  state.request = null;
}

$("cancel").addEventListener("click", () => {
  cancelRunning();
  state.run++;
  busy(false, "Cancelled.");
});

/** POST /api/v1/stylize with upload progress (XMLHttpRequest: fetch cannot report it). */
function postStylize(form, run) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/stylize");
    xhr.responseType = "blob";
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => {
      if (run !== state.run || !e.lengthComputable) return;
      $("progress").value = e.loaded / e.total;
      setStatus(`Sending the photo: ${Math.round((100 * e.loaded) / e.total)}%`);
      if (e.loaded === e.total) {
        $("progress").removeAttribute("value");
        setStatus("Painting…");
      }
    };
    xhr.onload = async () => {
      if (xhr.status === 200) {
        resolve({ blob: xhr.response, workMs: parseFloat(xhr.getResponseHeader("x-work-ms") || "0") });
        return;
      }
      let detail = "";
      try { detail = JSON.parse(await xhr.response.text()).detail || ""; } catch (_) { /* not JSON */ }
      reject(new Error(explainStatus(xhr.status, detail, xhr.getResponseHeader("retry-after"))));
    };
    xhr.onerror = () => reject(new Error(explainStatus(0)));
    xhr.onabort = () => reject(new DOMException("cancelled", "AbortError"));
    xhr.send(form);
    state.request = { abort: () => xhr.abort() };
  });
}

async function stylize() {
  cancelRunning();
  hideError();
  const run = ++state.run;
  const style = state.styles.find((s) => s.name === state.style);
  if (!style || !state.photo) return;
  const other = state.styles.find((s) => s.name === $("mix-with").value);
  // A blend needs one variant for both styles: the chosen one where both have it.
  const wanted = $("variant").value;
  const variant = hasVariant(style, wanted) && (!other || hasVariant(other, wanted)) ? wanted : style.default_variant;
  const spec = styleSpec(style.name, "");
  const form = new FormData();
  form.append("image", state.photo.file, state.photo.name);
  form.append("style", spec);
  form.append("variant", variant);
  form.append("format", "png");
  if (Number($("size").value) > 0) form.append("max_size", $("size").value);
  busy(true, "Sending the photo…");
  const started = performance.now();
  try {
    const { blob, workMs } = await postStylize(form, run);
    if (run !== state.run) return;
    const seconds = (performance.now() - started) / 1000;
    await showResult(blob, style.name, spec, run);
    if (run !== state.run) return;
    $("timing").textContent = `${specLabel(spec)} (${variant}): ${seconds.toFixed(1)} s in all, ${(workMs / 1000).toFixed(2)} s of painting on the server.`;
    busy(false, `Done in ${seconds.toFixed(1)} s.`);
  } catch (e) {
    if (run !== state.run || e.name === "AbortError") return;
    busy(false, "Nothing painted.");
    showError(e.message);
  }
}

/** Shows a full-strength result: keeps it and the photo at its size, so that strength and
 * colours change in the browser without asking the server again. */
async function showResult(blob, styleName, spec, run) {
  const styledBitmap = await createImageBitmap(blob);
  if (run !== state.run) return;
  const w = styledBitmap.width, h = styledBitmap.height;
  const styled = pixels(styledBitmap, w, h);
  let originalSource = state.photo.bitmap;
  if (!originalSource) {
    // The browser cannot read this photo's format: ask the server for it at this size,
    // unpainted (strength 0).
    const form = new FormData();
    form.append("image", state.photo.file, state.photo.name);
    form.append("style", styleName);
    form.append("strength", "0");
    form.append("format", "png");
    form.append("max_size", String(Math.max(w, h)));
    originalSource = await createImageBitmap(await (await api("/api/v1/stylize", { method: "POST", body: form })).blob());
  }
  const original = pixels(originalSource, w, h);
  const stem = state.photo.name.replace(/\.[^.]*$/, "").replace(/[^\w.-]+/g, "_") || "photo";
  // A blend's file name: its styles and shares (udnie70-wave_crop30).
  const label = spec.split(",").map((p) => p.replace(/:(\d+).*$/, "$1")).join("-");
  state.result = { styled, original, name: `${stem}-${label}`, width: w, height: h };
  for (const id of ["after", "before"]) {
    $(id).width = w;
    $(id).height = h;
  }
  $("before").getContext("2d").putImageData(original, 0, 0);
  $("preview").hidden = true;
  $("stage").hidden = false;
  $("controls").hidden = false;
  $("after").setAttribute("aria-label", `${state.photo.name} painted in the style ${specLabel(spec)}, ${w}×${h}`);
  render();
  compare();
}

function pixels(source, w, h) {
  const canvas = document.createElement("canvas");
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(source, 0, 0, w, h);
  return ctx.getImageData(0, 0, w, h);
}

// BT.601 full range, as the server's own `preserve_color`: the painting's luminance with
// the photo's chroma; then strength blends with the photo, as the server's `strength`.
function render() {
  const r = state.result;
  if (!r) return;
  const strength = Number($("strength").value) / 100;
  const keep = $("keep-colors").checked;
  const out = new ImageData(r.width, r.height);
  const s = r.styled.data, o = r.original.data, d = out.data;
  for (let i = 0; i < d.length; i += 4) {
    let R = s[i], G = s[i + 1], B = s[i + 2];
    if (keep) {
      const y = 0.299 * R + 0.587 * G + 0.114 * B;
      const cb = 128 - 0.168736 * o[i] - 0.331264 * o[i + 1] + 0.5 * o[i + 2];
      const cr = 128 + 0.5 * o[i] - 0.418688 * o[i + 1] - 0.081312 * o[i + 2];
      R = y + 1.402 * (cr - 128);
      G = y - 0.344136 * (cb - 128) - 0.714136 * (cr - 128);
      B = y + 1.772 * (cb - 128);
    }
    d[i] = strength * R + (1 - strength) * o[i];
    d[i + 1] = strength * G + (1 - strength) * o[i + 1];
    d[i + 2] = strength * B + (1 - strength) * o[i + 2];
    d[i + 3] = s[i + 3];
  }
  $("after").getContext("2d").putImageData(out, 0, 0);
}

let pending = false;
function renderSoon() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => { pending = false; render(); });
}

$("strength").addEventListener("input", () => {
  $("strength-value").textContent = `${$("strength").value}%`;
  renderSoon();
});
$("keep-colors").addEventListener("change", renderSoon);

function compare() {
  const v = Number($("compare").value);
  // The photo shows on the left of the divider, the painting on the right.
  $("before").style.clipPath = `inset(0 ${100 - v}% 0 0)`;
  $("divider").style.left = `calc(${v}% - 1px)`;
  $("compare").setAttribute("aria-valuetext", `${v}% of the width shows the photo`);
}
$("compare").addEventListener("input", compare);

$("download").addEventListener("click", () => {
  const r = state.result;
  if (!r) return;
  const jpeg = $("format").value === "jpeg";
  let canvas = $("after");
  if (jpeg) {
    // JPEG has no transparency: put the picture on white.
    canvas = document.createElement("canvas");
    canvas.width = r.width;
    canvas.height = r.height;
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, r.width, r.height);
    ctx.drawImage($("after"), 0, 0);
  }
  canvas.toBlob((blob) => {
    if (!blob) {
      showError("The browser could not make the file: the picture may be too large for it.");
      return;
    }
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `${r.name}.${jpeg ? "jpg" : "png"}`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60000);
    setStatus(`Saved ${a.download} (${humanBytes(blob.size)}).`);
  }, jpeg ? "image/jpeg" : "image/png", 0.92);
});

// ---------------------------------------------------------------------------------------
// Your own painting: a classic job, with progress and a preview

$("painting-input").addEventListener("change", async (e) => {
  const painting = e.target.files[0];
  e.target.value = "";
  if (!painting) return;
  hideError();
  const problem = checkFile(painting, "painting");
  if (problem) return showError(problem);
  if (!state.photo) return showError("Choose your photo first, then the painting.");
  cancelRunning();
  const run = ++state.run;
  state.style = "";
  for (const card of $("gallery").querySelectorAll(".style")) card.setAttribute("aria-checked", "false");
  const form = new FormData();
  form.append("kind", "classic");
  form.append("image", state.photo.file, state.photo.name);
  form.append("style_image", painting, painting.name);
  form.append("size", String(Math.min(1024, Math.max(64, Number($("size").value) || 512))));
  form.append("iterations", $("iterations").value);
  form.append("format", "png");
  busy(true, "Sending the photo and the painting…");
  const started = performance.now();
  let job;
  try {
    job = await (await api("/api/v1/jobs", { method: "POST", body: form })).json();
  } catch (err) {
    busy(false, "Nothing painted.");
    return showError(err.message);
  }
  let cancelled = false;
  state.request = { abort: () => { cancelled = true; api(job.links.self, { method: "DELETE" }).catch(() => {}); } };
  let lastPreview = -1;
  while (!cancelled && run === state.run) {
    let status;
    try {
      status = await (await api(job.links.self)).json();
    } catch (err) {
      busy(false, "Nothing painted.");
      return showError(err.message);
    }
    if (status.status === "queued") {
      setStatus(`Waiting for the server (${status.queue_position ?? 0} ahead)…`);
    } else if (status.status === "running") {
      $("progress").value = status.progress;
      setStatus(`Painting in the style of ${painting.name}: ${Math.round(status.progress * 100)}% (${status.stage})`);
      const tenth = Math.floor(status.progress * 10);
      if (tenth > lastPreview) {
        lastPreview = tenth;
        showPreview(job.links.preview, run);
      }
    } else if (status.status === "succeeded") {
      const blob = await (await api(job.links.result)).blob();
      if (run !== state.run) return;
      await showResult(blob, painting.name.replace(/\.[^.]*$/, "").replace(/[^\w.-]+/g, "_"), run);
      const seconds = (performance.now() - started) / 1000;
      $("timing").textContent = `Your painting (${$("iterations").value} steps): ${seconds.toFixed(0)} s.`;
      busy(false, `Done in ${seconds.toFixed(0)} s.`);
      return;
    } else {
      busy(false, "Nothing painted.");
      if (status.status === "failed") showError(status.error ? upperFirst(status.error.detail) + "." : "The painting failed.");
      return;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
});

async function showPreview(url, run) {
  try {
    const blob = await (await api(url)).blob();
    if (run !== state.run) return;
    const img = $("preview");
    img.src = URL.createObjectURL(blob);
    img.hidden = false;
    $("stage").hidden = false;
  } catch (_) { /* no preview yet */ }
}

// ---------------------------------------------------------------------------------------
// Modes

function showMode(live) {
  $("tab-photo").setAttribute("aria-selected", String(!live));
  $("tab-live").setAttribute("aria-selected", String(live));
  $("tab-photo").tabIndex = live ? -1 : 0;
  $("tab-live").tabIndex = live ? 0 : -1;
  $("photo-mode").hidden = live;
  $("live-mode").hidden = !live;
  if (!live) stopLive();
}
$("tab-photo").addEventListener("click", () => showMode(false));
$("tab-live").addEventListener("click", () => showMode(true));
for (const tab of [$("tab-photo"), $("tab-live")]) {
  tab.addEventListener("keydown", (e) => {
    if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
    const live = tab.id === "tab-photo";
    showMode(live);
    $(live ? "tab-live" : "tab-photo").focus();
  });
}

// ---------------------------------------------------------------------------------------
// Live: camera frames over a WebSocket, one in flight; the camera's other frames are
// skipped, so the picture never lags behind a queue.

const live = { stream: null, socket: null, inFlight: false, sentAt: 0, shown: 0, skipped: 0, times: [], latencies: [], frameTimer: 0 };

function renderLiveStyles() {
  const fallback = state.styles.some((s) => s.name === state.defaultStyle) ? state.defaultStyle : (state.styles[0] || {}).name;
  fillStyleOptions($("live-style"), (s) => s.name.replace(/_/g, " ") + (hasVariant(s, "fast") ? "" : " (full: slow)"), null, fallback);
}

function liveVariant(name) {
  const style = state.styles.find((s) => s.name === name);
  return style && hasVariant(style, "fast") ? "fast" : (style ? style.default_variant : "fast");
}

/** What the live frames are painted with: the style, or its blend with "Mix with", and
 * the variant (fast where every style of it has one). */
function liveSettings() {
  const name = $("live-style").value;
  const other = $("live-mix-with").value;
  const fast = [name, other].filter(Boolean).every((n) => liveVariant(n) === "fast");
  return { style: styleSpec(name, "live-"), variant: fast ? "fast" : liveVariant(name) };
}

function setLiveStatus(text) { $("live-status").textContent = text; }

async function startLive() {
  hideError();
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    showError(window.isSecureContext
      ? "This browser cannot use a camera."
      : "The browser allows the camera only on a secure page: open this page as https://, or as http://localhost on the machine running nst serve.");
    return;
  }
  try {
    live.stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
  } catch (e) {
    const why = {
      NotAllowedError: "The camera was not allowed: allow it in the browser's address bar and try again.",
      NotFoundError: "No camera was found.",
      NotReadableError: "The camera is busy: another program may be using it.",
      OverconstrainedError: "The camera cannot give a picture this page can use.",
    }[e.name] || `The camera cannot be started (${e.message}).`;
    showError(why);
    return;
  }
  const video = $("live-video");
  video.srcObject = live.stream;
  await video.play();
  const { style, variant } = liveSettings();
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const params = new URLSearchParams({ style, variant });
  if (state.key) params.set("access_token", state.key);
  const socket = new WebSocket(`${scheme}//${location.host}/api/v1/live?${params}`);
  socket.binaryType = "blob";
  live.socket = socket;
  Object.assign(live, { inFlight: false, shown: 0, skipped: 0, times: [], latencies: [] });
  $("live-start").textContent = "Stop the camera";
  setLiveStatus("Connecting…");
  socket.onopen = () => {
    setLiveStatus(`Live: ${specLabel(style)}.`);
    tick();
  };
  socket.onmessage = async (e) => {
    if (typeof e.data === "string") {
      const msg = JSON.parse(e.data);
      if (msg.type === "style") setLiveStatus(`Live: ${specLabel(msg.style)} (${msg.variant}).`);
      else if (msg.type === "error") {
        live.inFlight = false;
        showError(upperFirst(msg.detail) + ".");
      }
      return;
    }
    const bitmap = await createImageBitmap(e.data);
    const out = $("live-out");
    if (out.width !== bitmap.width || out.height !== bitmap.height) {
      out.width = bitmap.width;
      out.height = bitmap.height;
    }
    out.getContext("2d").drawImage(bitmap, 0, 0);
    const now = performance.now();
    live.latencies.push(now - live.sentAt);
    live.times.push(now);
    live.shown++;
    live.inFlight = false;
    updateLiveStats();
  };
  socket.onclose = (e) => {
    if (live.socket !== socket) return;
    const reason = e.reason || (e.code === 1006 ? "the connection to the server was lost" : "");
    stopLive();
    if (reason) showError(`Live stopped: ${reason}.`);
  };
}

/** Each camera frame: sent if nothing is in flight, else skipped. */
function tick() {
  if (!live.socket) return;
  const video = $("live-video");
  const next = () => {
    if (!live.socket) return;
    if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(tick);
    else live.frameTimer = setTimeout(tick, 33);
  };
  if (live.socket.readyState !== WebSocket.OPEN || !video.videoWidth) return next();
  if (live.inFlight) {
    live.skipped++;
    $("live-dropped").textContent = String(live.skipped);
    return next();
  }
  const side = Number($("live-size").value);
  const scale = Math.min(1, side / Math.max(video.videoWidth, video.videoHeight));
  const w = Math.round(video.videoWidth * scale), h = Math.round(video.videoHeight * scale);
  const canvas = live.canvas || (live.canvas = document.createElement("canvas"));
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext("2d");
  ctx.save();
  if ($("live-mirror").checked) {
    ctx.translate(w, 0);
    ctx.scale(-1, 1);
  }
  ctx.drawImage(video, 0, 0, w, h);
  ctx.restore();
  live.inFlight = true;
  canvas.toBlob((blob) => {
    if (!blob || !live.socket || live.socket.readyState !== WebSocket.OPEN) {
      live.inFlight = false;
      return;
    }
    live.sentAt = performance.now();
    live.socket.send(blob);
  }, "image/jpeg", 0.85);
  next();
}

function updateLiveStats() {
  const now = performance.now();
  while (live.times.length && now - live.times[0] > 2000) live.times.shift();
  if (live.latencies.length > 30) live.latencies.splice(0, live.latencies.length - 30);
  const span = live.times.length > 1 ? (live.times[live.times.length - 1] - live.times[0]) / 1000 : 0;
  $("live-fps").textContent = span > 0 ? ((live.times.length - 1) / span).toFixed(1) : "–";
  const mean = live.latencies.reduce((a, b) => a + b, 0) / live.latencies.length;
  $("live-latency").textContent = `${Math.round(mean)} ms`;
  $("live-frames").textContent = String(live.shown);
}

function stopLive() {
  const socket = live.socket;
  live.socket = null;
  clearTimeout(live.frameTimer);
  if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000, "stopped");
  if (live.stream) live.stream.getTracks().forEach((t) => t.stop());
  live.stream = null;
  $("live-start").textContent = "Start the camera";
  setLiveStatus("The camera is off.");
}

$("live-start").addEventListener("click", () => (live.socket ? stopLive() : startLive()));
function sendLiveSettings() {
  if (live.socket && live.socket.readyState === WebSocket.OPEN) {
    live.socket.send(JSON.stringify(liveSettings()));
  }
}
$("live-style").addEventListener("change", sendLiveSettings);
mixControls("live-", sendLiveSettings);

loadStyles();
