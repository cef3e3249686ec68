//! One line of strace output, split into its parts without copying: the pid prefix, the
//! timestamp, and what the line is (a whole call, the first half of one, the second half,
//! a signal, an exit). Hand-written and byte-oriented: no regular expressions, one pass.
//!
//! Accepted (strace 5.x and 6.x): `PID `, `[pid PID] ` or no prefix; timestamps of `-t`
//! (`HH:MM:SS`), `-tt` (`HH:MM:SS.micros`), `-ttt` (`SECONDS.micros`), `-r`
//! (`  SECONDS.micros`) or none; `-T` durations (`<0.000012>`) after the result; a call
//! `NAME(ARGS) = RESULT`, `NAME(ARGS <unfinished ...>`, `<... NAME resumed>ARGS) =
//! RESULT`; `--- SIGNAL {...} ---`; `+++ exited with N +++`; `+++ killed by SIGNAME
//! [(core dumped)] +++`.

use super::ImportError;

/// What a line is.
#[derive(Clone, Debug, PartialEq)]
pub enum LineKind<'a> {
    /// `NAME(ARGS) = RESULT`: `args` is the text between the parentheses.
    Call {
        name: &'a str,
        args: &'a str,
        result: RawResult<'a>,
    },
    /// `NAME(ARGS <unfinished ...>`: the arguments printed so far.
    Unfinished { name: &'a str, args: &'a str },
    /// `<... NAME resumed>REST) = RESULT`: the rest of the arguments.
    Resumed {
        name: &'a str,
        args: &'a str,
        result: RawResult<'a>,
    },
    /// `--- SIGNAME {...} ---`
    Signal { name: &'a str },
    /// `+++ exited with N +++`
    Exited { code: i64 },
    /// `+++ killed by SIGNAME +++`
    Killed { signal: &'a str },
}

/// A call's result as written after ` = `.
#[derive(Clone, Debug, PartialEq)]
pub struct RawResult<'a> {
    /// The value: a number (`5`, `0x7f00`, `-1`), `?`.
    pub value: Option<i64>,
    /// The descriptor decoration after a returned fd (`pipe:[123]`), if any.
    pub decoration: Option<&'a str>,
    /// The errno name (`EAGAIN`, `ERESTARTSYS`), if the call failed.
    pub errno: Option<&'a str>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Line<'a> {
    pub pid: Option<u32>,
    pub kind: LineKind<'a>,
}

/// Where a parse went wrong: a column (1-based, in bytes) and what was expected.
pub type Failure = (usize, String);

fn fail<T>(col: usize, message: impl Into<String>) -> Result<T, Failure> {
    Err((col + 1, message.into()))
}

/// Parses one line (without its newline). `Ok(None)` for an empty line.
pub fn parse_line(text: &str) -> Result<Option<Line<'_>>, Failure> {
    let bytes = text.as_bytes();
    let mut at = skip_spaces(bytes, 0);
    if at == bytes.len() {
        return Ok(None);
    }
    let mut pid = None;
    if text[at..].starts_with("[pid ") {
        let start = at + 5;
        let start = skip_spaces(bytes, start);
        let end = digits_end(bytes, start);
        if end == start || bytes.get(end) != Some(&b']') {
            return fail(start, "a process id and `]` after `[pid`");
        }
        pid = Some(number_u32(&text[start..end], start)?);
        at = skip_spaces(bytes, end + 1);
    } else if bytes[at].is_ascii_digit() {
        // `PID ` or a timestamp: a pid is digits followed by a space.
        let end = digits_end(bytes, at);
        if bytes.get(end) == Some(&b' ') {
            pid = Some(number_u32(&text[at..end], at)?);
            at = skip_spaces(bytes, end);
        }
    }
    at = skip_timestamp(bytes, at)?;
    let rest = &text[at..];
    if rest.is_empty() {
        return fail(at, "a system call, `---` or `+++` after the prefix");
    }
    let kind = if let Some(signal) = rest.strip_prefix("--- ") {
        let name_end = signal.find([' ', '{']).unwrap_or(signal.len());
        let name = &signal[..name_end];
        if !name.starts_with("SIG") || !rest.trim_end().ends_with("---") {
            return fail(at + 4, "`--- SIGNAME {...} ---`");
        }
        LineKind::Signal { name }
    } else if let Some(exit) = rest.strip_prefix("+++ ") {
        let exit = exit.trim_end();
        let Some(exit) = exit.strip_suffix("+++") else {
            return fail(text.len(), "`+++` closing an exit line");
        };
        let exit = exit.trim_end();
        if let Some(code) = exit.strip_prefix("exited with ") {
            LineKind::Exited {
                code: code
                    .trim()
                    .parse()
                    .map_err(|_| (at + 16, "an exit status".to_string()))?,
            }
        } else if let Some(signal) = exit.strip_prefix("killed by ") {
            let signal = signal.split(' ').next().unwrap_or("");
            if !signal.starts_with("SIG") {
                return fail(at + 14, "a signal name after `killed by`");
            }
            LineKind::Killed { signal }
        } else {
            return fail(at + 4, "`exited with N` or `killed by SIGNAME`");
        }
    } else if let Some(resumed) = rest.strip_prefix("<... ") {
        let name_end = ident_end(resumed.as_bytes(), 0);
        let name = &resumed[..name_end];
        let after = &resumed[name_end..];
        let Some(after) = after.strip_prefix(" resumed>") else {
            return fail(at + 5 + name_end, "` resumed>` after the call's name");
        };
        if name.is_empty() {
            return fail(at + 5, "a system call name after `<...`");
        }
        let offset = at + 5 + name_end + 9;
        let (args, result) = split_result(after, offset)?;
        LineKind::Resumed { name, args, result }
    } else {
        let name_end = ident_end(bytes, at);
        if name_end == at {
            return fail(at, "a system call name, `---` or `+++`");
        }
        let name = &text[at..name_end];
        if bytes.get(name_end) != Some(&b'(') {
            return fail(name_end, format!("`(` after `{name}`"));
        }
        let after = &text[name_end + 1..];
        let trimmed = after.trim_end();
        if let Some(args) = trimmed.strip_suffix("<unfinished ...>") {
            check_balanced(args, name_end + 1, false)?;
            LineKind::Unfinished { name, args }
        } else {
            let (args, result) = split_result(after, name_end + 1)?;
            LineKind::Call { name, args, result }
        }
    };
    Ok(Some(Line { pid, kind }))
}

/// Splits `ARGS) = RESULT [<DURATION>]` at the `)` that closes the call.
fn split_result(text: &str, offset: usize) -> Result<(&str, RawResult<'_>), Failure> {
    let close = check_balanced(text, offset, true)?;
    let args = &text[..close];
    let rest = text[close + 1..].trim_start();
    let rest_offset = offset + text.len() - text[close + 1..].trim_start().len();
    let Some(rest) = rest.strip_prefix('=') else {
        return fail(rest_offset, "` = ` and the call's result after `)`");
    };
    let result = parse_result(rest.trim(), rest_offset + 1)?;
    Ok((args, result))
}

/// Checks that brackets and strings nest; with `want_close`, returns the index of the
/// `)` that closes the argument list (depth 0).
fn check_balanced(text: &str, offset: usize, want_close: bool) -> Result<usize, Failure> {
    let b = text.as_bytes();
    let mut stack: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                loop {
                    match b.get(i) {
                        None => return fail(offset + i, "`\"` closing the string"),
                        Some(b'\\') => i += 2,
                        Some(b'"') => break,
                        Some(_) => i += 1,
                    }
                }
            }
            b'(' | b'[' | b'{' => stack.push(b[i]),
            // A descriptor decoration after a number: skip it as a unit.
            b'<' if i > 0 && (b[i - 1].is_ascii_digit() || b[i - 1] == b'>') => {
                i = decoration_end(b, i).ok_or_else(|| {
                    (
                        offset + i + 1,
                        "`>` closing the descriptor decoration".to_string(),
                    )
                })?;
                continue;
            }
            b')' | b']' | b'}' => {
                let open = match b[i] {
                    b')' => b'(',
                    b']' => b'[',
                    _ => b'{',
                };
                match stack.pop() {
                    Some(o) if o == open => {}
                    None if b[i] == b')' && want_close => return Ok(i),
                    _ => {
                        return fail(
                            offset + i,
                            format!(
                                "a balanced argument list (`{}` does not close anything open)",
                                b[i] as char
                            ),
                        )
                    }
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                // -X verbose: `0x1 /* EPOLL_CTL_ADD */`.
                match text[i + 2..].find("*/") {
                    Some(end) => {
                        i += end + 4;
                        continue;
                    }
                    None => return fail(offset + i, "`*/` closing the comment"),
                }
            }
            _ => {}
        }
        i += 1;
    }
    if want_close {
        fail(offset + b.len(), "`)` closing the argument list")
    } else if !stack.is_empty() {
        // An unfinished call's arguments may stop inside a bracket; that is fine.
        Ok(b.len())
    } else {
        Ok(b.len())
    }
}

/// The index just past the `>` matching the `<` at `start`; `[...]` inside is skipped
/// whole (a socket's `[a->b]` holds a `>`), nested `<...>` counted.
pub fn decoration_end(b: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = start;
    while i < b.len() {
        match b[i] {
            b'<' => depth += 1,
            b'>' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            b'[' => {
                let close = b[i..].iter().position(|&c| c == b']')?;
                i += close;
            }
            b'\\' => i += 1,
            _ => {}
        }
        i += 1;
    }
    None
}

fn parse_result(text: &str, offset: usize) -> Result<RawResult<'_>, Failure> {
    // Drop a -T duration.
    let mut text = text;
    if text.ends_with('>') {
        if let Some(open) = text.rfind(" <") {
            let duration = &text[open + 2..text.len() - 1];
            if duration.bytes().all(|c| c.is_ascii_digit() || c == b'.') && !duration.is_empty() {
                text = text[..open].trim_end();
            }
        }
    }
    let b = text.as_bytes();
    let (value, decoration, rest) = if let Some(rest) = text.strip_prefix('?') {
        (None, None, rest.trim_start())
    } else {
        let number_end = b
            .iter()
            .position(|&c| !(c.is_ascii_hexdigit() || c == b'x' || c == b'-'))
            .unwrap_or(b.len());
        let number = &text[..number_end];
        let value = parse_int(number).ok_or_else(|| {
            (
                offset,
                format!("a result (a number, `?` or an errno) after `=`, found `{text}`"),
            )
        })?;
        if b.get(number_end) == Some(&b'<') {
            let end = decoration_end(b, number_end).ok_or_else(|| {
                (
                    offset + number_end,
                    "`>` closing the descriptor decoration".to_string(),
                )
            })?;
            (
                Some(value),
                Some(&text[number_end + 1..end - 1]),
                text[end..].trim_start(),
            )
        } else {
            (Some(value), None, text[number_end..].trim_start())
        }
    };
    let errno = if rest.starts_with('E') {
        let end = ident_end(rest.as_bytes(), 0);
        Some(&rest[..end])
    } else {
        None
    };
    if value == Some(-1) && errno.is_none() && !rest.is_empty() {
        return fail(offset, "an errno name (such as EAGAIN) after `-1`");
    }
    Ok(RawResult {
        value,
        decoration,
        errno,
    })
}

/// A decimal, negative or `0x` hex number.
pub fn parse_int(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Some(hex) = text.strip_prefix("0x") {
        return u64::from_str_radix(hex, 16).ok().map(|v| v as i64);
    }
    if let Some(neg) = text.strip_prefix('-') {
        return neg
            .parse::<u64>()
            .ok()
            .and_then(|v| 0i64.checked_sub_unsigned(v));
    }
    text.parse::<u64>().ok().map(|v| v as i64)
}

fn skip_timestamp(b: &[u8], at: usize) -> Result<usize, Failure> {
    if at >= b.len() || !b[at].is_ascii_digit() {
        return Ok(at);
    }
    let mut i = at;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b':' || b[i] == b'.') {
        i += 1;
    }
    if b.get(i) != Some(&b' ') {
        return fail(i, "a space after the timestamp");
    }
    Ok(skip_spaces(b, i))
}

fn skip_spaces(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i] == b' ' {
        i += 1;
    }
    i
}

fn digits_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    i
}

fn ident_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
        i += 1;
    }
    i
}

fn number_u32(text: &str, at: usize) -> Result<u32, Failure> {
    text.parse().map_err(|_| {
        (
            at + 1,
            format!("a process id (at most {}), found `{text}`", u32::MAX),
        )
    })
}

impl ImportError {
    /// An error at `file:line:col`.
    pub fn at(file: &str, line: usize, failure: Failure) -> ImportError {
        ImportError {
            message: format!("{file}:{line}:{}: expected {}", failure.0, failure.1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_styles() {
        let l = parse_line("1234 epoll_wait(3<anon_inode:[eventpoll]>, [], 10, 0) = 0")
            .unwrap()
            .unwrap();
        assert_eq!(l.pid, Some(1234));
        let l = parse_line("[pid  77] 12:00:01.123456 read(5<TCPv4:[1.2.3.4:5->6.7.8.9:10]>, \"ab\"..., 4) = 4 <0.000010>").unwrap().unwrap();
        assert_eq!(l.pid, Some(77));
        match l.kind {
            LineKind::Call { name, result, .. } => {
                assert_eq!(name, "read");
                assert_eq!(result.value, Some(4));
            }
            other => panic!("{other:?}"),
        }
        let l = parse_line("     0.000123 accept4(3, NULL, NULL, SOCK_NONBLOCK) = -1 EAGAIN (Resource temporarily unavailable)").unwrap().unwrap();
        match l.kind {
            LineKind::Call { result, .. } => assert_eq!(result.errno, Some("EAGAIN")),
            other => panic!("{other:?}"),
        }
        let l = parse_line("epoll_create1(EPOLL_CLOEXEC) = 3<anon_inode:[eventpoll]>")
            .unwrap()
            .unwrap();
        match l.kind {
            LineKind::Call { result, .. } => {
                assert_eq!(result.decoration, Some("anon_inode:[eventpoll]"))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_line("5 epoll_wait(3,  <unfinished ...>")
                .unwrap()
                .unwrap()
                .kind,
            LineKind::Unfinished { .. }
        ));
        assert!(matches!(
            parse_line("5 <... epoll_wait resumed>[], 10, -1) = ? ERESTARTSYS (To be restarted if SA_RESTART is set)").unwrap().unwrap().kind,
            LineKind::Resumed { .. }
        ));
        assert!(matches!(
            parse_line("5 --- SIGINT {si_signo=SIGINT, si_code=SI_KERNEL} ---")
                .unwrap()
                .unwrap()
                .kind,
            LineKind::Signal { name: "SIGINT" }
        ));
        assert!(matches!(
            parse_line("5 +++ killed by SIGKILL (core dumped) +++")
                .unwrap()
                .unwrap()
                .kind,
            LineKind::Killed { signal: "SIGKILL" }
        ));
        assert!(parse_line("5 read(3, \"abc, 4) = 3").is_err());
        assert!(parse_line("5 read(3, 4) 3").is_err());
    }
}
