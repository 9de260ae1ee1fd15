//! `nst stylize` over one or many files: its command line as jobs (input -> output, planned
//! by [`crate::plan`] for [`IMAGES`]), and running them as a three-stage pipeline (decode, stylize, encode on
//! separate threads) that goes on past a bad file and reports every failure.

use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;

use crate::color;
use crate::error::{Error, Result};
use crate::imageio::{self, OutputFormat, Picture};
use crate::model::StyleModel;
use crate::plan::{self, Failure, Job, MediaKind};
use crate::stroke::{self, StrokeScale};

/// What to do to each image besides running the network.
#[derive(Debug, Clone, Copy)]
pub struct StylizeOptions {
    /// Downscale so the longer side is at most this many pixels.
    pub max_size: Option<u32>,
    /// 1 = fully stylized, 0 = the original.
    pub strength: f32,
    /// Keep the original's colours (stylized luminance only).
    pub preserve_color: bool,
    /// How large the strokes are relative to the picture (see [`crate::stroke`]).
    pub stroke_scale: StrokeScale,
}

impl Default for StylizeOptions {
    fn default() -> Self {
        Self { max_size: None, strength: 1.0, preserve_color: false, stroke_scale: StrokeScale::Auto }
    }
}

impl StylizeOptions {
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.strength) || self.strength.is_nan() {
            return Err(Error::Parameter(format!("--strength must be between 0 and 1, got {}", self.strength)));
        }
        if self.max_size == Some(0) {
            return Err(Error::Parameter("--max-size must be at least 1".into()));
        }
        Ok(())
    }

    /// Resizes a freshly decoded picture to the working size.
    pub fn prepare(&self, mut picture: Picture) -> Picture {
        if let Some(max) = self.max_size {
            let (w, h) = picture.rgb.dimensions();
            let (nw, nh) = imageio::fit_size(w, h, max);
            if (nw, nh) != (w, h) {
                picture.rgb = imageio::resize(&picture.rgb, nw, nh);
                picture.alpha = picture.alpha.map(|a| imageio::resize_gray(&a, nw, nh));
            }
        }
        picture
    }

    /// Runs the network and the post-processing on a prepared picture.
    pub fn stylize(&self, model: &mut StyleModel, picture: &Picture) -> Result<Picture> {
        self.stylize_with(model, picture, None)
    }

    /// [`Self::stylize`] that another thread can stop through `run` (see
    /// [`StyleModel::run_chw_with`]).
    pub fn stylize_with(&self, model: &mut StyleModel, picture: &Picture, run: Option<&crate::model::RunOptions>) -> Result<Picture> {
        let (w, h) = picture.rgb.dimensions();
        let (rw, rh) = self.stroke_scale.run_size(w, h, model.info().reference_side());
        let mut out = if (rw, rh) == (w, h) {
            model.stylize_with(&picture.rgb, run)?
        } else {
            let styled = model.stylize_with(&imageio::resize(&picture.rgb, rw, rh), run)?;
            stroke::guided_upsample(&styled, &picture.rgb)
        };
        if self.preserve_color {
            out = color::preserve_color(&out, &picture.rgb);
        }
        if self.strength < 1.0 {
            out = color::blend(&out, &picture.rgb, self.strength);
        }
        Ok(Picture { rgb: out, alpha: picture.alpha.clone() })
    }
}

/// Images, as read and written by `nst stylize`.
pub const IMAGES: MediaKind = MediaKind {
    noun: "images",
    extensions: imageio::IMAGE_EXTENSIONS,
    supported: imageio::SUPPORTED_INPUTS,
    check_output: check_image_output,
    fallback_extension: "png",
};

fn check_image_output(path: &Path) -> Result<()> {
    OutputFormat::from_path(path).map(|_| ())
}

/// Turns the command line of `nst stylize` into jobs: [`plan::plan_media`] for [`IMAGES`].
pub fn plan(inputs: &[PathBuf], output: &Path) -> Result<(Vec<Job>, Vec<Failure>)> {
    plan::plan_media(inputs, output, &IMAGES)
}

/// The result of one job.
#[derive(Debug)]
pub struct Outcome {
    pub job: Job,
    pub result: Result<()>,
}

/// Runs the jobs: one thread decodes (and resizes) ahead, this thread runs the network,
/// one thread encodes and writes. `on_done` is called for every finished job, in order.
/// Once `cancelled()` holds (a signal, see [`crate::signals`], or no room left for the
/// outputs) no new job starts; an image already being written is finished (atomically),
/// the rest are left out of the outcomes.
pub fn run(
    model: &mut StyleModel,
    jobs: Vec<Job>,
    options: &StylizeOptions,
    cancelled: &(dyn Fn() -> bool + Sync),
    mut on_done: impl FnMut(&Outcome),
) -> Vec<Outcome> {
    let (decoded_tx, decoded_rx) = sync_channel::<(Job, Result<Picture>)>(2);
    let (styled_tx, styled_rx) = sync_channel::<(Job, Result<Picture>)>(2);
    let (done_tx, done_rx) = std::sync::mpsc::channel::<Outcome>();
    let mut outcomes = Vec::new();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for job in jobs {
                if cancelled() {
                    break;
                }
                let picture = imageio::load(&job.input).map(|p| options.prepare(p));
                if decoded_tx.send((job, picture)).is_err() {
                    break;
                }
            }
        });
        scope.spawn(move || {
            for (job, styled) in styled_rx {
                let result = styled.and_then(|picture| {
                    if let Some(dir) = job.output.parent().filter(|d| !d.as_os_str().is_empty()) {
                        std::fs::create_dir_all(dir)
                            .map_err(|e| Error::Write { path: job.output.clone(), reason: format!("cannot create the folder: {e}") })?;
                    }
                    imageio::save(&job.output, &picture)
                });
                if done_tx.send(Outcome { job, result }).is_err() {
                    break;
                }
            }
        });
        let mut pending = 0usize;
        for (job, picture) in decoded_rx {
            if cancelled() {
                break;
            }
            let styled = picture.and_then(|p| options.stylize(model, &p));
            if cancelled() {
                break;
            }
            if styled_tx.send((job, styled)).is_err() {
                break;
            }
            pending += 1;
            while let Ok(outcome) = done_rx.try_recv() {
                on_done(&outcome);
                outcomes.push(outcome);
                pending -= 1;
            }
        }
        drop(styled_tx);
        for outcome in done_rx.iter().take(pending) {
            on_done(&outcome);
            outcomes.push(outcome);
        }
    });
    outcomes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"x").unwrap();
    }

    #[test]
    fn single_file_to_file() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a.jpg");
        touch(&a);
        let out = d.path().join("out.png");
        let (jobs, failures) = plan(&[a.clone()], &out).unwrap();
        assert!(failures.is_empty());
        assert_eq!(jobs, vec![Job { input: a, output: out }]);
    }

    #[test]
    fn folder_keeps_layout_and_renames_unwritable_formats() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        touch(&src.join("x.jpg"));
        touch(&src.join("sub/y.gif"));
        touch(&src.join("notes.txt"));
        let out = d.path().join("out");
        let (jobs, failures) = plan(&[src.clone()], &out).unwrap();
        assert!(failures.is_empty());
        let outputs: Vec<_> = jobs.iter().map(|j| j.output.strip_prefix(&out).unwrap().to_path_buf()).collect();
        assert_eq!(outputs, vec![PathBuf::from("sub/y.png"), PathBuf::from("x.jpg")]);
    }

    #[test]
    fn never_overwrites_inputs_and_reports_collisions_and_missing() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("one/pic.jpg");
        let b = d.path().join("two/pic.jpg");
        let c = d.path().join("two/other.jpg");
        touch(&a);
        touch(&b);
        touch(&c);
        let missing = d.path().join("nope.jpg");
        // Output folder = the folder of `a`: a's (and b's) output would be `a` itself.
        let (jobs, failures) = plan(&[a.clone(), b.clone(), c.clone(), missing.clone()], &d.path().join("one")).unwrap();
        assert_eq!(jobs, vec![Job { input: c.clone(), output: d.path().join("one/other.jpg") }]);
        assert_eq!(failures.len(), 3);
        assert!(failures.iter().any(|f| f.input == missing && matches!(f.error, Error::Read { .. })));
        assert!(failures.iter().any(|f| f.input == a && matches!(f.error, Error::WouldOverwriteInput { .. })));
        assert!(failures.iter().any(|f| f.input == b && matches!(f.error, Error::WouldOverwriteInput { .. })));

        let (jobs, failures) = plan(&[a.clone(), b.clone()], &d.path().join("out")).unwrap();
        assert_eq!(jobs.len(), 1);
        assert!(matches!(failures[0].error, Error::OutputCollision { .. }));

        let (jobs, failures) = plan(&[a.clone()], &a).unwrap();
        assert!(jobs.is_empty());
        assert!(matches!(failures[0].error, Error::WouldOverwriteInput { .. }));
    }

    #[test]
    fn bad_options_are_refused() {
        assert!(StylizeOptions { strength: 1.5, ..Default::default() }.validate().is_err());
        assert!(StylizeOptions { max_size: Some(0), ..Default::default() }.validate().is_err());
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a.jpg");
        touch(&a);
        assert!(matches!(plan(&[a], &d.path().join("out.xyz")), Err(Error::UnsupportedOutput { .. })));
    }

    #[test]
    fn several_folders_keep_their_names_and_duplicates_run_once() {
        let d = tempfile::tempdir().unwrap();
        let (d1, d2) = (d.path().join("d1"), d.path().join("d2"));
        touch(&d1.join("x.jpg"));
        touch(&d2.join("x.jpg"));
        touch(&d2.join("sub/y.png"));
        let out = d.path().join("out");
        let same = d.path().join("d1/../d1/x.jpg");
        let (jobs, failures) = plan(&[d1.clone(), d2.clone(), same], &out).unwrap();
        assert!(failures.is_empty(), "{failures:?}");
        let outputs: Vec<_> = jobs.iter().map(|j| j.output.strip_prefix(&out).unwrap().to_path_buf()).collect();
        assert_eq!(outputs, vec![PathBuf::from("d1/x.jpg"), PathBuf::from("d2/sub/y.png"), PathBuf::from("d2/x.jpg")]);
    }

    #[test]
    fn an_output_folder_inside_the_input_is_not_scanned() {
        let d = tempfile::tempdir().unwrap();
        let photos = d.path().join("photos");
        touch(&photos.join("a.jpg"));
        touch(&photos.join("styled/a.jpg")); // an earlier run's output
        let (jobs, failures) = plan(&[photos.clone()], &photos.join("styled")).unwrap();
        assert!(failures.is_empty(), "{failures:?}");
        assert_eq!(jobs, vec![Job { input: photos.join("a.jpg"), output: photos.join("styled/a.jpg") }]);
    }

    #[test]
    fn several_inputs_with_a_file_like_output_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a.jpg"), d.path().join("b.jpg"));
        touch(&a);
        touch(&b);
        let err = plan(&[a, b], &d.path().join("out/twice.jpg")).unwrap_err().to_string();
        assert!(err.contains("twice.jpg") && err.contains("output folder"), "{err}");
        assert!(!d.path().join("out").exists());
    }
}
