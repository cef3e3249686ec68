//! Output helpers: aligned text tables, JSON, wall-clock rates, and the check that an
//! output file is not one the command reads or writes already.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::exit::CliError;

/// A text table: a header row and rows, each column padded to its widest cell, the last
/// column unpadded.
#[derive(Clone, Debug, Default)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<S: Into<String>>(header: impl IntoIterator<Item = S>) -> Table {
        Table {
            rows: vec![header.into_iter().map(Into::into).collect()],
        }
    }

    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    pub fn write(&self, out: &mut dyn Write, indent: &str) -> Result<(), CliError> {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut widths = vec![0; columns];
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        for row in &self.rows {
            let mut line = String::from(indent);
            for (i, cell) in row.iter().enumerate() {
                line.push_str(cell);
                if i + 1 < row.len() {
                    let pad = widths[i] - cell.chars().count() + 2;
                    line.push_str(&" ".repeat(pad));
                }
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

/// Writes `value` as pretty JSON followed by a newline.
pub fn write_json(out: &mut dyn Write, value: &impl Serialize) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|error| CliError::usage(format!("cannot encode JSON: {error}")))?;
    writeln!(out, "{text}")?;
    Ok(())
}

/// `count` events over `seconds` of wall-clock time, as a rate (0 if nothing was timed).
pub fn per_second(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        (count as f64 / seconds).round()
    } else {
        0.0
    }
}

/// Where `path` is, as a canonical path: the file itself if it exists (symbolic links
/// followed), else its canonical directory joined with its name; `None` if even the
/// directory does not exist (then writing it fails anyway, with its own error).
fn canonical_target(path: &Path) -> Option<PathBuf> {
    if let Ok(canonical) = std::fs::canonicalize(path) {
        return Some(canonical);
    }
    let name = path.file_name()?;
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    Some(std::fs::canonicalize(parent).ok()?.join(name))
}

/// Whether `a` and `b` name the same file (existing or not), however they are spelled
/// (and, for existing files on Unix, through hard links too).
pub fn same_file(a: &Path, b: &Path) -> bool {
    a == b
        || same_inode(a, b)
        || matches!(
            (canonical_target(a), canonical_target(b)),
            (Some(x), Some(y)) if x == y
        )
}

#[cfg(unix)]
fn same_inode(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_inode(_: &Path, _: &Path) -> bool {
    false
}

/// Refuses an output (`what`, e.g. `-o`) that names the file the command reads
/// (`input`, if it is a file), or an output named already (`others`): writing it would
/// destroy the input or the other output. One line, status 2.
pub fn check_output(
    what: &str,
    path: &Path,
    input: Option<&Path>,
    others: &[(&str, &Path)],
) -> Result<(), CliError> {
    if let Some(input) = input.filter(|input| input.is_file() && same_file(input, path)) {
        return Err(CliError::usage(format!(
            "{what} {} names the input {}, which writing would overwrite: choose another file",
            path.display(),
            input.display()
        )));
    }
    for (other, other_path) in others {
        if same_file(other_path, path) {
            return Err(CliError::usage(format!(
                "{what} {} and {other} {} name the same file: one would overwrite the other",
                path.display(),
                other_path.display()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let mut table = Table::new(["a", "bb"]);
        table.row(["ccc", "d"]);
        let mut out = Vec::new();
        table.write(&mut out, "  ").unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "  a    bb\n  ccc  d\n");
    }

    #[test]
    fn the_same_file_is_recognised_however_it_is_spelled() {
        let dir = std::env::temp_dir();
        let name = format!("epsim-same-file-{}", std::process::id());
        let path = dir.join(&name);
        std::fs::write(&path, "x").unwrap();
        let spelled = dir.join(".").join(&name);
        assert!(same_file(&path, &spelled));
        assert!(!same_file(&path, &dir.join("epsim-another-file")));
        // Neither needs to exist.
        assert!(same_file(
            &dir.join("epsim-not-yet"),
            &dir.join(".").join("epsim-not-yet")
        ));
        assert!(check_output("-o", &spelled, Some(&path), &[]).is_err());
        #[cfg(unix)]
        {
            let linked = dir.join(format!("{name}-link"));
            std::fs::remove_file(&linked).ok();
            std::fs::hard_link(&path, &linked).unwrap();
            assert!(same_file(&path, &linked));
            std::fs::remove_file(linked).ok();
        }
        assert!(check_output("-o", &dir.join("other"), Some(&path), &[]).is_ok());
        std::fs::remove_file(path).ok();
    }
}
