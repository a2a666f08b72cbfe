//! The listening socket of the FastCGI server: the one a web server left on fd 0
//! (`FCGI_LISTENSOCK_FILENO`, FastCGI §2.2), a unix or TCP socket bound from the options, and
//! `FCGI_WEB_SERVER_ADDRS` (§3.2), the TCP peers allowed to connect; `--listen` without it is
//! refused unless `--allow-any-local-user` says otherwise.

use std::io;
use std::net::IpAddr;
use std::os::fd::AsFd as _;
use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};

use super::{FastcgiError, Options};
use crate::log;

/// A listening socket, however it was obtained.
/// The listen backlog of a socket we bind (`--socket`, `--listen`): connections beyond
/// `--max-connections` wait there until a slot frees. std's 128 would drop the connects of a
/// reconnect storm (nginx opens one connection per request in flight; a full backlog refuses
/// a unix connect, and drops a TCP SYN until the client retries a second later). This is
/// systemd's `Backlog=` default; the kernel caps it at `net.core.somaxconn`.
const BACKLOG: i32 = 4096;

#[derive(Debug)]
pub(crate) enum Listener {
    Unix(std::os::unix::net::UnixListener),
    Tcp(std::net::TcpListener),
}

/// The listening socket a FastCGI-aware web server left on fd 0. The FastCGI specification
/// (§2.2) tells the two modes apart this way: on `FCGI_LISTENSOCK_FILENO` `getpeername` fails
/// with `ENOTCONN`; in CGI fd 0 is a pipe, a file or a connected socket.
pub(crate) fn stdin_listener() -> Option<Listener> {
    let fd = io::stdin().as_fd().try_clone_to_owned().ok()?;
    // std's unix stream performs `getpeername` on any socket family before it looks at the
    // address, so a TCP listener on fd 0 reports `ENOTCONN` here as well.
    let probe = std::os::unix::net::UnixStream::from(fd);
    let not_connected = probe.peer_addr().is_err_and(|e| e.kind() == io::ErrorKind::NotConnected);
    if !not_connected {
        return None;
    }
    let fd = std::os::fd::OwnedFd::from(probe);
    let unix = std::os::unix::net::UnixListener::from(fd);
    if unix.local_addr().is_ok() {
        return Some(Listener::Unix(unix));
    }
    Some(Listener::Tcp(std::net::TcpListener::from(std::os::fd::OwnedFd::from(unix))))
}

/// Binds the socket named by the options.
pub(crate) fn bind(options: &Options) -> Result<Option<Listener>, FastcgiError> {
    if let Some(path) = &options.socket {
        let listen_err = |source| FastcgiError::Listen { what: path.display().to_string(), source };
        // A socket left by a previous run (killed, or stopped without cleanup) blocks `bind`;
        // anything that is not a socket is left alone.
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
            std::fs::remove_file(path).map_err(listen_err)?;
        }
        let listener = std::os::unix::net::UnixListener::bind(path).map_err(listen_err)?;
        socket2::SockRef::from(&listener).listen(BACKLOG).map_err(listen_err)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(options.socket_mode)).map_err(listen_err)?;
        return Ok(Some(Listener::Unix(listener)));
    }
    if let Some(addr) = options.listen {
        let listen_err = |source| FastcgiError::Listen { what: addr.to_string(), source };
        let listener = std::net::TcpListener::bind(addr).map_err(listen_err)?;
        socket2::SockRef::from(&listener).listen(BACKLOG).map_err(listen_err)?;
        return Ok(Some(Listener::Tcp(listener)));
    }
    Ok(None)
}

/// Parses `FCGI_WEB_SERVER_ADDRS` (§3.2: comma-separated addresses). An entry that is not an
/// address is an error: dropping it could leave the list empty, which allows every peer.
pub(crate) fn web_server_addrs(value: &str) -> Result<Vec<IpAddr>, FastcgiError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| a.parse().map_err(|_| FastcgiError::WebServerAddrs { entry: log::bounded(a, 64).into_owned() }))
        .collect()
}

/// Refuses `--listen` without `FCGI_WEB_SERVER_ADDRS` unless `--allow-any-local-user` is
/// given; called before the socket is bound.
pub(crate) fn check_listen(options: &Options, allowed: &[IpAddr]) -> Result<(), FastcgiError> {
    match options.listen {
        Some(addr) if allowed.is_empty() && !options.allow_any_local_user => Err(FastcgiError::OpenTcp { addr }),
        _ => Ok(()),
    }
}

pub(super) enum AsyncListener {
    Unix(tokio::net::UnixListener),
    Tcp(tokio::net::TcpListener),
}

pub(super) enum Stream {
    Unix(tokio::net::UnixStream),
    Tcp(tokio::net::TcpStream),
}

impl AsyncListener {
    /// The next connection; `None` for a TCP peer outside `FCGI_WEB_SERVER_ADDRS`.
    pub(super) async fn accept(&self, allowed: &[IpAddr]) -> io::Result<Option<Stream>> {
        match self {
            AsyncListener::Unix(l) => Ok(Some(Stream::Unix(l.accept().await?.0))),
            AsyncListener::Tcp(l) => {
                let (s, peer) = l.accept().await?;
                let ip = peer.ip().to_canonical();
                Ok((allowed.is_empty() || allowed.contains(&ip)).then_some(Stream::Tcp(s)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_server_addrs_are_strict() {
        let ips = web_server_addrs(" 127.0.0.1, ::1 ,").expect("valid");
        assert_eq!(ips, ["127.0.0.1".parse::<IpAddr>().expect("ip"), "::1".parse().expect("ip")]);
        assert!(web_server_addrs("").expect("empty").is_empty());
        let err = web_server_addrs("127.0.0.1,localhost").expect_err("a name");
        assert!(matches!(&err, FastcgiError::WebServerAddrs { entry } if entry == "localhost"), "{err}");
    }
}
