//! `epsim tour [-o DIR]`: the seed commit's argument as a sequence of step-through pages,
//! one per claim — the single-pass transfer, each of the five cases, the `smp_mb()`
//! before `INIT_LIST_HEAD` (the injection, and the window it does not close), the ready
//! order on each version — each with the claim beside the run it illustrates.
//!
//! Each claim is a paraphrase of the argument of Davide Libenzi's commit 6192bd536f96
//! ("epoll: optimizations and cleanups", May 2007), in the words of the project's
//! seed-case scenarios, and labelled as such: the commit message's own text could not be
//! found with the tools this work had, so nothing on a page is presented as a quotation
//! of it. Beside each claim, in quotation marks, are the kernel source's own comments
//! that make it — a sentence or two from `fs/eventpoll.c` as the tree at cea69241870e has
//! it (the stored text of the seed's transfer code: three commits after 6192bd536f96,
//! which changed only how the epoll file is made and initialised; see
//! docs/eventpoll-history.md), each attributed with its function.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cli::TourArgs;
use crate::exit::{CliError, Exit};
use crate::view::page::escape;

/// One page of the tour.
struct Stop {
    file: &'static str,
    title: &'static str,
    /// The claim: a paraphrase of the commit's argument, in the project's words.
    claim: &'static str,
    /// The kernel's own comments that make the claim: (where in fs/eventpoll.c, the
    /// words), quoted from the seed's tree.
    source: &'static [(&'static str, &'static str)],
    /// What to look at on the page.
    look: &'static str,
    run: Run,
}

/// What a page shows.
enum Run {
    /// `epsim view` arguments; the page opens at the first record whose narration
    /// starts with `start`.
    View(&'static [&'static str], &'static str),
    /// `epsim diff A B`.
    Diff(&'static str, &'static str),
    /// `epsim explore ... --view`: the first report's shrunk counter-example.
    Explore(&'static [&'static str]),
}

const ATTRIBUTION: &str = "Paraphrase of the argument of Davide Libenzi's commit 6192bd536f96 \"epoll: optimizations and cleanups\" (May 2007), in this project's words (workloads/scenarios): the commit message itself could not be read here, so it is not quoted";

/// Where the quoted comments come from.
const SOURCE_TREE: &str = "fs/eventpoll.c, Linux tree at cea69241870e (6192bd536f96's transfer code, three commits on; docs/eventpoll-history.md)";

const STOPS: &[Stop] = &[
    Stop {
        file: "1-single-pass.html",
        title: "The single-pass transfer",
        claim: "ep_send_events steals the whole ready list onto a private txlist under ep->lock, then delivers from it with only ep->sem held for read: one pass, where 2.6.21 made three.",
        source: &[(
                "ep_events_transfer()",
                "Steal the ready list, and re-init the original one to the empty list.",
            ), (
                "ep_send_events()",
                "We can loop without lock because this is a task private list.",
            )],
        look: "Press s to the epoll_wait, then → : rdllist empties into txlist (the txlist box on the task's stack), items leave it one by one, delivered level-triggered items go to injlist, and both are spliced back at the end.",
        run: Run::View(&["ready-order-maxevents"], "sys_epoll_wait()"),
    },
    Stop {
        file: "2-case-1-epfd-close.html",
        title: "Case 1: the epoll fd going away",
        claim: "The epoll file descriptor going away while a transfer runs: it cannot: sys_epoll_wait holds a reference to the file.",
        source: &[(
                "ep_free()",
                "the epoll file is on the way to be removed and no one has references to it anymore.",
            )],
        look: "The close returns while the waiter is inside; ep_free runs only at the last fput, after the wait.",
        run: Run::View(&["seed-case-1-epfd-close"], "sys_close()"),
    },
    Stop {
        file: "3-case-2-ctl-del.html",
        title: "Case 2: EPOLL_CTL_DEL during a transfer",
        claim: "EPOLL_CTL_DEL while a transfer runs: it cannot interleave with the loop: it needs ep->sem for write.",
        source: &[(
                "the LOCKING comment, on ep->sem",
                "It is acquired on read during the event transfer loop and in write during epoll_ctl(EPOLL_CTL_DEL) and during eventpoll_release_file().",
            )],
        look: "The locks box: ep->sem held for read by the waiter, the deleter waiting for it (down_write) until the transfer ends.",
        run: Run::View(&["seed-case-2-ctl-del"], "sys_epoll_wait()"),
    },
    Stop {
        file: "4-case-3-file-close.html",
        title: "Case 3: close of a watched file during a transfer",
        claim: "The close of a watched file while a transfer runs: eventpoll_release_file needs ep->sem for write, so it waits for the loop.",
        source: &[(
                "ep_events_transfer()",
                "We need to lock this because we could be hit by eventpoll_release_file() and epoll_ctl(EPOLL_CTL_DEL).",
            ), (
                "ep_send_events()",
                "Items cannot vanish during the loop because we are holding \"sem\" in read.",
            )],
        look: "Step with n on the closer's CPU: its last fput reaches eventpoll_release_file and waits on ep->sem.",
        run: Run::View(&["seed-case-3-file-close"], "sys_epoll_wait()"),
    },
    Stop {
        file: "5-case-4-two-waiters.html",
        title: "Case 4: another epoll_wait on the same set",
        claim: "Another epoll_wait on the same set: both may be inside at once: the first steals all 50 items, the second finds nothing and sleeps until the re-injection wakes it.",
        source: &[(
                "ep_send_events()",
                "Another parallel epoll_wait() will not get the same result set, since we spliced the ready list before.",
            )],
        look: "rdllist goes empty as txlist takes 50 items; ep->wq holds the second waiter; at the end the splice refills rdllist and the wake-up empties ep->wq.",
        run: Run::View(&["seed-case-4-two-waiters"], "sys_epoll_wait()"),
    },
    Stop {
        file: "6-case-5-callback-race.html",
        title: "Case 5: ep_poll_callback on another CPU",
        claim: "ep_poll_callback on another CPU while the transfer loop runs: the item looks linked (list_del leaves poison, never a self-link) until smp_mb() and INIT_LIST_HEAD; after that the callback may queue it again.",
        source: &[(
                "ep_send_events()",
                "the ep_poll_callback() cannot touch us either, because of the check present in there.",
            ), (
                "ep_send_events()",
                "Note that list_del() still shows the item as linked to the test in ep_poll_callback().",
            )],
        look: "The epitems table: rdllink goes linked → poisoned (list_del) → self-linked (INIT_LIST_HEAD); the callback on the other CPU reads next before it decides.",
        run: Run::View(&["seed-case-5-callback-race"], "sys_epoll_wait()"),
    },
    Stop {
        file: "7-smp-mb.html",
        title: "The smp_mb() before INIT_LIST_HEAD",
        claim: "The barrier orders the loop's earlier stores (the ONESHOT disarm, list_del's poison) before the stores that let a callback see the item as unlinked. Left: the port; right: --inject no-smp-mb, under pso.",
        source: &[(
                "ep_send_events(), above smp_mb()",
                "Be sure the item is totally detached before re-init the list_head.",
            )],
        look: "Here no checker catches the missing barrier (docs/findings.md says why): compare the store buffers of the two panes at the INIT_LIST_HEAD (d jumps to where the runs first differ, if they do).",
        run: Run::Diff("finding-init-list-head-window --model pso", "--model pso --inject no-smp-mb"),
    },
    Stop {
        file: "8-init-list-head-window.html",
        title: "What the barrier does not close: the INIT_LIST_HEAD window (finding F1)",
        claim: "INIT_LIST_HEAD is two plain stores; a callback that runs between them sees next = self, appends the item, and the transfer's prev = self then corrupts the ready list.",
        source: &[(
                "ep_send_events(), above smp_mb()",
                "After INIT_LIST_HEAD() is committed, the ep_poll_callback() can requeue the item again, but we don't care since we are already past it.",
            )],
        look: "Press r: the report, at the step where the ready-list check sees the corrupt list; step back with ← to the two stores of INIT_LIST_HEAD and the callback between them.",
        run: Run::Explore(&["finding-init-list-head-window", "--strategy", "dfs", "--preemption-bound", "1", "--delay-bound", "0"]),
    },
    Stop {
        file: "9-ready-order.html",
        title: "The ready-list order on each kernel version",
        claim: "The seed splices delivered items back at the head (the same first items again); 2.6.22 (d47de16c7221) re-queues them at the tail: round robin.",
        source: &[(
                "ep_send_events()",
                "If the re-injection list or the txlist are not empty, re-splice them to the ready list and do proper wakeups.",
            )],
        look: "Two panes with linked cursors, aligned by system call: the second waiter's events differ (d: the first divergence).",
        run: Run::Diff("seed-case-4-two-waiters", "--kernel 2.6.22"),
    },
];

/// Runs `epsim ARGS` in-process; its output, or its error line.
fn epsim(args: &[String]) -> Result<String, CliError> {
    let mut argv: Vec<std::ffi::OsString> = vec!["epsim".into()];
    argv.extend(args.iter().map(Into::into));
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let status = crate::run(argv, &mut out, &mut err);
    if status == 2 {
        return Err(CliError::usage(format!(
            "tour: epsim {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&err).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn aside(index: usize, stop: &Stop) -> String {
    let mut source = String::new();
    for (place, words) in stop.source {
        source.push_str(&format!(
            "<blockquote>“{}”</blockquote><div class=\"who\">— {}, {}</div>",
            escape(words),
            escape(place),
            escape(SOURCE_TREE)
        ));
    }
    format!(
        "<h3>{}. {}</h3><p class=\"claim\"><b>The commit's argument, paraphrased:</b> {}</p><div class=\"who\">{}</div><p><b>The kernel's comments say:</b></p>{source}<p><b>Look:</b> {}</p>",
        index + 1,
        escape(stop.title),
        escape(stop.claim),
        escape(ATTRIBUTION),
        escape(stop.look)
    )
}

fn links(index: usize) -> Vec<(String, String)> {
    let mut links = vec![("tour".to_string(), "index.html".to_string())];
    if index > 0 {
        links.push(("← previous".into(), STOPS[index - 1].file.into()));
    }
    if index + 1 < STOPS.len() {
        links.push(("next →".into(), STOPS[index + 1].file.into()));
    }
    links
}

/// Puts the tour's aside, links and start on a page `epsim` wrote.
fn decorate(path: &Path, index: usize, start: Option<&str>) -> Result<(), CliError> {
    let html = std::fs::read_to_string(path)
        .map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))?;
    let stop = &STOPS[index];
    let mut nav = String::new();
    for (text, href) in links(index) {
        nav.push_str(&format!(
            "<a href=\"{}\">{}</a>",
            escape(&href),
            escape(&text)
        ));
    }
    let mut html = html
        .replacen(
            "<div id=\"panes\">",
            &format!(
                "<div id=\"panes\"><aside class=\"aside\">{}</aside>",
                aside(index, stop)
            ),
            1,
        )
        .replacen("<nav></nav>", &format!("<nav>{nav}</nav>"), 1);
    if let Some(start) = start {
        html = html.replacen(
            "<script id=\"epsim-data\"",
            &format!(
                "<script>window.EPSIM_START_TEXT={};</script><script id=\"epsim-data\"",
                crate::view::encode::json_string(start)
            ),
            1,
        );
    }
    crate::view_cmd::write_page(path, &html)
}

/// `epsim tour [-o DIR]`.
pub fn run(args: &TourArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let dir = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from("epsim-tour"));
    std::fs::create_dir_all(&dir)
        .map_err(|e| CliError::usage(format!("cannot create {}: {e}", dir.display())))?;
    let mut index_items = String::new();
    for (index, stop) in STOPS.iter().enumerate() {
        let path = dir.join(stop.file);
        let file = path.display().to_string();
        let start = match &stop.run {
            Run::View(view_args, start) => {
                let mut argv = vec!["view".to_string()];
                argv.extend(view_args.iter().map(|s| s.to_string()));
                argv.extend(["-o".to_string(), file.clone()]);
                epsim(&argv)?;
                Some(*start)
            }
            Run::Diff(a, b) => {
                epsim(&[
                    "diff".into(),
                    a.to_string(),
                    b.to_string(),
                    "-o".into(),
                    file.clone(),
                ])?;
                None
            }
            Run::Explore(explore_args) => {
                let mut argv = vec!["explore".to_string()];
                argv.extend(explore_args.iter().map(|s| s.to_string()));
                argv.extend(["--view".to_string(), file.clone()]);
                epsim(&argv)?;
                if !path.is_file() {
                    return Err(CliError::usage(format!(
                        "tour: explore found no report for {}",
                        stop.file
                    )));
                }
                None
            }
        };
        decorate(&path, index, start)?;
        index_items.push_str(&format!(
            "<li><a href=\"{}\">{}</a> — {}</li>",
            stop.file,
            escape(stop.title),
            escape(stop.claim)
        ));
        writeln!(out, "{file}: {}", stop.title)?;
    }
    let index_html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>epsim tour</title></head><body style=\"font:14px system-ui,sans-serif;max-width:900px;margin:20px auto\"><h1>The seed commit's argument, step by step</h1><p>{}</p><ol>{index_items}</ol><p>On each page press <kbd>?</kbd> for the keys.</p></body></html>\n",
        escape(ATTRIBUTION)
    );
    crate::view_cmd::write_page(&dir.join("index.html"), &index_html)?;
    writeln!(
        out,
        "{}: the tour's first page",
        dir.join("index.html").display()
    )?;
    Ok(Exit::Clean)
}
