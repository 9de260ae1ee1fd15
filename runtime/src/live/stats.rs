//! Figures of a live run: frames shown per second and capture-to-display latency (mean
//! and 95th percentile) over the whole run, and the same over the last moments for the
//! overlay.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The span of the overlay's figures.
const RECENT: Duration = Duration::from_secs(2);

/// What a whole run measured.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Summary {
    /// Frames shown (or recorded, headless).
    pub frames: u64,
    /// Seconds from the first frame shown to the last.
    pub seconds: f64,
    /// Frames shown per second (end to end).
    pub fps: f64,
    /// Capture-to-display latency, milliseconds.
    pub latency_mean_ms: f64,
    pub latency_p95_ms: f64,
    pub latency_max_ms: f64,
    /// Time the network took per frame, milliseconds.
    pub inference_mean_ms: f64,
    /// Frames captured.
    pub captured: u64,
    /// Captured frames replaced by a newer one before inference took them.
    pub dropped_before_inference: u64,
    /// Stylized frames replaced by a newer one before the display took them.
    pub dropped_before_display: u64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "frames:    {} shown in {:.1} s ({} captured, {} dropped as stale before inference, {} before display)",
            self.frames, self.seconds, self.captured, self.dropped_before_inference, self.dropped_before_display
        )?;
        writeln!(f, "fps:       {:.2} (end to end)", self.fps)?;
        writeln!(
            f,
            "latency:   mean {:.1} ms, p95 {:.1} ms, max {:.1} ms (capture to display)",
            self.latency_mean_ms, self.latency_p95_ms, self.latency_max_ms
        )?;
        write!(f, "inference: mean {:.1} ms per frame", self.inference_mean_ms)
    }
}

/// The value at quantile `q` (0-1) of sorted values (nearest rank).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Collects the figures as frames are shown.
#[derive(Debug, Default)]
pub struct Stats {
    latencies_ms: Vec<f64>,
    inference_ms: Vec<f64>,
    first: Option<Instant>,
    last: Option<Instant>,
    /// (shown at, latency) of the last frames, for the overlay.
    recent: VecDeque<(Instant, Duration)>,
}

impl Stats {
    pub fn new() -> Self {
        Self::default()
    }

    /// A frame captured at `captured` was shown at `shown`; the network took `inference`.
    pub fn record(&mut self, captured: Instant, shown: Instant, inference: Duration) {
        let latency = shown.saturating_duration_since(captured);
        self.latencies_ms.push(latency.as_secs_f64() * 1e3);
        self.inference_ms.push(inference.as_secs_f64() * 1e3);
        self.first.get_or_insert(shown);
        self.last = Some(shown);
        self.recent.push_back((shown, latency));
        // The last two seconds, but at least three frames, so that a slow stream (a big
        // model on a CPU) still shows a rate.
        while self.recent.len() > 3 && self.recent.front().is_some_and(|(t, _)| shown.duration_since(*t) > RECENT) {
            self.recent.pop_front();
        }
    }

    pub fn frames(&self) -> u64 {
        self.latencies_ms.len() as u64
    }

    /// Frames per second and mean latency over the last two seconds, or the last three
    /// frames when they are slower (for the overlay).
    pub fn recent(&self) -> (f64, Duration) {
        let n = self.recent.len();
        if n == 0 {
            return (0.0, Duration::ZERO);
        }
        let mean = self.recent.iter().map(|(_, l)| *l).sum::<Duration>() / n as u32;
        let span = self.recent.back().unwrap().0.duration_since(self.recent.front().unwrap().0);
        let fps = if n > 1 && !span.is_zero() { (n - 1) as f64 / span.as_secs_f64() } else { 0.0 };
        (fps, mean)
    }

    /// The figures of the whole run. FPS counts the intervals between the first and the
    /// last frame shown, so start-up (loading, the first inference) is not in it.
    pub fn summary(&self) -> Summary {
        let frames = self.frames();
        let seconds = match (self.first, self.last) {
            (Some(a), Some(b)) => b.duration_since(a).as_secs_f64(),
            _ => 0.0,
        };
        let fps = if frames > 1 && seconds > 0.0 { (frames - 1) as f64 / seconds } else { 0.0 };
        let mut sorted = self.latencies_ms.clone();
        sorted.sort_by(f64::total_cmp);
        let mean = |v: &[f64]| if v.is_empty() { 0.0 } else { v.iter().sum::<f64>() / v.len() as f64 };
        Summary {
            frames,
            seconds,
            fps,
            latency_mean_ms: mean(&sorted),
            latency_p95_ms: quantile(&sorted, 0.95),
            latency_max_ms: sorted.last().copied().unwrap_or(0.0),
            inference_mean_ms: mean(&self.inference_ms),
            ..Summary::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.95), 95.0);
        assert_eq!(quantile(&v, 0.5), 50.0);
        assert_eq!(quantile(&v, 1.0), 100.0);
        assert_eq!(quantile(&[3.0], 0.95), 3.0);
        assert_eq!(quantile(&[], 0.95), 0.0);
    }

    #[test]
    fn summary_of_a_steady_stream() {
        let mut stats = Stats::new();
        let t0 = Instant::now();
        for i in 0..11u32 {
            let shown = t0 + Duration::from_millis(100) * i;
            stats.record(shown - Duration::from_millis(20 + i as u64), shown, Duration::from_millis(15));
        }
        let s = stats.summary();
        assert_eq!(s.frames, 11);
        assert!((s.fps - 10.0).abs() < 1e-6, "{s:?}");
        assert!((s.latency_mean_ms - 25.0).abs() < 1e-6, "{s:?}");
        assert_eq!(s.latency_p95_ms, 30.0);
        assert_eq!(s.latency_max_ms, 30.0);
        assert!((s.inference_mean_ms - 15.0).abs() < 1e-6);
        let (fps, latency) = stats.recent();
        assert!((fps - 10.0).abs() < 1e-6, "{fps}");
        assert!(latency >= Duration::from_millis(24) && latency <= Duration::from_millis(30), "{latency:?}");
    }

    #[test]
    fn overlay_figures_of_a_slow_stream() {
        let mut stats = Stats::new();
        let t0 = Instant::now();
        for i in 0..6u32 {
            let shown = t0 + Duration::from_secs(2) * i;
            stats.record(shown - Duration::from_millis(1900), shown, Duration::from_millis(1800));
        }
        let (fps, latency) = stats.recent();
        assert!((fps - 0.5).abs() < 1e-6, "one frame every 2 s: {fps}");
        assert_eq!(latency, Duration::from_millis(1900));
    }
}
