//! Driving a real headless Chromium through the DevTools protocol over a pipe
//! (`--remote-debugging-pipe`: commands on the browser's fd 3, replies on its fd 4, each
//! a JSON message ended by a NUL byte) — what the browser tests and the view benchmark
//! use to open pages, press keys (`Input.dispatchKeyEvent`) and read what a page shows
//! (`Runtime.evaluate`). No websocket, no driver: only the browser.

use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How long one command may take before the browser is given up on.
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

/// The Chromium to run: `$EPSIM_CHROMIUM`, else the first of `chromium`,
/// `chromium-browser`, `google-chrome` on `PATH`.
pub fn find_chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("EPSIM_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// The flags every headless run gets: no sandbox (CI runs as root), no GPU, no network
/// of its own (no QUIC, background networking, component updates or sync).
pub fn headless_flags(profile: &Path) -> Vec<String> {
    vec![
        "--headless".into(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--disable-dev-shm-usage".into(),
        format!("--user-data-dir={}", profile.display()),
    ]
}

/// A fresh, empty profile directory under the system's temporary directory.
pub fn fresh_profile(tag: &str) -> std::io::Result<PathBuf> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("epsim-chromium-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// A headless Chromium and one page in it.
pub struct Browser {
    child: Child,
    commands: std::fs::File,
    replies: Receiver<Value>,
    next_id: u64,
    session: Option<String>,
    profile: PathBuf,
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is two ints for pipe2(2) to fill. Close-on-exec: the browser gets
    // only the two ends `dup2` puts at 3 and 4.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: pipe(2) returned two new descriptors that nothing else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

impl Browser {
    /// Starts `chromium` headless with a window of `width`x`height`.
    pub fn launch(chromium: &Path, width: u32, height: u32) -> std::io::Result<Browser> {
        use std::os::fd::AsRawFd;
        let profile = fresh_profile("cdp")?;
        let (to_browser_read, to_browser_write) = pipe()?;
        let (from_browser_read, from_browser_write) = pipe()?;
        let (child_in, child_out) = (to_browser_read.as_raw_fd(), from_browser_write.as_raw_fd());
        let mut command = Command::new(chromium);
        command
            .args(headless_flags(&profile))
            .arg("--remote-debugging-pipe")
            .arg(format!("--window-size={width},{height}"))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: between fork and exec only async-signal-safe calls (dup2) are made.
        unsafe {
            command.pre_exec(move || {
                // First out of the way of 3 and 4, then into place (dup2 clears
                // close-on-exec on the copies).
                let input = libc::fcntl(child_in, libc::F_DUPFD_CLOEXEC, 10);
                let output = libc::fcntl(child_out, libc::F_DUPFD_CLOEXEC, 10);
                if input < 0 || output < 0 || libc::dup2(input, 3) < 0 || libc::dup2(output, 4) < 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn()?;
        drop(to_browser_read);
        drop(from_browser_write);
        let (sender, replies) = channel();
        let mut reader = std::fs::File::from(from_browser_read);
        std::thread::spawn(move || {
            let mut pending = Vec::new();
            let mut buffer = [0u8; 1 << 16];
            while let Ok(n) = reader.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                pending.extend_from_slice(&buffer[..n]);
                while let Some(end) = pending.iter().position(|&b| b == 0) {
                    let message: Vec<u8> = pending.drain(..=end).collect();
                    if let Ok(value) = serde_json::from_slice::<Value>(&message[..end]) {
                        if sender.send(value).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Ok(Browser {
            child,
            commands: std::fs::File::from(to_browser_write),
            replies,
            next_id: 1,
            session: None,
            profile,
        })
    }

    /// Sends one command (to the page once one is open) and waits for its reply.
    pub fn call(&mut self, method: &str, params: Value) -> std::io::Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = &self.session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&message)?;
        bytes.push(0);
        self.commands.write_all(&bytes)?;
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.replies.recv_timeout(left) {
                Ok(reply) if reply["id"] == json!(id) => {
                    if let Some(error) = reply.get("error") {
                        return Err(std::io::Error::other(format!("{method}: {error}")));
                    }
                    return Ok(reply["result"].clone());
                }
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    return Err(std::io::Error::other(format!("{method}: no reply")))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(std::io::Error::other(format!(
                        "{method}: the browser went away"
                    )))
                }
            }
        }
    }

    /// Opens `path` in a new page and waits until the view is built
    /// (`document.body.dataset.ready`). Returns the milliseconds it took.
    pub fn open(&mut self, path: &Path) -> std::io::Result<f64> {
        let absolute = std::fs::canonicalize(path)?;
        self.session = None;
        let started = Instant::now();
        let target = self.call(
            "Target.createTarget",
            json!({"url": format!("file://{}", absolute.display())}),
        )?;
        let attached = self.call(
            "Target.attachToTarget",
            json!({"targetId": target["targetId"], "flatten": true}),
        )?;
        self.session = attached["sessionId"].as_str().map(String::from);
        self.wait_for("document.body && document.body.dataset.ready === '1'")?;
        Ok(started.elapsed().as_secs_f64() * 1000.0)
    }

    /// Polls `expression` until it is true.
    pub fn wait_for(&mut self, expression: &str) -> std::io::Result<()> {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        while Instant::now() < deadline {
            if self.eval(expression)? == json!(true) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(std::io::Error::other(format!("never true: {expression}")))
    }

    /// Evaluates `expression` in the page; its value as JSON.
    pub fn eval(&mut self, expression: &str) -> std::io::Result<Value> {
        let result = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        )?;
        if let Some(exception) = result.get("exceptionDetails") {
            return Err(std::io::Error::other(format!("{expression}: {exception}")));
        }
        Ok(result["result"]["value"].clone())
    }

    /// Presses and releases `key` (a DOM key name: `ArrowRight`, `n`, `End`).
    pub fn key(&mut self, key: &str) -> std::io::Result<()> {
        let (code, virtual_key, text) = match key {
            "ArrowRight" => ("ArrowRight", 39, ""),
            "ArrowLeft" => ("ArrowLeft", 37, ""),
            "Home" => ("Home", 36, ""),
            "End" => ("End", 35, ""),
            "PageDown" => ("PageDown", 34, ""),
            "PageUp" => ("PageUp", 33, ""),
            "Tab" => ("Tab", 9, ""),
            _ => (
                "",
                key.chars()
                    .next()
                    .map_or(0, |c| c.to_ascii_uppercase() as i64),
                key,
            ),
        };
        let mut down = json!({"type": if text.is_empty() { "rawKeyDown" } else { "keyDown" },
            "key": key, "code": code, "windowsVirtualKeyCode": virtual_key});
        if !text.is_empty() {
            down["text"] = json!(text);
        }
        self.call("Input.dispatchKeyEvent", down)?;
        self.call(
            "Input.dispatchKeyEvent",
            json!({"type": "keyUp", "key": key, "code": code, "windowsVirtualKeyCode": virtual_key}),
        )?;
        Ok(())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Screenshots `page` (a file, with an optional `#step=N`) into `png` with
/// `chromium --screenshot`.
pub fn screenshot(
    chromium: &Path,
    page: &str,
    png: &Path,
    width: u32,
    height: u32,
) -> std::io::Result<()> {
    let profile = fresh_profile("shot")?;
    let status = Command::new(chromium)
        .args(headless_flags(&profile))
        .arg(format!("--window-size={width},{height}"))
        .arg("--hide-scrollbars")
        .arg(format!("--screenshot={}", png.display()))
        .arg(page)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    let _ = std::fs::remove_dir_all(&profile);
    if !status.success() {
        return Err(std::io::Error::other(format!(
            "chromium --screenshot exited with {status}"
        )));
    }
    Ok(())
}
