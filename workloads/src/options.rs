//! The shared run options, resolved and validated.
//!
//! [`crate::cli::CommonOpts`] is what the user typed; every field is optional so that a
//! scenario's own defaults (CPUs, kernel, memory model, granularity) apply when an option
//! is not given. [`CommonOpts::resolve`] merges them over [`RunDefaults`] and checks the
//! result, so that each subcommand gets a [`RunOptions`] it can trust — or one line that
//! says what is wrong.

use kernel_model::Injection;
use sim::{Config, GranularityKind, MemoryModel, Schedule, StrategyKind};

use crate::cli::{CommonOpts, KernelArg};
use crate::exit::CliError;

/// Which fs/eventpoll.c the kernel model runs (owned by `kernel-model`).
pub use kernel_model::KernelVersion;

/// What applies when an option is not given: a scenario's header, else the built-in
/// defaults ([`RunDefaults::default`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunDefaults {
    pub cpus: usize,
    pub kernel: KernelVersion,
    pub model: MemoryModel,
    pub granularity: GranularityKind,
    pub strategy: StrategyKind,
}

impl Default for RunDefaults {
    fn default() -> RunDefaults {
        let machine = Config::default();
        RunDefaults {
            cpus: machine.cpus,
            kernel: KernelVersion::Seed,
            model: machine.model,
            granularity: machine.granularity,
            // Earliest virtual clock first: the realistic timeline.
            strategy: StrategyKind::Timed,
        }
    }
}

/// Validated run options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunOptions {
    pub seed: u64,
    pub kernel: KernelVersion,
    pub strategy: StrategyKind,
    /// Bug injections, in the order given, without duplicates.
    pub injections: Vec<Injection>,
    /// The schedule to follow (`strategy` is then [`StrategyKind::Replay`]).
    pub schedule: Option<Schedule>,
    pub json: bool,
    /// The machine's own options (CPUs, memory model, granularity, ...), validated.
    pub machine: Config,
}

impl CommonOpts {
    /// Merges the options over `defaults` and validates them. Errors are one line.
    pub fn resolve(&self, defaults: &RunDefaults) -> Result<RunOptions, CliError> {
        let schedule = match &self.schedule {
            None => None,
            Some(text) => Some(
                Schedule::decode(text)
                    .map_err(|error| CliError::usage(format!("--schedule: {error}")))?,
            ),
        };
        let strategy = match (self.strategy, &schedule) {
            (None, None) => defaults.strategy,
            (None, Some(_)) => StrategyKind::Replay,
            (Some(arg), None) if arg.kind() == StrategyKind::Replay => {
                return Err(CliError::usage(
                    "--strategy replay needs --schedule STRING (the schedule to replay)",
                ));
            }
            (Some(arg), None) => arg.kind(),
            (Some(arg), Some(_)) if arg.kind() != StrategyKind::Replay => {
                return Err(CliError::usage(format!(
                    "--schedule is followed exactly, so it cannot be combined with --strategy {}",
                    arg.kind().name()
                )));
            }
            (Some(_), Some(_)) => StrategyKind::Replay,
        };
        let mut injections: Vec<Injection> = Vec::new();
        for name in &self.inject {
            let injection = parse_injection(name)?;
            if !injections.contains(&injection) {
                injections.push(injection);
            }
        }
        let machine = Config {
            cpus: self.cpus.unwrap_or(defaults.cpus),
            model: self.model.map_or(defaults.model, |m| m.model()),
            granularity: self
                .granularity
                .map_or(defaults.granularity, |g| g.granularity()),
            ..Config::default()
        };
        machine
            .validate()
            .map_err(|error| CliError::usage(error.to_string()))?;
        Ok(RunOptions {
            seed: self.seed.unwrap_or(0),
            kernel: self.kernel.map_or(defaults.kernel, KernelArg::version),
            strategy,
            injections,
            schedule,
            json: self.json,
            machine,
        })
    }
}

/// Looks an injection up by name; an unknown name is a usage error listing them all.
pub fn parse_injection(name: &str) -> Result<Injection, CliError> {
    Injection::parse(name).ok_or_else(|| {
        let names: Vec<&str> = Injection::ALL.iter().map(|i| i.name()).collect();
        CliError::usage(format!(
            "unknown injection {name:?}; the injections are {}",
            names.join(", ")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{GranularityArg, ModelArg, StrategyArg};

    fn usage(opts: CommonOpts) -> String {
        match opts.resolve(&RunDefaults::default()) {
            Err(CliError::Usage(message)) => message,
            other => panic!("expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn defaults_resolve_to_the_machine_defaults() {
        let options = CommonOpts::default()
            .resolve(&RunDefaults::default())
            .unwrap();
        assert_eq!(options.machine, Config::default());
        assert_eq!(options.strategy, StrategyKind::Timed);
        assert_eq!(options.kernel, KernelVersion::Seed);
        assert_eq!(options.seed, 0);
    }

    #[test]
    fn weak_models_need_access_granularity() {
        let message = usage(CommonOpts {
            model: Some(ModelArg::Tso),
            ..CommonOpts::default()
        });
        assert!(message.contains("--granularity access"), "{message}");
        let options = CommonOpts {
            model: Some(ModelArg::Pso),
            granularity: Some(GranularityArg::Access),
            ..CommonOpts::default()
        }
        .resolve(&RunDefaults::default())
        .unwrap();
        assert_eq!(options.machine.model, MemoryModel::Pso);
    }

    #[test]
    fn cpus_are_bounded() {
        for cpus in [0, 65] {
            let message = usage(CommonOpts {
                cpus: Some(cpus),
                ..CommonOpts::default()
            });
            assert!(message.contains("--cpus"), "{message}");
        }
    }

    #[test]
    fn schedules_and_the_replay_strategy_go_together() {
        let message = usage(CommonOpts {
            strategy: Some(StrategyArg::Replay),
            ..CommonOpts::default()
        });
        assert!(message.contains("--schedule"), "{message}");
        let message = usage(CommonOpts {
            schedule: Some("nonsense".into()),
            ..CommonOpts::default()
        });
        assert!(message.contains("malformed schedule"), "{message}");
        let text = Schedule::new(0x1234).encode();
        let options = CommonOpts {
            schedule: Some(text.clone()),
            ..CommonOpts::default()
        }
        .resolve(&RunDefaults::default())
        .unwrap();
        assert_eq!(options.strategy, StrategyKind::Replay);
        let message = usage(CommonOpts {
            schedule: Some(text),
            strategy: Some(StrategyArg::Random),
            ..CommonOpts::default()
        });
        assert!(message.contains("--strategy random"), "{message}");
    }

    #[test]
    fn injections_are_checked_and_deduplicated() {
        let options = CommonOpts {
            inject: vec![
                "no-smp-mb".into(),
                "no-linked-check".into(),
                "no-smp-mb".into(),
            ],
            ..CommonOpts::default()
        }
        .resolve(&RunDefaults::default())
        .unwrap();
        assert_eq!(
            options.injections,
            [Injection::NoSmpMb, Injection::NoLinkedCheck]
        );
        for bad in ["", "no-mb", "No-Linked-Check"] {
            let message = usage(CommonOpts {
                inject: vec![bad.into()],
                ..CommonOpts::default()
            });
            assert!(message.contains("no-linked-check"), "{message}");
        }
    }
}
