//! The arguments of a call as strace prints them: split at the top-level commas, and
//! read as descriptors (`5<pipe:[123]>`), flag sets (`EPOLLIN|EPOLLET`, `0x1 /*
//! EPOLLIN */`, `0x80000`), `struct epoll_event`s in both styles (`{EPOLLIN, {u32=4,
//! u64=4}}` and `{events=EPOLLIN, data={u32=4, u64=4}}`) and arrays of them.

use super::line::{decoration_end, parse_int};

/// The top-level arguments (strings, brackets, decorations and comments kept whole).
pub fn split(text: &str) -> Vec<&str> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'<' if i > 0 && b[i - 1].is_ascii_digit() => {
                i = decoration_end(b, i).unwrap_or(b.len());
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = text[i..].find("*/").map_or(b.len(), |e| i + e + 2);
                continue;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b',' if depth == 0 => {
                out.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    let last = text[start..].trim();
    if !last.is_empty() || !out.is_empty() {
        out.push(last);
    }
    out
}

/// A descriptor argument: its number and decoration. `None` for anything else.
pub fn fd(text: &str) -> Option<(i64, Option<&str>)> {
    let text = text.trim();
    match text.find('<') {
        Some(lt) => {
            let n = parse_int(&text[..lt])?;
            let end = decoration_end(text.as_bytes(), lt)?;
            Some((n, Some(&text[lt + 1..end - 1])))
        }
        None => parse_int(strip_comment(text)).map(|n| (n, None)),
    }
}

/// `0x1 /* X */` → `0x1`.
fn strip_comment(text: &str) -> &str {
    match text.find("/*") {
        Some(i) => text[..i].trim(),
        None => text.trim(),
    }
}

/// A flag set: names joined by `|`, numbers, `-X verbose` comments; unknown names are
/// `None`.
pub fn flags(text: &str, names: &[(&str, u64)]) -> Option<u64> {
    let text = strip_comment(text);
    let mut value = 0u64;
    for part in text.split('|') {
        let part = part.trim();
        if part.is_empty() {
            return None;
        }
        if let Some(v) = parse_int(part) {
            value |= v as u64;
        } else if let Some(&(_, v)) = names.iter().find(|(n, _)| *n == part) {
            value |= v;
        } else {
            return None;
        }
    }
    Some(value)
}

/// The epoll event bits by name.
pub const EPOLL_BITS: &[(&str, u64)] = &[
    ("EPOLLIN", 0x1),
    ("EPOLLPRI", 0x2),
    ("EPOLLOUT", 0x4),
    ("EPOLLERR", 0x8),
    ("EPOLLHUP", 0x10),
    ("EPOLLNVAL", 0x20),
    ("EPOLLRDNORM", 0x40),
    ("EPOLLRDBAND", 0x80),
    ("EPOLLWRNORM", 0x100),
    ("EPOLLWRBAND", 0x200),
    ("EPOLLMSG", 0x400),
    ("EPOLLRDHUP", 0x2000),
    ("EPOLL_URING_WAKE", 1 << 27),
    ("EPOLLEXCLUSIVE", 1 << 28),
    ("EPOLLWAKEUP", 1 << 29),
    ("EPOLLONESHOT", 1 << 30),
    ("EPOLLET", 1 << 31),
];

/// Open flags, socket type flags, eventfd and epoll_create1 flags (the bits the
/// importer looks at: non-blocking, close-on-exec, semaphore).
pub const FD_FLAGS: &[(&str, u64)] = &[
    ("O_RDONLY", 0),
    ("O_WRONLY", 1),
    ("O_RDWR", 2),
    ("O_NONBLOCK", 0o4000),
    ("O_CLOEXEC", 0o2000000),
    ("SOCK_NONBLOCK", 0o4000),
    ("SOCK_CLOEXEC", 0o2000000),
    ("EFD_NONBLOCK", 0o4000),
    ("EFD_CLOEXEC", 0o2000000),
    ("EFD_SEMAPHORE", 1),
    ("EPOLL_CLOEXEC", 0o2000000),
    ("TFD_NONBLOCK", 0o4000),
    ("TFD_CLOEXEC", 0o2000000),
    ("SFD_NONBLOCK", 0o4000),
    ("SFD_CLOEXEC", 0o2000000),
    ("FD_CLOEXEC", 1),
    ("SOCK_STREAM", 1),
    ("SOCK_DGRAM", 2),
    ("SOCK_RAW", 3),
    ("SOCK_SEQPACKET", 5),
];

pub const O_NONBLOCK: u64 = 0o4000;
pub const O_CLOEXEC: u64 = 0o2000000;

/// Reads a flag argument, tolerating names the table does not have (they count as 0):
/// only the bits the importer uses matter.
pub fn fd_flags(text: &str) -> u64 {
    let text = strip_comment(text);
    text.split('|')
        .map(|part| {
            let part = part.trim();
            parse_int(part)
                .map(|v| v as u64)
                .or_else(|| FD_FLAGS.iter().find(|(n, _)| *n == part).map(|&(_, v)| v))
                .unwrap_or(0)
        })
        .fold(0, |a, b| a | b)
}

/// A `struct epoll_event`: `(events, data)`. `None` for `NULL`, an address, or a shape
/// that is not one.
pub fn epoll_event(text: &str) -> Option<(u32, u64)> {
    let inner = text.trim().strip_prefix('{')?.strip_suffix('}')?;
    let parts = split(inner);
    if parts.len() < 2 {
        return None;
    }
    let events_text = parts[0].strip_prefix("events=").unwrap_or(parts[0]);
    let events = flags(events_text, EPOLL_BITS)? as u32;
    let data_text = parts[1..].join(", ");
    let data_text = data_text.strip_prefix("data=").unwrap_or(&data_text);
    Some((events, epoll_data(data_text)?))
}

/// `{u32=4, u64=4}`: the u64 (or the u32, or a bare number).
fn epoll_data(text: &str) -> Option<u64> {
    let text = text.trim();
    if let Some(inner) = text.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
        let mut u32_value = None;
        for part in split(inner) {
            if let Some(v) = part.strip_prefix("u64=") {
                return parse_int(v).map(|v| v as u64);
            }
            if let Some(v) = part.strip_prefix("u32=") {
                u32_value = parse_int(v).map(|v| v as u64);
            }
            if let Some(v) = part.strip_prefix("fd=") {
                u32_value = parse_int(v).map(|v| v as u64);
            }
        }
        return u32_value;
    }
    parse_int(strip_comment(text)).map(|v| v as u64)
}

/// `[{...}, {...}]` → the events; `None` for an address or another shape.
pub fn epoll_events(text: &str) -> Option<Vec<(u32, u64)>> {
    let inner = text.trim().strip_prefix('[')?.strip_suffix(']')?;
    if inner.trim().is_empty() {
        return Some(Vec::new());
    }
    split(inner).into_iter().map(epoll_event).collect()
}

/// `[4<pipe:[1]>, 5<pipe:[1]>]` → the two descriptors.
pub fn fd_pair(text: &str) -> Option<[(i64, Option<&str>); 2]> {
    let inner = text.trim().strip_prefix('[')?.strip_suffix(']')?;
    let parts = split(inner);
    if parts.len() != 2 {
        return None;
    }
    Some([fd(parts[0])?, fd(parts[1])?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_in_both_styles() {
        assert_eq!(
            epoll_event("{events=EPOLLIN|EPOLLET, data={u32=4, u64=4}}"),
            Some((0x8000_0001, 4))
        );
        assert_eq!(epoll_event("{EPOLLIN, {u32=4, u64=4}}"), Some((1, 4)));
        assert_eq!(
            epoll_event("{events=0x1 /* EPOLLIN */, data={u32=11, u64=11}}"),
            Some((1, 11))
        );
        assert_eq!(
            epoll_events("[{events=EPOLLIN, data={u32=4, u64=4}}, {EPOLLOUT, {u32=5, u64=5}}]"),
            Some(vec![(1, 4), (4, 5)])
        );
        assert_eq!(epoll_events("[]"), Some(vec![]));
        assert_eq!(
            split("3<UNIX-STREAM:[1->2]>, \"a,b\"..., {x, y}, 4"),
            vec!["3<UNIX-STREAM:[1->2]>", "\"a,b\"...", "{x, y}", "4"]
        );
        assert_eq!(
            fd("1</dev/null<char 1:3>>"),
            Some((1, Some("/dev/null<char 1:3>")))
        );
        assert_eq!(fd_flags("0x80800 /* O_NONBLOCK|O_CLOEXEC */"), 0x80800);
        assert_eq!(
            fd_flags("SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK"),
            1 | O_CLOEXEC | O_NONBLOCK
        );
    }
}
