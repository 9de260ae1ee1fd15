//! The training loop: a transformer network learns one style from a style image and a
//! folder of photos, with VGG-19 perceptual losses, Adam, checkpoints, samples, a loss
//! log, and an ONNX export checked against ONNX Runtime at the end.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use tch::nn::{Module, VarStore};
use tch::{Device, Kind, Tensor};

use crate::checkpoint::{self, CheckpointMeta, CHECKPOINT_VERSION};
use crate::data::{self, Loader};
use crate::losses;
use crate::optim::Adam;
use crate::transformer::{TransformerConfig, TransformerNet};
use crate::vgg::{self, Vgg19};
use crate::export;
use nst_runtime::imageio;

/// Everything that defines a training run (saved in checkpoints, and in the exported
/// model's metadata).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrainSettings {
    pub style_image: PathBuf,
    pub style_name: String,
    pub dataset: PathBuf,
    pub output: PathBuf,
    pub checkpoint_dir: PathBuf,
    pub validation_image: Option<PathBuf>,
    pub image_size: u32,
    /// Longer side of the style image for the Gram targets (None: as is). Sets the
    /// scale of the strokes.
    pub style_size: Option<u32>,
    /// Side of the random square crops as a fraction of the photo's shorter side, before
    /// they are resized to `image_size` (min, max). Small crops keep the photo's own pixel
    /// scale, so small, cheap training crops still teach strokes at full-size scale.
    #[serde(default = "default_crop_scale")]
    pub crop_scale: (f64, f64),
    /// Weights to start from instead of a random network (a checkpoint of another style:
    /// fine-tuning converges faster than training from scratch).
    #[serde(default)]
    pub init_from: Option<PathBuf>,
    /// Artist, title and year of the painting, for the model's metadata.
    #[serde(default)]
    pub painting: Option<String>,
    /// A trained model (run folder, checkpoint or `.onnx`) whose stylised photo replaces
    /// the photo as the content target: distillation, e.g. a style's full network
    /// teaching its fast variant.
    #[serde(default)]
    pub teacher: Option<PathBuf>,
    /// A folder of focus masks, one per photo that has one (`data::focus_masks`): where a
    /// mask is white, the output must also keep the photo's features at `focus_layers`,
    /// weighted by `focus_weight` (lettering the style would otherwise paint over).
    #[serde(default)]
    pub focus_masks: Option<PathBuf>,
    #[serde(default)]
    pub focus_weight: f64,
    #[serde(default = "default_focus_layers")]
    pub focus_layers: Vec<String>,
    pub batch_size: usize,
    pub lr: f64,
    pub iterations: u64,
    pub content_layers: Vec<String>,
    pub style_layers: Vec<String>,
    pub content_weight: f64,
    pub style_weight: f64,
    pub tv_weight: f64,
    pub seed: u64,
    pub model: TransformerConfig,
    /// Run the VGG-19 loss network in bfloat16.
    pub vgg_bf16: bool,
    pub checkpoint_every: u64,
    pub sample_every: u64,
    /// The command line that started the run.
    pub command: String,
}

/// The layers of the focus loss: relu2_2 holds strokes a few pixels wide (letters).
pub fn default_focus_layers() -> Vec<String> {
    vec!["relu2_2".into()]
}

/// The crop fraction range used before `crop_scale` existed.
pub fn default_crop_scale() -> (f64, f64) {
    (0.75, 1.0)
}

impl TrainSettings {
    pub fn validate(&self) -> anyhow::Result<()> {
        let (lo, hi) = self.crop_scale;
        if !(lo > 0.0 && lo <= hi && hi <= 1.0) {
            bail!("--crop-scale must be MIN,MAX with 0 < MIN <= MAX <= 1 (fractions of the photo's shorter side), got {lo},{hi}");
        }
        if self.image_size < 16 {
            bail!("--image-size must be at least 16, got {}", self.image_size);
        }
        if self.batch_size == 0 {
            bail!("--batch-size must be at least 1");
        }
        if self.iterations == 0 {
            bail!("--iterations must be at least 1");
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            bail!("--lr must be a positive number, got {}", self.lr);
        }
        if self.content_layers.is_empty() || self.style_layers.is_empty() {
            bail!("--content-layers and --style-layers need at least one layer each");
        }
        if self.focus_masks.is_some() != (self.focus_weight > 0.0) {
            bail!("--focus-masks and a positive --focus-weight go together (the masks say where, the weight how much)");
        }
        if self.focus_masks.is_some() && self.focus_layers.is_empty() {
            bail!("--focus-layers needs at least one layer");
        }
        for l in self.content_layers.iter().chain(&self.style_layers).chain(&self.focus_layers) {
            vgg::layer_index(l)?;
        }
        if [self.content_weight, self.style_weight, self.tv_weight, self.focus_weight].iter().any(|w| *w < 0.0 || !w.is_finite()) {
            bail!("loss weights must be finite and not negative");
        }
        if self.model.base_channels < 1 || self.model.residual_blocks > 64 {
            bail!("invalid network size: base channels {}, residual blocks {}", self.model.base_channels, self.model.residual_blocks);
        }
        Ok(())
    }
}

/// Losses of one step, weighted as they enter the total.
#[derive(Debug, Clone, Copy, Default)]
pub struct StepLosses {
    pub content: f64,
    pub style: f64,
    pub tv: f64,
}

impl StepLosses {
    pub fn total(&self) -> f64 {
        self.content + self.style + self.tv
    }
}

/// How a run ended.
#[derive(Debug)]
pub enum Finish {
    /// All iterations done; the model was exported and verified.
    Done { output: PathBuf, max_diff: f32, losses: StepLosses },
    /// Stopped by Ctrl-C; the checkpoint holds the progress.
    Interrupted { iteration: u64, checkpoint: PathBuf },
}

/// The VGG-19 loss network with the style targets of one style image.
pub struct Perceptual {
    vgg: Vgg19,
    content_idx: Vec<usize>,
    style_idx: Vec<usize>,
    focus_idx: Vec<usize>,
    style_grams: Vec<Tensor>,
    weights: (f64, f64, f64),
    focus_weight: f64,
}

impl Perceptual {
    pub fn new(settings: &TrainSettings, vgg_path: &Path, device: Device) -> anyhow::Result<Self> {
        let kind = if settings.vgg_bf16 { Kind::BFloat16 } else { Kind::Float };
        let vgg = Vgg19::load(vgg_path, device, kind)?;
        let content_idx = settings.content_layers.iter().map(|l| vgg::layer_index(l)).collect::<anyhow::Result<Vec<_>>>()?;
        let style_idx = settings.style_layers.iter().map(|l| vgg::layer_index(l)).collect::<anyhow::Result<Vec<_>>>()?;
        let focus_idx = match settings.focus_masks {
            Some(_) => settings.focus_layers.iter().map(|l| vgg::layer_index(l)).collect::<anyhow::Result<Vec<_>>>()?,
            None => Vec::new(),
        };
        let style = imageio::load_rgb(&settings.style_image).with_context(|| "cannot use the style image")?;
        let style = match settings.style_size {
            Some(max) => {
                let (w, h) = imageio::fit_size(style.width(), style.height(), max);
                // Upscale too: the style size sets the stroke scale.
                let scale = max as f64 / style.width().max(style.height()) as f64;
                let (w, h) = if scale > 1.0 { ((style.width() as f64 * scale).round() as u32, (style.height() as f64 * scale).round() as u32) } else { (w, h) };
                imageio::resize(&style, w, h)
            }
            None => style,
        };
        let style_t = to_tensor(&style, device);
        let style_grams = tch::no_grad(|| vgg.features(&style_t, &style_idx).iter().map(losses::gram).collect());
        let weights = (settings.content_weight, settings.style_weight, settings.tv_weight);
        Ok(Self { vgg, content_idx, style_idx, focus_idx, style_grams, weights, focus_weight: settings.focus_weight })
    }

    /// The weighted losses of a batch of outputs `y` of `photos`, as tensors for
    /// backpropagation: (content, style, tv). The content target is `teacher`'s stylised
    /// photos when given, else the photos. With focus masks (`[N, 1, H, W]`, 0-1), the
    /// content loss also holds the focus loss: the output's features at the focus layers
    /// against the photos' (also under a teacher), where the masks are white.
    pub fn losses(&self, photos: &Tensor, teacher: Option<&Tensor>, masks: Option<&Tensor>, y: &Tensor) -> (Tensor, Tensor, Tensor) {
        let (cw, sw, tw) = self.weights;
        let focus_idx: &[usize] = if masks.is_some() { &self.focus_idx } else { &[] };
        // One pass over the photos gives the content and focus targets, unless a teacher
        // sets the content target.
        let (targets, focus_targets) = tch::no_grad(|| match teacher {
            Some(t) => (self.vgg.features(t, &self.content_idx), self.vgg.features(photos, focus_idx)),
            None => {
                let mut both = self.vgg.features(photos, &[&self.content_idx[..], focus_idx].concat());
                let focus = both.split_off(self.content_idx.len());
                (both, focus)
            }
        });
        let all: Vec<usize> = self.content_idx.iter().chain(&self.style_idx).chain(focus_idx).copied().collect();
        let feats = self.vgg.features(y, &all);
        let (content_feats, rest) = feats.split_at(self.content_idx.len());
        let (style_feats, focus_feats) = rest.split_at(self.style_idx.len());
        let mut content = content_feats.iter().zip(&targets).map(|(f, t)| losses::content_loss(f, t)).sum::<Tensor>() * cw;
        if let Some(masks) = masks {
            let focus = focus_feats.iter().zip(&focus_targets).map(|(f, t)| losses::masked_content_loss(f, t, masks)).sum::<Tensor>();
            content = content + focus * self.focus_weight;
        }
        let style = style_feats.iter().zip(&self.style_grams).map(|(f, g)| losses::style_loss(f, g)).sum::<Tensor>() * sw;
        let tv = losses::tv_loss(y) * tw;
        (content, style, tv)
    }
}

/// The trained network a run imitates (`--teacher`): its output for each training batch
/// is the content target in place of the photo.
pub struct Teacher {
    _vs: VarStore,
    net: TransformerNet,
    style_name: String,
}

impl Teacher {
    /// Loads a run folder, checkpoint or model nst-train wrote (any network family).
    pub fn load(path: &Path, device: Device) -> anyhow::Result<Self> {
        let file = if path.is_dir() { checkpoint::in_run(path) } else { path.to_path_buf() };
        let ckpt = checkpoint::load_init(path).context("--teacher")?;
        let vs = VarStore::new(device);
        let net = TransformerNet::new(&vs.root(), ckpt.meta.settings.model);
        restore_weights(&vs, &ckpt, &file).context("--teacher")?;
        Ok(Self { _vs: vs, net, style_name: ckpt.meta.settings.style_name })
    }

    /// The teacher's stylised images, without gradients, unclamped like the student's
    /// training output: the student learns the teacher's network, and both clamp alike.
    pub fn stylize(&self, x: &Tensor) -> Tensor {
        tch::no_grad(|| self.net.forward_train(x))
    }
}

/// An RGB image as a `[1, 3, H, W]` float tensor (0-255) on `device`.
pub fn to_tensor(img: &image::RgbImage, device: Device) -> Tensor {
    let (w, h) = img.dimensions();
    Tensor::from_slice(&imageio::to_chw(img)).view([1, 3, h as i64, w as i64]).to_device(device)
}

/// Runs the network on one RGB image (no gradients).
pub fn stylize(net: &TransformerNet, img: &image::RgbImage, device: Device) -> image::RgbImage {
    let (w, h) = img.dimensions();
    let y = tch::no_grad(|| net.forward(&to_tensor(img, device)));
    let values = Vec::<f32>::try_from(y.to_device(Device::Cpu).to_kind(Kind::Float).flatten(0, -1)).expect("float output");
    imageio::from_chw(&values, w, h)
}

/// The trainable variables in a fixed (name) order.
fn named_params(vs: &VarStore) -> Vec<(String, Tensor)> {
    let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars
}

/// Loads a checkpoint's weights into a network's variables, checking names and shapes.
pub fn restore_weights(vs: &VarStore, ckpt: &checkpoint::Checkpoint, path: &Path) -> anyhow::Result<()> {
    let expected = ckpt.meta.settings.model.family.architecture();
    if ckpt.meta.architecture != expected {
        bail!("{}: checkpoint of architecture '{}', but its settings describe '{expected}'", path.display(), ckpt.meta.architecture);
    }
    tch::no_grad(|| {
        for (name, mut var) in named_params(vs) {
            let saved = ckpt.tensors.get(&format!("model/{name}")).with_context(|| {
                format!("{}: the checkpoint has no weight '{name}': it was saved for another architecture", path.display())
            })?;
            if saved.size() != var.size() {
                bail!(
                    "{}: weight '{name}' has shape {:?} in the checkpoint but {:?} in the network: another architecture (network settings {:?})",
                    path.display(),
                    saved.size(),
                    var.size(),
                    ckpt.meta.settings.model
                );
            }
            var.copy_(saved);
        }
        Ok(())
    })
}

/// The files of a run folder that a new run would replace or mix with its own.
pub const LOSS_LOG: &str = "losses.csv";
pub const SAMPLES_DIR: &str = "samples";

/// Makes `dir` ready for a new run. A folder that already holds a run (a checkpoint, a
/// loss log or samples) is refused unless `overwrite`, in which case those files are
/// deleted first; anything else in the folder is left alone.
pub fn claim_run_dir(dir: &Path, overwrite: bool) -> anyhow::Result<()> {
    let ours = [dir.join(checkpoint::LATEST), dir.join(LOSS_LOG), dir.join(SAMPLES_DIR)];
    let found: Vec<&PathBuf> = ours.iter().filter(|p| p.symlink_metadata().is_ok()).collect();
    if found.is_empty() {
        return Ok(());
    }
    if !overwrite {
        let what: Vec<String> = found.iter().map(|p| p.file_name().unwrap_or_default().to_string_lossy().into_owned()).collect();
        let iteration = checkpoint::load(&dir.join(checkpoint::LATEST)).ok().map(|c| format!(" (its checkpoint is at iteration {})", c.meta.iteration)).unwrap_or_default();
        bail!(
            "{} already holds a training run{iteration}: {}.\n  \
             to continue it:   nst-train --resume --checkpoint-dir {}\n  \
             to start over:    add --overwrite (deletes that run's checkpoint, loss log and samples)\n  \
             to keep both:     pass another --checkpoint-dir",
            dir.display(),
            what.join(", "),
            dir.display()
        );
    }
    for p in found {
        let r = if p.is_dir() { std::fs::remove_dir_all(p) } else { std::fs::remove_file(p) };
        r.with_context(|| format!("{}: cannot delete it to start over", p.display()))?;
    }
    tracing::info!("--overwrite: deleted the previous run in {}", dir.display());
    Ok(())
}

/// Checks what a run reads before anything is written or deleted (and before the
/// "training ..." line): the VGG-19 weights, the style image, the dataset and its focus
/// masks, and the `--init-from` checkpoint.
pub fn check_inputs(settings: &TrainSettings) -> anyhow::Result<()> {
    vgg::default_weights_path().context("VGG-19 weights (weights/vgg19.safetensors) not found: run `make setup`")?;
    imageio::load_rgb(&settings.style_image).context("cannot use the style image (--style)")?;
    let files = data::scan(&settings.dataset)?;
    if let Some(dir) = &settings.focus_masks {
        data::focus_masks(&settings.dataset, &files, dir)?;
    }
    if let Some(path) = &settings.init_from {
        checkpoint::load_init(path).context("--init-from")?;
    }
    if let Some(path) = &settings.teacher {
        checkpoint::load_init(path).context("--teacher")?;
    }
    Ok(())
}

/// A device as people write it: `cpu`, `cuda:0`.
pub fn device_name(device: Device) -> String {
    match device {
        Device::Cpu => "cpu".into(),
        Device::Cuda(i) => format!("cuda:{i}"),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// Trains according to `settings`, optionally continuing from a checkpoint. `stop` is
/// set by Ctrl-C: the loop then saves a checkpoint and returns.
pub fn train(settings: &TrainSettings, device: Device, resume: Option<checkpoint::Checkpoint>, stop: &AtomicBool) -> anyhow::Result<Finish> {
    settings.validate()?;
    let vgg_path = vgg::default_weights_path().context("VGG-19 weights (weights/vgg19.safetensors) not found: run `make setup`")?;
    let files = data::scan(&settings.dataset)?;
    let perceptual = Perceptual::new(settings, &vgg_path, device)?;
    tracing::info!("dataset: {} images in {}", files.len(), settings.dataset.display());
    let teacher = settings.teacher.as_deref().map(|p| Teacher::load(p, device)).transpose()?;
    if let (Some(t), Some(path)) = (&teacher, &settings.teacher) {
        tracing::info!("content target: the output of {} ('{}'), not the photo", path.display(), t.style_name);
        if t.style_name != settings.style_name {
            tracing::warn!("the teacher was trained on '{}', this run on '{}'", t.style_name, settings.style_name);
        }
    }

    // The seed fixes the initial weights (and, through the loader, the data order).
    tch::manual_seed(settings.seed as i64);
    let vs = VarStore::new(device);
    let net = TransformerNet::new(&vs.root(), settings.model);
    let params = named_params(&vs);
    let mut tensors: Vec<Tensor> = params.iter().map(|(_, t)| t.shallow_clone()).collect();
    let mut adam = Adam::new(&tensors, settings.lr);
    let run_dir = &settings.checkpoint_dir;
    let ckpt_path = run_dir.join(checkpoint::LATEST);
    let (start, elapsed_before, resumed_losses) = match &resume {
        Some(ckpt) => {
            restore_weights(&vs, ckpt, &ckpt_path)?;
            for (i, (name, _)) in params.iter().enumerate() {
                let get = |prefix: &str| {
                    ckpt.tensors
                        .get(&format!("{prefix}/{name}"))
                        .with_context(|| format!("{}: optimiser state for '{name}' missing", ckpt_path.display()))
                };
                adam.m[i] = get("adam_m")?.to_device(device);
                adam.v[i] = get("adam_v")?.to_device(device);
            }
            adam.step = ckpt.meta.adam_step;
            if ckpt.meta.iteration > settings.iterations {
                bail!(
                    "the run in {} is already at iteration {}; pass --iterations above that to continue it",
                    run_dir.display(),
                    ckpt.meta.iteration
                );
            }
            let losses = ckpt.meta.losses.map(|[content, style, tv, _]| StepLosses { content, style, tv });
            (ckpt.meta.iteration, ckpt.meta.elapsed_secs, losses)
        }
        None => {
            if let Some(path) = &settings.init_from {
                let file = if path.is_dir() { checkpoint::in_run(path) } else { path.clone() };
                let ckpt = checkpoint::load_init(path).context("--init-from")?;
                // The output function has no weights: a tanh model can start a clamp one.
                if !settings.model.can_start_from(&ckpt.meta.settings.model) {
                    bail!(
                        "{}: --init-from needs a checkpoint of the same network size; it has {:?}, this run {:?}",
                        file.display(),
                        ckpt.meta.settings.model,
                        settings.model
                    );
                }
                restore_weights(&vs, &ckpt, &file)?;
                tracing::info!("starting from the weights of {} (iteration {} of '{}')", file.display(), ckpt.meta.iteration, ckpt.meta.settings.style_name);
            }
            (0, 0.0, None)
        }
    };
    std::fs::create_dir_all(run_dir).with_context(|| format!("{}: cannot create the run folder", run_dir.display()))?;
    let validation = validation_image(settings, &files)?;
    let masks = settings.focus_masks.as_deref().map(|dir| data::focus_masks(&settings.dataset, &files, dir)).transpose()?;
    if let (Some(m), Some(dir)) = (&masks, &settings.focus_masks) {
        tracing::info!("focus masks: {} of the {} photos have one in {}", m.iter().flatten().count(), files.len(), dir.display());
    }
    let loader = Loader::start(files, masks, settings.batch_size, settings.image_size, settings.crop_scale, settings.seed, start);
    let mut log = LossLog::open(&run_dir.join(LOSS_LOG), start)?;

    let save_checkpoint = |iteration: u64, adam: &Adam, losses: Option<StepLosses>, elapsed: f64| -> anyhow::Result<()> {
        let meta = CheckpointMeta {
            version: CHECKPOINT_VERSION,
            architecture: settings.model.family.architecture().into(),
            iteration,
            adam_step: adam.step,
            settings: settings.clone(),
            losses: losses.map(|l| [l.content, l.style, l.tv, l.total()]),
            elapsed_secs: elapsed,
        };
        let mut named = Vec::new();
        for (i, (name, t)) in params.iter().enumerate() {
            named.push((format!("model/{name}"), t.shallow_clone()));
            named.push((format!("adam_m/{name}"), adam.m[i].shallow_clone()));
            named.push((format!("adam_v/{name}"), adam.v[i].shallow_clone()));
        }
        checkpoint::save(&ckpt_path, &meta, &named)
    };

    let bar = ProgressBar::new(settings.iterations);
    bar.set_position(start);
    bar.set_style(ProgressStyle::with_template("{bar:30} {pos}/{len} it  {elapsed_precise} eta {eta_precise}  {msg}").expect("template"));
    let s = settings.image_size as i64;
    let b = settings.batch_size as i64;
    let clock = Instant::now();
    let mut last = resumed_losses.unwrap_or_default();
    let mut iteration = start;
    let mut skipped_steps = 0u32;
    while iteration < settings.iterations {
        if stop.load(Ordering::SeqCst) {
            bar.finish_and_clear();
            save_checkpoint(iteration, &adam, Some(last), elapsed_before + clock.elapsed().as_secs_f64())?;
            return Ok(Finish::Interrupted { iteration, checkpoint: ckpt_path });
        }
        let batch = loader.next_batch()?;
        let x = Tensor::from_slice(&batch.pixels).view([b, 3, s, s]).to_device(device);
        let masks = batch.masks.map(|m| Tensor::from_slice(&m).view([b, 1, s, s]).to_device(device));
        let y = net.forward_train(&x);
        let target = teacher.as_ref().map(|t| t.stylize(&x));
        let (content, style, tv) = perceptual.losses(&x, target.as_ref(), masks.as_ref(), &y);
        let total = &content + &style + &tv;
        total.backward();
        // A nearly flat crop can give an instance norm a variance that rounds to ~0 and
        // gradients that overflow: skip such a step instead of poisoning the weights.
        let finite = tensors.iter().all(|t| {
            let g = t.grad();
            !g.defined() || g.isfinite().all().int64_value(&[]) != 0
        });
        if !finite {
            for t in &tensors {
                let mut g = t.grad();
                if g.defined() {
                    let _ = g.zero_();
                }
            }
            skipped_steps += 1;
            tracing::warn!("iteration {}: gradients overflowed; step skipped ({skipped_steps} so far)", iteration + 1);
            if skipped_steps > 20 {
                bail!("gradients overflowed at {skipped_steps} steps: lower --lr or the loss weights");
            }
            continue;
        }
        adam.step(&mut tensors);
        iteration += 1;
        last = StepLosses { content: content.double_value(&[]), style: style.double_value(&[]), tv: tv.double_value(&[]) };
        if !last.total().is_finite() {
            bail!(
                "the loss became {} at iteration {iteration} (content {}, style {}, tv {}): lower --lr or the loss weights",
                last.total(),
                last.content,
                last.style,
                last.tv
            );
        }
        let done = (iteration - start) as f64;
        let ips = done * settings.batch_size as f64 / clock.elapsed().as_secs_f64();
        log.write(iteration, &last, ips)?;
        bar.set_position(iteration);
        bar.set_message(format!(
            "{ips:.2} img/s  content {:.3}  style {:.3}  tv {:.3}  total {:.3}",
            last.content,
            last.style,
            last.tv,
            last.total()
        ));
        if bar.is_hidden() && iteration % 50 == 0 {
            // No terminal (a background run): progress goes to the log instead.
            let eta = (settings.iterations - iteration) as f64 * settings.batch_size as f64 / ips;
            tracing::info!(
                "iteration {iteration}/{}: {ips:.2} img/s, eta {:.0} min; content {:.3} style {:.3} tv {:.3}",
                settings.iterations,
                eta / 60.0,
                last.content,
                last.style,
                last.tv
            );
        }
        if settings.sample_every > 0 && (iteration % settings.sample_every == 0 || iteration == settings.iterations) {
            let sample = stylize(&net, &validation, device);
            let samples = run_dir.join(SAMPLES_DIR);
            std::fs::create_dir_all(&samples).with_context(|| format!("{}: cannot create the samples folder", samples.display()))?;
            imageio::save_rgb(&samples.join(format!("iter_{iteration:06}.png")), &sample)?;
        }
        if settings.checkpoint_every > 0 && iteration % settings.checkpoint_every == 0 && iteration < settings.iterations {
            save_checkpoint(iteration, &adam, Some(last), elapsed_before + clock.elapsed().as_secs_f64())?;
        }
    }
    bar.finish_and_clear();
    let elapsed = elapsed_before + clock.elapsed().as_secs_f64();
    save_checkpoint(iteration, &adam, Some(last), elapsed)?;
    if loader.skipped() > 0 {
        tracing::warn!("{} unreadable dataset files were skipped", loader.skipped());
    }
    let info = trained_model_info(settings, iteration, Some(last), elapsed);
    export::write_onnx(&settings.output, &net, &info)?;
    let max_diff = verify_export(&settings.output, &net, &validation, device)?;
    Ok(Finish::Done { output: settings.output.clone(), max_diff, losses: last })
}

/// The metadata of a model trained with `settings` (at the end of a run, or exported from
/// a checkpoint).
/// The painting's picture comes from the style image when it can be read here.
pub fn trained_model_info(settings: &TrainSettings, iteration: u64, losses: Option<StepLosses>, elapsed: f64) -> nst_runtime::contract::ModelInfo {
    let mut info = export::model_info(
        settings.model,
        &settings.style_name,
        settings.style_image.file_name().and_then(|n| n.to_str()),
        settings.painting.as_deref(),
        Some(training_record(settings, iteration, losses, elapsed)),
    );
    info.painting_picture = export::painting_picture(&settings.style_image).ok();
    info
}

/// What the exported model's metadata records about its training.
pub fn training_record(settings: &TrainSettings, iterations: u64, losses: Option<StepLosses>, elapsed: f64) -> serde_json::Value {
    let mut v = serde_json::to_value(settings).expect("settings serialise");
    v["iterations_done"] = iterations.into();
    v["elapsed_secs"] = elapsed.round().into();
    if let Some(l) = losses {
        v["final_losses"] = serde_json::json!({"content": l.content, "style": l.style, "tv": l.tv, "total": l.total()});
    }
    v
}

/// The fixed photo used for samples and for checking the export: `--validation-image`,
/// else the bundled photo, else the first dataset image; at most 256 px.
fn validation_image(settings: &TrainSettings, files: &[PathBuf]) -> anyhow::Result<image::RgbImage> {
    let bundled = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/photos/coffee.jpg"));
    let path = settings.validation_image.clone().unwrap_or_else(|| if bundled.is_file() { bundled } else { files[0].clone() });
    let img = imageio::load_rgb(&path).context("cannot use the validation image")?;
    let (w, h) = imageio::fit_size(img.width(), img.height(), 256);
    Ok(imageio::resize(&img, w, h))
}

/// Runs the exported file through ONNX Runtime and libtorch on the validation photo;
/// returns the largest difference (0-255 scale), failing when it exceeds 0.5.
pub fn verify_export(path: &Path, net: &TransformerNet, img: &image::RgbImage, device: Device) -> anyhow::Result<f32> {
    use nst_runtime::model::{SessionConfig, StyleModel};
    let mut model = StyleModel::load(path, &SessionConfig { provider: nst_runtime::ep::Provider::Cpu, threads: None, tiling: None })?;
    let (w, h) = img.dimensions();
    let onnx = model.run_chw(imageio::to_chw(img), w, h)?;
    let torch = tch::no_grad(|| net.forward(&to_tensor(img, device)));
    let torch = Vec::<f32>::try_from(torch.to_device(Device::Cpu).to_kind(Kind::Float).flatten(0, -1))?;
    let max_diff = onnx.iter().zip(&torch).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    if max_diff > 0.5 {
        bail!("{}: the exported model differs from the trained network by {max_diff} (0-255 scale)", path.display());
    }
    Ok(max_diff)
}

/// The per-iteration loss log (CSV), appended across resumed runs.
struct LossLog {
    file: std::fs::File,
}

impl LossLog {
    fn open(path: &Path, start: u64) -> anyhow::Result<Self> {
        let fresh = start == 0 || !path.exists();
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(!fresh)
            .write(true)
            .truncate(fresh)
            .open(path)
            .with_context(|| format!("{}: cannot open the loss log", path.display()))?;
        if fresh {
            writeln!(file, "iteration,content,style,tv,total,images_per_sec")?;
        }
        Ok(Self { file })
    }

    fn write(&mut self, iteration: u64, l: &StepLosses, ips: f64) -> anyhow::Result<()> {
        writeln!(self.file, "{iteration},{},{},{},{},{ips:.3}", l.content, l.style, l.tv, l.total())?;
        Ok(())
    }
}
