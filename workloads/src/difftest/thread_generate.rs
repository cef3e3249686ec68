//! Generated multi-threaded programs for `epsim difftest --threads --programs N --seed S`.
//!
//! Program `i` of seed `S` is made from a splitmix64 of `(S, i)` ([`super::program_seed`]),
//! so it is the same on every machine. Each is one of three shapes, with its parameters
//! drawn at random — the races issue 12 names:
//!
//! - **waiters**: one or two threads wait on one set (or each on its own set, both sets
//!   watching one pipe), the item level-triggered, edge-triggered, one-shot or
//!   `EPOLLEXCLUSIVE`; `main` writes one or two bytes, once or twice, after a short
//!   sleep; a waiter may then read a byte and wait once more — how a wake-up is shared out;
//! - **write-races-ctl**: a write races an `EPOLL_CTL_MOD` (to a new mask and data) or an
//!   `EPOLL_CTL_DEL` (maybe followed by a re-ADD), with a third thread either waiting or,
//!   after the race, looking with a non-blocking wait;
//! - **close-races-wait**: a thread waits while another closes the pipe's read end (the
//!   watched file) or its write end (a hang-up), and `main` writes.
//!
//! Descriptors are fixed by the set-up order: 3 the first set, 4 and 5 the pipe (its read
//! end non-blocking, so no read blocks), 6 a second set. A waiter's timeout is at most 20 ms
//! and a sleep at most 3 ms, so a host run ends within a few tens of milliseconds whatever
//! happens. Every program has two or three threads, `main` one of them.

use kernel_model::poll::{
    EPOLLET, EPOLLEXCLUSIVE, EPOLLIN, EPOLLONESHOT, EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD,
};
use sim::rng::Rng;

use super::program::{mask_text, Call, WaitKind};
use super::threads::{Step, ThreadProgram};

/// The first set, the pipe's read and write ends, the second set.
const SET: i32 = 3;
const READ_END: i32 = 4;
const WRITE_END: i32 = 5;
const SECOND_SET: i32 = 6;

/// A waiter's timeout (ms): long enough for `main`'s writes on a loaded host, short
/// enough that a run whose waiter gets nothing ends soon.
const WAIT_TIMEOUT_MS: i32 = 20;

/// The item masks drawn from: LT, ET, one-shot, exclusive (LT and ET).
const MASKS: [u32; 5] = [
    EPOLLIN,
    EPOLLIN | EPOLLET,
    EPOLLIN | EPOLLONESHOT,
    EPOLLIN | EPOLLEXCLUSIVE,
    EPOLLIN | EPOLLET | EPOLLEXCLUSIVE,
];

/// The shapes, by name.
pub const SHAPES: [&str; 3] = ["waiters", "write-races-ctl", "close-races-wait"];

/// Program `index` of the generated programs seeded `seed`.
pub fn program(seed: u64, index: u64) -> ThreadProgram {
    let mut rng = Rng::new(super::program_seed(seed, index));
    let shape = rng.index(SHAPES.len());
    let mut setup = vec![
        Call::EpollCreate1 { flags: 0 },
        Call::Pipe,
        Call::FcntlSetfl {
            fd: READ_END,
            flags: kernel_model::objects::O_NONBLOCK,
        },
    ];
    let (threads, what) = match shape {
        0 => waiters(&mut rng, &mut setup),
        1 => write_races_ctl(&mut rng, &mut setup),
        _ => close_races_wait(&mut rng, &mut setup),
    };
    ThreadProgram {
        name: format!("gen-s{seed}-p{index}-{}", SHAPES[shape]),
        description: format!("generated (seed {seed}, program {index}): {what}"),
        setup,
        threads,
    }
}

fn add(epfd: i32, mask: u32, data: u64) -> Call {
    Call::EpollCtl {
        epfd,
        op: EPOLL_CTL_ADD,
        fd: READ_END,
        event: Some((mask, data)),
    }
}

fn mask(rng: &mut Rng) -> u32 {
    MASKS[rng.index(MASKS.len())]
}

fn wait(epfd: i32, maxevents: i32, timeout_ms: i32) -> Step {
    Step::Wait {
        epfd,
        maxevents,
        timeout_ms,
    }
}

fn write(len: usize) -> Step {
    Step::Call(Call::Write { fd: WRITE_END, len })
}

fn sleep(rng: &mut Rng, most_ms: u64) -> Option<Step> {
    let ms = rng.below(most_ms + 1);
    (ms > 0).then_some(Step::Sleep { ms })
}

type Threads = Vec<(&'static str, Vec<Step>)>;

/// One or two waiters on one set or on two; `main` writes.
fn waiters(rng: &mut Rng, setup: &mut Vec<Call>) -> (Threads, String) {
    let two_sets = rng.chance(1, 3);
    let first = mask(rng);
    let mut sets = vec![SET];
    setup.push(add(SET, first, SET as u64));
    let mut masks = vec![mask_text(first)];
    if two_sets {
        let second = mask(rng);
        setup.push(Call::EpollCreate1 { flags: 0 });
        setup.push(add(SECOND_SET, second, SECOND_SET as u64));
        sets.push(SECOND_SET);
        masks.push(mask_text(second));
    }
    let waiter_count = if two_sets || rng.chance(3, 4) { 2 } else { 1 };
    let mut threads: Threads = Vec::new();
    for (i, name) in ["a", "b"].into_iter().take(waiter_count).enumerate() {
        let epfd = sets[i % sets.len()];
        let mut steps = vec![wait(epfd, 1 + rng.below(2) as i32, WAIT_TIMEOUT_MS)];
        if rng.chance(1, 2) {
            steps.push(Step::Call(Call::Read {
                fd: READ_END,
                len: 1,
            }));
        }
        if rng.chance(1, 3) {
            steps.push(wait(epfd, 1, [0, 5][rng.index(2)]));
        }
        threads.push((name, steps));
    }
    let mut main: Vec<Step> = sleep(rng, 3).into_iter().collect();
    let bytes = 1 + rng.index(2);
    main.push(write(bytes));
    let twice = rng.chance(1, 3);
    if twice {
        main.extend(sleep(rng, 3));
        main.push(write(1));
    }
    threads.push(("main", main));
    let what = format!(
        "{waiter_count} waiter(s) on {} set(s) ({}), main writes {bytes} byte(s){}",
        sets.len(),
        masks.join(", "),
        if twice { ", then 1 more" } else { "" }
    );
    (threads, what)
}

/// A write races a MOD or a DEL; a third thread waits, or `main` looks afterwards.
fn write_races_ctl(rng: &mut Rng, setup: &mut Vec<Call>) -> (Threads, String) {
    let before = mask(rng);
    setup.push(add(SET, before, READ_END as u64));
    let mut ctl = Vec::new();
    let what_ctl = if rng.chance(1, 2) {
        let after = mask(rng);
        ctl.push(Step::Call(Call::EpollCtl {
            epfd: SET,
            op: EPOLL_CTL_MOD,
            fd: READ_END,
            event: Some((after, 40)),
        }));
        format!("MOD to {}", mask_text(after))
    } else {
        ctl.push(Step::Call(Call::EpollCtl {
            epfd: SET,
            op: EPOLL_CTL_DEL,
            fd: READ_END,
            event: None,
        }));
        if rng.chance(1, 2) {
            let again = mask(rng);
            ctl.push(Step::Call(add(SET, again, 41)));
            format!("DEL then ADD {}", mask_text(again))
        } else {
            "DEL".to_string()
        }
    };
    let waiter_races = rng.chance(1, 2);
    let threads: Threads = if waiter_races {
        vec![
            ("a", vec![wait(SET, 2, WAIT_TIMEOUT_MS)]),
            ("b", ctl),
            ("main", vec![write(1)]),
        ]
    } else {
        vec![
            ("a", vec![write(1)]),
            ("b", ctl),
            (
                "main",
                vec![
                    Step::Sleep { ms: 3 },
                    Step::Call(Call::EpollWait {
                        kind: WaitKind::Wait,
                        epfd: SET,
                        maxevents: 4,
                    }),
                ],
            ),
        ]
    };
    let what = format!(
        "a write races {what_ctl} of a {} item{}",
        mask_text(before),
        if waiter_races {
            ", a waiter beside them"
        } else {
            ", then a non-blocking wait"
        }
    );
    (threads, what)
}

/// A waiter; a close of the read end (the watched file) or of the write end; a write.
fn close_races_wait(rng: &mut Rng, setup: &mut Vec<Call>) -> (Threads, String) {
    let item = mask(rng);
    setup.push(add(SET, item, READ_END as u64));
    let closed = if rng.chance(1, 2) {
        READ_END
    } else {
        WRITE_END
    };
    let mut waiter = vec![wait(SET, 1, WAIT_TIMEOUT_MS)];
    if rng.chance(1, 2) {
        waiter.push(wait(SET, 1, 0));
    }
    let mut closer: Vec<Step> = sleep(rng, 1).into_iter().collect();
    closer.push(Step::Call(Call::Close { fd: closed }));
    let mut main: Vec<Step> = sleep(rng, 2).into_iter().collect();
    main.push(write(1));
    let what = format!(
        "a wait on a {} item races the close of the pipe's {} end and a write",
        mask_text(item),
        if closed == READ_END { "read" } else { "write" }
    );
    (vec![("a", waiter), ("b", closer), ("main", main)], what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_and_index_give_the_same_program() {
        for index in 0..20 {
            assert_eq!(
                program(7, index).scenario_text(),
                program(7, index).scenario_text()
            );
        }
        assert_ne!(program(7, 0).scenario_text(), program(8, 0).scenario_text());
    }

    #[test]
    fn every_shape_occurs_and_every_program_has_two_or_three_threads() {
        let mut seen = [false; 3];
        for index in 0..60 {
            let p = program(0, index);
            let shape = SHAPES
                .iter()
                .position(|s| p.name.ends_with(s))
                .expect("a shape");
            seen[shape] = true;
            assert!((2..=3).contains(&p.threads.len()), "{}", p.name);
            assert_eq!(p.threads.last().map(|t| t.0), Some("main"));
            crate::api::parse("generated.scn", &p.scenario_text()).expect("the scenario parses");
        }
        assert_eq!(seen, [true; 3]);
    }
}
