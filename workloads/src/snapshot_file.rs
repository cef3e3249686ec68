//! insta's snapshot file format, so that `epsim snapshot` writes files `cargo insta
//! review` and `cargo insta accept` work on, and reads the ones they (or a person) left.
//!
//! A file is a YAML header between two `---` lines, then the snapshot's text:
//!
//! ```text
//! ---
//! source: lt-basics.scn
//! description: "level-triggered: a readable pipe is reported ..."
//! expression: epsim snapshot --kernel K
//! ---
//! lt-basics: level-triggered: ...
//! kernel K, cpus 1, ...
//! ```
//!
//! insta (1.x) writes the header fields in this order and quotes a value as its YAML
//! emitter does (a double-quoted string when the plain form would read as something
//! else); it compares only the text, with trailing whitespace trimmed and CRLF read as
//! LF ([`normalize`]). A pending snapshot is the same format in `NAME.snap.new` beside
//! `NAME.snap`.

/// The header fields `epsim snapshot` writes (insta's `MetaData`, without
/// `assertion_line`, which only test macros have).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// What the snapshot is of: the scenario file, relative to the folder that holds the
    /// `snapshots/` folder.
    pub source: String,
    /// Shown by `cargo insta review` ("Description"); empty is left out.
    pub description: String,
    /// How to make it again.
    pub expression: String,
}

/// The longest snapshot file read (a snapshot is a run's results, a few kilobytes).
pub const FILE_BYTES_MAX: u64 = 64 << 20;

/// The text of a snapshot file: header, then `body` normalized, ending in a newline.
pub fn write(header: &Header, body: &str) -> String {
    let mut out = String::from("---\n");
    out.push_str(&format!("source: {}\n", yaml_scalar(&header.source)));
    if !header.description.is_empty() {
        out.push_str(&format!(
            "description: {}\n",
            yaml_scalar(&header.description)
        ));
    }
    out.push_str(&format!(
        "expression: {}\n",
        yaml_scalar(&header.expression)
    ));
    out.push_str("---\n");
    out.push_str(&normalize(body));
    out.push('\n');
    out
}

/// The text of a snapshot file without its header, normalized; an error says what is
/// wrong with the file.
pub fn read_body(text: &str) -> Result<String, String> {
    let mut lines = text.split_inclusive('\n');
    match lines.next() {
        Some(first) if first.trim_end() == "---" => {}
        _ => return Err("not an insta snapshot: the first line is not `---`".to_string()),
    }
    for line in lines.by_ref() {
        if line.trim_end() == "---" {
            let body: String = lines.collect();
            return Ok(normalize(&body));
        }
    }
    Err("not an insta snapshot: its header has no closing `---` line".to_string())
}

/// What insta compares: the text with trailing whitespace trimmed, CRLF as LF.
pub fn normalize(text: &str) -> String {
    text.trim_end().replace("\r\n", "\n")
}

/// `value` as insta's YAML emitter writes a string: plain when that reads back as the
/// same string, else double-quoted with escapes.
pub fn yaml_scalar(value: &str) -> String {
    if !needs_quotes(value) {
        return value.to_string();
    }
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// insta's (yaml-rust's) rule for when a plain scalar would not read back as the string.
fn needs_quotes(value: &str) -> bool {
    const WORDS: [&str; 22] = [
        "yes", "Yes", "YES", "no", "No", "NO", "True", "TRUE", "true", "False", "FALSE", "false",
        "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~",
    ];
    value.is_empty()
        || value.starts_with(' ')
        || value.ends_with(' ')
        || value.starts_with(['&', '*', '?', '|', '-', '<', '>', '=', '!', '%', '@'])
        || value.contains(|c: char| {
            matches!(
                c,
                ':' | '{' | '}' | '[' | ']' | ',' | '#' | '`' | '"' | '\'' | '\\'
                    | '\0'..='\x06' | '\t' | '\n' | '\r' | '\x0e'..='\x1a' | '\x1c'..='\x1f'
            )
        })
        || WORDS.contains(&value)
        || value.starts_with('.')
        || value.starts_with("0x")
        || value.parse::<i64>().is_ok()
        || value.parse::<f64>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_file_reads_back_as_its_normalized_body() {
        let header = Header {
            source: "a.scn".into(),
            description: "pipes: two of them".into(),
            expression: "epsim snapshot --kernel K".into(),
        };
        let text = write(&header, "line one\r\nline two\n\n");
        assert_eq!(
            text,
            "---\nsource: a.scn\ndescription: \"pipes: two of them\"\nexpression: epsim snapshot --kernel K\n---\nline one\nline two\n"
        );
        assert_eq!(read_body(&text).unwrap(), "line one\nline two");
    }

    #[test]
    fn yaml_quoting_follows_insta() {
        // As in the project's own snapshots: `expression: "snapshots::check_both(&scenario)"`.
        assert_eq!(
            yaml_scalar("snapshots::check_both(&scenario)"),
            "\"snapshots::check_both(&scenario)\""
        );
        assert_eq!(
            yaml_scalar("snapshots/tests/event_order.rs"),
            "snapshots/tests/event_order.rs"
        );
        assert_eq!(yaml_scalar("2.6"), "\"2.6\"");
        assert_eq!(yaml_scalar("true"), "\"true\"");
        assert_eq!(yaml_scalar("a \"b\"\tc"), "\"a \\\"b\\\"\\tc\"");
    }

    #[test]
    fn a_file_without_a_header_is_an_error() {
        assert!(read_body("hello\n").is_err());
        assert!(read_body("---\nsource: x\n").is_err());
    }
}
