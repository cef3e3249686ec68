//! A task's life around its program (kernel/fork.c, kernel/exit.c): a new thread in the
//! caller's process, and the process's descriptors closed when its last task exits.

use std::rc::Rc;

use sim::{Granularity, TaskId};

use crate::kernel::Kernel;
use crate::objects::ProcessId;

impl<G: Granularity> Kernel<G> {
    /// Wraps a program so that the task counts as live in `process` until it returns,
    /// and the last task of a process closes its descriptors (`do_exit` → `exit_files`).
    pub fn task_body<F>(
        self: &Rc<Self>,
        process: ProcessId,
        program: F,
    ) -> impl std::future::Future<Output = ()> + 'static
    where
        F: std::future::Future<Output = ()> + 'static,
    {
        *self
            .objects
            .borrow_mut()
            .live_tasks
            .entry(process)
            .or_insert(0) += 1;
        let kernel = self.clone();
        async move {
            program.await;
            let left = {
                let mut objects = kernel.objects.borrow_mut();
                let count = objects.live_tasks.entry(process).or_insert(1);
                *count -= 1;
                *count
            };
            if left == 0 {
                kernel.cx.syscall("exit").await;
                kernel.exit_files(process).await;
            }
        }
    }

    /// `pthread_create()` / `clone(CLONE_FILES|…)`: a new task in the caller's process
    /// running `program`, pinned to `pin` or free to migrate. It starts before the
    /// machine's next step.
    pub fn spawn_thread<F, P>(
        self: &Rc<Self>,
        name: &str,
        pin: Option<sim::CpuId>,
        program: P,
    ) -> TaskId
    where
        P: FnOnce(Rc<Kernel<G>>) -> F,
        F: std::future::Future<Output = ()> + 'static,
    {
        let process = self.current_process();
        let body = self.task_body(process, program(self.clone()));
        let task = self.cx.spawn_task(name.to_string(), pin, body);
        self.register_task(task, process);
        task
    }

    /// `exit_files()`: closes every descriptor of `process` (its last task exits).
    pub async fn exit_files(&self, process: ProcessId) {
        let fds: Vec<i32> = self.objects.borrow().processes[process.0 as usize]
            .fdtable
            .open_fds()
            .into_iter()
            .map(|(fd, _)| fd)
            .collect();
        for fd in fds {
            let _ = self.close_fd_of(process, fd).await;
        }
    }
}
