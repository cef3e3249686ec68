//! Where a sleeper on an eventfd waits in the queue, per version: 2.6.22's
//! `eventfd_read` links its entry at the head (`__add_wait_queue`), 6.18's
//! `wait_event_interruptible_locked_irq` at the tail (`__add_wait_queue_entry_tail`). One
//! write of 1 wakes both readers; on one CPU the first woken runs first and takes the 1,
//! so the earlier sleeper gets it on 6.18 and the later one on 2.6.22.

use workloads::api;

const SCENARIO: &str = r#"
scenario eventfd-sleepers-order
description "two readers sleep on one eventfd; one write of 1 wakes both; the first to run takes it"
cpus 1
process app {
    task main {
        e = eventfd(0)
        log = pipe()
        thread early {
            v = read(e, 8)
            write(log.w, "e")                   # one byte: the early sleeper
        }
        thread late {
            sleep 10ms
            v = read(e, 8)
            write(log.w, "ll")                  # two bytes: the late sleeper
        }
        sleep 100ms
        write(e, u64(1))
        sleep 100ms
        first = read(log.r, 10)
        write(e, u64(1))
        join(early)
        join(late)
    }
}
"#;

fn first_taker(kernel: api::KernelVersion) -> &'static str {
    let scenario = api::parse("eventfd-sleepers-order.scn", SCENARIO).unwrap();
    let options = api::RunOptions::new()
        .kernel(kernel)
        .strategy(api::StrategyKind::Timed);
    let run = api::run(&scenario, &options).unwrap();
    assert!(run.passed);
    let first = run
        .calls
        .iter()
        .find(|c| c.call.starts_with("first = read"))
        .expect("the first read of the log");
    match first.ret {
        1 => "early",
        2 => "late",
        other => panic!("read {other} bytes of the log"),
    }
}

#[test]
fn the_earlier_sleeper_is_woken_first_on_6_18_and_the_later_on_2_6_22() {
    assert_eq!(first_taker(api::KernelVersion::V6_18), "early");
    assert_eq!(first_taker(api::KernelVersion::V2_6_22), "late");
}
