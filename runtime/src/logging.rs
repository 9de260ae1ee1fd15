//! Logging for every binary of both crates, in one place: `-v`/`-vv` for more, `-q` for
//! errors only, `RUST_LOG` over both; colour only when stderr is a terminal and
//! `NO_COLOR` is not set (<https://no-color.org>).

use std::io::IsTerminal;

/// The logging options every binary flattens into its command line.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct LogArgs {
    /// More log output (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only errors (for scripts). RUST_LOG overrides.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

/// Whether to colour output on stderr.
pub fn colour_stderr() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Starts logging to stderr; `default` is the filter without -v/-q (e.g. "info,ort=warn").
pub fn init(args: LogArgs, default: &str) {
    let level = if args.quiet {
        "error"
    } else {
        match args.verbose {
            0 => default,
            // ONNX Runtime's own log is verbose; it shows with -vv.
            1 => "debug,ort=warn",
            _ => "trace",
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour_stderr())
        .with_target(false)
        .without_time()
        .init();
}

/// "1 style", "2 styles": a count with its noun in the right number.
pub fn count(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A progress bar style from an indicatif template, with `{rate}`: items per second to
/// one decimal ("7.3/s", not indicatif's "7.3435/s"). A template is fixed text: a bad
/// one is a programming error, caught by the tests.
pub fn bar_style(template: &str) -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template(template)
        .unwrap_or_else(|e| panic!("progress bar template {template:?}: {e}"))
        .with_key("rate", |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = w.write_str(&rate_text(state.per_sec()));
        })
}

/// "7.3/s" below 10 per second, "24/s" above.
pub fn rate_text(rate: f64) -> String {
    if !rate.is_finite() {
        "-".into()
    } else if rate >= 10.0 {
        format!("{rate:.0}/s")
    } else {
        format!("{rate:.1}/s")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_agree_in_number() {
        assert_eq!(super::count(1u32, "style", "styles"), "1 style");
        assert_eq!(super::count(0u32, "style", "styles"), "0 styles");
        assert_eq!(super::count(3u64, "iteration", "iterations"), "3 iterations");
    }

    #[test]
    fn bar_rate_is_short() {
        assert_eq!(super::rate_text(7.3435), "7.3/s");
        assert_eq!(super::rate_text(24.6), "25/s");
        assert_eq!(super::rate_text(f64::INFINITY), "-");
        // The templates the binaries use build.
        super::bar_style("{prefix}{bar:30} {pos}/{len} frames  {rate}  eta {eta}  {msg}");
    }
}
