//! A full disk and a read-only folder: a failing write in the middle of an image batch
//! or of a training run gives one clear error and leaves no partial file (the video case
//! is in video.rs). Small tmpfs mounts need root; without it the tests say so and return.

use std::process::Command;

use image::RgbImage;
use nst_tests::*;

fn noise(w: u32, h: u32, seed: u32) -> RgbImage {
    let mut state = seed.wrapping_mul(2654435761).wrapping_add(1);
    RgbImage::from_fn(w, h, |_, _| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        image::Rgb([state as u8, (state >> 8) as u8, (state >> 16) as u8])
    })
}

#[test]
fn a_batch_stops_at_a_full_disk_with_one_error() {
    let s = Scratch::new();
    // Six BMPs of 360 KB each: the third does not fit in 1 MiB.
    for i in 0..6 {
        s.image(format!("in/p{i}.bmp"), noise(400, 300, i));
    }
    let Some(disk) = SmallDisk::mount(s.mkdir("full"), "1m", false) else {
        eprintln!("cannot mount a small tmpfs (not root?): not run");
        return;
    };
    let run = s.stylize(&[&s.path("in")], &disk.0, &[]);
    assert!(!run.success);
    let line = run.assert_one_error("the disk is full");
    assert!(line.contains("free some space"), "{line}");
    assert!(run.stderr.contains("stopped after 2 of 6 images: no room left"), "{}", run.stderr);
    assert!(temporaries(&disk.0).is_empty(), "left behind: {:?}", temporaries(&disk.0));
    let written = tree(&disk.0);
    assert_eq!(written.len(), 2, "{written:?}");
    for p in written {
        assert_eq!(decode(&disk.0.join(p)).width(), 400);
    }
}

#[test]
fn a_read_only_output_folder_is_named_as_such() {
    let s = Scratch::new();
    let input = s.image("in/p.png", noise(64, 48, 1));
    for i in 0..2 {
        s.image(format!("many/p{i}.png"), noise(64, 48, i));
    }
    let Some(disk) = SmallDisk::mount(s.mkdir("ro"), "1m", true) else {
        eprintln!("cannot mount a read-only tmpfs (not root?): not run");
        return;
    };
    let run = s.stylize(&[&input], &disk.0.join("out.png"), &[]);
    let line = run.assert_one_error("read-only file system");
    assert!(line.contains("out.png"), "{line}");
    // A batch stops at the first: one error, not one per image.
    let run = s.stylize(&[&s.path("many")], &disk.0, &[]);
    run.assert_one_error("read-only file system");
    assert!(tree(&disk.0).is_empty());
}

#[test]
fn a_checkpoint_that_does_not_fit_is_one_clear_error_and_no_partial_file() {
    let s = Scratch::new();
    for i in 0..4 {
        s.image(format!("data/p{i}.png"), noise(64, 48, i));
    }
    s.image("style.png", noise(64, 64, 9));
    let Some(disk) = SmallDisk::mount(s.mkdir("run"), "64k", false) else {
        eprintln!("cannot mount a small tmpfs (not root?): not run");
        return;
    };
    let mut cmd = Command::new(binary("nst-train"));
    cmd.args(["--image-size", "32", "--style-size", "64", "--batch-size", "2", "--base-channels", "8", "--residual-blocks", "1"]);
    cmd.args(["--threads", "1", "--device", "cpu", "--iterations", "20", "--sample-every", "0", "--checkpoint-every", "5"]);
    cmd.arg("--style").arg(s.path("style.png")).arg("--dataset").arg(s.path("data"));
    cmd.arg("--checkpoint-dir").arg(&disk.0).arg("-o").arg(s.path("model.onnx"));
    let run = Run::of(&mut cmd);
    assert!(!run.success, "the checkpoint (about 400 KB) cannot fit in 64 KiB:\n{}", run.stderr);
    let line = run.assert_one_error("checkpoint");
    assert!(line.contains("No space left on device"), "{line}");
    assert!(!disk.0.join("checkpoint.safetensors").exists());
    assert!(temporaries(&disk.0).is_empty(), "left behind: {:?}", temporaries(&disk.0));
    assert!(!s.path("model.onnx").exists());
}
