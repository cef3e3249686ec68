//! The step-through view's figures for one run: generation time, file size, how long the
//! page takes to open in headless Chromium, and how long moving the cursor takes — one
//! step (arrow key, and in the page), and jumps to random steps. Prints numbers; judges
//! nothing (the targets are in docs/teaching.md).
//!
//! Opening is measured `OPENS` times, each in a new tab of one browser: the first open
//! also starts a renderer process; the median of all is the figure. Each open also
//! prints the page's own breakdown from its performance marks (milliseconds since the
//! tab's navigation started): the file read, the HTML parsed, the data unpacked
//! (base64, inflate, header), the view built and drawn (its first frame). The machine's load
//! average is printed beside them: on a shared machine the numbers move with it.
//!
//! ```sh
//! cargo run --release -p workloads --example view_bench -- SCENARIO [epsim view options]
//! ```

// A benchmark measures wall-clock time, as workloads may (see its lib.rs).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::time::Instant;

use workloads::view::browser::{find_chromium, Browser};

/// How many times the page is opened.
const OPENS: usize = 5;

/// `/proc/loadavg`'s first three fields (empty where there is none).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        eprintln!("usage: view_bench SCENARIO [epsim view options]");
        std::process::exit(2);
    }
    let page = std::env::temp_dir().join(format!("epsim-view-bench-{}.html", std::process::id()));
    let mut argv: Vec<std::ffi::OsString> = vec!["epsim".into(), "view".into()];
    argv.extend(args.iter().map(Into::into));
    argv.push("-o".into());
    argv.push(page.clone().into());
    let started = Instant::now();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let status = workloads::run(argv, &mut out, &mut err);
    let generate_ms = started.elapsed().as_secs_f64() * 1000.0;
    if status != 0 {
        eprint!("{}", String::from_utf8_lossy(&err));
        std::process::exit(status.into());
    }
    print!("{}", String::from_utf8_lossy(&out));
    let bytes = std::fs::metadata(&page).map(|m| m.len()).unwrap_or(0);
    println!("generate (epsim view, wall):  {generate_ms:.0} ms");
    println!(
        "file size:                    {:.2} MB ({bytes} bytes)",
        bytes as f64 / 1e6
    );
    let Some(chromium) = find_chromium() else {
        println!("no chromium: open and step times not measured");
        return;
    };
    let mut browser = Browser::launch(&chromium, 1400, 1000).expect("chromium starts");
    let mut opens = Vec::new();
    for attempt in 0..OPENS {
        let open_ms = browser.open(&page).expect("the page opens");
        let marks = browser
            .eval(
                "(() => { const n = performance.getEntriesByType('navigation')[0], m = {}; for (const e of performance.getEntriesByType('mark')) m[e.name] = e.startTime; return [n.responseEnd, n.domInteractive, m['epsim-unpacked'], m['epsim-built'], window.epsimReady]; })()",
            )
            .unwrap();
        let mark = |i: usize| marks[i].as_f64().unwrap_or(f64::NAN);
        println!(
            "open {}: {open_ms:.0} ms (new tab until built; load average {}) — in the page: file read by {:.0}, HTML parsed by {:.0}, data unpacked by {:.0}, view built and drawn by {:.0} (unpack + build {:.0})",
            attempt + 1,
            load_average(),
            mark(0),
            mark(1),
            mark(2),
            mark(3),
            mark(4)
        );
        opens.push(open_ms);
    }
    let first_ms = opens[0];
    opens.sort_by(f64::total_cmp);
    println!(
        "open (new tab until built):   median {:.0} ms of {OPENS}, first {first_ms:.0} ms, min {:.0} ms, max {:.0} ms",
        opens[OPENS / 2],
        opens[0],
        opens[OPENS - 1]
    );
    let records = browser
        .eval("epsim.active.n")
        .unwrap()
        .as_u64()
        .unwrap_or(0);
    println!("records in the page:          {records}");
    // One step by arrow key, measured around the key press (DevTools round trip included).
    let presses = 200;
    let started = Instant::now();
    for _ in 0..presses {
        browser.key("ArrowRight").unwrap();
    }
    browser.eval("document.body.offsetHeight").unwrap();
    let key_ms = started.elapsed().as_secs_f64() * 1000.0 / presses as f64;
    println!("one step by arrow key:        {key_ms:.2} ms per press ({presses} presses, DevTools round trip included)");
    let step = browser
        .eval(
            "(() => { const p = epsim.active, t = []; for (let k = 0; k < 200; k++) { const c = Math.min(p.n - 1, p.cursor + 1); const t0 = performance.now(); epsim.moveTo(p, c); document.body.offsetHeight; t.push(performance.now() - t0); } t.sort((a, b) => a - b); return [t[100], t[190], t[199]]; })()",
        )
        .unwrap();
    println!(
        "one step in the page (render + layout): median {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        step[0].as_f64().unwrap_or(0.0),
        step[1].as_f64().unwrap_or(0.0),
        step[2].as_f64().unwrap_or(0.0)
    );
    let jump = browser
        .eval(
            "(() => { const p = epsim.active, t = []; let x = 12345; for (let k = 0; k < 100; k++) { x = (x * 1103515245 + 12345) % 2147483648; const c = x % p.n; const t0 = performance.now(); epsim.moveTo(p, c); document.body.offsetHeight; t.push(performance.now() - t0); } t.sort((a, b) => a - b); return [t[50], t[95], t[99]]; })()",
        )
        .unwrap();
    println!(
        "jump to a random step:        median {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        jump[0].as_f64().unwrap_or(0.0),
        jump[1].as_f64().unwrap_or(0.0),
        jump[2].as_f64().unwrap_or(0.0)
    );
    let back = browser
        .eval(
            "(() => { const p = epsim.active, t = []; for (let k = 0; k < 100; k++) { const c = Math.max(0, p.cursor - 1); const t0 = performance.now(); epsim.moveTo(p, c); document.body.offsetHeight; t.push(performance.now() - t0); } t.sort((a, b) => a - b); return [t[50], t[95], t[99]]; })()",
        )
        .unwrap();
    println!(
        "one step back:                median {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        back[0].as_f64().unwrap_or(0.0),
        back[1].as_f64().unwrap_or(0.0),
        back[2].as_f64().unwrap_or(0.0)
    );
    let _ = std::fs::remove_file(&page);
}
