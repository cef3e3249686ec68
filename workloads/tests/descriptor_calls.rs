//! The descriptor calls of issue 12's last items on the versions that predate them:
//! `dup3` and `pipe2` are ENOSYS before 2.6.27, `F_DUPFD_CLOEXEC` an unknown command
//! (EINVAL) before 2.6.24, `socketpair`'s flags EINVAL, `O_DIRECT` EINVAL; and a
//! datagram socketpair, modelled on 6.18 only, is a scenario error there rather than a
//! guess. On 6.18 the same calls work (docs/scenario-language.md runs them).

use kernel_model::KernelVersion;
use workloads::api;

const OLD_VERSIONS: [KernelVersion; 3] = [
    KernelVersion::Seed,
    KernelVersion::V2_6_21,
    KernelVersion::V2_6_22,
];

fn run(text: &str, version: KernelVersion) -> api::Run {
    let scenario = api::parse("descriptors.scn", text).expect("parses");
    api::run(&scenario, &api::RunOptions::new().kernel(version).cpus(1)).expect("runs")
}

#[test]
fn the_later_descriptor_calls_fail_as_the_older_kernels_fail_them() {
    let text = r#"
        process app { task main {
            p = pipe()
            pipe2(O_NONBLOCK)
            expect ENOSYS
            dup3(p.r, 10, O_CLOEXEC)
            expect ENOSYS
            d = fcntl(p.r, F_DUPFD, 10)
            expect d == 10
            fcntl(p.r, F_DUPFD_CLOEXEC, 10)
            expect EINVAL
            f = fcntl(p.r, F_GETFD)
            expect f == 0
            fcntl(p.w, F_SETFL, O_DIRECT)
            expect EINVAL
            socketpair(SOCK_STREAM|SOCK_NONBLOCK)
            expect EINVAL
            s = socketpair(SOCK_STREAM)
            expect s.a == 5 && s.b == 6
        } }
    "#;
    for version in OLD_VERSIONS {
        let run = run(text, version);
        assert!(run.passed, "{}:\n{}", version.name(), run.event_order);
    }
}

#[test]
fn the_same_calls_succeed_on_6_18() {
    let text = r#"
        process app { task main {
            p = pipe()
            q = pipe2(O_NONBLOCK)
            expect q.r == 5 && q.w == 6
            x = dup3(p.r, 10, O_CLOEXEC)
            expect x == 10
            d = fcntl(p.r, F_DUPFD_CLOEXEC, 10)
            expect d == 11
            f = fcntl(d, F_GETFD)
            expect f == FD_CLOEXEC
            fcntl(p.w, F_SETFL, O_DIRECT)
            expect ok
            s = socketpair(SOCK_DGRAM|SOCK_NONBLOCK)
            expect s.a == 7 && s.b == 8
        } }
    "#;
    let run = run(text, KernelVersion::V6_18);
    assert!(run.passed, "{}", run.event_order);
}

#[test]
fn a_datagram_socketpair_before_6_18_is_a_scenario_error() {
    let scenario = api::parse(
        "dgram.scn",
        "process app { task main { s = socketpair(SOCK_DGRAM) } }",
    )
    .expect("parses");
    for version in OLD_VERSIONS {
        let run =
            api::run(&scenario, &api::RunOptions::new().kernel(version).cpus(1)).expect("runs");
        assert!(!run.passed, "{}", version.name());
        let text = format!("{:?}", run.details);
        assert!(
            text.contains("datagram socketpairs are modelled on 6.18 only"),
            "{}: {text}",
            version.name()
        );
    }
}
