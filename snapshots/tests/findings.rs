//! Group 5: the findings — reports the checkers make on the *unmodified* port that are
//! behaviours of the 2007 code itself (docs/findings.md). For each `finding-*` scenario
//! of the library: the report an exploration with the scenario's own strategy and seed
//! finds, its shrunk schedule, the narrated trace of that schedule, which documented
//! finding the report is, and what the 2007 code does and why the port keeps it.

use std::fmt::Write as _;

use kernel_model::explore::ExploreOptions;
use kernel_model::KernelVersion;
use workloads::scenario::Overrides;
use workloads::session::Drive;

/// Schedules tried before giving up (each scenario shows its finding well before).
const RUNS_MAX: u64 = 1_000;

fn finding(name: &str, why: &str) -> String {
    let scenario = snapshots::library_scenario(name);
    let options = scenario.options(&Overrides::default());
    let seed = scenario.seed();
    let strategy = scenario.strategy();
    let mut out = String::new();
    let _ = writeln!(out, "{}: {}", scenario.name(), scenario.description());
    let _ = writeln!(
        out,
        "options: {}",
        snapshots::describe_options(&options, strategy.name(), seed)
    );
    let expected: Vec<String> = scenario
        .header
        .expect_reports
        .iter()
        .map(|(k, _)| k.to_string())
        .collect();
    let _ = writeln!(
        out,
        "expected report: {} (on the unmodified port: no injection)",
        expected.join(", ")
    );
    assert!(options.kernel.injections.is_empty(), "{name}");
    let summary = scenario.explore(
        &options,
        seed,
        &ExploreOptions {
            strategy,
            runs: RUNS_MAX,
            seed,
            stop_at_first: true,
            shrink: true,
            ..ExploreOptions::default()
        },
    );
    let Some(first) = summary.first_report else {
        let _ = writeln!(
            out,
            "no report in {} {} schedules",
            summary.runs,
            strategy.name()
        );
        return out;
    };
    let _ = writeln!(
        out,
        "found: {} after {} {} schedule(s): {}",
        first.kind,
        first.run + 1,
        strategy.name(),
        first.message
    );
    let shrunk = first.shrunk_schedule.expect("shrinking was asked for");
    let _ = writeln!(
        out,
        "shrunk schedule ({} deviation(s) from the canonical run, {} decisions): {}",
        shrunk.deviations.len(),
        shrunk.decisions,
        shrunk.encode()
    );
    let run = snapshots::traced_run(&scenario, &options, seed, Drive::Replay(&shrunk));
    let named: Vec<&str> = run.findings.iter().flatten().copied().collect();
    let _ = writeln!(
        out,
        "documented finding (kernel_model::check::classify_finding): {}",
        if named.is_empty() {
            "not recognised by the classifier (pinned by kernel-model/tests/findings.rs)"
                .to_string()
        } else {
            let mut named = named.clone();
            named.dedup();
            named.join(", ")
        }
    );
    let _ = writeln!(
        out,
        "verdict of the replayed run: {}",
        if run.verdict.passed() {
            "passed (the expected report was made)"
        } else {
            "FAILED"
        }
    );
    let _ = writeln!(out, "\n== the shrunk schedule, replayed and narrated ==");
    out.push_str(&snapshots::narration(
        run.trace.as_ref().expect("trace kept"),
    ));
    out.push_str("\nresults:\n");
    out.push_str(&run.results.render());
    out.push_str(&snapshots::reports_text(&run.violations()));
    let _ = writeln!(
        out,
        "\n== what the 2007 code does, and why the port keeps it ==\n{}",
        why.trim()
    );
    out
}

/// F1, what the 2007 code does and why the port keeps it.
const WHY_F1: &str = "
ep_send_events (6192bd536f96, the seed commit's single pass) re-initialises the link of an
item that leaves the loop with `smp_mb(); INIT_LIST_HEAD(&epi->rdllink)`, holding only
ep->sem for read. INIT_LIST_HEAD is two plain stores, in C as in the port, and
ep_poll_callback on another CPU tests `next` alone: between the two stores it sees an
unlinked item, appends it to ep->rdllist, and the second store then overwrites the
`prev` it wrote. The window is real on hardware (an interrupt on the transfer CPU
between the stores gives the callback all the time it needs), so the port keeps it: it
stays faithful to the 2007 code. Later kernels closed it with the ovflist rewrite.
2.6.21 does not have it (it re-initialises the link under ep->lock).
";

#[test]
fn finding_init_list_head_window() {
    let out = finding("finding-init-list-head-window", WHY_F1);
    insta::assert_snapshot!(out);
}

/// F2, what the 2007 code does and why the port keeps it.
const WHY_F2: &str = "
ep_poll_safewake (6192bd536f96 and 2.6.21) returns without waking when *any* wake in progress
has the same wait queue head, whatever task is making it (`tncur->wq == wq || ...`),
although its comment says that wakes from other tasks are let through. When one writer's
wake of the child set's poll_wait is still listed while another writer makes the child
ready again, the second wake is dropped, and the waiter on the parent set sleeps beside
a ready level-triggered member. On hardware the first waker must stall between its wake
and the removal of its entry (an NMI, an SMI, a preempted virtual CPU) while another
thread runs three system calls. It is the 2007 code's test, so the port keeps it.
";

#[test]
fn finding_safewake_drops_wake() {
    let out = finding("finding-safewake-drops-wake", WHY_F2);
    insta::assert_snapshot!(out);
}

/// F6, what the 2007 code does and why the port keeps it.
const WHY_F6: &str = "
ep_insert polls the socket through unix_poll, whose poll_wait links the item's hook on
sk_sleep under the head's lock and then reads the receive queue with no lock and no
barrier; the writer's sock_def_readable tests waitqueue_active(sk_sleep) without the
head's lock. spin_unlock is a plain store on x86 (and SPARC), so the poller's load of the
queue can pass its own link store still in the store buffer while the writer's test loads
the head before that store drains: neither sees the other, nobody wakes the waiter. It is
the 2007 socket code's ordering on the hardware, so the port keeps it. Upstream closed it
in 2.6.31 with a57de0b4 (\"net: adding memory barrier to the poll and receive
callbacks\"): sock_poll_wait's smp_mb on the poller's side, sk_has_sleeper on the
waker's; the 6.18 port has both and is clean.
";

#[test]
fn finding_socket_poll_race() {
    let out = finding("finding-socket-poll-race", WHY_F6);
    insta::assert_snapshot!(out);
}

/// F3, what the 2007 code does and why the port keeps it.
const WHY_F3: &str = "
2.6.21's ep_collect_ready_items skips items that are on another task's txlist, so a
second waiter whose ready list holds only such items collects nothing and ep_poll
retries at once, without sleeping and without cond_resched. On one CPU without kernel
preemption (CONFIG_PREEMPT off) the first waiter, runnable again after its page fault,
never gets the CPU back: a livelock; on SMP the loop only burns a CPU until the first
waiter re-injects the item. It is 2.6.21's code, kept by the port; the seed commit
removed it by stealing the whole ready list (6192bd536f96, below).
";

#[test]
fn finding_2621_busy_loop() {
    let mut out = finding("finding-2621-busy-loop", WHY_F3);
    // The seed commit's answer: the same scenario on 6192bd536f96 completes.
    let scenario = snapshots::library_scenario("finding-2621-busy-loop");
    let options = scenario.options(&Overrides {
        kernel: Some(KernelVersion::Seed),
        ..Overrides::default()
    });
    let mut canonical = sim::strategy::Canonical::default();
    let run = scenario.run(&options, scenario.seed(), &mut canonical);
    let _ = writeln!(
        out,
        "\n== the canonical schedule on 6192bd536f96: the seed commit steals the whole list =="
    );
    out.push_str(&run.results.render());
    let reports: Vec<&sim::Report> = run.outcome.reports().iter().collect();
    out.push_str(&snapshots::reports_text(&reports));
    let _ = writeln!(
        out,
        "end: {:?}, {} steps",
        run.outcome.result.end, run.outcome.result.steps
    );
    insta::assert_snapshot!(out);
}
