use std::cell::RefCell;
use std::rc::Rc;

use kernel_model::poll::*;
use kernel_model::user::UserBufferSpec;
use kernel_model::{Errno, Options, World};
use sim::machine::RunEnd;
use sim::strategy::Canonical;
use sim::{CpuId, SyscallSteps};

#[test]
fn level_triggered_pipe_is_reported_until_read() {
    let options = Options::default();
    let mut world = World::<SyscallSteps>::new(&options, 1).unwrap();
    let p = world.process("app");
    let log = Rc::new(RefCell::new(Vec::new()));
    let out = log.clone();
    world.spawn(p, "main", Some(CpuId(0)), move |k| async move {
        let ep = k.sys_epoll_create(1).await.unwrap();
        let [r, w] = k.sys_pipe().await.unwrap();
        k.sys_epoll_ctl(
            ep,
            EPOLL_CTL_ADD,
            r,
            Some(EpollEvent {
                events: EPOLLIN,
                data: 7,
            }),
        )
        .await
        .unwrap();
        let none = k
            .sys_epoll_wait(ep, UserBufferSpec::default(), 4, 0)
            .await
            .unwrap();
        out.borrow_mut().push(none.len());
        k.sys_write(w, b"x").await.unwrap();
        for _ in 0..2 {
            let evs = k
                .sys_epoll_wait(ep, UserBufferSpec::default(), 4, 0)
                .await
                .unwrap();
            assert_eq!(
                evs,
                vec![EpollEvent {
                    events: EPOLLIN,
                    data: 7
                }]
            );
            out.borrow_mut().push(evs.len());
        }
        assert_eq!(k.sys_read(r, 10).await.unwrap(), b"x".to_vec());
        let evs = k
            .sys_epoll_wait(ep, UserBufferSpec::default(), 4, 0)
            .await
            .unwrap();
        out.borrow_mut().push(evs.len());
        assert_eq!(
            k.sys_epoll_ctl(
                ep,
                EPOLL_CTL_ADD,
                r,
                Some(EpollEvent {
                    events: EPOLLIN,
                    data: 7
                })
            )
            .await,
            Err(Errno::EEXIST)
        );
    });
    let outcome = world.run(&mut Canonical::default());
    assert_eq!(
        outcome.result.end,
        RunEnd::Completed,
        "{:?}",
        outcome.reports()
    );
    assert!(outcome.reports().is_empty(), "{:?}", outcome.reports());
    assert_eq!(*log.borrow(), vec![0, 1, 1, 0]);
}
