//! Jobs: work that outlives its request. Each job has a state that watchers (the
//! server-sent events stream, `Prefer: wait`) follow, a cancellation flag, and, once
//! done, its result, kept for a bounded time and within a bounded total size.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use tokio::sync::watch;

use super::pool::Cancel;
use super::problem::Problem;

/// A finished picture: the encoded bytes and what the answer's headers say about them.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub bytes: Arc<Vec<u8>>,
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
    /// Time spent working on it (decoding, the network, encoding), not waiting.
    pub work: Duration,
    /// The file extension of the format, for a download name.
    pub extension: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobState {
    pub const ALL: [JobState; 5] = [JobState::Queued, JobState::Running, JobState::Succeeded, JobState::Failed, JobState::Cancelled];

    pub fn is_final(self) -> bool {
        matches!(self, JobState::Succeeded | JobState::Failed | JobState::Cancelled)
    }

    pub fn name(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// A photo through a trained style network.
    Stylize,
    /// The classic optimisation (Gatys et al.) with the user's own painting.
    Classic,
}

/// What a job is doing now, as watchers see it.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub state: JobState,
    /// 0 to 1.
    pub progress: f32,
    /// What the job is doing, in words ("decoding", "iteration 40 of 300").
    pub stage: String,
    pub error: Option<Problem>,
}

pub struct Job {
    pub id: String,
    pub kind: JobKind,
    pub style: String,
    pub cancel: Arc<Cancel>,
    /// The pool ticket, for the queue position.
    pub ticket: AtomicU64,
    pub created: SystemTime,
    state: watch::Sender<Snapshot>,
    result: Mutex<Option<Rendered>>,
    preview: Mutex<Option<Arc<Vec<u8>>>>,
    finished: Mutex<Option<Instant>>,
}

impl Job {
    pub fn snapshot(&self) -> Snapshot {
        self.state.borrow().clone()
    }

    pub fn watch(&self) -> watch::Receiver<Snapshot> {
        self.state.subscribe()
    }

    /// Moves the job on; a job already in a final state stays there.
    pub fn update(&self, f: impl FnOnce(&mut Snapshot)) {
        let mut became_final = false;
        self.state.send_if_modified(|s| {
            if s.state.is_final() {
                return false;
            }
            f(s);
            became_final = s.state.is_final();
            true
        });
        if became_final {
            *self.finished.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        }
    }

    pub fn progress(&self, progress: f32, stage: impl Into<String>) {
        let stage = stage.into();
        self.update(|s| {
            s.state = JobState::Running;
            s.progress = progress.clamp(0.0, 1.0);
            s.stage = stage;
        });
    }

    pub fn succeed(&self, rendered: Rendered) {
        if self.snapshot().state.is_final() {
            return;
        }
        *self.result.lock().unwrap_or_else(|e| e.into_inner()) = Some(rendered);
        self.update(|s| {
            s.state = JobState::Succeeded;
            s.progress = 1.0;
            s.stage = "done".into();
        });
    }

    pub fn fail(&self, problem: Problem) {
        self.update(|s| {
            s.state = JobState::Failed;
            s.stage = "failed".into();
            s.error = Some(problem);
        });
    }

    /// Cancels the work and marks the job cancelled (unless it already ended).
    pub fn cancel(&self) {
        self.update(|s| {
            s.state = JobState::Cancelled;
            s.stage = "cancelled".into();
        });
        self.cancel.cancel();
    }

    pub fn result(&self) -> Option<Rendered> {
        self.result.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_preview(&self, bytes: Vec<u8>) {
        *self.preview.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(bytes));
    }

    pub fn preview(&self) -> Option<Arc<Vec<u8>>> {
        self.preview.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn result_bytes(&self) -> usize {
        self.result.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map_or(0, |r| r.bytes.len())
            + self.preview.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map_or(0, |p| p.len())
    }

    fn finished_at(&self) -> Option<Instant> {
        *self.finished.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Every job this server knows, with the retention limits.
pub struct Jobs {
    jobs: Mutex<HashMap<String, Arc<Job>>>,
    /// How long a finished job's result is kept.
    pub ttl: Duration,
    /// The most bytes of results kept in all; the oldest finished go first.
    pub max_bytes: usize,
}

impl Jobs {
    pub fn new(ttl: Duration, max_bytes: usize) -> Self {
        Self { jobs: Mutex::new(HashMap::new()), ttl, max_bytes }
    }

    pub fn create(&self, kind: JobKind, style: String, cancel: Arc<Cancel>) -> Arc<Job> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let (state, _) = watch::channel(Snapshot { state: JobState::Queued, progress: 0.0, stage: "queued".into(), error: None });
        let job = Arc::new(Job {
            id: id.clone(),
            kind,
            style,
            cancel,
            ticket: AtomicU64::new(0),
            created: SystemTime::now(),
            state,
            result: Mutex::new(None),
            preview: Mutex::new(None),
            finished: Mutex::new(None),
        });
        self.lock().insert(id, Arc::clone(&job));
        job
    }

    pub fn get(&self, id: &str) -> Option<Arc<Job>> {
        self.lock().get(id).cloned()
    }

    pub fn remove(&self, id: &str) -> Option<Arc<Job>> {
        self.lock().remove(id)
    }

    /// How many jobs are in each state.
    pub fn counts(&self) -> HashMap<JobState, usize> {
        let mut counts = HashMap::new();
        for job in self.lock().values() {
            *counts.entry(job.snapshot().state).or_insert(0) += 1;
        }
        counts
    }

    /// The jobs not finished yet (for the shutdown).
    pub fn unfinished(&self) -> Vec<Arc<Job>> {
        self.lock().values().filter(|j| !j.snapshot().state.is_final()).cloned().collect()
    }

    /// Deletes finished jobs past the time limit, then the oldest finished ones while
    /// their results exceed the size limit. Returns how many went.
    pub fn sweep(&self) -> usize {
        let mut jobs = self.lock();
        let before = jobs.len();
        let now = Instant::now();
        jobs.retain(|_, j| j.finished_at().is_none_or(|t| now.duration_since(t) < self.ttl));
        let mut total: usize = jobs.values().map(|j| j.result_bytes()).sum();
        if total > self.max_bytes {
            let mut finished: Vec<(Instant, String, usize)> =
                jobs.values().filter_map(|j| j.finished_at().map(|t| (t, j.id.clone(), j.result_bytes()))).collect();
            finished.sort();
            for (_, id, bytes) in finished {
                if total <= self.max_bytes {
                    break;
                }
                jobs.remove(&id);
                total -= bytes;
            }
        }
        before - jobs.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Job>>> {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(bytes: usize) -> Rendered {
        Rendered { bytes: Arc::new(vec![0; bytes]), content_type: "image/png", width: 1, height: 1, work: Duration::ZERO, extension: "png" }
    }

    #[test]
    fn results_are_dropped_by_age_and_by_total_size() {
        let jobs = Jobs::new(Duration::from_secs(3600), 250);
        let a = jobs.create(JobKind::Stylize, "s".into(), Cancel::new());
        let b = jobs.create(JobKind::Stylize, "s".into(), Cancel::new());
        let c = jobs.create(JobKind::Stylize, "s".into(), Cancel::new());
        a.succeed(rendered(100));
        std::thread::sleep(Duration::from_millis(2));
        b.succeed(rendered(100));
        std::thread::sleep(Duration::from_millis(2));
        c.succeed(rendered(100));
        let running = jobs.create(JobKind::Stylize, "s".into(), Cancel::new());
        assert_eq!(jobs.sweep(), 1);
        assert!(jobs.get(&a.id).is_none(), "the oldest result goes first");
        assert!(jobs.get(&b.id).is_some() && jobs.get(&c.id).is_some() && jobs.get(&running.id).is_some());

        let short = Jobs::new(Duration::ZERO, usize::MAX);
        let done = short.create(JobKind::Stylize, "s".into(), Cancel::new());
        let queued = short.create(JobKind::Stylize, "s".into(), Cancel::new());
        done.fail(Problem::bad_request("x"));
        assert_eq!(short.sweep(), 1);
        assert!(short.get(&queued.id).is_some(), "unfinished jobs are never swept");
    }

    #[test]
    fn a_final_state_is_final() {
        let jobs = Jobs::new(Duration::from_secs(60), usize::MAX);
        let job = jobs.create(JobKind::Stylize, "s".into(), Cancel::new());
        job.cancel();
        assert!(job.cancel.is_cancelled());
        job.succeed(rendered(1));
        assert_eq!(job.snapshot().state, JobState::Cancelled);
    }
}
