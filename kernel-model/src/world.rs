//! Running programs on the simulated kernel: a machine, a kernel, processes and tasks,
//! external events, one run, and the checkers after it. This is the library API that
//! tests build scenarios with; the scenario files of `workloads` compile to it.

use std::future::Future;
use std::rc::Rc;

use sim::machine::{RunEnd, RunResult};
use sim::{Config, ConfigError, CpuId, Granularity, Machine, Report, Scheduler, TaskId};

use crate::check;
use crate::kernel::{Kernel, KernelOptions};
use crate::objects::ProcessId;

/// Everything that configures a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub machine: Config,
    pub kernel: KernelOptions,
}

/// The outcome of one run, with the kernel checkers' reports added.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub result: RunResult,
}

impl Outcome {
    pub fn reports(&self) -> &[Report] {
        &self.result.reports
    }

    pub fn has_report(&self, kind: sim::ReportKind) -> bool {
        self.result.reports.iter().any(|r| r.kind == kind)
    }
}

/// A machine with a kernel on it, ready for tasks.
pub struct World<G: Granularity> {
    machine: Machine,
    kernel: Rc<Kernel<G>>,
}

impl<G: Granularity> World<G> {
    /// `scenario_hash` identifies the program set (schedules are bound to it).
    pub fn new(options: &Options, scenario_hash: u64) -> Result<World<G>, ConfigError> {
        let mut h = sim::trace::TraceHasher::default();
        h.write_u64(scenario_hash);
        h.write_str(options.kernel.version.name());
        for injection in &options.kernel.injections {
            h.write_str(injection.name());
        }
        h.write_u64(options.kernel.fault_service_ns);
        let machine = Machine::new(options.machine.clone(), h.finish())?;
        let kernel = Kernel::new(machine.cx::<G>(), options.kernel.clone());
        Ok(World { machine, kernel })
    }

    pub fn kernel(&self) -> Rc<Kernel<G>> {
        self.kernel.clone()
    }

    pub fn machine(&self) -> &Machine {
        &self.machine
    }

    pub fn machine_mut(&mut self) -> &mut Machine {
        &mut self.machine
    }

    /// A new process with stdin, stdout and stderr open.
    pub fn process(&mut self, name: &str) -> ProcessId {
        self.kernel.new_process(name)
    }

    /// A child of `parent` sharing its open files (fork).
    pub fn fork(&mut self, parent: ProcessId, name: &str) -> ProcessId {
        self.kernel.fork_process(parent, name)
    }

    /// Starts a task of `process` running `program`. When the last task of a process
    /// finishes, the process exits and its descriptors are closed (`exit_files`).
    pub fn spawn<F, P>(
        &mut self,
        process: ProcessId,
        name: &str,
        cpu: Option<CpuId>,
        program: P,
    ) -> TaskId
    where
        P: FnOnce(Rc<Kernel<G>>) -> F,
        F: Future<Output = ()> + 'static,
    {
        let body = self.kernel.task_body(process, program(self.kernel.clone()));
        let task = self.machine.spawn(name, cpu, body);
        self.kernel.register_task(task, process);
        task
    }

    /// An interrupt at `time_ns` on `cpu` (or any CPU) that runs `handler`.
    pub fn interrupt<F, P>(
        &mut self,
        time_ns: u64,
        cpu: Option<CpuId>,
        label: &'static str,
        handler: P,
    ) where
        P: FnOnce(Rc<Kernel<G>>) -> F + 'static,
        F: Future<Output = ()> + 'static,
    {
        let kernel = self.kernel.clone();
        self.machine.add_interrupt(
            time_ns,
            cpu,
            label,
            Box::new(move || Box::pin(handler(kernel))),
        );
    }

    /// Runs to the end and applies the kernel checkers.
    pub fn run(&mut self, strategy: &mut dyn Scheduler) -> Outcome {
        let mut result = self.machine.run(strategy);
        let mut extra = Vec::new();
        if !matches!(result.end, RunEnd::ReplayMismatch { .. })
            && !result.reports.iter().any(|r| r.kind.is_fatal())
        {
            extra.extend(check::ready_lists(&self.kernel));
            if let RunEnd::Quiescent { sleepers } = &result.end {
                extra.extend(check::lost_wakeups(&self.kernel, sleepers));
            }
            if result.end == RunEnd::Completed {
                extra.extend(check::leaks(&self.kernel));
            }
        }
        let schedule = result.schedule.encode();
        for mut report in extra {
            report.schedule = schedule.clone();
            result.reports.push(report);
        }
        Outcome { result }
    }
}
