//! The server's inference workers: a fixed number of OS threads (never the async
//! threads) taking work from one bounded FIFO queue. A full queue refuses new work at
//! once (the caller answers 503 with `Retry-After`); nothing waits unbounded.
//!
//! Each piece of work carries a [`Cancel`]: cancelled while queued, it is skipped;
//! cancelled while running, its ONNX Runtime run is terminated (or its child process
//! killed) through the hooks it registered.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::model::RunOptions;

/// A cancellation flag shared by whoever waits for the work and the worker doing it.
#[derive(Default)]
pub struct Cancel {
    flag: AtomicBool,
    hooks: Mutex<Vec<Box<dyn Fn() + Send + Sync>>>,
}

impl Cancel {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Sets the flag and runs the hooks (each at most once).
    pub fn cancel(&self) {
        if !self.flag.swap(true, Ordering::SeqCst) {
            let hooks = std::mem::take(&mut *self.hooks.lock().unwrap_or_else(|e| e.into_inner()));
            for hook in hooks {
                hook();
            }
        }
    }

    /// Runs `hook` when the work is cancelled (at once if it already is).
    pub fn on_cancel(&self, hook: impl Fn() + Send + Sync + 'static) {
        let mut hooks = self.hooks.lock().unwrap_or_else(|e| e.into_inner());
        if self.is_cancelled() {
            drop(hooks);
            hook();
        } else {
            hooks.push(Box::new(hook));
        }
    }

    /// ONNX Runtime run options that this flag terminates.
    pub fn run_options(&self) -> Option<Arc<RunOptions>> {
        let options = Arc::new(RunOptions::new().ok()?);
        let weak = Arc::downgrade(&options);
        self.on_cancel(move || {
            if let Some(o) = weak.upgrade() {
                let _ = o.terminate();
            }
        });
        Some(options)
    }
}

type Work = Box<dyn FnOnce() + Send>;

struct Queued {
    ticket: u64,
    cancel: Arc<Cancel>,
    work: Work,
}

struct State {
    queue: VecDeque<Queued>,
    /// Workers running a piece of work now.
    busy: usize,
    /// The cancellation flags of the work running now.
    running: Vec<Arc<Cancel>>,
    /// No new work; workers exit once the queue is empty.
    closed: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    /// Signalled whenever a worker finishes a piece of work.
    idle: Condvar,
    capacity: usize,
    workers: usize,
    next_ticket: AtomicU64,
    /// Exponential average of a piece of work's duration, in milliseconds.
    average_ms: AtomicU64,
    done: AtomicUsize,
}

/// Why work was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Every worker is busy and the queue is full; retry after this many seconds.
    Full { retry_after: u64 },
    /// The server is shutting down.
    Closed,
}

pub struct Pool {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Pool {
    /// Starts `workers` threads; at most `capacity` pieces of work wait beyond them.
    pub fn new(workers: usize, capacity: usize) -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::new(State { queue: VecDeque::new(), busy: 0, running: Vec::new(), closed: false }),
            wake: Condvar::new(),
            idle: Condvar::new(),
            capacity,
            workers: workers.max(1),
            next_ticket: AtomicU64::new(1),
            average_ms: AtomicU64::new(500),
            done: AtomicUsize::new(0),
        });
        let threads = (0..shared.workers)
            .map(|i| {
                let shared = Arc::clone(&shared);
                std::thread::Builder::new().name(format!("nst-worker-{i}")).spawn(move || worker(&shared)).expect("cannot start a worker thread")
            })
            .collect();
        Self { shared, threads: Mutex::new(threads) }
    }

    /// Queues `work`; returns its ticket (for [`Self::position`]).
    pub fn submit(&self, cancel: Arc<Cancel>, work: impl FnOnce() + Send + 'static) -> Result<u64, Refused> {
        let mut state = self.lock();
        if state.closed {
            return Err(Refused::Closed);
        }
        let free_workers = self.shared.workers - state.busy.min(self.shared.workers);
        if state.queue.len() >= self.shared.capacity + free_workers {
            return Err(Refused::Full { retry_after: self.retry_after(&state) });
        }
        let ticket = self.shared.next_ticket.fetch_add(1, Ordering::Relaxed);
        state.queue.push_back(Queued { ticket, cancel, work: Box::new(work) });
        drop(state);
        self.shared.wake.notify_one();
        Ok(ticket)
    }

    /// How many pieces of work are ahead of this ticket (0: next); `None` once it left the
    /// queue.
    pub fn position(&self, ticket: u64) -> Option<usize> {
        self.lock().queue.iter().position(|q| q.ticket == ticket)
    }

    pub fn queued(&self) -> usize {
        self.lock().queue.len()
    }

    pub fn busy(&self) -> usize {
        self.lock().busy
    }

    pub fn workers(&self) -> usize {
        self.shared.workers
    }

    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// An estimate of the seconds until a worker is free for new work.
    fn retry_after(&self, state: &State) -> u64 {
        let avg = self.shared.average_ms.load(Ordering::Relaxed) as f64 / 1000.0;
        let ahead = state.queue.len() as f64 + 1.0;
        (avg * ahead / self.shared.workers as f64).ceil().clamp(1.0, 600.0) as u64
    }

    /// Stops taking work, cancels what is queued (its waiters see their channels close),
    /// lets running work go on for up to `grace`, then cancels it too, and waits for the
    /// workers (a cancelled ONNX Runtime run or killed child ends within moments).
    pub fn shutdown(&self, grace: Duration) {
        let dropped: Vec<Queued> = {
            let mut state = self.lock();
            state.closed = true;
            state.queue.drain(..).collect()
        };
        for q in dropped {
            q.cancel.cancel();
        }
        self.shared.wake.notify_all();
        let deadline = Instant::now() + grace;
        let mut state = self.lock();
        while state.busy > 0 {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            state = self.shared.idle.wait_timeout(state, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
        let running = state.running.clone();
        drop(state);
        if !running.is_empty() {
            tracing::warn!("{} piece(s) of work still running after the grace period: cancelling them", running.len());
            for cancel in running {
                cancel.cancel();
            }
        }
        for t in self.threads.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
            let _ = t.join();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn worker(shared: &Shared) {
    loop {
        let next = {
            let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(q) = state.queue.pop_front() {
                    state.busy += 1;
                    state.running.push(Arc::clone(&q.cancel));
                    break Some(q);
                }
                if state.closed {
                    break None;
                }
                state = shared.wake.wait(state).unwrap_or_else(|e| e.into_inner());
            }
        };
        let Some(q) = next else { return };
        let started = Instant::now();
        let cancel = Arc::clone(&q.cancel);
        if !q.cancel.is_cancelled() {
            // A panic in one piece of work must not take the worker with it; its waiter
            // sees its channel close and answers an internal error.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(q.work));
            let ms = started.elapsed().as_millis() as u64;
            let avg = shared.average_ms.load(Ordering::Relaxed);
            shared.average_ms.store((avg * 7 + ms) / 8, Ordering::Relaxed);
        }
        shared.done.fetch_add(1, Ordering::Relaxed);
        let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
        state.busy -= 1;
        state.running.retain(|c| !Arc::ptr_eq(c, &cancel));
        drop(state);
        shared.idle.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn a_full_queue_refuses_and_a_cancelled_piece_is_skipped() {
        let pool = Pool::new(1, 1);
        let (gate_tx, gate_rx) = mpsc::channel::<()>();
        let (done_tx, done_rx) = mpsc::channel::<&str>();
        let d1 = done_tx.clone();
        pool.submit(Cancel::new(), move || {
            gate_rx.recv().ok();
            d1.send("first").ok();
        })
        .unwrap();
        // Wait until the worker holds the first one.
        while pool.busy() == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        let cancel = Cancel::new();
        let d2 = done_tx.clone();
        pool.submit(Arc::clone(&cancel), move || {
            d2.send("second").ok();
        })
        .unwrap();
        assert!(matches!(pool.submit(Cancel::new(), || {}), Err(Refused::Full { .. })));
        cancel.cancel();
        let d3 = done_tx.clone();
        gate_tx.send(()).unwrap();
        assert_eq!(done_rx.recv().unwrap(), "first");
        while pool.queued() > 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        pool.submit(Cancel::new(), move || {
            d3.send("third").ok();
        })
        .unwrap();
        assert_eq!(done_rx.recv().unwrap(), "third", "the cancelled piece ran");
        pool.shutdown(Duration::from_secs(1));
        assert_eq!(pool.submit(Cancel::new(), || {}), Err(Refused::Closed));
    }

    #[test]
    fn cancel_hooks_run_once_and_late_hooks_at_once() {
        let cancel = Cancel::new();
        let count = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&count);
        cancel.on_cancel(move || {
            c.fetch_add(1, Ordering::SeqCst);
        });
        cancel.cancel();
        cancel.cancel();
        assert_eq!(count.load(Ordering::SeqCst), 1);
        let c = Arc::clone(&count);
        cancel.on_cancel(move || {
            c.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(count.load(Ordering::SeqCst), 2);
    }
}
