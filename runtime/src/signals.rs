//! Stopping cleanly on the signals that end a program: SIGINT (Ctrl-C), SIGTERM (service
//! managers, containers, `timeout`, `kill`) and SIGHUP (the terminal closed), for every
//! binary of both crates.
//!
//! [`install`] replaces their default effect (dying on the spot, leaving temporary files
//! and ffmpeg children behind) by a flag that long work polls: it then stops its child
//! processes, removes its temporary files (or, for nst-train, writes a checkpoint) and
//! the program exits with [`exit_code`], 128 + the signal's number, as a shell reports a
//! program killed by it. A second signal while the first is being handled ends the
//! program at once (with the same status), for work that does not stop quickly enough.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::OnceLock;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// The signals that stop a program cleanly.
pub const STOPPING: [i32; 3] = [SIGINT, SIGTERM, SIGHUP];

static FLAG: AtomicBool = AtomicBool::new(false);
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// Installs the handlers (once per process) and returns the flag they set. If they
/// cannot be installed, the signals keep their default effect and a warning says so.
pub fn install() -> &'static AtomicBool {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| match signal_hook::iterator::Signals::new(STOPPING) {
        Ok(mut signals) => {
            let spawned = std::thread::Builder::new().name("signals".into()).spawn(move || {
                for sig in signals.forever() {
                    // Writing to a terminal that hung up fails: never panic over it.
                    let say = |text: String| {
                        let _ = writeln!(std::io::stderr(), "{text}");
                    };
                    if FLAG.load(Ordering::SeqCst) {
                        // The second one: stop now.
                        say(format!("{}: stopping at once", name(sig)));
                        std::process::exit(i32::from(code(sig)));
                    }
                    // The signal first, so that whoever sees the flag finds it.
                    SIGNAL.store(sig, Ordering::SeqCst);
                    FLAG.store(true, Ordering::SeqCst);
                    say(format!("\n{}: stopping cleanly (send it again to stop at once)", name(sig)));
                }
            });
            if let Err(e) = spawned {
                tracing::warn!("cannot watch for signals ({e}): stopping may leave temporary files behind");
            }
        }
        Err(e) => tracing::warn!("cannot catch Ctrl-C and SIGTERM ({e}): stopping may leave temporary files behind"),
    });
    &FLAG
}

/// Whether a stopping signal has arrived.
pub fn requested() -> bool {
    FLAG.load(Ordering::SeqCst)
}

/// The signal that arrived, if one did.
pub fn received() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 if requested() => Some(SIGINT),
        0 => None,
        sig => Some(sig),
    }
}

/// The exit status for a program stopped by the signal that arrived: 128 + its number
/// (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP); 130 if the flag was set otherwise.
pub fn exit_code() -> u8 {
    code(received().unwrap_or(SIGINT))
}

fn code(sig: i32) -> u8 {
    u8::try_from(128 + sig).unwrap_or(255)
}

/// The name people know a signal by.
pub fn name(sig: i32) -> &'static str {
    match sig {
        SIGINT => "interrupted (SIGINT)",
        SIGTERM => "terminated (SIGTERM)",
        SIGHUP => "hung up (SIGHUP)",
        _ => "stopped by a signal",
    }
}

/// What to print when stopping: "interrupted (SIGINT)", "terminated (SIGTERM)", ...
pub fn describe() -> &'static str {
    name(received().unwrap_or(SIGINT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_128_plus_the_signal() {
        assert_eq!((code(SIGINT), code(SIGTERM), code(SIGHUP)), (130, 143, 129));
        assert_eq!(name(SIGTERM), "terminated (SIGTERM)");
    }
}
