//! Scenario builders shared by the kernel-model tests.
#![allow(dead_code)]

use std::cell::RefCell;
use std::rc::Rc;

use kernel_model::poll::*;
use kernel_model::user::UserBufferSpec;
use kernel_model::{EpollEvent, Errno, World};
use sim::{CpuId, Granularity};

/// What each task saw, in order: (task name, result).
pub type Log = Rc<RefCell<Vec<(String, String)>>>;

pub fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

pub fn show(result: &Result<Vec<EpollEvent>, Errno>) -> String {
    match result {
        Ok(events) => {
            let items: Vec<String> = events
                .iter()
                .map(|e| format!("{}:{}", mask_to_string(e.events), e.data))
                .collect();
            format!("{} [{}]", events.len(), items.join(" "))
        }
        Err(errno) => errno.to_string(),
    }
}

/// Seed case 4: `ready` pipes ready and level-triggered in one set; then two threads
/// each wait once with maxevents `max`.
pub fn two_waiters<G: Granularity>(world: &mut World<G>, ready: usize, max: i32, log: &Log) {
    let p = world.process("app");
    let log = log.clone();
    world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        for i in 0..ready {
            let [r, w] = k.sys_pipe().await.unwrap();
            k.sys_epoll_ctl(
                ep,
                EPOLL_CTL_ADD,
                r,
                Some(EpollEvent {
                    events: EPOLLIN,
                    data: i as u64,
                }),
            )
            .await
            .unwrap();
            k.sys_write(w, b"x").await.unwrap();
        }
        for (n, cpu) in [(0, 0u16), (1, 1)] {
            let log = log.clone();
            k.spawn_thread(
                &format!("waiter{n}"),
                Some(CpuId(cpu)),
                move |k| async move {
                    let got = k
                        .sys_epoll_wait(ep, UserBufferSpec::default(), max, -1)
                        .await;
                    log.borrow_mut().push((format!("waiter{n}"), show(&got)));
                },
            );
        }
    });
}
