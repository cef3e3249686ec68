//! Quick measurement of the simulated transfer (epwbench): N always-readable LT pipes,
//! repeated epoll_wait(N, 0). The full side-by-side benchmark is `epsim bench`.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;

use kernel_model::poll::*;
use kernel_model::user::UserBufferSpec;
use kernel_model::{EpollEvent, Options, World};
use sim::strategy::Canonical;
use sim::{CpuId, Scheduler, SyscallSteps};

fn main() {
    for n in [200usize, 2000] {
        let calls = if n == 200 { 20_000 } else { 2_000 };
        let mut options = Options::default();
        options.machine.cpus = 1;
        let mut world = World::<SyscallSteps>::new(&options, 1).unwrap();
        let p = world.process("bench");
        world.kernel().set_nofile_limit(p, 1 << 20);
        let started = Rc::new(Cell::new(None));
        let s2 = started.clone();
        let delivered = Rc::new(Cell::new(0usize));
        let d2 = delivered.clone();
        world.spawn(p, "bench", Some(CpuId(0)), move |k| async move {
            let ep = k.sys_epoll_create(1).await.unwrap();
            for i in 0..n {
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
            s2.set(Some(Instant::now()));
            for _ in 0..calls {
                let evs = k
                    .sys_epoll_wait(ep, UserBufferSpec::default(), n as i32, 0)
                    .await
                    .unwrap();
                d2.set(d2.get() + evs.len());
            }
        });
        let mut strategy = Canonical::default();
        strategy.begin_execution();
        let outcome = world.run(&mut strategy);
        let elapsed = started.get().unwrap().elapsed();
        let us_per_call = elapsed.as_secs_f64() * 1e6 / calls as f64;
        println!(
            "transfer n={n}: {us_per_call:.2} us/call, {:.3} us/event, delivered {} (polls {}), end {:?}",
            us_per_call / n as f64,
            delivered.get(),
            world.kernel().counters.f_op_poll.get(),
            outcome.result.end
        );
    }
}
