//! Connections between traced processes: which traced `connect` each `accept` returned.
//!
//! Read before the world is rebuilt (the accept may return before the client's connect
//! does, so the match cannot wait for the walk in return order). A listener is a
//! successful `listen` of a socket whose address the recording shows — its `bind`
//! (`{sa_family=AF_UNIX, sun_path="..."}`, `{sa_family=AF_INET, sin_port=htons(P),
//! sin_addr=inet_addr("A")}`, AF_INET6 alike) or its `-yy` decoration
//! (`UNIX-STREAM:[ino,"path"]`, `TCP:[0.0.0.0:P]`). A client is a `connect` of a traced
//! process to a listener's address (a wildcard host matches any) that returned 0 or
//! EINPROGRESS and began after the listen returned. An accept on the listener is joined to the client it returned:
//!
//! - by the accepted socket's `-yy` decoration when it has one: an AF_UNIX peer inode
//!   (`UNIX-STREAM:[server->client,...]`) names the connecting socket's inode; TCP
//!   endpoints (`TCP:[server:P->client:Q]`) name the client whose own socket later shows
//!   `TCP:[client:Q->server:P]`. A decorated accept that names no traced client is a
//!   connection from an untraced one;
//! - without decorations (or with `-y`'s `socket:[ino]`, which names no peer), in
//!   order: the first client not yet joined that started its connect before the accept
//!   returned (a listener's queue is first in, first out).
//!   With untraced clients of the same address in the recording this may pair wrongly;
//!   `-yy` recordings do not depend on it.

use std::collections::BTreeMap;

use super::args;
use super::world::Call;

/// A call, named by its task and the line it returned on.
pub type CallKey = (u32, usize);

/// One connection whose both ends are traced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Join {
    /// The listener's address as its `bind` or decoration shows it (what `listen_on` and
    /// `connect_to` name).
    pub address: String,
    pub listen: CallKey,
    pub connect: CallKey,
    pub connect_start_line: usize,
    pub accept: CallKey,
}

/// Every join of a recording.
#[derive(Clone, Debug, Default)]
pub struct Joins {
    pub joins: Vec<Join>,
    pub by_accept: BTreeMap<CallKey, usize>,
    pub by_connect: BTreeMap<CallKey, usize>,
    /// Listens some join uses: their address.
    pub listens: BTreeMap<CallKey, String>,
}

impl Joins {
    /// Joins on `address` whose client had started its connect before `line` and whose
    /// accept returns at `line` or later: connections queued on the listener then.
    pub fn queued_at(&self, address: &str, line: usize) -> usize {
        self.joins
            .iter()
            .filter(|j| j.address == address && j.connect_start_line < line && j.accept.1 >= line)
            .count()
    }
}

struct Listener {
    process: u32,
    fd: i64,
    address: String,
    key: CallKey,
    closed_line: Option<usize>,
}

struct Client {
    key: CallKey,
    start_line: usize,
    address: String,
    /// The socket's inode (`UNIX-STREAM:[ino]`, `TCP:[ino]`).
    inode: Option<String>,
    /// Its own TCP endpoint, from a later decoration of the descriptor.
    local: Option<String>,
    joined: bool,
}

/// Finds the joins. `process_of` maps a task to its process (threads share listeners).
pub(super) fn find(calls: &[Call], process_of: &dyn Fn(u32) -> u32) -> Joins {
    let mut bound: BTreeMap<(u32, i64), String> = BTreeMap::new();
    let mut listeners: Vec<Listener> = Vec::new();
    let mut clients: Vec<Client> = Vec::new();
    let mut accepts: Vec<(CallKey, u32, i64, Option<&str>)> = Vec::new();
    for (index, call) in calls.iter().enumerate() {
        if call.signal || call.errno.is_some() && call.errno != Some("EINPROGRESS") {
            continue;
        }
        let process = process_of(call.pid);
        let a = args::split(&call.args);
        let first = a.first().and_then(|t| args::fd(t));
        match (call.name, first) {
            ("bind", Some((fd, _))) => {
                if let Some(address) = a.get(1).and_then(|t| sockaddr(t)) {
                    bound.insert((process, fd), address);
                }
            }
            ("listen", Some((fd, decoration))) => {
                let address = bound
                    .get(&(process, fd))
                    .cloned()
                    .or_else(|| decoration.and_then(decorated_address));
                // A second listen of a listening socket changes its backlog only.
                let listening = listeners
                    .iter()
                    .any(|l| l.process == process && l.fd == fd && l.closed_line.is_none());
                if let (Some(address), false) = (address, listening) {
                    listeners.push(Listener {
                        process,
                        fd,
                        address,
                        key: (call.pid, call.end_line),
                        closed_line: None,
                    });
                }
            }
            ("close", Some((fd, _))) => {
                bound.remove(&(process, fd));
                for l in listeners.iter_mut() {
                    if l.process == process && l.fd == fd && l.closed_line.is_none() {
                        l.closed_line = Some(call.end_line);
                    }
                }
            }
            ("connect", Some((fd, decoration))) => {
                let Some(address) = a.get(1).and_then(|t| sockaddr(t)) else {
                    continue;
                };
                let inode = decoration.and_then(inode_of);
                let local = decoration
                    .and_then(endpoints)
                    .map(|(local, _)| local)
                    .or_else(|| later_endpoint(calls, index, call.pid, fd));
                clients.push(Client {
                    key: (call.pid, call.end_line),
                    start_line: call.start_line,
                    address,
                    inode,
                    local,
                    joined: false,
                });
            }
            ("accept" | "accept4", Some((fd, _))) if call.value.is_some_and(|v| v >= 0) => {
                accepts.push(((call.pid, call.end_line), process, fd, call.decoration));
            }
            _ => {}
        }
    }
    let mut joins = Joins::default();
    for (key, process, fd, decoration) in accepts {
        let Some(listener) = listeners.iter().rev().find(|l| {
            l.process == process
                && l.fd == fd
                && l.key.1 <= key.1
                && l.closed_line.is_none_or(|c| c >= key.1)
        }) else {
            continue;
        };
        let peer = decoration.and_then(peer_of);
        let candidates = clients.iter_mut().filter(|c| {
            !c.joined
                && c.start_line < key.1
                && c.start_line > listener.key.1
                && address_matches(&listener.address, &c.address)
        });
        let chosen = match &peer {
            Some(Peer::Inode(inode)) => candidates
                .into_iter()
                .find(|c| c.inode.as_deref() == Some(inode.as_str())),
            Some(Peer::Endpoint(remote)) => candidates
                .into_iter()
                .find(|c| c.local.as_deref() == Some(remote.as_str())),
            None => candidates.min_by_key(|c| c.start_line),
        };
        let Some(client) = chosen else {
            continue;
        };
        client.joined = true;
        let index = joins.joins.len();
        joins.joins.push(Join {
            address: listener.address.clone(),
            listen: listener.key,
            connect: client.key,
            connect_start_line: client.start_line,
            accept: key,
        });
        joins.by_accept.insert(key, index);
        joins.by_connect.insert(client.key, index);
        joins.listens.insert(listener.key, listener.address.clone());
    }
    joins
}

/// How far ahead a connecting task's calls are searched for its socket's endpoints.
const ENDPOINT_LOOKAHEAD: usize = 4096;

/// The client's own endpoint of a TCP connection: the first later decoration of `fd`
/// in the same task's calls that shows both ends.
fn later_endpoint(calls: &[Call], index: usize, pid: u32, fd: i64) -> Option<String> {
    calls
        .iter()
        .skip(index + 1)
        .take(ENDPOINT_LOOKAHEAD)
        .filter(|c| c.pid == pid)
        .find_map(|c| {
            let first = args::split(&c.args).first().and_then(|t| args::fd(t));
            match first {
                Some((n, Some(decoration))) if n == fd => endpoints(decoration).map(|(l, _)| l),
                _ => None,
            }
        })
}

enum Peer {
    /// The connecting AF_UNIX socket's inode.
    Inode(String),
    /// The connecting TCP socket's endpoint.
    Endpoint(String),
}

/// `[...]` of a decoration `KIND:[...]`.
fn bracketed(decoration: &str) -> Option<(&str, &str)> {
    let open = decoration.find(":[")?;
    let inner = decoration[open + 2..].strip_suffix(']')?;
    Some((&decoration[..open], inner))
}

/// What an accepted socket's decoration says of its peer.
fn peer_of(decoration: &str) -> Option<Peer> {
    let (kind, inner) = bracketed(decoration)?;
    if kind.starts_with("UNIX") {
        let ends = inner.split(',').next()?;
        let (_, peer) = ends.split_once("->")?;
        return Some(Peer::Inode(peer.to_string()));
    }
    if kind.starts_with("TCP") {
        let (_, remote) = endpoints(decoration)?;
        return Some(Peer::Endpoint(remote));
    }
    None
}

/// A socket's inode from `UNIX-STREAM:[123]` or `TCP:[123]` (not yet connected).
fn inode_of(decoration: &str) -> Option<String> {
    let (_, inner) = bracketed(decoration)?;
    let first = inner.split(',').next()?;
    (!first.is_empty() && first.bytes().all(|b| b.is_ascii_digit())).then(|| first.to_string())
}

/// (local, remote) of `TCP:[a:p->b:q]`.
fn endpoints(decoration: &str) -> Option<(String, String)> {
    let (kind, inner) = bracketed(decoration)?;
    if !kind.starts_with("TCP") {
        return None;
    }
    let (local, remote) = inner.split_once("->")?;
    Some((local.to_string(), remote.to_string()))
}

/// A listening socket's address from its decoration: `UNIX-STREAM:[ino,"path"]` or
/// `TCP:[host:port]`.
fn decorated_address(decoration: &str) -> Option<String> {
    let (kind, inner) = bracketed(decoration)?;
    if kind.starts_with("UNIX") {
        let (_, path) = inner.split_once(',')?;
        let path = path.trim().strip_prefix('"')?.strip_suffix('"')?;
        return Some(path.to_string());
    }
    if kind.starts_with("TCP") && !inner.contains("->") && inner.contains(':') {
        return Some(inner.to_string());
    }
    None
}

/// A `struct sockaddr` as strace prints it: an AF_UNIX path (`@name` for an abstract
/// one), `host:port` for AF_INET, `[host]:port` for AF_INET6.
pub fn sockaddr(text: &str) -> Option<String> {
    let inner = text.trim().strip_prefix('{')?.strip_suffix('}')?;
    let fields = args::split(inner);
    let field = |name: &str| {
        fields
            .iter()
            .find_map(|f| f.strip_prefix(name).map(str::trim))
    };
    let family = field("sa_family=")?;
    let port = || {
        let p = field("sin_port=").or_else(|| field("sin6_port="))?;
        let p = p.strip_prefix("htons(").and_then(|p| p.strip_suffix(')'))?;
        super::line::parse_int(p)
    };
    match family {
        "AF_UNIX" | "AF_LOCAL" => {
            let path = field("sun_path=")?;
            let (abstract_name, path) = match path.strip_prefix('@') {
                Some(rest) => (true, rest),
                None => (false, path),
            };
            let path = path.strip_prefix('"')?.strip_suffix('"')?;
            Some(if abstract_name {
                format!("@{path}")
            } else {
                path.to_string()
            })
        }
        "AF_INET" => {
            let host = field("sin_addr=")?;
            let host = host
                .strip_prefix("inet_addr(\"")
                .and_then(|h| h.strip_suffix("\")"))?;
            Some(format!("{host}:{}", port()?))
        }
        "AF_INET6" => {
            let host = fields.iter().find_map(|f| {
                f.strip_prefix("inet_pton(AF_INET6, \"")
                    .and_then(|h| h.split('"').next())
            })?;
            Some(format!("[{host}]:{}", port()?))
        }
        _ => None,
    }
}

/// Whether a connect to `to` reaches a listener bound at `listener`: the same address,
/// or the same port on a wildcard host (`0.0.0.0`, `[::]`).
fn address_matches(listener: &str, to: &str) -> bool {
    if listener == to {
        return true;
    }
    let port = |a: &str| {
        a.rsplit_once(':')
            .map(|(h, p)| (h.to_string(), p.to_string()))
    };
    match (port(listener), port(to)) {
        (Some((host, p)), Some((_, q))) if !listener.starts_with('/') => {
            p == q && (host == "0.0.0.0" || host == "[::]")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockaddrs_read_as_addresses() {
        assert_eq!(
            sockaddr(r#"{sa_family=AF_UNIX, sun_path="/tmp/echo.sock"}"#).as_deref(),
            Some("/tmp/echo.sock")
        );
        assert_eq!(
            sockaddr(r#"{sa_family=AF_UNIX, sun_path=@"hidden"}"#).as_deref(),
            Some("@hidden")
        );
        assert_eq!(
            sockaddr(
                r#"{sa_family=AF_INET, sin_port=htons(5000), sin_addr=inet_addr("127.0.0.1")}"#
            )
            .as_deref(),
            Some("127.0.0.1:5000")
        );
        assert_eq!(
            sockaddr(r#"{sa_family=AF_INET6, sin6_port=htons(80), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}"#)
                .as_deref(),
            Some("[::1]:80")
        );
        assert_eq!(sockaddr("0x7ffd1234"), None);
    }

    #[test]
    fn wildcard_listeners_take_any_host_on_their_port() {
        assert!(address_matches("0.0.0.0:5000", "127.0.0.1:5000"));
        assert!(address_matches("127.0.0.1:5000", "127.0.0.1:5000"));
        assert!(!address_matches("127.0.0.1:5000", "127.0.0.2:5000"));
        assert!(!address_matches("0.0.0.0:5000", "127.0.0.1:5001"));
        assert!(!address_matches("/tmp/a", "/tmp/b"));
    }

    #[test]
    fn decorations_name_peers_and_addresses() {
        assert!(matches!(
            peer_of(r#"UNIX-STREAM:[9074166->9075014,"/tmp/echo.sock"]"#),
            Some(Peer::Inode(i)) if i == "9075014"
        ));
        assert!(matches!(
            peer_of("TCP:[127.0.0.1:5000->127.0.0.1:40000]"),
            Some(Peer::Endpoint(e)) if e == "127.0.0.1:40000"
        ));
        assert_eq!(
            inode_of("UNIX-STREAM:[9075014]").as_deref(),
            Some("9075014")
        );
        assert_eq!(
            decorated_address(r#"UNIX-STREAM:[9074155,"/tmp/echo.sock"]"#).as_deref(),
            Some("/tmp/echo.sock")
        );
        assert_eq!(
            decorated_address("TCP:[0.0.0.0:6379]").as_deref(),
            Some("0.0.0.0:6379")
        );
    }
}
