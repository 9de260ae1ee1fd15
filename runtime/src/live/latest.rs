//! A one-slot channel that keeps only the newest value: sending replaces a value the
//! receiver has not taken yet (the stale one is dropped and counted). A slow receiver
//! therefore always gets the most recent value and never works through a backlog, which
//! is what keeps the latency of `nst live` bounded when inference is slower than capture.
//!
//! The channel closes when either side is dropped: a receiver then gets what is left in
//! the slot and then [`Recv::Closed`]; a sender gets its value back.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

struct State<T> {
    value: Option<T>,
    /// Values replaced before the receiver took them.
    dropped: u64,
    /// Values sent in all.
    sent: u64,
    sender_gone: bool,
    receiver_gone: bool,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic while holding the lock cannot leave the state inconsistent (every
        // update is a plain assignment), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The sending half of [`latest`].
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// The receiving half of [`latest`].
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

/// What a receive returned.
#[derive(Debug, PartialEq, Eq)]
pub enum Recv<T> {
    Value(T),
    /// Nothing arrived in time; the sender is still there.
    Timeout,
    /// The sender is gone and the slot is empty.
    Closed,
}

/// Counters of a channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Values sent.
    pub sent: u64,
    /// Values replaced by a newer one before they were received.
    pub dropped: u64,
}

/// A new one-slot "latest value" channel.
pub fn latest<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State { value: None, dropped: 0, sent: 0, sender_gone: false, receiver_gone: false }),
        ready: Condvar::new(),
    });
    (Sender { shared: shared.clone() }, Receiver { shared })
}

impl<T> Sender<T> {
    /// Puts `value` in the slot, replacing (and counting as dropped) one the receiver has
    /// not taken. Never blocks. Gives the value back when the receiver is gone.
    pub fn send(&self, value: T) -> Result<(), T> {
        let mut state = self.shared.lock();
        if state.receiver_gone {
            return Err(value);
        }
        state.sent += 1;
        if state.value.replace(value).is_some() {
            state.dropped += 1;
        }
        drop(state);
        self.shared.ready.notify_one();
        Ok(())
    }

    /// Whether the receiver has been dropped.
    pub fn is_closed(&self) -> bool {
        self.shared.lock().receiver_gone
    }

    pub fn counts(&self) -> Counts {
        let state = self.shared.lock();
        Counts { sent: state.sent, dropped: state.dropped }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.shared.lock().sender_gone = true;
        self.shared.ready.notify_all();
    }
}

impl<T> Receiver<T> {
    /// Waits for a value; `None` once the sender is gone and the slot is empty.
    pub fn recv(&self) -> Option<T> {
        let mut state = self.shared.lock();
        loop {
            if let Some(v) = state.value.take() {
                return Some(v);
            }
            if state.sender_gone {
                return None;
            }
            state = self.shared.ready.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Waits at most `timeout` for a value.
    pub fn recv_timeout(&self, timeout: Duration) -> Recv<T> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            if let Some(v) = state.value.take() {
                return Recv::Value(v);
            }
            if state.sender_gone {
                return Recv::Closed;
            }
            let now = Instant::now();
            if now >= deadline {
                return Recv::Timeout;
            }
            state = self.shared.ready.wait_timeout(state, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    /// Takes the value in the slot, if any, without waiting.
    pub fn try_recv(&self) -> Recv<T> {
        let mut state = self.shared.lock();
        match state.value.take() {
            Some(v) => Recv::Value(v),
            None if state.sender_gone => Recv::Closed,
            None => Recv::Timeout,
        }
    }

    pub fn counts(&self) -> Counts {
        let state = self.shared.lock();
        Counts { sent: state.sent, dropped: state.dropped }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.receiver_gone = true;
        // What is still in the slot will never be received.
        state.value = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    #[test]
    fn keeps_only_the_newest_and_counts_the_rest() {
        let (tx, rx) = latest();
        for i in 0..5 {
            tx.send(i).unwrap();
        }
        assert_eq!(rx.try_recv(), Recv::Value(4));
        assert_eq!(rx.try_recv(), Recv::Timeout);
        assert_eq!(rx.counts(), Counts { sent: 5, dropped: 4 });
        drop(tx);
        assert_eq!(rx.recv_timeout(Duration::from_millis(10)), Recv::Closed);
        assert_eq!(rx.recv(), None);
    }

    #[test]
    fn a_value_sent_before_closing_is_still_received() {
        let (tx, rx) = latest();
        tx.send("last").unwrap();
        drop(tx);
        assert_eq!(rx.recv(), Some("last"));
        assert_eq!(rx.recv(), None);
    }

    #[test]
    fn sender_learns_the_receiver_is_gone() {
        let (tx, rx) = latest();
        assert!(!tx.is_closed());
        drop(rx);
        assert!(tx.is_closed());
        assert_eq!(tx.send(7), Err(7));
    }

    #[test]
    fn recv_wakes_up_when_a_value_arrives_or_the_sender_leaves() {
        let (tx, rx) = latest::<u32>();
        let t = thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            tx.send(1).unwrap();
            thread::sleep(Duration::from_millis(20));
        });
        let start = Instant::now();
        assert_eq!(rx.recv(), Some(1));
        assert_eq!(rx.recv(), None, "closed when the sender thread ends");
        assert!(start.elapsed() < Duration::from_secs(5));
        t.join().unwrap();
    }

    /// A producer at 2 ms per value and a consumer that needs 25 ms per value: through
    /// the slot, every value the consumer gets is at most about one consumer period old
    /// (a queue would make the age grow with every value), and the surplus is dropped.
    #[test]
    fn slow_consumer_keeps_latency_bounded_and_drops_stale_values() {
        let (tx, rx) = latest::<Instant>();
        let producer = thread::spawn(move || {
            for _ in 0..200 {
                if tx.send(Instant::now()).is_err() {
                    break;
                }
                thread::sleep(Duration::from_millis(2));
            }
        });
        let work = Duration::from_millis(25);
        let mut ages = Vec::new();
        while let Some(sent) = rx.recv() {
            ages.push(sent.elapsed());
            thread::sleep(work); // slow "inference"
        }
        producer.join().unwrap();
        let counts = rx.counts();
        assert_eq!(counts.sent, 200);
        assert!(counts.dropped > counts.sent / 2, "stale values should be dropped, not queued: {counts:?}");
        assert_eq!(counts.sent - counts.dropped, ages.len() as u64, "every value is either received or dropped");
        // The newest value is about one producer period old when taken. A queue would
        // make the last values wait seconds (200 x 25 ms of work for 400 ms of input).
        // The bounds leave room for a loaded machine.
        let mut sorted = ages.clone();
        sorted.sort();
        let median = sorted[sorted.len() / 2];
        let worst = *sorted.last().unwrap();
        assert!(median < Duration::from_millis(20), "median wait {median:?}: {ages:?}");
        assert!(worst < Duration::from_millis(250), "a value waited {worst:?}: {ages:?}");
    }
}
