//! The README's example commands, so that they cannot go stale: every option they use
//! exists in that command's `--help`, and the `nst` examples that need no camera, GPU or
//! hours of training are run for real, in a scratch folder where each input they name
//! is made first (small photos, short clips, folders holding one of these), with the
//! bundled styles.

use std::path::{Path, PathBuf};
use std::process::Command;

use nst_tests::*;

const IMAGE_EXT: &[&str] = &["jpg", "jpeg", "png", "webp"];
const VIDEO_EXT: &[&str] = &["mp4", "mov", "mkv", "avi"];

/// Example command lines: indented lines starting with a binary (after an optional
/// `$ `), `\` continuations joined, `# comments` and `[optional]` parts dropped.
fn examples(readme: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        if !line.starts_with("    ") {
            continue;
        }
        let mut text = line.trim().trim_start_matches("$ ").to_string();
        let first = text.split_whitespace().next().unwrap_or("");
        if !["nst", "nst-train", "nst-classic", "nst-eval"].contains(&first) {
            continue;
        }
        while text.ends_with('\\') {
            text.pop();
            text.push(' ');
            text.push_str(lines.next().unwrap_or("").trim());
        }
        let text = text.split(" #").next().unwrap_or("").to_string();
        let words: Vec<String> = text.split_whitespace().filter(|w| !w.starts_with('[')).map(String::from).collect();
        out.push(words);
    }
    out
}

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).expect("read README.md")
}

#[test]
fn readme_examples_use_only_existing_options() {
    let examples = examples(&readme());
    assert!(examples.len() >= 15, "too few examples found in the README: {examples:?}");
    let mut stale = Vec::new();
    for words in &examples {
        let sub: Vec<&str> = if words[0] == "nst" { vec![words[1].as_str()] } else { vec![] };
        let text = help_text(&words[0], &sub);
        for w in words.iter().filter(|w| w.starts_with('-')) {
            let flag = w.split('=').next().unwrap_or(w);
            let known = if flag.starts_with("--") { text.contains(&format!("{flag} ")) || text.contains(&format!("{flag}\n")) } else { text.contains(&format!("{flag}, ")) };
            if !known {
                stale.push(format!("{}: {flag}", words.join(" ")));
            }
        }
    }
    assert!(stale.is_empty(), "README examples use options their command does not have:\n{}", stale.join("\n"));
}

/// Makes the input a word names, if it does not exist: a photo, a clip, or a folder with
/// one of them (for the command `sub`).
fn make_input(s: &Scratch, word: &str, sub: &str) {
    let path = s.path(word);
    if path.exists() {
        return;
    }
    let ext = Path::new(word).extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let clip = |rel: &str| {
        s.clip(rel, &["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=0.6", "-pix_fmt", "yuv420p"]);
    };
    if word.ends_with('/') {
        if sub == "video" {
            clip(&format!("{word}a.mp4"));
        } else {
            s.image(format!("{word}a.png"), pattern(48, 36));
        }
    } else if IMAGE_EXT.contains(&ext.as_str()) {
        s.image(word, pattern(64, 48));
    } else if VIDEO_EXT.contains(&ext.as_str()) {
        clip(word);
    }
}

/// Why an example is not run here, or None to run it.
fn not_run(words: &[String]) -> Option<&'static str> {
    let has = |w: &str| words.iter().any(|x| x == w);
    if words[0] != "nst" {
        return Some("trains or optimises for minutes to hours");
    }
    match words[1].as_str() {
        "live" if !words.iter().any(|w| w == "test" || w.ends_with(".mp4")) => Some("needs a camera"),
        "serve" => Some("serves until stopped (tests/serve.rs starts it)"),
        _ if has("--start") => Some("cuts a long video"),
        _ => None,
    }
}

#[test]
fn readme_nst_examples_run() {
    let weights = Path::new(env!("CARGO_MANIFEST_DIR")).join("../weights");
    let mut ran = 0;
    for words in examples(&readme()) {
        if let Some(why) = not_run(&words) {
            eprintln!("not run ({why}): {}", words.join(" "));
            continue;
        }
        let s = Scratch::new();
        let sub = words[1].clone();
        // Inputs: the words that are not options, option values or outputs.
        let mut args: Vec<String> = words[2..].to_vec();
        let mut i = 0;
        while i < args.len() {
            let w = &args[i];
            if w == "-o" || w == "--record" {
                if let Some(parent) = PathBuf::from(&args[i + 1]).parent() {
                    std::fs::create_dir_all(s.path(parent)).expect("output folder");
                }
                i += 2;
                continue;
            }
            if w.starts_with('-') {
                i += if w == "--source" { make_input(&s, &args[i + 1], &sub); 2 } else { 1 };
                continue;
            }
            make_input(&s, w, &sub);
            i += 1;
        }
        // Live examples run headless and briefly (no window on a test machine).
        if sub == "live" {
            for (flag, value) in [("--headless", None), ("--frames", Some("3"))] {
                if !args.iter().any(|a| a == flag) {
                    args.push(flag.into());
                    args.extend(value.map(String::from));
                }
            }
        }
        let out = Command::new(binary("nst"))
            .arg(&sub)
            .args(&args)
            .current_dir(s.path("."))
            .env("NST_WEIGHTS_DIR", &weights)
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .output()
            .expect("run nst");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let gpu_missing = args.iter().any(|a| a == "cuda" || a == "tensorrt") && stderr.contains("is not available");
        assert!(out.status.success() || gpu_missing, "README example failed: nst {sub} {}\n{stderr}", args.join(" "));
        ran += 1;
    }
    assert!(ran >= 8, "only {ran} README examples ran");
}
