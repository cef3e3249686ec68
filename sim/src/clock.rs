//! Virtual time. Each CPU has its own clock in nanoseconds; every primitive charges a
//! cost to the clock of the CPU that performs it. Time is charged per primitive and never
//! per step, so one CPU's simulated time does not depend on the granularity at which the
//! run is explored. A CPU that receives work from another (a wake-up, a lock hand-off)
//! first catches up to the time at which the work was handed over (causality).

use crate::ids::CpuId;
use crate::state::State;

/// What each primitive costs, in nanoseconds of the performing CPU's clock.
///
/// The defaults are round figures for a 2007-era x86 SMP machine at roughly 2 GHz: cached
/// loads and stores a nanosecond, locked instructions and full fences tens, a syscall
/// entry and exit about a hundred, a context switch about a microsecond. They exist to
/// give timelines a realistic shape, not to predict real timings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CostTable {
    pub load_ns: u64,
    pub store_ns: u64,
    pub atomic_ns: u64,
    pub full_fence_ns: u64,
    pub light_fence_ns: u64,
    pub lock_ns: u64,
    pub unlock_ns: u64,
    pub irq_flags_ns: u64,
    pub wake_ns: u64,
    pub context_switch_ns: u64,
    pub syscall_ns: u64,
    pub interrupt_entry_ns: u64,
    pub step_point_ns: u64,
}

impl Default for CostTable {
    fn default() -> CostTable {
        CostTable {
            load_ns: 1,
            store_ns: 1,
            atomic_ns: 20,
            full_fence_ns: 30,
            light_fence_ns: 1,
            lock_ns: 20,
            unlock_ns: 10,
            irq_flags_ns: 5,
            wake_ns: 200,
            context_switch_ns: 1000,
            syscall_ns: 100,
            interrupt_entry_ns: 500,
            step_point_ns: 0,
        }
    }
}

impl CostTable {
    /// Feeds every entry into a hash, so that a schedule recorded with one table does
    /// not silently replay under another.
    pub fn fingerprint(&self) -> [u64; 13] {
        [
            self.load_ns,
            self.store_ns,
            self.atomic_ns,
            self.full_fence_ns,
            self.light_fence_ns,
            self.lock_ns,
            self.unlock_ns,
            self.irq_flags_ns,
            self.wake_ns,
            self.context_switch_ns,
            self.syscall_ns,
            self.interrupt_entry_ns,
            self.step_point_ns,
        ]
    }
}

/// Default timer frequency, as CONFIG_HZ=250 of a 2.6.22 distribution kernel.
pub const HZ_DEFAULT: u32 = 250;

/// Nanoseconds per jiffy at `hz`.
pub fn tick_ns(hz: u32) -> u64 {
    1_000_000_000 / hz as u64
}

/// The jiffies counter at virtual time `now_ns`. The machine boots at jiffies 0.
pub fn jiffies_at(now_ns: u64, hz: u32) -> u64 {
    now_ns / tick_ns(hz)
}

// ---- charging time to the CPUs -------------------------------------------------------

/// Time as the machine keeps it: charging a primitive's cost to the performing CPU
/// (lazily, for the inline primitives of the coarse granularities), reading a clock,
/// and catching a clock up to a causal predecessor.
impl State {
    #[inline(always)]
    pub fn charge(&self, cpu: CpuId, cost_ns: u64) {
        self.settle();
        let mut cpus = self.cpus.borrow_mut();
        cpus[cpu.index()].clock_ns += cost_ns;
    }

    /// Charges the CPU running the current code, lazily: the cost is added to its clock
    /// when anything next reads or moves a clock, or when the code stops running
    /// ([`State::settle`]). This is what the inline primitives of the coarse
    /// granularities use, so that a shared-word access costs an addition.
    #[inline(always)]
    pub fn charge_current(&self, cost_ns: u64) {
        self.unsettled_ns.set(self.unsettled_ns.get() + cost_ns);
    }

    /// Adds what [`State::charge_current`] charged to the current CPU's clock.
    #[inline]
    pub fn settle(&self) {
        let pending = self.unsettled_ns.replace(0);
        if pending != 0 {
            let cpu = self.current.get().cpu;
            self.cpus.borrow_mut()[cpu.index()].clock_ns += pending;
        }
    }

    /// `cpu`'s clock (exact: what inline primitives charged is settled first). Inlined
    /// always: every trace record reads it.
    #[inline(always)]
    pub fn clock_ns(&self, cpu: CpuId) -> u64 {
        self.settle();
        self.cpus.borrow()[cpu.index()].clock_ns
    }

    /// Moves `cpu`'s clock forward to at least `time_ns` (causality).
    pub fn catch_up(&self, cpu: CpuId, time_ns: u64) {
        self.settle();
        let mut cpus = self.cpus.borrow_mut();
        let clock = &mut cpus[cpu.index()].clock_ns;
        *clock = (*clock).max(time_ns);
    }

    pub fn jiffies(&self, cpu: CpuId) -> u64 {
        jiffies_at(self.clock_ns(cpu), self.config.hz)
    }

    pub fn tick_ns(&self) -> u64 {
        self.tick_ns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jiffies_at_250_hz() {
        assert_eq!(tick_ns(250), 4_000_000);
        assert_eq!(jiffies_at(3_999_999, 250), 0);
        assert_eq!(jiffies_at(4_000_000, 250), 1);
    }
}
