//! The scenario language end to end: every scenario of the library parses, builds, runs
//! and meets its own expectations; the seed cases hold on explored schedules; each bug
//! injection is caught by the report kind its scenario names (and not without it); the
//! parser and the interpreter survive thousands of mutated inputs; mistakes become
//! reports that name `file:line:col`.

use std::collections::BTreeSet;

use kernel_model::check::classify_finding;
use kernel_model::explore::{explore_classified, strategy_for, ExploreOptions};
use kernel_model::{KernelVersion, Options, World};
use sim::rng::Rng;
use sim::strategy::{Canonical, StrategyKind};
use sim::{
    AccessSteps, Granularity, GranularityKind, LockSteps, MemoryModel, ReportKind, Scheduler,
    SyscallSteps,
};
use workloads::scenario::{builtin, list, Overrides, Recorder, RunOutput, Scenario};

fn parse(name: &str) -> Scenario {
    builtin(name)
        .unwrap_or_else(|| panic!("no built-in scenario {name}"))
        .parse()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn is_injection(scenario: &Scenario) -> bool {
    !scenario.header.injections.is_empty()
}

/// The library scenario whose canonical run, at syscall granularity, spins in the
/// kernel without ever reaching a step point (finding F3, 2.6.21's busy loop): the step
/// budget only ends it at `lock` or `access` granularity.
const SPINS_WITHOUT_A_STEP_AT_SYSCALL_GRANULARITY: &str = "finding-2621-busy-loop";

/// A `finding-*` scenario: it expects a report of the *unmodified* port — a documented
/// behaviour of the 2007 code (docs/findings.md) — which only some schedules show.
fn is_finding(scenario: &Scenario) -> bool {
    !is_injection(scenario) && !scenario.header.expect_reports.is_empty()
}

fn run_canonical(scenario: &Scenario, options: &Options) -> RunOutput {
    scenario.check_options(options).unwrap();
    let mut strategy = Canonical::default();
    scenario.run(options, scenario.seed(), &mut strategy)
}

fn describe(out: &RunOutput) -> String {
    let mut text = format!("end: {:?}\n", out.outcome.result.end);
    for report in out.outcome.reports() {
        text.push_str(&format!("report: {report}\n"));
    }
    for report in &out.expectation_reports {
        text.push_str(&format!("run-level: {}\n", report.message));
    }
    text.push_str(&out.results.render());
    text
}

#[test]
fn the_library_is_the_scenarios_directory() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".scn"))
        .map(|n| n.trim_end_matches(".scn").to_string())
        .collect();
    files.sort();
    let names: Vec<String> = list().iter().map(|s| s.name.to_string()).collect();
    assert_eq!(
        names, files,
        "LIBRARY in scenario/mod.rs must list every file"
    );
    for b in list() {
        let on_disk = std::fs::read_to_string(format!("{dir}/{}.scn", b.name)).unwrap();
        assert_eq!(b.text, on_disk);
    }
    assert!(builtin("seed-case-4-two-waiters").is_some());
    assert!(builtin("no-such-scenario").is_none());
}

#[test]
fn every_scenario_parses_and_says_what_it_shows() {
    let required = [
        "seed-case-1-epfd-close",
        "seed-case-2-ctl-del",
        "seed-case-3-file-close",
        "seed-case-4-two-waiters",
        "seed-case-5-callback-race",
        "lt-basics",
        "et-basics",
        "oneshot-basics",
        "mod-and-del",
        "dup-then-close",
        "nested-epoll",
        "ready-order-maxevents",
    ];
    for name in required {
        assert!(builtin(name).is_some(), "{name} is missing");
    }
    for injection in kernel_model::Injection::ALL {
        let name = format!("inject-{}", injection.name());
        let scenario = parse(&name);
        assert_eq!(scenario.header.injections, vec![injection], "{name}");
        // no-smp-mb is the one mutation no model here exposes (see its scenario).
        let undetectable = injection == kernel_model::Injection::NoSmpMb;
        assert_eq!(
            scenario.header.expect_reports.is_empty(),
            undetectable,
            "{name}: `expect report` lines"
        );
    }
    for b in list() {
        let scenario = b.parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(scenario.name(), b.name, "the `scenario` line of {}", b.name);
        assert!(
            scenario.description().len() > 20,
            "{} needs a description",
            b.name
        );
        assert!(!scenario.description().contains('\n'));
        assert_eq!(b.description(), scenario.description());
        let options = scenario.options(&Overrides::default());
        scenario.check_options(&options).unwrap();
        assert_eq!(scenario.hash(), b.parse().unwrap().hash());
    }
}

/// Every scenario that is not an injection or a finding meets its expectations on the
/// canonical schedule at syscall granularity, on every kernel version where the calls it
/// makes exist, with the run options of its header otherwise. (A finding's report needs a particular schedule and
/// granularity: `every_finding_is_shown_by_its_scenario`.)
#[test]
fn every_scenario_meets_its_expectations_at_syscall_granularity() {
    for b in list() {
        let scenario = b.parse().unwrap();
        if is_injection(&scenario) || is_finding(&scenario) {
            continue;
        }
        for kernel in KernelVersion::ALL {
            if scenario.unsupported_on(kernel).is_some() {
                continue;
            }
            let options = scenario.options(&Overrides {
                granularity: Some(GranularityKind::Syscall),
                model: Some(MemoryModel::Sc),
                kernel: Some(kernel),
                ..Overrides::default()
            });
            let out = run_canonical(&scenario, &options);
            assert!(
                out.verdict.passed(),
                "{} on {}:\n{}",
                b.name,
                kernel.name(),
                describe(&out)
            );
            assert!(out.results.passed() > 0, "{} checks nothing", b.name);
            assert!(out.results.calls().next().is_some());
        }
    }
}

/// ... and with exactly the options, strategy and seed of its header.
#[test]
fn every_scenario_meets_its_expectations_with_its_own_options() {
    for b in list() {
        let scenario = b.parse().unwrap();
        if is_injection(&scenario) || is_finding(&scenario) {
            continue;
        }
        let options = scenario.options(&Overrides::default());
        let explore = ExploreOptions {
            strategy: scenario.strategy(),
            seed: scenario.seed(),
            ..ExploreOptions::default()
        };
        let mut strategy = strategy_for(&explore, 0);
        let out = scenario.run(&options, scenario.seed(), strategy.as_mut());
        assert!(out.verdict.passed(), "{}:\n{}", b.name, describe(&out));
    }
}

fn explore_with_findings<G: Granularity>(
    scenario: &Scenario,
    options: &Options,
    explore: &ExploreOptions,
) -> kernel_model::explore::ExploreSummary {
    let recorder = Recorder::with_seed(scenario.seed()).quiet();
    let build = |world: &mut World<G>| scenario.build(world, &recorder);
    explore_classified(
        options,
        scenario.world_hash(scenario.seed()),
        &build,
        explore,
        &|kernel, report| classify_finding(kernel, report),
    )
}

fn explore_at(
    scenario: &Scenario,
    options: &Options,
    explore: &ExploreOptions,
) -> kernel_model::explore::ExploreSummary {
    match options.machine.granularity {
        GranularityKind::Syscall => {
            explore_with_findings::<SyscallSteps>(scenario, options, explore)
        }
        GranularityKind::Lock => explore_with_findings::<LockSteps>(scenario, options, explore),
        GranularityKind::Access => explore_with_findings::<AccessSteps>(scenario, options, explore),
    }
}

/// The seed cases and the other concurrent scenarios keep their expectations (and make
/// no report but documented findings of the 2007 code) on random schedules at their own
/// granularity, on every kernel version.
#[test]
fn concurrent_scenarios_hold_on_explored_schedules() {
    let cases = [
        ("seed-case-1-epfd-close", 120),
        ("seed-case-2-ctl-del", 120),
        ("seed-case-3-file-close", 120),
        ("seed-case-4-two-waiters", 40),
        ("seed-case-5-callback-race", 150),
        ("nested-epoll", 60),
        ("fork-shared-file", 60),
        ("external-socket", 60),
        ("totalmess", 20),
    ];
    for (name, runs) in cases {
        let scenario = parse(name);
        for kernel in KernelVersion::ALL {
            assert_eq!(scenario.unsupported_on(kernel), None, "{name}");
            let options = scenario.options(&Overrides {
                kernel: Some(kernel),
                ..Overrides::default()
            });
            let summary = explore_at(
                &scenario,
                &options,
                &ExploreOptions {
                    strategy: StrategyKind::Random,
                    runs,
                    seed: 1,
                    shrink: false,
                    focus: true,
                    ..ExploreOptions::default()
                },
            );
            assert!(
                summary.reports.is_empty(),
                "{name} on {}: {:?} {:?}",
                kernel.name(),
                summary.reports,
                summary.first_report
            );
            assert_eq!(summary.runs, runs);
        }
    }
}

/// The `signals` scenario's timeline (`expect now() >= 1ms` after the EINTR that a
/// `kill` sent at 1 ms causes) holds under every strategy, not only `timed`: a signal
/// carries its virtual time to the task it interrupts (sim's `causality.rs` checks
/// every kind of wake-up).
#[test]
fn signals_keep_their_timeline_under_every_strategy() {
    let scenario = parse("signals");
    let options = scenario.options(&Overrides::default());
    for strategy in [
        StrategyKind::Random,
        StrategyKind::Pct,
        StrategyKind::RoundRobin,
        StrategyKind::Timed,
    ] {
        let summary = explore_at(
            &scenario,
            &options,
            &ExploreOptions {
                strategy,
                runs: 50,
                shrink: false,
                ..ExploreOptions::default()
            },
        );
        assert!(
            summary.reports.is_empty(),
            "{}: {:?} {:?}",
            strategy.name(),
            summary.reports,
            summary.first_report
        );
    }
}

/// Each injection scenario's `expect report KIND` is found by exploring it at its own
/// granularity and model; the same exploration without the injection does not find it.
#[test]
fn every_injection_is_caught_by_its_scenario() {
    // The scenarios were written for the seed tree; 2.6.21 and 2.6.22 keep the lines they
    // break (2.6.22 its own, for the locks and the transfer), and each is caught on every
    // version its injection applies to (`check_options` refuses the others, 6.18 among
    // them). Before issue 11's last pass no-linked-check and no-reinject-wakeup were not
    // caught on 2.6.21 (see their scenarios' comments for why).
    for b in list() {
        let scenario = b.parse().unwrap();
        if !is_injection(&scenario) {
            continue;
        }
        let expected = scenario.expected_reports();
        if expected.is_empty() {
            continue; // inject-no-smp-mb: see the next test
        }
        for kernel in KernelVersion::ALL {
            let options = scenario.options(&Overrides {
                kernel: Some(kernel),
                ..Overrides::default()
            });
            if scenario.check_options(&options).is_err() {
                continue; // the injection does not apply to this version
            }
            let explore = ExploreOptions {
                strategy: scenario.strategy(),
                runs: 300,
                seed: scenario.seed(),
                shrink: false,
                // All 300: on 2.6.22 steal-without-lock shows other kinds first.
                stop_at_first: false,
                focus: true,
                ..ExploreOptions::default()
            };
            let summary = scenario.explore(&options, scenario.seed(), &explore);
            for kind in &expected {
                assert!(
                    summary.reports.contains_key(kind),
                    "{} on {}: no {kind} in {} runs: {:?}",
                    b.name,
                    kernel.name(),
                    summary.runs,
                    summary.reports
                );
            }
            // Without the injection: nothing of that kind.
            let clean = scenario.options(&Overrides {
                kernel: Some(kernel),
                injections: Some(Vec::new()),
                ..Overrides::default()
            });
            let summary = explore_at(
                &scenario,
                &clean,
                &ExploreOptions {
                    runs: 60,
                    stop_at_first: false,
                    ..explore
                },
            );
            for kind in &expected {
                assert!(
                    !summary.reports.contains_key(kind),
                    "{} on {} finds {kind} without the injection: {:?}",
                    b.name,
                    kernel.name(),
                    summary.first_report
                );
            }
        }
    }
}

/// Each finding scenario shows its `expect report KIND` on the unmodified port when
/// explored with its own options, strategy and seed (and no report of another kind);
/// the schedule that shows it replays to a run that passes the scenario, and the report
/// is the documented finding the scenario is named after when `check::classify_finding`
/// recognises it (F1 and F2; F3's exhausted step budget is pinned by kernel-model's findings.rs).
#[test]
fn every_finding_is_shown_by_its_scenario() {
    let mut findings = Vec::new();
    for b in list() {
        let scenario = b.parse().unwrap();
        if !is_finding(&scenario) {
            continue;
        }
        assert!(b.name.starts_with("finding-"), "{}", b.name);
        findings.push(b.name);
        let expected = scenario.expected_reports();
        let options = scenario.options(&Overrides::default());
        let seed = scenario.seed();
        let summary = scenario.explore(
            &options,
            seed,
            &ExploreOptions {
                strategy: scenario.strategy(),
                runs: 1000,
                seed,
                shrink: false,
                stop_at_first: true,
                ..ExploreOptions::default()
            },
        );
        let first = summary
            .first_report
            .unwrap_or_else(|| panic!("{}: no report in {} runs", b.name, summary.runs));
        assert!(
            expected.contains(&first.kind),
            "{}: {} ({})",
            b.name,
            first.kind,
            first.message
        );
        assert_eq!(summary.reports.keys().collect::<Vec<_>>(), [&first.kind]);
        let run = workloads::session::execute(
            &scenario,
            &options,
            seed,
            workloads::session::Capture::Nothing,
            workloads::session::Drive::Replay(&first.schedule),
        )
        .unwrap();
        assert!(run.verdict.passed(), "{}: {:?}", b.name, run.verdict);
        let named: Vec<&str> = run.findings.iter().flatten().copied().collect();
        let finding = b.name.trim_start_matches("finding-");
        if first.kind == ReportKind::StepBudget {
            assert!(named.is_empty(), "{}: {named:?}", b.name);
        } else {
            assert!(named.contains(&finding), "{}: {named:?}", b.name);
        }
    }
    assert_eq!(
        findings,
        [
            "finding-2621-busy-loop",
            "finding-init-list-head-window",
            "finding-safewake-drops-wake",
            "finding-socket-poll-race"
        ]
    );
}

/// no-smp-mb is not exposed by any model here: exploring its scenario with and without
/// the mutation gives the same reports (none) and keeps its expectations.
#[test]
fn no_smp_mb_changes_nothing_its_scenario_can_see() {
    let scenario = parse("inject-no-smp-mb");
    for model in [MemoryModel::Tso, MemoryModel::Pso] {
        let mut kinds = Vec::new();
        for injections in [None, Some(Vec::new())] {
            let options = scenario.options(&Overrides {
                model: Some(model),
                injections,
                ..Overrides::default()
            });
            let summary = explore_at(
                &scenario,
                &options,
                &ExploreOptions {
                    strategy: StrategyKind::Random,
                    runs: 150,
                    seed: 3,
                    shrink: false,
                    focus: true,
                    ..ExploreOptions::default()
                },
            );
            assert!(summary.reports.is_empty(), "{:?}", summary.first_report);
            kinds.push(summary.findings.keys().copied().collect::<Vec<_>>());
        }
        assert_eq!(kinds[0], kinds[1], "{}", model.name());
    }
}

/// The injection scenarios that need no particular schedule pass as plain runs too.
#[test]
fn deterministic_injections_pass_on_one_run() {
    for name in [
        "inject-no-linked-check",
        "inject-lock-without-irqsave",
        "inject-no-pwake-deferral",
        "inject-unhook-under-lock",
    ] {
        let scenario = parse(name);
        let options = scenario.options(&Overrides::default());
        let out = run_canonical(&scenario, &options);
        assert!(out.verdict.passed(), "{name}:\n{}", describe(&out));
        assert!(!out.verdict.expected_reports_found.is_empty());
        // The same run without the injection fails its `expect report`.
        let options = scenario.options(&Overrides {
            injections: Some(Vec::new()),
            ..Overrides::default()
        });
        let out = run_canonical(&scenario, &options);
        assert!(!out.verdict.passed(), "{name} passes without its injection");
        assert!(out.expectation_reports[0].message.contains("expected a `"));
    }
}

// ---- results, expectations and reports ------------------------------------------------

const PIPES: &str = r#"
description "a test scenario"
cpus 2
process app {
    task main on cpu 0 {
        ep = epoll_create(1)
        p = pipe()
        epoll_ctl(ep, EPOLL_CTL_ADD, p.r, EPOLLIN, 7)
        write(p.w, 3 bytes)
        evs = epoll_wait(ep, 10, 0)
        expect evs == [EPOLLIN:7]
        n = read(p.r, 2)
        expect n == "xx"
        expect n == 2
        n = read(99, 1)
        expect EBADF
        expect evs == [EPOLLIN:8]
        expect EAGAIN
        expect n in {1, 2}
    }
}
"#;

#[test]
fn results_are_recorded_in_order_as_written() {
    let scenario = Scenario::parse("pipes.scn", PIPES).unwrap();
    let options = scenario.options(&Overrides::default());
    let out = run_canonical(&scenario, &options);
    let calls: Vec<(&str, &str, i64)> = out
        .results
        .calls()
        .map(|c| (c.task.as_str(), c.call.as_str(), c.ret))
        .collect();
    assert_eq!(
        calls,
        [
            ("main", "ep = epoll_create(1)", 3),
            ("main", "p = pipe()", 0),
            ("main", "epoll_ctl(ep, EPOLL_CTL_ADD, p.r, EPOLLIN, 7)", 0),
            ("main", "write(p.w, 3 bytes)", 3),
            ("main", "evs = epoll_wait(ep, 10, 0)", 1),
            ("main", "n = read(p.r, 2)", 2),
            ("main", "n = read(99, 1)", -1),
        ]
    );
    let all: Vec<_> = out.results.calls().collect();
    let wait = all[4];
    assert_eq!(
        wait.events,
        [kernel_model::EpollEvent {
            events: kernel_model::poll::EPOLLIN,
            data: 7
        }]
    );
    assert_eq!(all[6].errno, Some(kernel_model::Errno::EBADF));
    assert_eq!(all[1].fds, Some([4, 5]));
    assert_eq!(
        out.results.render(),
        "main: ep = epoll_create(1) = 3\n\
         main: p = pipe() = 0 [4, 5]\n\
         main: epoll_ctl(ep, EPOLL_CTL_ADD, p.r, EPOLLIN, 7) = 0\n\
         main: write(p.w, 3 bytes) = 3\n\
         main: evs = epoll_wait(ep, 10, 0) = 1 [EPOLLIN:7]\n\
         main: n = read(p.r, 2) = 2 \"xx\"\n\
         main: n = read(99, 1) = -1 EBADF\n"
    );
    // Expectations: 4 pass, 3 fail, each failure a report naming file:line:col.
    assert_eq!(out.results.passed(), 4);
    assert_eq!(out.results.failed(), 3);
    let messages: Vec<&str> = out
        .outcome
        .reports()
        .iter()
        .filter(|r| r.kind == ReportKind::Expectation)
        .map(|r| r.message.as_str())
        .collect();
    assert_eq!(
        messages,
        [
            "pipes.scn:17:9: expected `evs == [EPOLLIN:8]`, but evs is [EPOLLIN:7] (task `main`)",
            "pipes.scn:18:9: expected `n = read(99, 1)` to fail with EAGAIN, it failed with EBADF (task `main`)",
            "pipes.scn:19:9: expected `n in {1, 2}`, but n is -1 (task `main`)",
        ]
    );
    assert!(!out.verdict.passed());
    assert_eq!(out.verdict.unexpected.len(), 3);
    assert!(out
        .verdict
        .unexpected
        .iter()
        .all(|r| r.task.is_some() && r.cpu.is_some()));
}

#[test]
fn run_level_expectations_are_checked_after_the_run() {
    let blocked = r#"
        cpus 2
        expect report lost-wakeup
        expect no reports
        expect blocked sleeper
        process app {
            task main on cpu 0 {
                p = pipe()
                n = read(p.r, 1)        # blocks forever, nobody writes
            }
            task sleeper on cpu 1 {
                sleep 1ms
            }
        }
    "#;
    let scenario = Scenario::parse("blocked.scn", blocked).unwrap();
    let out = run_canonical(&scenario, &scenario.options(&Overrides::default()));
    let messages: Vec<&str> = out
        .expectation_reports
        .iter()
        .map(|r| r.message.as_str())
        .collect();
    assert_eq!(
        messages,
        [
            "blocked.scn:3:23: expected a `lost-wakeup` report, the run made none (its reports: none)",
            "blocked.scn:5:24: expected task `sleeper` to be blocked at the end of the run, it finished",
            "blocked.scn:7:13: task `main` never finished: it is blocked in `n = read(p.r, 1)` forever (if that is the point, say `expect blocked main`)",
        ]
    );
    assert!(out
        .expectation_reports
        .iter()
        .all(|r| r.kind == ReportKind::Expectation));
    assert!(!out.verdict.passed());

    let fine = "cpus 1\nexpect blocked main\nprocess app {\n task main {\n  p = pipe()\n  n = read(p.r, 1)\n }\n}\n";
    let scenario = Scenario::parse("fine.scn", fine).unwrap();
    let out = run_canonical(&scenario, &scenario.options(&Overrides::default()));
    assert!(out.verdict.passed(), "{}", describe(&out));

    // `expect no reports` against a report of the run.
    let text = "cpus 1\ninject unhook-under-lock\nexpect no reports\nprocess app {\n task main {\n  ep = epoll_create(1)\n  p = pipe()\n  epoll_ctl(ep, EPOLL_CTL_ADD, p.r, EPOLLIN, 1)\n  write(p.w, \"a\")\n  epoll_ctl(ep, EPOLL_CTL_DEL, p.r)\n }\n}\n";
    let scenario = Scenario::parse("noreports.scn", text).unwrap();
    let out = run_canonical(&scenario, &scenario.options(&Overrides::default()));
    assert_eq!(out.expectation_reports.len(), 1);
    assert_eq!(
        out.expectation_reports[0].message,
        "noreports.scn:3:1: expected no reports, the run made lock-order"
    );
}

/// A run keeps a run of identical calls once, with a count, and lists it as every call;
/// past `CALL_RUNS_MAX` runs it counts calls without keeping them, so that a long run's
/// memory does not grow with its length (`memory.rs` measures it).
#[test]
fn identical_calls_are_kept_once_and_calls_past_the_limit_are_counted() {
    use workloads::scenario::results::CALL_RUNS_MAX;
    let text = "cpus 1\nprocess app {\n task main {\n  ep = epoll_create(1)\n  repeat 5 {\n   n = fcntl(ep, F_GETFL)\n  }\n  close(ep)\n  n = fcntl(ep, F_GETFL)\n }\n}\n";
    let scenario = Scenario::parse("repeats.scn", text).unwrap();
    let out = run_canonical(&scenario, &scenario.options(&Overrides::default()));
    let runs: Vec<(&str, u64)> = out
        .results
        .call_runs()
        .iter()
        .map(|r| (r.call.call.as_str(), r.repeats))
        .collect();
    assert_eq!(
        runs,
        [
            ("ep = epoll_create(1)", 0),
            ("n = fcntl(ep, F_GETFL)", 4),
            ("close(ep)", 0),
            ("n = fcntl(ep, F_GETFL)", 0),
        ]
    );
    assert_eq!(out.results.calls().count(), 8);
    assert_eq!(out.results.render().lines().count(), 8);
    // The default version's epoll file comes from eventpollfs: O_RDONLY.
    assert!(out.results.render().ends_with(
        "main: n = fcntl(ep, F_GETFL) = 0\nmain: close(ep) = 0\nmain: n = fcntl(ep, F_GETFL) = -1 EBADF\n"
    ));

    let alternating = (CALL_RUNS_MAX / 2 + 10).to_string();
    let text = format!(
        "cpus 1\nprocess app {{\n task main {{\n  ep = epoll_create(1)\n  repeat {alternating} {{\n   n = fcntl(ep, F_GETFL)\n   close(99)\n  }}\n }}\n}}\n"
    );
    let scenario = Scenario::parse("many.scn", &text).unwrap();
    let out = run_canonical(&scenario, &scenario.options(&Overrides::default()));
    assert!(out.verdict.passed(), "{}", describe(&out));
    assert_eq!(out.results.call_runs().len(), CALL_RUNS_MAX);
    assert_eq!(out.results.calls_not_kept(), 1 + 2 * 10);
    assert!(out
        .results
        .render()
        .ends_with("… and 21 more calls, not kept (a run keeps 100000 runs of identical calls)\n"));
}

/// A task or thread whose first system call comes after `thread` (or never comes):
/// the thread runs, the process exits and frees its files — no panic, no false `leak`.
#[test]
fn threads_created_before_any_system_call_run() {
    let texts = [
        "process app { task main { thread w { x = 1 } } }\n",
        "process app {\n task main {\n  thread w {\n   p = pipe()\n   write(p.w, \"a\")\n   expect ok\n  }\n }\n}\n",
        "cpus 1\nprocess app {\n task a { x = 1 }\n task b {\n  p = pipe()\n  expect ok\n }\n}\n",
    ];
    for text in texts {
        let scenario = Scenario::parse("threads.scn", text).unwrap();
        let options = scenario.options(&Overrides::default());
        let out = run_canonical(&scenario, &options);
        assert!(out.verdict.passed(), "{text}{}", describe(&out));
        assert_eq!(out.outcome.result.end, sim::RunEnd::Completed, "{text}");
        let summary = explore_at(
            &scenario,
            &options,
            &ExploreOptions {
                strategy: StrategyKind::Random,
                runs: 50,
                shrink: false,
                ..ExploreOptions::default()
            },
        );
        assert!(
            summary.reports.is_empty() && summary.findings.is_empty(),
            "{text}: {:?} {:?}",
            summary.reports,
            summary.first_report
        );
    }
}

#[test]
fn literal_pins_of_threads_forks_and_interrupts_are_checked_before_the_run() {
    let cases = [
        (
            "thread t on cpu 2 { }",
            "t.scn:4:2: thread `t` is pinned to cpu 2, but the machine has 2 CPUs",
        ),
        (
            "repeat 2 { if 1 { fork f on cpu 5 { } } }",
            "t.scn:4:20: forked task `f` is pinned to cpu 5, but the machine has 2 CPUs",
        ),
        (
            "thread t { at 1ms on cpu 9 { } }",
            "t.scn:4:13: this `at` block is pinned to cpu 9, but the machine has 2 CPUs",
        ),
    ];
    for (body, expected) in cases {
        let text = format!("cpus 2\nprocess app {{\n task main {{\n {body}\n }}\n}}\n");
        let scenario = Scenario::parse("t.scn", &text).unwrap_or_else(|e| panic!("{body}: {e}"));
        let options = scenario.options(&Overrides::default());
        assert_eq!(
            scenario.check_options(&options),
            Err(expected.to_string()),
            "{body}"
        );
        let wider = scenario.options(&Overrides {
            cpus: Some(10),
            ..Overrides::default()
        });
        assert_eq!(scenario.check_options(&wider), Ok(()), "{body}");
    }
}

#[test]
fn scenario_mistakes_at_run_time_become_reports_with_a_place() {
    let cases = [
        ("a = array(2)\n x = a[5]", "t.scn:7:8: scenario error in `main`: index 5 is out of range: the list has 2 elements"),
        ("x = random(0)", "t.scn:6:13: scenario error in `main`: random(n) needs n > 0, found 0"),
        ("x = 1 / (2 - 2)", "t.scn:6:10: scenario error in `main`: division by zero: `(2 - 2)` is 0"),
        ("kill(helper[3])", "t.scn:6:2: scenario error in `main`: there is no task `helper[3]` (yet)"),
        ("if 0 { y = 1 }\n x = y", "t.scn:7:6: scenario error in `main`: `y` has no value here (it is assigned only on a path this run did not take)"),
        ("p = pipe()\n x = p.events", "t.scn:7:6: scenario error in `main`: `.events` needs an event (an element of what epoll_wait returned), found a pipe ({r: 3, w: 4})"),
        ("for e in 5 { }", "t.scn:6:11: scenario error in `main`: `for` goes over a list (such as the events of epoll_wait), found a number (5)"),
        // A pin computed at run time (a literal one is refused before the run).
        ("thread t on cpu 3 + 4 { }", "t.scn:6:18: scenario error in `main`: cpu 7 does not exist: the machine has 2 CPUs"),
        ("write(1, 5)", "t.scn:6:11: scenario error in `main`: expected bytes (\"text\", `N bytes` or u64(n)), found a number (5)"),
        ("until 1ms { x = 1 }", "t.scn:6:2: scenario error in `main`: the run executed more than 40000 statements (4 per step of the step budget): a loop without a system call or sleep never lets virtual time advance"),
        ("expect EAGAIN", "t.scn:6:2: scenario error in `main`: `expect EAGAIN` needs a system call before it"),
        ("x = array(1048576, [1, 2, 3, 4])", "t.scn:6:6: scenario error in `main`: array(1048576, ...) would hold more than 4194304 values"),
    ];
    for (body, expected) in cases {
        let text = format!(
            "cpus 2\nmax steps 10000\nprocess app {{\n task helper {{ }}\n task main {{\n {body}\n }}\n}}\n"
        );
        let scenario = Scenario::parse("t.scn", &text).unwrap_or_else(|e| panic!("{body}: {e}"));
        let out = run_canonical(&scenario, &scenario.options(&Overrides::default()));
        let reports: Vec<&str> = out
            .outcome
            .reports()
            .iter()
            .map(|r| r.message.as_str())
            .collect();
        assert_eq!(reports, [expected], "{body}");
        assert_eq!(out.outcome.reports()[0].kind, ReportKind::Expectation);
        assert_eq!(out.results.failed(), 1);
    }
}

#[test]
fn the_command_line_overrides_the_header() {
    let text = "cpus 3\nkernel 2.6.21\nmodel pso\ngranularity access\nhz 100\nmax steps 777\nseed 9\nstrategy pct\nfail alloc epitem nth 2\ninject no-smp-mb\nprocess a { task m { x = 1 } }\n";
    let scenario = Scenario::parse("o.scn", text).unwrap();
    let header = scenario.options(&Overrides::default());
    assert_eq!(header.machine.cpus, 3);
    assert_eq!(header.machine.model, MemoryModel::Pso);
    assert_eq!(header.machine.granularity, GranularityKind::Access);
    assert_eq!(header.machine.hz, 100);
    assert_eq!(header.machine.max_steps, 777);
    assert_eq!(header.machine.alloc_failures[0].class, "epitem");
    assert_eq!(header.kernel.version, KernelVersion::V2_6_21);
    assert_eq!(
        header.kernel.injections,
        vec![kernel_model::Injection::NoSmpMb]
    );
    assert_eq!(scenario.seed(), 9);
    assert_eq!(scenario.strategy(), StrategyKind::Pct);
    let cli = scenario.options(&Overrides {
        cpus: Some(1),
        kernel: Some(KernelVersion::Seed),
        model: Some(MemoryModel::Sc),
        granularity: Some(GranularityKind::Lock),
        injections: Some(vec![]),
        hz: Some(1000),
        max_steps: Some(5),
        keep_trace: true,
    });
    assert_eq!(cli.machine.cpus, 1);
    assert_eq!(cli.machine.model, MemoryModel::Sc);
    assert_eq!(cli.machine.granularity, GranularityKind::Lock);
    assert_eq!(cli.machine.hz, 1000);
    assert_eq!(cli.machine.max_steps, 5);
    assert!(cli.machine.keep_trace);
    assert_eq!(cli.kernel.version, KernelVersion::Seed);
    assert!(cli.kernel.injections.is_empty());
    // A pin the machine lacks, and a model the granularity cannot have, are refused.
    let pinned =
        Scenario::parse("p.scn", "cpus 2\nprocess a { task m on cpu 1 { x = 1 } }").unwrap();
    let error = pinned
        .check_options(&pinned.options(&Overrides {
            cpus: Some(1),
            ..Overrides::default()
        }))
        .unwrap_err();
    assert_eq!(
        error,
        "p.scn:2:13: task `m` is pinned to cpu 1, but the machine has 1 CPUs"
    );
    // Run anyway (no panic): the task is not started, and the verdict says why.
    let options = pinned.options(&Overrides {
        cpus: Some(1),
        ..Overrides::default()
    });
    let out = pinned.run(&options, 0, &mut Canonical::default());
    assert!(!out.verdict.passed());
    assert_eq!(
        out.expectation_reports[0].message,
        "p.scn:2:13: task `m` is pinned to cpu 1, but the machine has 1 CPUs; it was not started"
    );
    let error = scenario
        .check_options(&scenario.options(&Overrides {
            granularity: Some(GranularityKind::Lock),
            ..Overrides::default()
        }))
        .unwrap_err();
    assert!(error.contains("--granularity access"), "{error}");
}

#[test]
fn random_draws_depend_on_the_seed_only() {
    let text = "cpus 1\nprocess a { task m {\n xs = array(0)\n repeat 8 as i { xs[i] = random(1000) }\n n = write(1, \"x\")\n } }\n";
    let scenario = Scenario::parse("r.scn", text).unwrap();
    let draws = |seed: u64| {
        let recorder = Recorder::with_seed(seed);
        let options = scenario.options(&Overrides::default());
        let mut world = World::<SyscallSteps>::new(&options, scenario.world_hash(seed)).unwrap();
        scenario.build(&mut world, &recorder);
        let mut strategy = Canonical::default();
        strategy.begin_execution();
        world.run(&mut strategy).result.trace_hash
    };
    assert_eq!(draws(1), draws(1));
    assert_ne!(scenario.world_hash(1), scenario.world_hash(2));
    assert_ne!(
        scenario.hash(),
        Scenario::parse("r.scn", &text.replace("1000", "999"))
            .unwrap()
            .hash()
    );
}

// ---- robustness -------------------------------------------------------------------------

const SNIPPETS: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "\"",
    "#",
    "\n",
    ";",
    ",",
    ":",
    ".",
    "=",
    "==",
    "-",
    "+",
    "*",
    "/",
    "%",
    "|",
    "&",
    "!",
    "~",
    "<",
    ">",
    "0",
    "1",
    "99",
    "0x",
    "0xff",
    "5ms",
    "1s",
    "-1",
    "repeat",
    "until",
    "for",
    "in",
    "if",
    "else",
    "at",
    "on cpu",
    "thread",
    "fork",
    "expect",
    "sleep",
    "note",
    "break",
    "continue",
    "process",
    "task",
    "scenario",
    "cpus",
    "kernel 2.6.21",
    "inject no-linked-check",
    "expect report lost-wakeup",
    "fail alloc epitem nth 1",
    "p",
    "ep",
    "evs",
    "e.data",
    "p.r",
    "x[0]",
    "epoll_wait(ep, 1, 0)",
    "read(p.r, 1)",
    "write(p.w, \"x\")",
    "pipe()",
    "kill(main)",
    "signal(main)",
    "random(",
    "array(",
    "EPOLLIN",
    "EPOLLET",
    "NULL",
    "FAULT_AT(1)",
    "ret",
    "errno",
    "\\",
    "é",
    "$",
    "\t",
    " ",
    "9999999999999999999999",
    "\"\\x4\"",
    "deliver(",
    "bytes",
];

fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let edits = 1 + rng.below(4);
    for _ in 0..edits {
        let len = chars.len();
        let at = if len == 0 { 0 } else { rng.index(len + 1) };
        match rng.below(6) {
            0 if len > 0 => {
                let n = 1 + rng.index(20.min(len));
                let end = (at + n).min(len);
                chars.drain(at.min(end)..end);
            }
            1 | 2 => {
                let snippet = SNIPPETS[rng.index(SNIPPETS.len())];
                for (i, c) in snippet.chars().enumerate() {
                    chars.insert(at + i, c);
                }
            }
            3 if len > 0 => {
                let from = rng.index(len);
                let n = 1 + rng.index(40.min(len - from));
                let copy: Vec<char> = chars[from..from + n].to_vec();
                for (i, c) in copy.into_iter().enumerate() {
                    chars.insert(at + i, c);
                }
            }
            4 if len > 0 => chars.truncate(at),
            _ if at < len => {
                chars[at] = ['{', '}', '(', ')', '"', '\n', 'x', '1', '#'][rng.index(9)]
            }
            _ => {}
        }
    }
    chars.into_iter().collect()
}

fn random_text(rng: &mut Rng) -> String {
    let n = rng.index(60);
    (0..n)
        .map(|_| SNIPPETS[rng.index(SNIPPETS.len())])
        .collect::<Vec<_>>()
        .join(if rng.chance(1, 2) { " " } else { "" })
}

/// Thousands of mutated library scenarios and random token soups: the parser returns a
/// scenario or an error naming a place, never panics; what parses also builds and runs
/// (with a small step budget) without panicking.
#[test]
fn the_parser_and_interpreter_survive_mutated_input() {
    let mut rng = Rng::new(0x5eed_f022);
    // Not finding-2621-busy-loop: its mutants run at syscall granularity below, where
    // 2.6.21's busy loop in ep_poll takes no step at all (its locks are free and are
    // taken inline), so the step budget cannot end the run and it never returns.
    let texts: Vec<&str> = list()
        .iter()
        .filter(|b| b.name != SPINS_WITHOUT_A_STEP_AT_SYSCALL_GRANULARITY)
        .map(|b| b.text)
        .collect();
    let mut parsed = 0;
    let mut ran = 0;
    let mut errors = BTreeSet::new();
    for i in 0..6000 {
        let input = if i % 4 == 3 {
            random_text(&mut rng)
        } else {
            let base = texts[rng.index(texts.len())];
            mutate(&mut rng, base)
        };
        let result = std::panic::catch_unwind(|| Scenario::parse("fuzz.scn", &input));
        let result = match result {
            Ok(result) => result,
            Err(_) => panic!("the parser panicked on input {i}:\n{input}"),
        };
        match result {
            Ok(scenario) => {
                parsed += 1;
                if ran >= 400 {
                    continue;
                }
                let options = scenario.options(&Overrides {
                    granularity: Some(GranularityKind::Syscall),
                    model: Some(MemoryModel::Sc),
                    max_steps: Some(3000),
                    ..Overrides::default()
                });
                if scenario.check_options(&options).is_err() {
                    continue;
                }
                ran += 1;
                let run = std::panic::catch_unwind(|| {
                    let mut strategy = Canonical::default();
                    scenario.run(&options, 0, &mut strategy)
                });
                if run.is_err() {
                    panic!("the interpreter panicked on input {i}:\n{input}");
                }
            }
            Err(error) => {
                let text = error.to_string();
                assert!(text.starts_with("fuzz.scn:"), "{text}");
                assert!(error.line >= 1 && error.col >= 1, "{text}");
                assert!(error.message.starts_with("found "), "{text}");
                errors.insert(error.message.split(", expected").next().unwrap_or("").len());
            }
        }
    }
    eprintln!(
        "{parsed} of 6000 mutated inputs parsed, {ran} ran, {} distinct error shapes",
        errors.len()
    );
    assert!(parsed > 300, "only {parsed} mutated inputs parsed");
    assert!(ran > 200, "only {ran} mutated inputs ran");
}

fn replay_at<G: Granularity>(
    scenario: &Scenario,
    options: &Options,
    seed: u64,
    schedule: &sim::Schedule,
) -> (kernel_model::Outcome, workloads::scenario::Results) {
    let recorder = Recorder::with_seed(seed);
    let build = |world: &mut World<G>| scenario.build(world, &recorder);
    let outcome =
        kernel_model::explore::replay(options, scenario.world_hash(seed), &build, schedule)
            .unwrap_or_else(|e| panic!("{}: {e}", scenario.name()));
    (outcome, recorder.results())
}

/// Every shipped scenario, run on a random schedule at its own options, replays from its
/// recorded schedule to the same trace hash and the same results; a second run with the
/// same seed is the same run.
#[test]
fn every_scenario_replays_bit_for_bit() {
    for b in list() {
        let scenario = b.parse().unwrap();
        let options = scenario.options(&Overrides::default());
        let seed = 11;
        let run = |strategy: &mut dyn Scheduler| scenario.run(&options, seed, strategy);
        let first = run(&mut sim::strategy::Random::new(5));
        let second = run(&mut sim::strategy::Random::new(5));
        assert_eq!(
            first.outcome.result.trace_hash, second.outcome.result.trace_hash,
            "{}",
            b.name
        );
        assert_eq!(first.results, second.results, "{}", b.name);
        let schedule = &first.outcome.result.schedule;
        let (outcome, results) = match options.machine.granularity {
            GranularityKind::Syscall => {
                replay_at::<SyscallSteps>(&scenario, &options, seed, schedule)
            }
            GranularityKind::Lock => replay_at::<LockSteps>(&scenario, &options, seed, schedule),
            GranularityKind::Access => {
                replay_at::<AccessSteps>(&scenario, &options, seed, schedule)
            }
        };
        assert_eq!(outcome.result.end, first.outcome.result.end, "{}", b.name);
        assert_eq!(
            outcome.result.trace_hash, first.outcome.result.trace_hash,
            "{}",
            b.name
        );
        assert_eq!(results, first.results, "{}", b.name);
        // A schedule is bound to the scenario and to the seed of random(n).
        let recorder = Recorder::with_seed(seed + 1);
        if options.machine.granularity == GranularityKind::Syscall {
            let build = |world: &mut World<SyscallSteps>| scenario.build(world, &recorder);
            let refused = kernel_model::explore::replay(
                &options,
                scenario.world_hash(seed + 1),
                &build,
                schedule,
            );
            assert!(
                refused.is_err(),
                "{}: a schedule replayed under another seed",
                b.name
            );
        }
    }
}

/// The 6.18 calls of the language: `epoll_create1` (EPOLL_CLOEXEC), EPOLLEXCLUSIVE,
/// `epoll_pwait2` with a timeout in nanoseconds or NULL, and the
/// `fs.epoll.max_user_watches` sysctl. On 6.18 every expectation holds; on the 2007
/// versions the calls are ENOSYS (the sysctl file is missing: ENOENT) and the bit means
/// nothing.
#[test]
fn the_6_18_calls_run_on_6_18_and_are_enosys_before() {
    let text = "scenario modern-calls
description \"6.18 calls\"
cpus 1
process app {
    task main on cpu 0 {
        ep = epoll_create1(EPOLL_CLOEXEC)
        bad = epoll_create1(1)
        expect errno == EINVAL
        p = pipe()
        epoll_ctl(ep, EPOLL_CTL_ADD, p.r, EPOLLIN|EPOLLEXCLUSIVE, 1)
        epoll_ctl(ep, EPOLL_CTL_MOD, p.r, EPOLLIN, 1)
        expect errno == EINVAL
        t0 = now()
        evs = epoll_pwait2(ep, 4, 10ms, NULL)
        expect len(evs) == 0
        expect now() - t0 >= 10ms
        evs = epoll_pwait2(ep, 4, -1, NULL)
        expect errno == EINVAL
        sysctl_max_user_watches(1)
        q = pipe()
        epoll_ctl(ep, EPOLL_CTL_ADD, q.r, EPOLLIN, 2)
        expect errno == ENOSPC
        write(p.w, \"x\")
        evs = epoll_pwait2(ep, 4, NULL, ALL_SIGNALS)
        expect evs == [EPOLLIN:1]
        e = eventfd2(2, EFD_SEMAPHORE|EFD_NONBLOCK)
        n = read(e, 8)
        n = read(e, 8)
        n = read(e, 8)
        expect errno == EAGAIN
        t = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK)
        timerfd_settime(t, 0, 0, 1ms)
        sleep 2ms
        n = read(t, 8)
        expect n == 8
    }
}
";
    let scenario = Scenario::parse("modern-calls.scn", text).unwrap();
    for kernel in KernelVersion::ALL {
        let options = scenario.options(&Overrides {
            kernel: Some(kernel),
            ..Overrides::default()
        });
        let out = run_canonical(&scenario, &options);
        let rendered = out.results.render();
        if kernel == KernelVersion::V6_18 {
            assert!(out.verdict.passed(), "{}", describe(&out));
            assert_eq!(out.results.passed(), 9);
        } else {
            assert!(
                rendered.contains("epoll_create1(EPOLL_CLOEXEC) = -1 ENOSYS"),
                "{rendered}"
            );
            assert!(
                rendered.contains("epoll_pwait2(ep, 4, 10ms, NULL) = -1 ENOSYS"),
                "{rendered}"
            );
            for missing in [
                "sysctl_max_user_watches(1) = -1 ENOENT",
                "eventfd2(2, EFD_SEMAPHORE|EFD_NONBLOCK) = -1 ENOSYS",
                "timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK) = -1 ENOSYS",
            ] {
                assert!(rendered.contains(missing), "{missing}: {rendered}");
            }
        }
    }
}

/// Finding F4 (docs/findings.md): on 6.18, `ep_clear_and_put`'s `__ep_remove` takes the
/// last item off a file's list under `f_lock`; a concurrent last `close` of that file
/// then sees nothing to wait for in `eventpoll_release` and frees the file before the
/// remover's `spin_unlock(&file->f_lock)`, which writes the freed `struct file`. The
/// pinned schedule (found by `epsim explore close-race --kernel 6.18 --model tso
/// --strategy dfs --preemption-bound 1`) replays it strictly. On the 2007 versions (the
/// seed tree, 2.6.21, 2.6.22) the global `epmutex` serialises the two closes and the file
/// is freed after an RCU grace period: the same bounded search is complete and clean.
const F4_CLOSE_RACE_6_18: &str = "v1.cc6a83a24dd5f10b.xwECpwECEAEEgVrzY9nbvI4";

#[test]
fn close_race_shows_f4_on_6_18_and_nothing_on_2007_versions() {
    let scenario = parse("close-race");
    let at = |kernel| {
        scenario.options(&Overrides {
            kernel: Some(kernel),
            model: Some(MemoryModel::Tso),
            ..Overrides::default()
        })
    };
    let schedule = sim::Schedule::decode(F4_CLOSE_RACE_6_18).unwrap();
    let (outcome, _) = replay_at::<AccessSteps>(&scenario, &at(KernelVersion::V6_18), 0, &schedule);
    let uaf: Vec<_> = outcome
        .reports()
        .iter()
        .filter(|r| r.kind == ReportKind::UseAfterFree)
        .collect();
    assert_eq!(uaf.len(), 1, "{:?}", outcome.reports());
    assert!(
        uaf[0].message.starts_with("struct file: use after free"),
        "{}",
        uaf[0].message
    );
    let dfs = ExploreOptions {
        strategy: StrategyKind::Dfs,
        runs: 20_000,
        preemption_bound: Some(1),
        delay_bound: Some(1),
        shrink: false,
        focus: true,
        ..ExploreOptions::default()
    };
    // The bounded search on 6.18 finds it and counts it as the documented finding only.
    let summary = explore_at(&scenario, &at(KernelVersion::V6_18), &dfs);
    assert!(summary.exhaustive);
    assert!(summary.reports.is_empty(), "{:?}", summary.reports);
    assert!(summary.findings[kernel_model::check::finding::CLOSE_RACE] > 0);
    for kernel in [
        KernelVersion::Seed,
        KernelVersion::V2_6_21,
        KernelVersion::V2_6_22,
    ] {
        let summary = explore_at(
            &scenario,
            &at(kernel),
            &ExploreOptions {
                strategy: StrategyKind::Dfs,
                runs: 20_000,
                preemption_bound: Some(1),
                delay_bound: Some(1),
                shrink: false,
                focus: true,
                ..ExploreOptions::default()
            },
        );
        assert!(summary.exhaustive, "{} not exhausted", kernel.name());
        assert!(
            summary.reports.is_empty(),
            "{}: {:?}",
            kernel.name(),
            summary.reports
        );
    }
}

/// A scenario that makes a call a version's tree does not have is skipped there, with the
/// reason; run anyway, the call fails with ENOSYS as `sys_ni_syscall` makes it.
#[test]
fn eventfd_scenario_is_skipped_before_2_6_22_and_the_call_is_enosys() {
    let scenario = parse("eventfd-basics");
    for kernel in [KernelVersion::V2_6_21, KernelVersion::Seed] {
        let reason = scenario.unsupported_on(kernel).unwrap();
        assert!(
            reason.contains("ENOSYS") && reason.contains("e1ad7468c77d"),
            "{reason}"
        );
    }
    assert_eq!(scenario.unsupported_on(KernelVersion::V2_6_22), None);
    let options = scenario.options(&Overrides {
        kernel: Some(KernelVersion::V2_6_21),
        ..Overrides::default()
    });
    let out = run_canonical(&scenario, &options);
    let eventfd = out
        .results
        .calls()
        .find(|c| c.call.contains("eventfd("))
        .expect("the scenario calls eventfd");
    assert_eq!(
        eventfd.errno,
        Some(kernel_model::Errno::ENOSYS),
        "{}",
        describe(&out)
    );
}

/// Finding F6 (docs/findings.md): the 2007 trees' `unix_poll` links epoll's hook on
/// `sk_sleep` and reads the receive queue with no barrier between, while the writer's
/// `sock_def_readable` tests `waitqueue_active` without the head's lock, so under a store
/// buffer both can miss and the waiter sleeps for ever. The pinned schedule (the first
/// report of `epsim explore finding-socket-poll-race`, PCT seed 69, shrunk) replays the
/// lost wake-up on the seed tree; 6.18, with `sock_poll_wait`'s `smp_mb` and
/// `skwq_has_sleeper`, is clean under the same PCT exploration.
const F6_SOCKET_POLL_RACE: &str =
    "v1.0e3194d7af975112.URkcAQEBAQEBAQEBAgEBAQECAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAgECAQIBAQJTkh6y";

#[test]
fn socket_poll_race_loses_the_wake_up_on_2007_trees_only() {
    let scenario = parse("finding-socket-poll-race");
    let at = |kernel| {
        scenario.options(&Overrides {
            kernel: Some(kernel),
            ..Overrides::default()
        })
    };
    let schedule = sim::Schedule::decode(F6_SOCKET_POLL_RACE).unwrap();
    let (outcome, _) = replay_at::<AccessSteps>(&scenario, &at(KernelVersion::Seed), 69, &schedule);
    assert!(
        outcome
            .reports()
            .iter()
            .any(|r| r.kind == ReportKind::LostWakeup),
        "{:?}",
        outcome.reports()
    );
    let pct = ExploreOptions {
        strategy: StrategyKind::Pct,
        runs: 300,
        shrink: false,
        ..ExploreOptions::default()
    };
    let modern = explore_at(&scenario, &at(KernelVersion::V6_18), &pct);
    assert!(modern.reports.is_empty(), "{:?}", modern.reports);
}
