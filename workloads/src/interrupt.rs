//! Ctrl-C during a long command (`explore`): the first SIGINT asks the command to stop
//! and report what it has; a second one ends the process at once, with status 130 as a
//! shell reports a process killed by SIGINT.
//!
//! The handler only sets a flag (an atomic store is async-signal-safe) and, the second
//! time, calls `_exit` (also async-signal-safe). The command polls [`requested`]
//! between runs. Signals are handled here in the command line only: `sim` and
//! `kernel-model` know nothing of them.

use std::sync::atomic::{AtomicBool, Ordering};

/// The exit status of a command stopped by SIGINT (128 + SIGINT).
pub const EXIT_STATUS: u8 = 130;

/// Set by the first SIGINT while a [`Catch`] is alive.
static REQUESTED: AtomicBool = AtomicBool::new(false);

/// The flag the first SIGINT sets: workers poll it between runs.
pub fn flag() -> &'static AtomicBool {
    &REQUESTED
}

/// Whether a SIGINT asked the command to stop.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// SIGINT handled as described in the module documentation while this lives; the
/// previous disposition comes back when it is dropped.
pub struct Catch {
    #[cfg(unix)]
    previous: libc::sigaction,
}

impl Catch {
    /// Installs the handler and clears the flag. Where signals cannot be caught (not
    /// Unix) this does nothing and Ctrl-C keeps its default effect.
    pub fn install() -> Catch {
        REQUESTED.store(false, Ordering::SeqCst);
        #[cfg(unix)]
        {
            // SAFETY: sigaction with a zeroed, then filled, struct; the handler only
            // touches an atomic and calls _exit, both async-signal-safe.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_sigint as extern "C" fn(libc::c_int) as usize;
                action.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut action.sa_mask);
                let mut previous: libc::sigaction = std::mem::zeroed();
                libc::sigaction(libc::SIGINT, &action, &mut previous);
                Catch { previous }
            }
        }
        #[cfg(not(unix))]
        Catch {}
    }
}

impl Drop for Catch {
    fn drop(&mut self) {
        #[cfg(unix)]
        // SAFETY: puts back the disposition sigaction returned when the handler went in.
        unsafe {
            libc::sigaction(libc::SIGINT, &self.previous, std::ptr::null_mut());
        }
    }
}

#[cfg(unix)]
extern "C" fn on_sigint(_signal: libc::c_int) {
    if REQUESTED.swap(true, Ordering::SeqCst) {
        // SAFETY: _exit is async-signal-safe; the user asked twice.
        unsafe { libc::_exit(i32::from(EXIT_STATUS)) };
    }
}
