//! `nst-train` end to end, on tiny generated data: a short run lowers the loss and
//! writes a model the runtime uses; Ctrl-C leaves a checkpoint that `--resume`
//! continues; bad inputs get clear errors and leave nothing half-written.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use image::RgbImage;
use nst_runtime::imageio;

const BIN: &str = env!("CARGO_BIN_EXE_nst-train");

/// A tiny dataset (6 photos-like images), a style image and a run folder.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        for i in 0..6u32 {
            let img = RgbImage::from_fn(48 + i * 4, 40, |x, y| {
                let v = ((x / (4 + i)) + (y / 5)) % 2;
                image::Rgb([(x * 5) as u8, if v == 0 { 40 } else { 200 }, (y * 6 + i * 20) as u8])
            });
            imageio::save_rgb(&data.join(format!("p{i}.png")), &img).unwrap();
        }
        let style = RgbImage::from_fn(64, 64, |x, y| {
            let stripe = ((x + 2 * y) / 6) % 3;
            [image::Rgb([230, 180, 20]), image::Rgb([20, 40, 160]), image::Rgb([240, 240, 230])][stripe as usize]
        });
        imageio::save_rgb(&dir.path().join("style.png"), &style).unwrap();
        Self { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A training command on the fixture with small, fast settings; flags in `extra`
    /// replace the defaults of the same name.
    fn train(&self, extra: &[&str]) -> Command {
        let p = |rel: &str| self.path(rel).to_string_lossy().into_owned();
        let defaults: Vec<(&str, String)> = vec![
            ("--style", p("style.png")),
            ("--dataset", p("data")),
            ("--image-size", "64".into()),
            ("--batch-size", "2".into()),
            ("--style-size", "64".into()),
            ("--base-channels", "8".into()),
            ("--residual-blocks", "1".into()),
            ("--threads", "1".into()),
            ("--device", "cpu".into()),
            ("--lr", "0.01".into()),
            ("--checkpoint-dir", p("run")),
            ("-o", p("model.onnx")),
        ];
        let mut cmd = Command::new(BIN);
        for (flag, value) in defaults {
            if !extra.contains(&flag) {
                cmd.args([flag, value.as_str()]);
            }
        }
        cmd.args(extra);
        cmd
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn losses(csv: &Path) -> Vec<(u64, f64)> {
    std::fs::read_to_string(csv)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].parse().unwrap(), f[4].parse().unwrap())
        })
        .collect()
}

/// Runs `cmd` and checks that it succeeded (its stderr in the failure message).
fn succeed(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    out
}

/// A model loaded by the runtime on the CPU, one thread.
fn load_model(path: &Path) -> nst_runtime::model::StyleModel {
    let cfg = nst_runtime::model::SessionConfig { provider: nst_runtime::ep::Provider::Cpu, threads: Some(1), tiling: None };
    nst_runtime::model::StyleModel::load(path, &cfg).unwrap()
}

fn no_temp_files(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".tmp"), "temporary file left behind: {name}");
    }
}

#[test]
fn short_run_lowers_the_loss_and_exports_a_working_model() {
    let f = Fixture::new();
    let out = succeed(&mut f.train(&["--iterations", "20", "--sample-every", "10", "--checkpoint-every", "10"]));
    let log = losses(&f.path("run/losses.csv"));
    assert_eq!(log.len(), 20);
    let first: f64 = log[..3].iter().map(|l| l.1).sum::<f64>() / 3.0;
    let last: f64 = log[17..].iter().map(|l| l.1).sum::<f64>() / 3.0;
    assert!(last < 0.7 * first, "total loss should fall: first {first:e}, last {last:e}");
    assert!(f.path("run/samples/iter_000010.png").is_file() && f.path("run/samples/iter_000020.png").is_file());
    assert!(stderr(&out).contains("ONNX Runtime matches libtorch"));

    // The model loads in the runtime with its metadata, and stylizes an image.
    let mut model = load_model(&f.path("model.onnx"));
    let info = model.info().clone();
    assert!(info.trained);
    assert_eq!(info.style_name, "style");
    assert_eq!(info.style_image.as_deref(), Some("style.png"));
    let training = info.training.unwrap();
    assert_eq!(training["iterations_done"], 20);
    assert!(training["final_losses"]["total"].as_f64().unwrap() > 0.0);
    assert!(training["command"].as_str().unwrap().contains("--style"));
    let photo = imageio::load_rgb(&f.path("data/p0.png")).unwrap();
    let styled = model.stylize(&photo).unwrap();
    assert_eq!(styled.dimensions(), photo.dimensions());

    // `export` rebuilds the same model from the checkpoint.
    succeed(Command::new(BIN).args(["export", "--checkpoint", f.path("run").to_str().unwrap(), "-o", f.path("again.onnx").to_str().unwrap()]));
    let mut again = load_model(&f.path("again.onnx"));
    assert_eq!(again.stylize(&photo).unwrap(), styled);
    no_temp_files(&f.path("run"));

    // The model carries a small picture of the painting it was trained on.
    let picture = info.painting_picture.as_ref().map(|_| model.info().painting_picture_jpeg().expect("a JPEG")).expect("a painting picture");
    let picture = image::load_from_memory_with_format(&picture, image::ImageFormat::Jpeg).unwrap().to_rgb8();
    assert_eq!(picture.dimensions(), (64, 64), "the 64x64 style image, not enlarged");
    let style = imageio::load_rgb(&f.path("style.png")).unwrap();
    let diff = picture.as_raw().iter().zip(style.as_raw()).map(|(a, b)| f64::from(a.abs_diff(*b))).sum::<f64>() / style.as_raw().len() as f64;
    assert!(diff < 8.0, "the picture is the painting: mean difference {diff}");

    // `metadata` changes the painting and its picture in place; the network stays.
    let other = f.path("other.png");
    imageio::save_rgb(&other, &RgbImage::from_fn(512, 256, |x, _| image::Rgb([(x / 2) as u8, 10, 200]))).unwrap();
    succeed(Command::new(BIN).args(["metadata", f.path("again.onnx").to_str().unwrap(), "--painting", "B. Painter, Other (2027)", "--painting-picture", other.to_str().unwrap()]));
    let mut changed = load_model(&f.path("again.onnx"));
    assert_eq!(changed.info().painting.as_deref(), Some("B. Painter, Other (2027)"));
    let picture = image::load_from_memory(&changed.info().painting_picture_jpeg().unwrap()).unwrap();
    assert_eq!((picture.width(), picture.height()), (256, 128));
    assert_eq!(changed.info().training, model.info().training, "the rest of the metadata is kept");
    assert_eq!(changed.stylize(&photo).unwrap(), styled, "the network is unchanged");
    no_temp_files(f.dir.path());
    // Nothing to change, a file that is not an image, a file that is not a model: refused,
    // and the model is left as it was.
    let before = std::fs::read(f.path("again.onnx")).unwrap();
    for (args, says) in [
        (vec!["metadata", f.path("again.onnx").to_str().unwrap()], "nothing to change"),
        (vec!["metadata", f.path("again.onnx").to_str().unwrap(), "--painting-picture", f.path("run/losses.csv").to_str().unwrap()], "losses.csv"),
        (vec!["metadata", f.path("run/losses.csv").to_str().unwrap(), "--painting", "x"], "not an ONNX model"),
    ] {
        let out = Command::new(BIN).args(&args).output().unwrap();
        assert!(!out.status.success() && stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
    assert_eq!(std::fs::read(f.path("again.onnx")).unwrap(), before);
}

#[test]
fn init_from_starts_at_the_other_runs_weights_and_painting_is_recorded() {
    let f = Fixture::new();
    succeed(&mut f.train(&["--iterations", "30", "--sample-every", "0", "--crop-scale", "0.5,0.8"]));
    let base = losses(&f.path("run/losses.csv"));
    let base_start = base[0].1;
    let base_end = base[27..].iter().map(|l| l.1).sum::<f64>() / 3.0;

    // Fine-tuning on the same style starts where the first run ended, not at a random
    // network's loss.
    let run2 = f.path("run2");
    let out = f
        .train(&["--iterations", "2", "--sample-every", "0", "--checkpoint-dir", run2.to_str().unwrap(), "--init-from", f.path("run").to_str().unwrap(), "--painting", "A. Painter, Test (2026)", "-o", f.path("tuned.onnx").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let tuned = losses(&run2.join("losses.csv"));
    assert!(tuned[0].1 < 0.5 * base_start && tuned[0].1 < 2.0 * base_end, "fine-tuning starts at {:e}; the first run went {base_start:e} -> {base_end:e}", tuned[0].1);
    let info = load_model(&f.path("tuned.onnx")).info().clone();
    assert_eq!(info.painting.as_deref(), Some("A. Painter, Test (2026)"));
    assert!(info.training.unwrap()["command"].as_str().unwrap().contains("--init-from"));

    // The first run's exported model (a bundled style is such a file) starts a run at
    // the same weights as its checkpoint: the same first loss on the same first batch.
    let run4 = f.path("run4");
    let out = f
        .train(&["--iterations", "1", "--sample-every", "0", "--checkpoint-dir", run4.to_str().unwrap(), "--init-from", f.path("model.onnx").to_str().unwrap(), "-o", f.path("from_onnx.onnx").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let from_onnx = losses(&run4.join("losses.csv"));
    assert!((from_onnx[0].1 - tuned[0].1).abs() <= 1e-4 * tuned[0].1, "from the .onnx: {:e}, from the checkpoint: {:e}", from_onnx[0].1, tuned[0].1);
    // An untrained network has no training settings to start from.
    let untrained = f.path("untrained.onnx");
    succeed(Command::new(BIN).args(["init", "--base-channels", "8", "--residual-blocks", "1", "-o", untrained.to_str().unwrap()]));
    let out = f.train(&["--iterations", "1", "--checkpoint-dir", f.path("run5").to_str().unwrap(), "--init-from", untrained.to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not a model trained by nst-train"), "{}", stderr(&out));

    // A network of another size cannot start from it; bad crop fractions are refused.
    let out = f.train(&["--iterations", "2", "--checkpoint-dir", f.path("run3").to_str().unwrap(), "--base-channels", "4", "--init-from", f.path("run").to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("same network size"), "{}", stderr(&out));
    for bad in ["0,0.5", "0.8,0.5", "0.5", "x,1", "0.5,1.5"] {
        let out = f.train(&["--iterations", "2", "--crop-scale", bad]).output().unwrap();
        assert!(!out.status.success() && stderr(&out).contains("crop-scale"), "{bad}: {}", stderr(&out));
    }
}

#[test]
fn a_teacher_replaces_the_photo_as_the_content_target() {
    let f = Fixture::new();
    succeed(&mut f.train(&["--iterations", "10", "--sample-every", "0"]));
    let teacher = f.path("model.onnx");
    // Content loss only, from the teacher's own weights: against the photo it is the
    // teacher's distance from the photo; against the teacher's output (--teacher) the
    // first step's output is the teacher's, so the loss is all but zero.
    let content_only = |run: &str, extra: &[&str]| {
        let mut args = vec!["--iterations", "1", "--sample-every", "0", "--style-weight", "0", "--tv-weight", "0", "--init-from", teacher.to_str().unwrap()];
        args.extend(["--checkpoint-dir", run, "-o"]);
        let model = format!("{run}.onnx");
        args.push(&model);
        args.extend(extra);
        let out = succeed(&mut f.train(&args));
        (losses(&Path::new(run).join("losses.csv"))[0].1, stderr(&out), model)
    };
    let (photo, _, _) = content_only(f.path("photo").to_str().unwrap(), &[]);
    let (distilled, log, model) = content_only(f.path("distil").to_str().unwrap(), &["--teacher", teacher.to_str().unwrap()]);
    assert!(photo > 1.0, "the teacher is some way from the photo: {photo:e}");
    assert!(distilled < 1e-3 * photo, "against its own output: {distilled:e}, against the photo: {photo:e}");
    assert!(log.contains("content target: the output of"), "{log}");
    let info = load_model(Path::new(&model)).info().clone();
    assert_eq!(info.training.unwrap()["teacher"].as_str(), teacher.to_str(), "the model records its teacher");

    // A teacher that is not a model is refused before anything is written.
    std::fs::write(f.path("not_a_model.onnx"), b"nope").unwrap();
    let out = f.train(&["--iterations", "1", "--checkpoint-dir", f.path("bad").to_str().unwrap(), "--teacher", f.path("not_a_model.onnx").to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--teacher") && !f.path("bad").exists(), "{}", stderr(&out));
}

#[test]
fn focus_masks_add_the_masked_loss_and_bad_masks_are_refused() {
    let f = Fixture::new();
    succeed(&mut f.train(&["--iterations", "5", "--sample-every", "0"]));
    let start = f.path("model.onnx");
    // Only the focus loss counts (content, style and TV weights 0): masks that are black
    // everywhere give a zero loss; white on two photos, a positive one.
    let masks = f.path("masks");
    std::fs::create_dir(&masks).unwrap();
    let mask = |name: &str, w: u32, h: u32, v: u8| image::GrayImage::from_pixel(w, h, image::Luma([v])).save(masks.join(name)).unwrap();
    let focus_only = |run: &str| {
        let run = f.path(run);
        let model = run.with_extension("onnx");
        let args = ["--iterations", "1", "--sample-every", "0", "--content-weight", "0", "--style-weight", "0", "--tv-weight", "0", "--init-from", start.to_str().unwrap(), "--batch-size", "6"];
        let focus = ["--focus-masks", masks.to_str().unwrap(), "--focus-weight", "2", "--checkpoint-dir", run.to_str().unwrap(), "-o", model.to_str().unwrap()];
        let out = succeed(&mut f.train(&[&args[..], &focus[..]].concat()));
        (losses(&run.join("losses.csv"))[0].1, stderr(&out), model)
    };
    for i in 0..6u32 {
        mask(&format!("p{i}.png"), 48 + i * 4, 40, 0);
    }
    let (black, _, _) = focus_only("black");
    assert_eq!(black, 0.0, "no focus where the masks are black");
    mask("p1.png", 52, 40, 255);
    mask("p4.png", 64, 40, 255);
    std::fs::remove_file(masks.join("p5.png")).unwrap();
    let (white, log, model) = focus_only("white");
    assert!(white > 1.0, "the network is some way from the photos' relu2_2 features: {white:e}");
    assert!(log.contains("focus masks: 5 of the 6 photos"), "{log}");
    let training = load_model(&model).info().training.clone().unwrap();
    assert_eq!(training["focus_weight"].as_f64(), Some(2.0), "the model records its focus");
    assert_eq!(training["focus_layers"][0].as_str(), Some("relu2_2"));

    // A mask that is not its photo's size, or a weight without masks: refused before
    // anything is written.
    mask("p2.png", 10, 10, 255);
    let bad = f.path("bad");
    let out = f.train(&["--iterations", "1", "--checkpoint-dir", bad.to_str().unwrap(), "--focus-masks", masks.to_str().unwrap(), "--focus-weight", "2"]).output().unwrap();
    assert!(!out.status.success() && !bad.exists());
    assert!(stderr(&out).contains("p2.png") && stderr(&out).contains("must match its photo"), "{}", stderr(&out));
    let out = f.train(&["--iterations", "1", "--checkpoint-dir", bad.to_str().unwrap(), "--focus-weight", "2"]).output().unwrap();
    assert!(!out.status.success() && !bad.exists() && stderr(&out).contains("--focus-masks"), "{}", stderr(&out));
}

#[test]
fn ctrl_c_leaves_a_checkpoint_and_resume_continues() {
    let f = Fixture::new();
    let child = f.train(&["--iterations", "100000", "--sample-every", "0", "--checkpoint-every", "0"]).stderr(Stdio::piped()).spawn().unwrap();
    let csv = f.path("run/losses.csv");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !csv.exists() || losses(&csv).len() < 3 {
        assert!(Instant::now() < deadline, "training did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(stderr(&out).contains("--resume"), "{}", stderr(&out));
    assert!(f.path("run/checkpoint.safetensors").is_file());
    assert!(!f.path("model.onnx").exists(), "an interrupted run exports nothing");
    let stopped_at = losses(&csv).last().unwrap().0;

    let target = stopped_at + 3;
    let resume = |iterations: u64, extra: &[&str]| {
        Command::new(BIN)
            .args(["--resume", "--checkpoint-dir", f.path("run").to_str().unwrap(), "--iterations", &iterations.to_string(), "--threads", "1"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = resume(target, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("resuming from iteration {stopped_at}")), "{}", stderr(&out));
    let log = losses(&csv);
    assert_eq!(log.last().unwrap().0, target, "the loss log continues where the run stopped");
    assert!(f.path("model.onnx").is_file());
    no_temp_files(&f.path("run"));

    // Extended again with -o: the model goes where it is asked, the first one is left as it was.
    let first = std::fs::read(f.path("model.onnx")).unwrap();
    let out = resume(target + 2, &["-o", f.path("longer.png").to_str().unwrap()]);
    assert!(!out.status.success() && stderr(&out).contains("longer.png"), "{}", stderr(&out));
    let out = resume(target + 2, &["-o", f.path("longer.onnx").to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(losses(&csv).last().unwrap().0, target + 2);
    assert!(f.path("longer.onnx").is_file());
    assert_eq!(std::fs::read(f.path("model.onnx")).unwrap(), first, "the run's own output is untouched");
}

#[test]
fn bad_inputs_are_refused_clearly() {
    let f = Fixture::new();
    let run = |extra: &[&str]| -> String {
        let out = f.train(extra).output().unwrap();
        assert!(!out.status.success(), "should fail: {extra:?}");
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{err}");
        err
    };
    std::fs::write(f.path("broken.jpg"), b"not a jpeg").unwrap();
    let err = run(&["--iterations", "2", "--style", f.path("broken.jpg").to_str().unwrap()]);
    assert!(err.contains("broken.jpg") && err.contains("style"), "{err}");

    std::fs::create_dir_all(f.path("empty")).unwrap();
    let err = run(&["--iterations", "2", "--dataset", f.path("empty").to_str().unwrap()]);
    assert!(err.contains("no images"), "{err}");

    // A file given as the dataset folder: said as such.
    let err = run(&["--iterations", "2", "--dataset", f.path("broken.jpg").to_str().unwrap()]);
    assert!(err.contains("is a file") && !err.contains("not found"), "{err}");

    // Each bad number names its own option.
    let err = run(&["--iterations", "0"]);
    assert!(err.contains("--iterations must be at least 1") && !err.contains("--batch-size"), "{err}");
    let err = run(&["--iterations", "2", "--batch-size", "0"]);
    assert!(err.contains("--batch-size") && !err.contains("--iterations"), "{err}");

    // Not a checkpoint: no safetensors jargon ("HeaderTooLarge").
    let err = run(&["--iterations", "2", "--init-from", f.path("broken.jpg").to_str().unwrap()]);
    assert!(err.contains("not an nst-train checkpoint") && !err.contains("HeaderTooLarge"), "{err}");

    // Bad inputs are found before the run is announced.
    let err = run(&["--iterations", "2", "--style", f.path("missing.jpg").to_str().unwrap()]);
    assert!(!err.contains("training '"), "{err}");
    assert!(err.contains("no such file"), "{err}");

    let err = run(&["--iterations", "2", "-o", "/proc/nope/model.onnx"]);
    assert!(err.contains("model.onnx"), "{err}");

    let err = run(&["--iterations", "2", "--style-layers", "relu9_9"]);
    assert!(err.contains("relu9_9"), "{err}");
    assert!(!f.path("run/checkpoint.safetensors").exists());
}

#[test]
fn corrupt_dataset_files_are_skipped_with_a_warning() {
    let f = Fixture::new();
    std::fs::write(f.path("data/zz_corrupt.jpg"), b"\xff\xd8\xff garbage").unwrap();
    let out = succeed(&mut f.train(&["--iterations", "4", "--sample-every", "0"]));
    let err = stderr(&out);
    assert!(err.contains("zz_corrupt.jpg") && err.contains("skipped"), "{err}");
}

#[test]
fn checkpoint_of_another_architecture_is_refused() {
    let f = Fixture::new();
    succeed(&mut f.train(&["--iterations", "2", "--sample-every", "0"]));
    // A checkpoint whose weights do not fit the architecture it claims.
    let ckpt = f.path("run/checkpoint.safetensors");
    let mut loaded = nst_trainer::checkpoint::load(&ckpt).unwrap();
    loaded.meta.settings.model.base_channels = 16;
    let tensors: Vec<(String, tch::Tensor)> = loaded.tensors.into_iter().collect();
    nst_trainer::checkpoint::save(&ckpt, &loaded.meta, &tensors).unwrap();
    let out = Command::new(BIN).args(["export", "--checkpoint", ckpt.to_str().unwrap(), "-o", f.path("x.onnx").to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("another architecture") && !err.contains("panicked"), "{err}");
    assert!(!f.path("x.onnx").exists());

    // Not a checkpoint at all.
    std::fs::write(f.path("junk.safetensors"), b"junk").unwrap();
    let out = Command::new(BIN).args(["export", "--checkpoint", f.path("junk.safetensors").to_str().unwrap(), "-o", f.path("x.onnx").to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not an nst-train checkpoint"), "{}", stderr(&out));
}

#[test]
fn rerunning_into_a_run_folder_is_refused_unless_resume_or_overwrite() {
    let f = Fixture::new();
    let first = f.train(&["--iterations", "4", "--sample-every", "2"]).output().unwrap();
    assert!(first.status.success(), "{}", stderr(&first));
    let ckpt = f.path("run/checkpoint.safetensors");
    let before = std::fs::read(&ckpt).unwrap();
    let log_before = std::fs::read_to_string(f.path("run/losses.csv")).unwrap();

    // The same command again: refused, nothing touched, and the message says what to do.
    let again = f.train(&["--iterations", "4", "--sample-every", "2"]).output().unwrap();
    assert_eq!(again.status.code(), Some(1), "{}", stderr(&again));
    let err = stderr(&again);
    assert!(err.contains("already holds a training run") && err.contains("--resume") && err.contains("--overwrite"), "{err}");
    assert!(err.contains("iteration 4"), "{err}");
    assert_eq!(std::fs::read(&ckpt).unwrap(), before, "the checkpoint must be untouched");
    assert_eq!(std::fs::read_to_string(f.path("run/losses.csv")).unwrap(), log_before);

    // --overwrite starts over: the old samples and log are gone, the new run is alone.
    std::fs::write(f.path("run/notes.txt"), "mine").unwrap();
    let over = f.train(&["--iterations", "3", "--sample-every", "3", "--overwrite"]).output().unwrap();
    assert!(over.status.success(), "{}", stderr(&over));
    assert_eq!(losses(&f.path("run/losses.csv")).len(), 3);
    let samples: Vec<String> = std::fs::read_dir(f.path("run/samples")).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(samples, vec!["iter_000003.png".to_string()], "old samples must not mix with the new run");
    assert_eq!(std::fs::read_to_string(f.path("run/notes.txt")).unwrap(), "mine", "other files are left alone");

    // --resume and --overwrite together make no sense.
    let both = f.train(&["--iterations", "3", "--overwrite", "--resume"]).output().unwrap();
    assert!(!both.status.success());
}

#[test]
fn model_outputs_must_be_onnx_and_failed_runs_leave_no_samples_folder() {
    let f = Fixture::new();
    for args in [vec!["-o", "model.png"], vec!["-o", "model"]] {
        let out = f.train(&[&["--iterations", "2"][..], &args[..]].concat()).current_dir(f.path("")).output().unwrap();
        assert!(!out.status.success());
        assert!(stderr(&out).contains(".onnx"), "{}", stderr(&out));
    }
    assert!(!f.path("model.png").exists() && !f.path("run").exists(), "a refused run writes nothing");
    for sub in [["init", "-o"], ["export", "-o"]] {
        let mut cmd = Command::new(BIN);
        cmd.args(sub).arg(f.path("x.xyz"));
        if sub[0] == "export" {
            cmd.args(["--checkpoint", f.path("run").to_str().unwrap()]);
        }
        let out = cmd.output().unwrap();
        assert!(!out.status.success() && stderr(&out).contains(".onnx"), "{sub:?}: {}", stderr(&out));
        assert!(!f.path("x.xyz").exists());
    }
    // A run that fails after the run folder is made (bad style layer) leaves no samples/.
    let out = f.train(&["--iterations", "2", "--style-layers", "relu9_9"]).output().unwrap();
    assert!(!out.status.success());
    assert!(!f.path("run/samples").exists());
}
