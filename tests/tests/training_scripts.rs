//! The training scripts (`scripts/train_full_styles.sh`, `scripts/train_fast_styles.sh`)
//! run against a stub `nst-train` that records its arguments: each style gets the stages,
//! crops, learning rate and style layers its recipe names, each stage starts from the one
//! before, the last writes the model to OUT, and bad settings are refused before anything
//! is trained.

use std::path::{Path, PathBuf};
use std::process::Command;

use nst_tests::Scratch;

/// A copy of `scripts/` in a scratch project root, with `target/release/nst-train` a stub
/// that appends its arguments (one call per line) to `calls.txt`.
struct Project {
    scratch: Scratch,
}

impl Project {
    fn new() -> Self {
        let scratch = Scratch::new();
        let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts");
        for name in ["training.sh", "train_full_styles.sh", "train_fast_styles.sh"] {
            let text = std::fs::read(scripts.join(name)).unwrap_or_else(|e| panic!("read scripts/{name}: {e}"));
            scratch.write(Path::new("root/scripts").join(name), text);
        }
        let calls = scratch.path("calls.txt");
        let stub = format!("#!/bin/sh\necho \"$*\" >> '{}'\n", calls.display());
        let train = scratch.write("root/target/release/nst-train", stub);
        make_executable(&train);
        scratch.mkdir("dataset");
        scratch.write("base.onnx", b"stub");
        Self { scratch }
    }

    /// Runs a script with the scratch dataset, runs folder, base model and OUT, plus `env`;
    /// returns (success, stderr, the stub's calls).
    fn run(&self, script: &str, env: &[(&str, &str)], styles: &[&str]) -> (bool, String, Vec<String>) {
        let calls = self.scratch.path("calls.txt");
        let _ = std::fs::remove_file(&calls);
        let mut cmd = Command::new("bash");
        cmd.arg(self.scratch.path("root/scripts").join(script))
            .args(styles)
            .env("DATASET", self.scratch.path("dataset"))
            .env("RUNS", self.scratch.path("runs"))
            .env("PAINTINGS", self.scratch.path("paintings"))
            .env("BASE", self.scratch.path("base.onnx"))
            .env("OUT", self.out());
        for var in ["CROP", "PLAN", "LR", "STYLE_LAYERS", "CONTENT_LAYERS", "TEACHERS", "TEXT_DATASET"] {
            cmd.env_remove(var);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let output = cmd.output().expect("run bash");
        let lines = std::fs::read_to_string(&calls).unwrap_or_default().lines().map(str::to_string).collect();
        (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned(), lines)
    }

    fn out(&self) -> PathBuf {
        self.scratch.path("out")
    }

    fn runs(&self) -> PathBuf {
        self.scratch.path("runs")
    }
}

#[cfg(unix)]
fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod the stub");
}

/// The value that follows `flag` in one recorded call.
fn value<'a>(call: &'a str, flag: &str) -> &'a str {
    let words: Vec<&str> = call.split(' ').collect();
    let i = words.iter().position(|w| *w == flag).unwrap_or_else(|| panic!("{flag} missing from: {call}"));
    words.get(i + 1).unwrap_or_else(|| panic!("{flag} has no value in: {call}"))
}

fn has(call: &str, flag: &str) -> bool {
    call.split(' ').any(|w| w == flag)
}

#[test]
fn full_styles_follow_their_recipe_tables() {
    let p = Project::new();
    let (ok, err, calls) = p.run("train_full_styles.sh", &[], &["woman-with-hat-matisse", "tahiti_guaguin"]);
    assert!(ok, "train_full_styles.sh failed: {err}");
    assert!(err.is_empty(), "a good run writes no warnings (bash's included): {err}");
    assert_eq!(calls.len(), 3, "two stages for the Woman with a Hat, one for the Tahitian scene: {calls:#?}");

    // Woman with a Hat: 800 it. at content weight 1.5, then 300 at 1 from the first
    // stage's run folder, both on 128-px crops; only the last writes to OUT.
    let first_run = p.runs().join("full_woman-with-hat-matisse_stage1");
    assert_eq!(value(&calls[0], "--iterations"), "800");
    assert_eq!(value(&calls[0], "--content-weight"), "1.5");
    assert_eq!(value(&calls[0], "--init-from"), p.scratch.path("base.onnx").to_str().unwrap());
    assert_eq!(value(&calls[0], "--checkpoint-dir"), first_run.to_str().unwrap());
    assert_eq!(value(&calls[1], "--iterations"), "300");
    assert_eq!(value(&calls[1], "--content-weight"), "1");
    assert_eq!(value(&calls[1], "--init-from"), first_run.to_str().unwrap());
    assert_eq!(value(&calls[1], "-o"), p.out().join("woman-with-hat-matisse.onnx").to_str().unwrap());
    for call in &calls[..2] {
        assert_eq!(value(call, "--image-size"), "128");
        assert_eq!(value(call, "--batch-size"), "4");
    }
    // The Tahitian scene: 256-px crops, batch 2 (its crop_of entry).
    assert_eq!(value(&calls[2], "--image-size"), "256");
    assert_eq!(value(&calls[2], "--batch-size"), "2");
    assert_eq!(value(&calls[2], "-o"), p.out().join("tahiti_guaguin.onnx").to_str().unwrap());
    for call in &calls {
        assert_eq!(value(call, "--variant"), "full");
        assert_eq!(value(call, "--lr"), "0.0003");
        assert_eq!(value(call, "--style-layers"), "relu2_1,relu3_1,relu4_1,relu5_1");
        assert!(has(call, "--painting"), "every model names its painting: {call}");
    }
}

#[test]
fn full_styles_take_plan_and_crop_from_the_environment() {
    let p = Project::new();
    let (ok, err, calls) = p.run("train_full_styles.sh", &[("CROP", "256"), ("PLAN", "400:3:500")], &["woman-with-hat-matisse"]);
    assert!(ok, "train_full_styles.sh failed: {err}");
    assert_eq!(calls.len(), 1, "PLAN replaces the table's two stages: {calls:#?}");
    assert_eq!(value(&calls[0], "--iterations"), "400");
    assert_eq!(value(&calls[0], "--content-weight"), "3");
    assert_eq!(value(&calls[0], "--tv-weight"), "500");
    assert_eq!(value(&calls[0], "--image-size"), "256");

    let (ok, err, calls) = p.run("train_full_styles.sh", &[("CROP", "192")], &["udnie"]);
    assert!(!ok && calls.is_empty(), "CROP=192 must be refused before training: {calls:#?}");
    assert!(err.contains("CROP must be 128 or 256"), "the error names the setting: {err}");
}

#[test]
fn fast_styles_take_crop_lr_and_style_layers() {
    let p = Project::new();
    // Edtaonisl's fast model is distilled from its full network (the table teacher_of).
    let teacher = p.scratch.write("root/weights/edtaonisl.onnx", b"stub");
    let env = [("CROP", "256"), ("PLAN", "500:2.5:1000"), ("LR", "0.0003"), ("STYLE_LAYERS", "relu2_1,relu4_1")];
    let (ok, err, calls) = p.run("train_fast_styles.sh", &env, &["edtaonisl"]);
    assert!(ok, "train_fast_styles.sh failed: {err}");
    assert_eq!(calls.len(), 1, "{calls:#?}");
    let call = &calls[0];
    assert_eq!(value(call, "--variant"), "fast");
    assert_eq!(value(call, "--image-size"), "256");
    assert_eq!(value(call, "--batch-size"), "2");
    assert_eq!(value(call, "--lr"), "0.0003");
    assert_eq!(value(call, "--style-layers"), "relu2_1,relu4_1");
    assert_eq!(value(call, "--content-weight"), "2.5");
    assert_eq!(value(call, "-o"), p.out().join("edtaonisl.fast.onnx").to_str().unwrap());
    assert_eq!(value(call, "--teacher"), teacher.to_str().unwrap());

    // Without them: the table's stages on 128-px crops, nst-train's own lr and layers.
    let (ok, err, calls) = p.run("train_fast_styles.sh", &[], &["the_scream"]);
    assert!(ok, "train_fast_styles.sh failed: {err}");
    let weights: Vec<&str> = calls.iter().map(|c| value(c, "--content-weight")).collect();
    assert_eq!(weights, ["6", "2", "1.5"], "the Scream's three fast stages");
    for call in &calls {
        assert_eq!(value(call, "--image-size"), "128");
        assert!(!has(call, "--lr") && !has(call, "--style-layers"), "{call}");
    }

    let (ok, err, calls) = p.run("train_fast_styles.sh", &[("CROP", "64")], &["udnie"]);
    assert!(!ok && calls.is_empty() && err.contains("CROP must be 128 or 256"), "{err}");
}

#[test]
fn fast_styles_distil_their_teachers_and_both_scripts_take_content_layers() {
    let p = Project::new();
    let teachers = p.scratch.path("teachers");
    p.scratch.write("teachers/udnie.onnx", b"stub");
    p.scratch.write("teachers/the_scream.onnx", b"stub");
    let env = [("TEACHERS", teachers.to_str().unwrap()), ("CONTENT_LAYERS", "relu3_2,relu4_2"), ("PLAN", "300:4:1000")];
    let (ok, err, calls) = p.run("train_fast_styles.sh", &env, &["udnie", "the_scream"]);
    assert!(ok, "train_fast_styles.sh failed: {err}");
    assert_eq!(calls.len(), 2, "{calls:#?}");
    for (call, style) in calls.iter().zip(["udnie", "the_scream"]) {
        assert_eq!(value(call, "--teacher"), teachers.join(format!("{style}.onnx")).to_str().unwrap(), "each style its own teacher");
        assert_eq!(value(call, "--content-layers"), "relu3_2,relu4_2");
    }
    // Without TEACHERS the table decides (no entry: no teacher).
    let (ok, err, calls) = p.run("train_fast_styles.sh", &[("PLAN", "300:4:1000")], &["udnie"]);
    assert!(ok && !has(&calls[0], "--teacher") && !has(&calls[0], "--content-layers"), "{err} {calls:#?}");
    // TEACHERS=none: no teacher, even for a style the table gives one (Edtaonisl).
    p.scratch.write("root/weights/edtaonisl.onnx", b"stub");
    let (ok, err, calls) = p.run("train_fast_styles.sh", &[("TEACHERS", "none"), ("PLAN", "300:4:1000")], &["edtaonisl"]);
    assert!(ok && calls.len() == 1 && !has(&calls[0], "--teacher"), "{err} {calls:#?}");
    let (ok, err, calls) = p.run("train_fast_styles.sh", &[("PLAN", "300:4:1000")], &["edtaonisl"]);
    assert!(ok && has(&calls[0], "--teacher"), "without TEACHERS the table's teacher: {err} {calls:#?}");
    // A style without its teacher: refused before any style is trained.
    let (ok, err, calls) = p.run("train_fast_styles.sh", &env, &["udnie", "shipwreck"]);
    assert!(!ok && calls.is_empty(), "{calls:#?}");
    assert!(err.contains("teacher of shipwreck") && err.contains("shipwreck.onnx, is missing"), "{err}");

    let (ok, err, calls) = p.run("train_full_styles.sh", &[("CONTENT_LAYERS", "relu2_2,relu4_2")], &["shipwreck"]);
    assert!(ok, "train_full_styles.sh failed: {err}");
    assert_eq!(value(&calls[0], "--content-layers"), "relu2_2,relu4_2");
}

#[test]
fn a_missing_base_model_is_an_error_not_a_start_to_train() {
    let p = Project::new();
    let missing = p.scratch.path("no-such-start.onnx");
    for script in ["train_full_styles.sh", "train_fast_styles.sh"] {
        let (ok, err, calls) = p.run(script, &[("BASE", missing.to_str().unwrap())], &["udnie"]);
        assert!(!ok && calls.is_empty(), "{script}: {calls:#?}");
        assert!(err.contains("no-such-start.onnx is missing"), "{script}: {err}");
    }
}

#[test]
fn lettering_stages_train_on_the_lettering_set_with_relu2_2() {
    let p = Project::new();
    // Without the lettering set: refused before anything is trained, with the way to make it.
    let plan = [("PLAN", "300:2:1000 200:1.2:1000:text")];
    let (ok, err, calls) = p.run("train_full_styles.sh", &plan, &["shipwreck"]);
    assert!(!ok && calls.is_empty(), "{calls:#?}");
    assert!(err.contains("dataset_text is missing") && err.contains("text_overlay.py"), "{err}");

    p.scratch.mkdir("dataset_text");
    let env = [plan[0], ("CONTENT_LAYERS", "relu3_2,relu4_2")];
    for script in ["train_full_styles.sh", "train_fast_styles.sh"] {
        let (ok, err, calls) = p.run(script, &env, &["shipwreck"]);
        assert!(ok && err.is_empty(), "{script} failed: {err}");
        assert_eq!(calls.len(), 2, "{calls:#?}");
        // The plain stage: the dataset and CONTENT_LAYERS; the lettering stage: the
        // lettering set with relu2_2 beside relu4_2, from the stage before.
        assert_eq!(value(&calls[0], "--dataset"), p.scratch.path("dataset").to_str().unwrap());
        assert_eq!(value(&calls[0], "--content-layers"), "relu3_2,relu4_2");
        assert_eq!(value(&calls[1], "--dataset"), p.scratch.path("dataset_text").to_str().unwrap());
        assert_eq!(value(&calls[1], "--content-layers"), "relu2_2,relu4_2");
        assert_eq!(value(&calls[1], "--content-weight"), "1.2");
        assert!(value(&calls[1], "--init-from").ends_with("_shipwreck_stage1"), "{}", calls[1]);
        for call in &calls {
            assert_eq!(call.split(' ').filter(|w| *w == "--dataset").count(), 1, "one --dataset per call: {call}");
        }
    }
    // TEXT_DATASET names another folder; a fourth field other than "text" is refused.
    p.scratch.mkdir("signs");
    let signs = p.scratch.path("signs");
    let (ok, err, calls) = p.run("train_full_styles.sh", &[plan[0], ("TEXT_DATASET", signs.to_str().unwrap())], &["shipwreck"]);
    assert!(ok, "{err}");
    assert_eq!(value(&calls[1], "--dataset"), signs.to_str().unwrap());
    let (ok, err, calls) = p.run("train_full_styles.sh", &[("PLAN", "300:2:1000:txt")], &["shipwreck"]);
    assert!(!ok && calls.is_empty() && err.contains("may only be 'text' or 'focus=WEIGHT'"), "{err}");
}

#[test]
fn focus_stages_pass_the_lettering_masks_and_their_weight() {
    let p = Project::new();
    let plan = [("PLAN", "300:2:1000 200:4.5:1000:focus=150")];
    // A lettering set without masks (made before text_overlay.py wrote them): refused.
    p.scratch.mkdir("dataset_text");
    let (ok, err, calls) = p.run("train_full_styles.sh", &plan, &["shipwreck"]);
    assert!(!ok && calls.is_empty(), "{calls:#?}");
    assert!(err.contains("dataset_text/.masks is missing") && err.contains("text_overlay.py"), "{err}");

    p.scratch.mkdir("dataset_text/.masks");
    for script in ["train_full_styles.sh", "train_fast_styles.sh"] {
        let (ok, err, calls) = p.run(script, &plan, &["shipwreck"]);
        assert!(ok && err.is_empty(), "{script} failed: {err}");
        assert_eq!(calls.len(), 2, "{calls:#?}");
        assert!(!calls[0].contains("--focus"), "the plain stage has no focus: {}", calls[0]);
        // The focus stage: the lettering set, its masks and weight, the usual content layers.
        assert_eq!(value(&calls[1], "--dataset"), p.scratch.path("dataset_text").to_str().unwrap());
        assert_eq!(value(&calls[1], "--focus-masks"), p.scratch.path("dataset_text/.masks").to_str().unwrap());
        assert_eq!(value(&calls[1], "--focus-weight"), "150");
        assert_eq!(value(&calls[1], "--content-weight"), "4.5");
        assert!(!calls[1].contains("--content-layers"), "nst-train's default content layers: {}", calls[1]);
        assert!(value(&calls[1], "--init-from").ends_with("_shipwreck_stage1"), "{}", calls[1]);
    }
    for bad in ["focus=", "focus=0", "focus=-3", "focus=x"] {
        let (ok, err, calls) = p.run("train_full_styles.sh", &[("PLAN", &format!("300:2:1000:{bad}"))], &["shipwreck"]);
        assert!(!ok && calls.is_empty() && err.contains("focus weight must be a positive number"), "{bad}: {err}");
    }
}

/// A stage's fifth field, "lr=RATE", trains that stage alone at that learning rate (Udnie's
/// fast focus stages), replacing LR's; anything else there is refused before training.
#[test]
fn a_stage_can_carry_its_own_learning_rate() {
    let p = Project::new();
    p.scratch.mkdir("dataset_text/.masks");
    let plan = ("PLAN", "300:2:1000 250:0.5:1000:focus=100:lr=0.0003 100:1:1000");
    for script in ["train_full_styles.sh", "train_fast_styles.sh"] {
        for env in [vec![plan], vec![plan, ("LR", "0.002")]] {
            let (ok, err, calls) = p.run(script, &env, &["shipwreck"]);
            assert!(ok && err.is_empty(), "{script} failed: {err}");
            assert_eq!(calls.len(), 3, "{calls:#?}");
            assert_eq!(calls[1].matches("--lr").count(), 1, "one --lr in the stage with its own: {}", calls[1]);
            assert_eq!(value(&calls[1], "--lr"), "0.0003");
            assert_eq!(value(&calls[1], "--focus-weight"), "100");
            let lr = env.iter().find(|(k, _)| *k == "LR").map(|(_, v)| *v);
            // The other stages keep the script's rate (LR when set).
            for c in [&calls[0], &calls[2]] {
                assert!(c.matches("--lr").count() <= 1, "{c}");
                if let Some(v) = lr {
                    assert_eq!(value(c, "--lr"), v);
                }
            }
        }
    }
    for bad in ["lr=", "lr=0", "lr=x", "rate=0.1", "lr=-1"] {
        let (ok, err, calls) = p.run("train_fast_styles.sh", &[("PLAN", &format!("300:2:1000::{bad}"))], &["shipwreck"]);
        assert!(!ok && calls.is_empty() && (err.contains("learning rate must be a positive number") || err.contains("fifth field")), "{bad}: {err}");
    }
}
