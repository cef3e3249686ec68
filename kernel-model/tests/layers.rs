//! kernel-model's dependencies point one way: definitions at the bottom, then the kernel
//! value, the files (fd tables, `struct file`, the checkers that read them), the file
//! kinds, the eventpoll versions, the function-pointer calls (`dispatch.rs`), the system
//! calls, and the library API on top. A module may name (`crate::m`) only modules before
//! it in [`LAYERS`], and may call a method of `Kernel` only if a module before it (or
//! itself) defines it — except the functions of `dispatch.rs`, which stand for the
//! kernel's calls through `f_op`, `_qproc` and wait entries' `func`, and which any module
//! may call (the kernel, too, calls up only through such pointers).
//!
//! The check reads the sources as text: `crate::` paths outside comments, and
//! `self.NAME(` / `kernel.NAME(` calls against the functions defined in
//! `impl<G: Granularity> Kernel<G>` blocks. A new module must be placed in the table.

use std::collections::BTreeMap;
use std::path::Path;

/// The layers, bottom first; within a layer, too, a module may name only the ones before
/// it.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "definitions",
        &["errno", "version", "inject", "objects", "poll", "user"],
    ),
    ("the kernel value", &["kernel"]),
    ("files", &["fdtable", "file", "check", "wait"]),
    (
        "file kinds",
        &[
            "pipe",
            "pipe_6_18",
            "eventfd",
            "timerfd",
            "socket",
            "socket_dgram",
            "opaque",
        ],
    ),
    (
        "eventpoll versions",
        &[
            "eventpoll",
            "eventpoll_2_6_21",
            "eventpoll_2_6_22",
            "eventpoll_6_18",
        ],
    ),
    // fs/select.c's `__pollwait`/`pollwake` are a poll table's queue function and a wait
    // entry's wake function, reached through dispatch like epoll's.
    ("poll(2)", &["select"]),
    ("function-pointer calls", &["dispatch"]),
    ("system calls", &["syscalls", "task"]),
    ("the library API", &["world", "explore"]),
    // What a step-through view draws of each version's objects: reads the model, is read by
    // no module of it.
    ("for tools that draw the model", &["view_layout"]),
];

/// The module whose functions any module may call.
const FUNCTION_POINTERS: &str = "dispatch";

fn ranks() -> BTreeMap<&'static str, usize> {
    LAYERS
        .iter()
        .flat_map(|(_, modules)| modules.iter().copied())
        .enumerate()
        .map(|(rank, module)| (module, rank))
        .collect()
}

/// Each module's source without its `#[cfg(test)]` part.
fn sources() -> BTreeMap<String, String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut sources = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("kernel-model/src is readable") {
        let path = entry.expect("a directory entry").path();
        let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path.extension().and_then(|e| e.to_str()) != Some("rs") || name == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a readable source file");
        let text = match text.find("#[cfg(test)]") {
            Some(at) => text[..at].to_string(),
            None => text,
        };
        sources.insert(name.to_string(), text);
    }
    sources
}

/// The code of a line: nothing of a comment.
fn code(line: &str) -> &str {
    match line.find("//") {
        Some(at) => &line[..at],
        None => line,
    }
}

fn identifier_at(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// The modules a source names through `crate::`.
fn named_modules(text: &str) -> Vec<String> {
    let mut named = Vec::new();
    for line in text.lines() {
        let line = code(line);
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            named.push(identifier_at(rest).to_string());
        }
    }
    named
}

/// The functions defined in a source's `impl<G: Granularity> Kernel<G>` blocks.
fn kernel_methods(text: &str) -> Vec<String> {
    let mut methods = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("impl<G: Granularity> Kernel<G>") {
            inside = true;
        } else if line.starts_with('}') {
            inside = false;
        } else if inside {
            let trimmed = line.trim_start();
            for prefix in ["pub ", "pub(crate) ", ""] {
                for kind in ["async fn ", "fn "] {
                    if let Some(rest) = trimmed.strip_prefix(&format!("{prefix}{kind}")) {
                        methods.push(identifier_at(rest).to_string());
                    }
                }
            }
        }
    }
    methods
}

/// The methods a source calls on the kernel (`self.NAME(`, `kernel.NAME(`).
fn called_methods(text: &str) -> Vec<String> {
    let mut called = Vec::new();
    for line in text.lines() {
        let line = code(line);
        for receiver in ["self.", "kernel."] {
            let mut rest = line;
            while let Some(at) = rest.find(receiver) {
                let before = &rest[..at];
                rest = &rest[at + receiver.len()..];
                if before.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
                    continue;
                }
                let name = identifier_at(rest);
                if rest[name.len()..].starts_with('(') {
                    called.push(name.to_string());
                }
            }
        }
    }
    called
}

#[test]
fn every_module_is_placed_in_the_layer_table() {
    let ranks = ranks();
    let sources = sources();
    let unplaced: Vec<&String> = sources
        .keys()
        .filter(|m| !ranks.contains_key(m.as_str()))
        .collect();
    assert!(
        unplaced.is_empty(),
        "place these modules in tests/layers.rs LAYERS: {unplaced:?}"
    );
    let missing: Vec<&&str> = ranks
        .keys()
        .filter(|m| !sources.contains_key(**m))
        .collect();
    assert!(
        missing.is_empty(),
        "LAYERS names modules that do not exist: {missing:?}"
    );
}

#[test]
fn modules_name_only_modules_below_them() {
    let ranks = ranks();
    let mut upward = Vec::new();
    for (module, text) in sources() {
        let Some(&rank) = ranks.get(module.as_str()) else {
            continue;
        };
        for named in named_modules(&text) {
            match ranks.get(named.as_str()) {
                Some(&other) if other > rank => upward.push(format!("{module} -> {named}")),
                _ => {}
            }
        }
    }
    upward.sort();
    upward.dedup();
    assert!(
        upward.is_empty(),
        "modules naming modules above them: {upward:#?}"
    );
}

#[test]
fn kernel_methods_are_called_only_from_above_or_through_dispatch() {
    let ranks = ranks();
    let sources = sources();
    let mut defined_at: BTreeMap<String, usize> = BTreeMap::new();
    for (module, text) in &sources {
        let rank = ranks[module.as_str()];
        for method in kernel_methods(text) {
            let lowest = defined_at.entry(method).or_insert(rank);
            *lowest = (*lowest).min(rank);
        }
    }
    let dispatch = ranks[FUNCTION_POINTERS];
    let mut upward = Vec::new();
    for (module, text) in &sources {
        let rank = ranks[module.as_str()];
        for method in called_methods(text) {
            if let Some(&defined) = defined_at.get(&method) {
                if defined > rank && defined != dispatch {
                    upward.push(format!("{module} calls {method}"));
                }
            }
        }
    }
    upward.sort();
    upward.dedup();
    assert!(
        upward.is_empty(),
        "calls to code above the caller: {upward:#?}"
    );
}

/// The test itself sees an upward name and an upward call (so a pass means something).
#[test]
fn the_scanner_sees_names_and_calls() {
    let text = "use crate::syscalls::X; // crate::world\nfn f() { self.sys_close(3); kernel.vfs_poll(f); myself.no(1); }\n";
    assert_eq!(named_modules(text), vec!["syscalls".to_string()]);
    assert_eq!(
        called_methods(text),
        vec!["sys_close".to_string(), "vfs_poll".to_string()]
    );
    let methods = kernel_methods(
        "impl<G: Granularity> Kernel<G> {\n    pub async fn a(&self) {}\n    fn b(&self) {}\n}\nfn c() {}\n",
    );
    assert_eq!(methods, vec!["a".to_string(), "b".to_string()]);
}
