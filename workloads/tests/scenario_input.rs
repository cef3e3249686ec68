//! Input the scenario language must survive: long and deep input (runs, or is an error
//! with its place — never a stack overflow), numbers at the edge of 64 bits, files that
//! are empty, not UTF-8 or start with a byte-order mark, names that must be unique, and
//! a smoke run of the fuzz harness (`workloads::scenario::fuzz`; the long campaign is a
//! README command).
//!
//! These run on the test harness's threads (2 MiB of stack) in debug builds: what runs
//! here runs anywhere.

use std::time::Duration;

use assert_cmd::Command;
use sim::strategy::Canonical;
use sim::{GranularityKind, MemoryModel, ReportKind};
use workloads::scenario::fuzz::{self, FuzzOptions};
use workloads::scenario::parser::NESTING_MAX;
use workloads::scenario::{Overrides, RunOutput, Scenario};

fn run(scenario: &Scenario) -> RunOutput {
    let options = scenario.options(&Overrides::default());
    scenario.check_options(&options).unwrap();
    scenario.run(&options, 0, &mut Canonical::default())
}

fn in_task(body: &str) -> String {
    format!("process app {{\n task main {{\n{body}\n }}\n}}\n")
}

/// The messages of the reports a run made.
fn reports(out: &RunOutput) -> Vec<String> {
    out.outcome
        .reports()
        .iter()
        .map(|r| r.message.clone())
        .collect()
}

/// A million terms on one line parse and run: chains of one precedence level are a flat
/// list, walked (and dropped) without recursion.
#[test]
fn a_chain_of_a_million_terms_runs() {
    let terms = 1_000_000;
    let mut body = String::with_capacity(terms * 6);
    body.push_str("x = 1");
    for _ in 1..terms {
        body.push_str(" + 1");
    }
    body.push_str("\n expect x == 1000000\n y = 1");
    for _ in 1..terms / 20 {
        body.push_str(" && 1 || 0");
    }
    body.push_str("\n expect y == 1");
    let scenario = Scenario::parse("long.scn", &in_task(&body)).unwrap_or_else(|e| panic!("{e}"));
    let out = run(&scenario);
    assert!(out.verdict.passed(), "{:?}", reports(&out));
    assert_eq!(out.results.passed(), 2);
}

/// Long flat input of every other kind: a long list, a long else-if chain, many
/// statements, a long string.
#[test]
fn long_lists_else_if_chains_and_bodies_run() {
    let n = 100_000;
    let list = vec!["7"; n].join(", ");
    let mut body = format!("l = [{list}]\n expect len(l) == {n} && l[{}] == 7\n", n - 1);
    body.push_str(" x = 2\n if x == 0 { y = 0 }");
    for i in 1..20_000 {
        body.push_str(&format!(" else if x == {i} {{ y = {i} }}"));
    }
    body.push_str(" else { y = -1 }\n expect y == 2\n");
    for _ in 0..20_000 {
        body.push_str(" z = 1\n");
    }
    body.push_str(&format!(
        " s = \"{}\"\n expect len(s) == {n}",
        "a".repeat(n)
    ));
    let scenario = Scenario::parse("long.scn", &in_task(&body)).unwrap_or_else(|e| panic!("{e}"));
    let out = run(&scenario);
    assert!(out.verdict.passed(), "{:?}", reports(&out));
    assert_eq!(out.results.passed(), 3);
}

/// Nesting of every kind, at the deepest the parser accepts, runs (the parser, the
/// evaluator and the printers of what it built recurse at most that deep); one level more,
/// or a hundred thousand more, is an error naming the place and the limit.
#[test]
fn deep_nesting_runs_up_to_the_limit_and_is_an_input_error_past_it() {
    // (opening, innermost, closing): nested `depth` times inside a task's body.
    let kinds: &[(&str, &str, &str)] = &[
        ("(", "1", ")"),
        ("(1 + ", "1", ")"),
        ("[", "1", "]"),
        ("-", "1", ""),
        ("!~", "x", ""),
        ("len([", "1", "])"),
        ("min(1, ", "1", ")"),
        ("if 1 {\n", "x = 1", "\n}"),
        ("repeat 1 {\n", "x = 1", "\n}"),
        ("for e in [1] {\n", "x = 1", "\n}"),
    ];
    for &(open, inner, close) in kinds {
        let text = |depth: usize| {
            let nested = format!("{}{inner}{}", open.repeat(depth), close.repeat(depth));
            let statement = if open.ends_with('\n') {
                nested
            } else {
                format!("x = 0\n x = {nested}\n expect x == x")
            };
            in_task(&format!("x = 0\n sleep 1ms\n {statement}"))
        };
        let parse = |depth: usize| Scenario::parse("deep.scn", &text(depth));
        let deepest = (1..=NESTING_MAX)
            .take_while(|&d| parse(d).is_ok())
            .last()
            .unwrap_or_else(|| panic!("{open:?}: not even one level parses: {:?}", parse(1).err()));
        assert!(
            deepest >= NESTING_MAX / 5,
            "{open:?}: only {deepest} levels"
        );
        let out = run(&parse(deepest).unwrap());
        assert!(
            out.verdict.passed(),
            "{open:?} x{deepest}: {:?}",
            reports(&out)
        );
        for depth in [deepest + 1, 100_000] {
            let error = parse(depth).expect_err("past the limit").to_string();
            assert!(error.starts_with("deep.scn:"), "{error}");
            assert!(
                error.contains(&format!("expected at most {NESTING_MAX} levels of nesting")),
                "{open:?} x{depth}: {error}"
            );
        }
    }
}

/// Lists built at run time nest at most `VALUE_NESTING_MAX` deep: `a = [a]` in a loop
/// stops with a scenario error at its place, and the deepest value prints and compares.
#[test]
fn values_nest_at_most_the_limit() {
    let body = "a = 0\n repeat 1000000 {\n a = [a]\n }";
    let out = run(&Scenario::parse("t.scn", &in_task(body)).unwrap());
    assert_eq!(
        reports(&out),
        ["t.scn:5:7: scenario error in `main`: lists may nest at most 64 deep; this one would be 65 deep"]
    );
    let body = "a = [0]\n repeat 1000000 {\n b = array(1)\n b[0] = a\n a = b\n }";
    let out = run(&Scenario::parse("t.scn", &in_task(body)).unwrap());
    assert_eq!(
        reports(&out),
        ["t.scn:6:4: scenario error in `main`: lists may nest at most 64 deep; this one would be 65 deep"]
    );
    let body = "a = 0\n repeat 64 { a = [a] }\n b = a\n expect a == b\n expect a != a";
    let out = run(&Scenario::parse("t.scn", &in_task(body)).unwrap());
    let messages = reports(&out);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(
        messages[0].starts_with("t.scn:7:2: expected `a != a`, but a is [[[["),
        "{}",
        messages[0]
    );
    assert_eq!(out.results.passed(), 1);
}

/// Arithmetic never wraps: an overflow, a shift count outside 0..63 and the one division
/// that overflows stop the task with a scenario error at the operator.
#[test]
fn integer_overflow_is_a_scenario_error_at_its_place() {
    let cases = [
        ("x = 9223372036854775807\n y = x + 1", "t.scn:6:8: scenario error in `main`: integer overflow: 9223372036854775807 + 1 does not fit in 64 bits"),
        ("x = -9223372036854775807\n y = x - 2", "t.scn:6:8: scenario error in `main`: integer overflow: -9223372036854775807 - 2 does not fit in 64 bits"),
        ("x = 3\n y = x * 0x4000000000000000", "t.scn:6:8: scenario error in `main`: integer overflow: 3 * 4611686018427387904 does not fit in 64 bits"),
        ("n = 64\n y = 1 << n", "t.scn:6:8: scenario error in `main`: shift count out of range: 1 << 64 (a shift count is 0 to 63)"),
        ("n = -1\n y = 1 >> n", "t.scn:6:8: scenario error in `main`: shift count out of range: 1 >> -1 (a shift count is 0 to 63)"),
        ("x = 1\n y = x << 62 << 1", "t.scn:6:14: scenario error in `main`: integer overflow: 4611686018427387904 << 1 does not fit in 64 bits"),
        ("x = -9223372036854775807 - 1\n y = -x", "t.scn:6:6: scenario error in `main`: integer overflow: -(-9223372036854775808) does not fit in 64 bits"),
        ("x = -9223372036854775807 - 1\n y = x / -1", "t.scn:6:8: scenario error in `main`: integer overflow: -9223372036854775808 / -1 does not fit in 64 bits"),
    ];
    for (body, expected) in cases {
        let text = format!(
            "process app {{\n task helper {{ }}\n task main {{\n x = 0\n {body}\n }}\n}}\n"
        );
        let out = run(&Scenario::parse("t.scn", &text).unwrap_or_else(|e| panic!("{body}: {e}")));
        assert_eq!(reports(&out), [expected], "{body}");
        assert_eq!(out.outcome.reports()[0].kind, ReportKind::Expectation);
    }
    // What fits is exact: the edges, `%` of the most negative number, `>>` of a negative one.
    let body = "m = -9223372036854775807 - 1\n expect m % -1 == 0 && m >> 63 == -1 && 1 << 62 == 0x4000000000000000\n expect -(m + 1) == 9223372036854775807 + 0 && 0xffffffffffffffff == -1";
    let out = run(&Scenario::parse("t.scn", &in_task(body)).unwrap());
    assert!(out.verdict.passed(), "{:?}", reports(&out));
}

/// What a message quotes of the scenario is on one line, though the scenario breaks it
/// (after an operator, or with a lone carriage return).
#[test]
fn messages_quote_the_scenario_on_one_line() {
    let body = "x = 1\n expect (x +\n   1) == 3\n y = 1 / (x -\r 1)";
    let out = run(&Scenario::parse("t.scn", &in_task(body)).unwrap());
    assert_eq!(
        reports(&out),
        [
            "t.scn:4:2: expected `(x + 1) == 3`, but (x + 1) is 2 (task `main`)",
            "t.scn:6:10: scenario error in `main`: division by zero: `(x - 1)` is 0"
        ]
    );
    let error = Scenario::parse("t.scn", "cpus \"a\rb\"").unwrap_err();
    assert_eq!(
        error.to_string(),
        "t.scn:1:6: found string \"a\\rb\", expected the number of CPUs"
    );
}

/// A failing `expect` quotes at most `SHOWN_MAX` characters of a value: a million
/// numbers, quoted in a loop, would otherwise be gigabytes of messages.
#[test]
fn messages_show_at_most_so_much_of_a_value() {
    let body = "a = array(100000)\n s = array(1000, \"text\")\n repeat 100 {\n expect a == 1 || s == 1\n expect a == s\n }";
    let out = run(&Scenario::parse("t.scn", &in_task(body)).unwrap());
    let messages = reports(&out);
    assert_eq!(messages.len(), 200);
    let limit = workloads::scenario::interp::SHOWN_MAX;
    assert!(messages[0].starts_with("t.scn:6:2: expected `a == 1 || s == 1`, but it is false"));
    assert!(
        messages[1].starts_with("t.scn:7:2: expected `a == s`, but a is [0, 0, 0,"),
        "{}",
        messages[1]
    );
    assert!(
        messages[1].contains(", 0, ... and s is [\"text\", \"text\""),
        "{}",
        messages[1]
    );
    assert!(
        messages[1].ends_with("...] (task `main`)") || messages[1].ends_with("... (task `main`)")
    );
    assert!(messages[1].len() < 2 * limit + 200, "{}", messages[1].len());
}

/// Copying a large value counts against the run's statement budget: a loop that copies
/// a list of a million numbers ends on the budget instead of running for hours.
#[test]
fn copying_large_values_counts_against_the_budget() {
    let text = "max steps 10000\nprocess app { task main {\n a = array(1000000)\n repeat 1000000 {\n b = a\n }\n} }";
    let out = run(&Scenario::parse("t.scn", text).unwrap());
    assert_eq!(
        reports(&out),
        ["t.scn:5:6: scenario error in `main`: the run executed more than 40000 statements (4 per step of the step budget): a loop without a system call or sleep never lets virtual time advance"]
    );
}

/// A thread or forked child made twice under one name (in a loop, or with an index that
/// repeats) stops the task at the statement that would make the second.
#[test]
fn a_second_task_of_one_name_is_a_scenario_error() {
    let cases = [
        ("repeat 2 {\n thread w { }\n }", "t.scn:5:2: scenario error in `main`: there is already a task `w`: task names are unique"),
        ("repeat 2 {\n fork f { }\n }", "t.scn:5:2: scenario error in `main`: there is already a task `f`: task names are unique"),
        ("repeat 2 as i {\n thread w[i % 1] { }\n }", "t.scn:5:2: scenario error in `main`: there is already a task `w[0]`: task names are unique"),
    ];
    for (body, expected) in cases {
        let body = format!("e = eventfd(0)\n {body}");
        let out = run(&Scenario::parse("t.scn", &in_task(&body)).unwrap());
        assert_eq!(reports(&out), [expected], "{body}");
    }
}

/// Found by the fuzz harness: a task that queues a thread and stops (here on a scenario
/// error) before its first step ended the run with the thread never created, and naming
/// it for the output (`epsim run`'s path) indexed past the machine's tasks.
#[test]
fn a_run_that_ends_before_a_queued_thread_is_created_still_names_it() {
    let scenario = Scenario::parse(
        "t.scn",
        "process app { task main {\n repeat 2 { thread t { } }\n } }",
    )
    .unwrap();
    let options = scenario.options(&Overrides::default());
    let mut strategy = Canonical::default();
    let out = workloads::session::execute(
        &scenario,
        &options,
        0,
        workloads::session::Capture::Trace,
        workloads::session::Drive::Strategy(&mut strategy),
    )
    .unwrap();
    assert!(out.verdict.failed.iter().chain(out.outcome.reports()).any(|r| r.message
        == "t.scn:2:13: scenario error in `main`: there is already a task `t`: task names are unique"));
    assert!(
        out.task_names.values().any(|name| name == "t"),
        "{:?}",
        out.task_names
    );
}

/// `thread` as a task's first statement parses (item 1 of issue 10 makes it run).
#[test]
fn a_thread_before_any_system_call_is_not_refused() {
    Scenario::parse("t.scn", "process app { task main { thread w { x = 1 } } }").unwrap();
}

#[test]
fn a_byte_order_mark_is_accepted() {
    let text = "\u{feff}scenario bom\nprocess app { task main { x = 1 } }\n";
    let scenario = Scenario::parse_bytes("t.scn", text.as_bytes()).unwrap();
    assert_eq!(scenario.name(), "bom");
    assert!(run(&scenario).verdict.passed());
    // Positions do not count it.
    let error = Scenario::parse("t.scn", "\u{feff}cpus x").unwrap_err();
    assert_eq!(
        error.to_string(),
        "t.scn:1:6: found `x`, expected the number of CPUs"
    );
}

#[test]
fn invalid_utf8_is_an_error_at_its_line_and_column() {
    let cases: &[(&[u8], &str)] = &[
        (
            b"\xff",
            "t.scn:1:1: found the byte 0xff, which is not UTF-8, expected text in UTF-8",
        ),
        (
            b"cpus 2\nprocess a { task m { note \"\xc3\xa9\xc3\" } }",
            "t.scn:2:29: found the byte 0xc3, which is not UTF-8, expected text in UTF-8",
        ),
        (
            b"\xef\xbb\xbfcpus \xc0\x80",
            "t.scn:1:6: found the byte 0xc0, which is not UTF-8, expected text in UTF-8",
        ),
        (
            b"# \xed\xa0\x80",
            "t.scn:1:3: found the byte 0xed, which is not UTF-8, expected text in UTF-8",
        ),
    ];
    for (bytes, expected) in cases {
        let error = Scenario::parse_bytes("t.scn", bytes).unwrap_err();
        assert_eq!(error.to_string(), *expected);
    }
}

/// `model tso` (or `pso`) in a header without `granularity access` names the header
/// line; the command line's `--granularity access` makes it fine.
#[test]
fn a_header_model_that_needs_access_granularity_names_its_line() {
    let scenario =
        Scenario::parse("t.scn", "cpus 2\nmodel tso\nprocess a { task m { x = 1 } }").unwrap();
    assert_eq!(
        scenario.check_header(None, None).unwrap_err().to_string(),
        "t.scn:2:1: found `model tso` with granularity syscall, expected granularity access (at syscall granularity memory is sequentially consistent; tso and pso need access)"
    );
    assert_eq!(
        scenario.check_header(None, Some(GranularityKind::Lock)).unwrap_err().to_string(),
        "t.scn:2:1: found `model tso` with --granularity lock, expected granularity access (at lock granularity memory is sequentially consistent; tso and pso need access)"
    );
    assert!(scenario
        .check_header(None, Some(GranularityKind::Access))
        .is_ok());
    assert!(scenario.check_header(Some(MemoryModel::Sc), None).is_ok());
    let scenario =
        Scenario::parse("t.scn", "granularity lock\nprocess a { task m { x = 1 } }").unwrap();
    assert_eq!(
        scenario.check_header(Some(MemoryModel::Pso), None).unwrap_err().to_string(),
        "t.scn:1:1: found `granularity lock` with --model pso, expected granularity access (at lock granularity memory is sequentially consistent; tso and pso need access)"
    );
    // The command line's own conflict is the command line's to report.
    let scenario = Scenario::parse("t.scn", "process a { task m { x = 1 } }").unwrap();
    assert!(scenario
        .check_header(Some(MemoryModel::Tso), Some(GranularityKind::Lock))
        .is_ok());
}

/// The same through `epsim run`: exit status 2 and one line on stderr naming the place.
#[test]
fn the_command_line_reports_these_input_errors_with_their_place() {
    let dir = std::env::temp_dir().join(format!("epsim-scenario-input-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases: &[(&str, &[u8], &str)] = &[
        ("empty.scn", b"", "empty.scn:1:1: found end of file, expected `process NAME { task NAME { ... } }`: the scenario has no task, so nothing to run"),
        ("comments.scn", b"# nothing\n\n", "comments.scn:3:1: found end of file, expected `process NAME { task NAME { ... } }`: the scenario has no task, so nothing to run"),
        ("tso.scn", b"model tso\nprocess a { task m { x = 1 } }\n", "tso.scn:1:1: found `model tso` with granularity syscall, expected granularity access (at syscall granularity memory is sequentially consistent; tso and pso need access)"),
        ("latin1.scn", b"process a { task m {\n note \"caf\xe9\" } }\n", "latin1.scn:2:11: found the byte 0xe9, which is not UTF-8, expected text in UTF-8"),
        ("big.scn", b"process a { task m { x = 18446744073709551615 } }\n", "big.scn:1:26: found `18446744073709551615`, expected a number that fits in 64 bits (at most 9223372036854775807)"),
    ];
    for (name, bytes, expected) in cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let output = Command::cargo_bin("epsim")
            .unwrap()
            .current_dir(&dir)
            .args(["run", name])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
        assert_eq!(stderr, format!("error: {expected}\n"), "{name}");
    }
    let path = dir.join("bom.scn");
    std::fs::write(
        &path,
        b"\xef\xbb\xbfscenario check-2cpu\nprocess a { task m { x = 1 } }\n",
    )
    .unwrap();
    let output = Command::cargo_bin("epsim")
        .unwrap()
        .current_dir(&dir)
        .args(["run", "bom.scn", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["scenario"], "check-2cpu");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A smoke run of the fuzz harness: a few thousand mutated inputs, no panic, no message
/// of two lines or without its place, and the outcomes all occur.
#[test]
fn fuzz_smoke() {
    let options = FuzzOptions {
        inputs: 2000,
        seed: 11,
        max_steps: 2_000,
        save_dir: std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz-smoke"),
        input_timeout: Duration::from_secs(120),
    };
    let summary = fuzz::run(&options, &mut |_| {}).unwrap();
    eprintln!("{}", summary.describe());
    assert!(summary.findings.is_empty(), "{}", summary.describe());
    assert_eq!(summary.inputs, 2000);
    assert!(summary.input_errors > 100, "{}", summary.describe());
    assert!(summary.ran > 100, "{}", summary.describe());
    assert!(summary.passed > 50, "{}", summary.describe());
}
