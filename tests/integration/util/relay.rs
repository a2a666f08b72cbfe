//! A DNS relay for fault tests, placed between ddns-cgi and a real server. It listens on one
//! loopback port for UDP and TCP (RFC 1035 §4.2) and asks a plan, for each request, whether to
//! forward it (after a delay, with the answer tampered on the way back), to answer it itself
//! (as an off-path forger without the TSIG key would), or to drop it (a server that stopped
//! answering). Beyond [`reroute`], which points a test world's config at it, it knows only
//! the DNS wire format. It stops when dropped.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// How a request reached the relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Udp,
    Tcp,
}

/// What to do with one request.
pub enum Plan {
    /// Send it to the server; wait `delay`, then return the server's answer after `tamper`.
    Forward { delay: Duration, tamper: fn(&mut [u8]) },
    /// Answer this instead; the server never sees the request.
    Answer(Vec<u8>),
    /// Neither forward nor answer: the client waits for its timeout.
    Drop,
}

impl Plan {
    /// Forward unchanged.
    pub fn forward() -> Plan {
        Plan::Forward { delay: Duration::ZERO, tamper: |_| {} }
    }
}

type Planner = dyn Fn(Proto, &[u8]) -> Plan + Send + Sync;

/// A running relay.
pub struct Relay {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Relay {
    /// Starts a relay in front of `server` that follows `plan` for each request.
    pub fn start(server: SocketAddr, plan: impl Fn(Proto, &[u8]) -> Plan + Send + Sync + 'static) -> Relay {
        let (tcp, udp) = loop {
            let tcp = TcpListener::bind("127.0.0.1:0").expect("bind relay tcp");
            let port = tcp.local_addr().expect("relay addr").port();
            if let Ok(udp) = UdpSocket::bind(("127.0.0.1", port)) {
                break (tcp, udp);
            }
        };
        let addr = tcp.local_addr().expect("relay addr");
        let stop = Arc::new(AtomicBool::new(false));
        let plan: Arc<Planner> = Arc::new(plan);
        let threads = vec![
            {
                let (stop, plan) = (stop.clone(), plan.clone());
                std::thread::spawn(move || serve_udp(&udp, server, &stop, &plan))
            },
            {
                let (stop, plan) = (stop.clone(), plan.clone());
                std::thread::spawn(move || serve_tcp(&tcp, server, &stop, &plan))
            },
        ];
        Relay { addr, stop, threads }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn serve_udp(front: &UdpSocket, server: SocketAddr, stop: &Arc<AtomicBool>, plan: &Arc<Planner>) {
    front.set_read_timeout(Some(Duration::from_millis(50))).expect("timeout");
    let mut buf = [0u8; 65_535];
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, client)) = front.recv_from(&mut buf) else { continue };
        let request = buf[..n].to_vec();
        let front = front.try_clone().expect("clone relay socket");
        let plan = plan.clone();
        // One thread per datagram, so a delayed or dropped request does not hold up others.
        std::thread::spawn(move || {
            let answer = match plan(Proto::Udp, &request) {
                Plan::Drop => return,
                Plan::Answer(a) => a,
                Plan::Forward { delay, tamper } => {
                    let back = UdpSocket::bind("127.0.0.1:0").expect("bind back");
                    back.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
                    back.send_to(&request, server).expect("forward");
                    let mut buf = vec![0u8; 65_535];
                    let Ok(m) = back.recv(&mut buf) else { return };
                    buf.truncate(m);
                    std::thread::sleep(delay);
                    tamper(&mut buf);
                    buf
                }
            };
            let _ = front.send_to(&answer, client);
        });
    }
}

fn serve_tcp(listener: &TcpListener, server: SocketAddr, stop: &Arc<AtomicBool>, plan: &Arc<Planner>) {
    listener.set_nonblocking(true).expect("nonblocking");
    while !stop.load(Ordering::Relaxed) {
        let Ok((stream, _)) = listener.accept() else {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        let (stop, plan) = (stop.clone(), plan.clone());
        std::thread::spawn(move || serve_tcp_connection(stream, server, &stop, &plan));
    }
}

fn serve_tcp_connection(mut client: TcpStream, server: SocketAddr, stop: &AtomicBool, plan: &Arc<Planner>) {
    let _ = client.set_nonblocking(false);
    let _ = client.set_read_timeout(Some(Duration::from_secs(5)));
    while let Some(request) = read_framed(&mut client) {
        let answer = match plan(Proto::Tcp, &request) {
            Plan::Answer(a) => a,
            Plan::Drop => {
                // Keep the connection open and silent until the client gives up.
                let _ = client.set_read_timeout(Some(Duration::from_millis(50)));
                let mut sink = [0u8; 512];
                while !stop.load(Ordering::Relaxed) {
                    match client.read(&mut sink) {
                        Ok(0) => return,
                        Ok(_) => {}
                        Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                        }
                        Err(_) => return,
                    }
                }
                return;
            }
            Plan::Forward { delay, tamper } => {
                let Ok(mut back) = TcpStream::connect(server) else { return };
                let _ = back.set_read_timeout(Some(Duration::from_secs(5)));
                if write_framed(&mut back, &request).is_err() {
                    return;
                }
                let Some(mut answer) = read_framed(&mut back) else { return };
                std::thread::sleep(delay);
                tamper(&mut answer);
                answer
            }
        };
        if write_framed(&mut client, &answer).is_err() {
            return;
        }
    }
}

/// One message with its two-octet length (RFC 1035 §4.2.2).
fn read_framed(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).ok()?;
    let mut message = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut message).ok()?;
    Some(message)
}

fn write_framed(stream: &mut TcpStream, message: &[u8]) -> std::io::Result<()> {
    let mut framed = u16::try_from(message.len()).expect("message length").to_be_bytes().to_vec();
    framed.extend_from_slice(message);
    stream.write_all(&framed)
}

/// Points `world`'s zones at `relay` instead of the real server; `World::write_config`
/// points them back.
pub fn reroute(world: &super::World, relay: &Relay) {
    let real = format!("server = \"{}\"", world.dns.addr());
    world.edit_config(|c| c.replace(&real, &format!("server = \"{}\"", relay.addr)));
}

/// The number of prerequisite records of an UPDATE (RFC 2136 §2.2: the ANCOUNT field). Only
/// the expiry run sends prerequisites, so this tells its messages from client updates.
pub fn n_prerequisites(message: &[u8]) -> u16 {
    u16::from_be_bytes([message[6], message[7]])
}

/// An answer to `request` with `rcode` and no TSIG record, as someone without the key could
/// forge it: the request's id and opcode, QR set, the zone section copied, nothing else.
pub fn unsigned_answer(request: &[u8], rcode: u8) -> Vec<u8> {
    // The zone name is the first name in the message, so it is not compressed.
    let mut end = 12;
    while request[end] != 0 {
        end += 1 + usize::from(request[end]);
    }
    end += 1 + 4;
    let mut answer = request[..end].to_vec();
    answer[2] = 0x80 | (request[2] & 0x78);
    answer[3] = rcode & 0x0f;
    answer[6..12].fill(0);
    answer
}

/// Flips the last octet of the MAC of a signed answer. The TSIG RR is last, and its RDATA ends
/// with the original id, the error and the other-data length (6 octets).
pub fn corrupt_mac(answer: &mut [u8]) {
    let n = answer.len();
    if n > 7 {
        answer[n - 7] ^= 0xff;
    }
}

/// Gives the answer another message id; its TSIG still verifies, because the MAC covers the
/// original id kept inside the TSIG record (RFC 8945 §4.3.3).
pub fn rewrite_id(answer: &mut [u8]) {
    answer[0] ^= 0x5a;
    answer[1] ^= 0xa5;
}
