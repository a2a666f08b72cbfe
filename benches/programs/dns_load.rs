//! The DNS server's own limit for `scripts/bench.sh`: how many TSIG-signed RFC 2136 updates
//! per second the server accepts from N tight clients that do nothing else. Each client is a
//! thread with its own hostnames; every message replaces the A rrset of K of them (RFC 2136
//! §2.5.2 "delete an rrset" then §2.5.1 "add to an rrset", as ddns-cgi's updates do) with an
//! address that differs from the previous one, so the server commits a real change every
//! time (an update that changes nothing is a no-op for Knot and BIND, and would flatter them).
//! K = 1 is what one ddns-cgi request costs the server; K = 8, 32, 64 is the ceiling of a
//! group commit that sends many hosts in one message.
//!
//! `expire` mode measures the other side of batching: it publishes N hosts (untimed, in
//! batches), then deletes each in its own message guarded by a value-dependent prerequisite
//! (RFC 2136 §2.4.2), from one client over UDP, as `ddns-cgi expire`'s per-host fallback does.
//!
//! Besides p50 and p99 it reports the slowest answer and how many took 0.5 s or more: a
//! server that stalls now and then shows there and not in p99. `--think-ms` makes each client
//! pause between an answer and its next message, as a web front does; `--trace-slow` prints
//! when each slow message was sent. Together they reproduce Knot 3.2's one-second stalls
//! (BENCHMARKS.md, "What one run does").
//!
//! This program builds and signs its messages with hickory-proto directly and shares no code
//! with ddns-cgi on purpose: it measures the server, not our client. The TSIG key is read from
//! a file (`algorithm:name:base64-secret`), never from the command line, so it does not show
//! in process listings. It prints one `key=value` line for the script to parse.

// This program's report is its stdout; the crate-wide lint guards ddns-cgi's CGI wire.
#![allow(clippy::print_stdout)]

use std::error::Error;
use std::io::{self, Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use clap::{Parser, ValueEnum};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode, UpdateMessage as _};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::rdata::tsig::TsigAlgorithm;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType, TSigner};

type BoxError = Box<dyn Error + Send + Sync>;

/// Allowed clock difference for TSIG (RFC 8945 §10 recommends 300 seconds).
const TSIG_FUDGE: u16 = 300;
/// Hosts per message while `expire` mode publishes its hosts.
const PUBLISH_BATCH: usize = 64;

#[derive(Debug, Parser)]
#[command(about = "Signed RFC 2136 updates in a tight loop: the DNS server's own rate")]
struct Args {
    /// The server accepting updates, ip:port
    #[arg(long)]
    server: SocketAddr,
    /// The zone to update
    #[arg(long)]
    zone: String,
    /// File holding `algorithm:key-name:base64-secret` (hmac-sha256/384/512)
    #[arg(long, value_name = "PATH")]
    key_file: PathBuf,
    /// Concurrent clients, one thread each
    #[arg(long, default_value_t = 1)]
    clients: usize,
    /// How long each client keeps sending
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Hosts whose A rrset each message replaces
    #[arg(long, default_value_t = 1)]
    hosts_per_message: usize,
    #[arg(long, value_enum, default_value_t = Transport::Udp)]
    transport: Transport,
    /// First label of the hostnames (`LABEL-CLIENT-HOST.ZONE`)
    #[arg(long, default_value = "load")]
    label: String,
    /// Instead of the loop: publish this many hosts, then delete each in its own message
    #[arg(long, value_name = "N_HOSTS")]
    expire: Option<usize>,
    /// Answer timeout per message, in milliseconds
    #[arg(long, default_value_t = 5000)]
    timeout_ms: u64,
    /// Print to stderr every message that took at least this long (ms), with the wall
    /// clock time it was sent: stalls of the server show as many clients at one moment
    #[arg(long, value_name = "MS")]
    trace_slow: Option<u64>,
    /// Pause of each client between an answer and its next message, in milliseconds (a
    /// client that does other work between updates, as a web front does)
    #[arg(long, default_value_t = 0)]
    think_ms: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Transport {
    /// A connected UDP socket per client (what ddns-cgi uses for one host)
    Udp,
    /// One persistent TCP connection per client (RFC 1035 §4.2.2 framing)
    Tcp,
}

/// What a client needs to sign and send.
#[derive(Debug)]
struct Target {
    server: SocketAddr,
    zone: Name,
    key_name: Name,
    algorithm: TsigAlgorithm,
    secret: Vec<u8>,
    timeout: Duration,
}

/// One client's figures.
#[derive(Debug, Default)]
struct Tally {
    messages: u64,
    errors: u64,
    first_error: Option<String>,
    latencies_us: Vec<u64>,
    /// Messages that took at least `--trace-slow`: (sent, seconds since the epoch; took).
    slow: Vec<(f64, Duration)>,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("dns_load: error: {e}");
        std::process::exit(2);
    }
}

fn run(args: &Args) -> Result<(), BoxError> {
    let target = Arc::new(read_target(args)?);
    if let Some(n_hosts) = args.expire {
        return expire(&target, &args.label, n_hosts);
    }
    if args.clients == 0 || args.hosts_per_message == 0 {
        return Err("--clients and --hosts-per-message must be at least 1".into());
    }
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let handles: Vec<_> = (0..args.clients)
        .map(|client| {
            let (target, stop) = (Arc::clone(&target), Arc::clone(&stop));
            let names: Result<Vec<Name>, BoxError> =
                (0..args.hosts_per_message).map(|h| host_name(&args.label, client, h, &target.zone)).collect();
            let pace = Pace {
                transport: args.transport,
                trace_slow: args.trace_slow.map(Duration::from_millis),
                think: Duration::from_millis(args.think_ms),
            };
            std::thread::spawn(move || names.map(|names| client_loop(&target, client, &names, &pace, &stop)))
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(args.seconds));
    stop.store(true, Ordering::Relaxed);
    let mut total = Tally::default();
    for handle in handles {
        let tally = handle.join().map_err(|_| "a client thread panicked")??;
        total.messages += tally.messages;
        total.errors += tally.errors;
        total.first_error = total.first_error.or(tally.first_error);
        total.latencies_us.extend(tally.latencies_us);
        total.slow.extend(tally.slow);
    }
    total.slow.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (sent, took) in &total.slow {
        eprintln!("dns_load: slow: sent at {sent:.3}, answered after {:.1} ms", took.as_secs_f64() * 1000.0);
    }
    let elapsed = started.elapsed().as_secs_f64();
    if let Some(e) = &total.first_error {
        eprintln!("dns_load: {} failed messages, the first: {e}", total.errors);
    }
    total.latencies_us.sort_unstable();
    let ok = total.messages - total.errors;
    println!(
        "dns_load clients={} hosts_per_message={} transport={:?} seconds={:.2} messages={} errors={} \
         messages_per_s={:.1} updates_per_s={:.1} p50_ms={:.2} p99_ms={:.2} max_ms={:.2} over_500ms={}",
        args.clients,
        args.hosts_per_message,
        args.transport,
        elapsed,
        total.messages,
        total.errors,
        ok as f64 / elapsed,
        (ok as f64) * (args.hosts_per_message as f64) / elapsed,
        percentile(&total.latencies_us, 50.0) as f64 / 1000.0,
        percentile(&total.latencies_us, 99.0) as f64 / 1000.0,
        total.latencies_us.last().copied().unwrap_or(0) as f64 / 1000.0,
        total.latencies_us.iter().filter(|&&us| us >= 500_000).count(),
    );
    Ok(())
}

fn read_target(args: &Args) -> Result<Target, BoxError> {
    let text = std::fs::read_to_string(&args.key_file)
        .map_err(|e| format!("cannot read `{}`: {e}", args.key_file.display()))?;
    let mut parts = text.trim().splitn(3, ':');
    let (Some(alg), Some(name), Some(secret)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("`{}` must hold `algorithm:name:base64-secret`", args.key_file.display()).into());
    };
    let algorithm = match alg {
        "hmac-sha256" => TsigAlgorithm::HmacSha256,
        "hmac-sha384" => TsigAlgorithm::HmacSha384,
        "hmac-sha512" => TsigAlgorithm::HmacSha512,
        other => return Err(format!("unsupported TSIG algorithm `{other}`").into()),
    };
    let secret =
        base64::engine::general_purpose::STANDARD.decode(secret.trim()).map_err(|_| "the TSIG secret is not base64")?;
    Ok(Target {
        server: args.server,
        zone: Name::from_ascii(fqdn(&args.zone))?,
        key_name: Name::from_ascii(fqdn(name))?,
        algorithm,
        secret,
        timeout: Duration::from_millis(args.timeout_ms),
    })
}

fn fqdn(s: &str) -> String {
    if s.ends_with('.') { s.to_owned() } else { format!("{s}.") }
}

fn host_name(label: &str, client: usize, host: usize, zone: &Name) -> Result<Name, BoxError> {
    Ok(Name::from_ascii(format!("{label}-{client}-{host}"))?.append_domain(zone)?)
}

/// Sends messages until `stop`: each replaces every host's A rrset with the next address.
/// How a client sends: its transport, which messages it reports, its pause between messages.
#[derive(Debug)]
struct Pace {
    transport: Transport,
    trace_slow: Option<Duration>,
    think: Duration,
}

fn client_loop(target: &Target, client: usize, names: &[Name], pace: &Pace, stop: &AtomicBool) -> Tally {
    let mut tally = Tally::default();
    let mut conn = Conn::new(pace.transport);
    let mut round: u32 = 0;
    while !stop.load(Ordering::Relaxed) {
        if round > 0 && !pace.think.is_zero() {
            std::thread::sleep(pace.think);
        }
        round = round.wrapping_add(1);
        let sent = SystemTime::now();
        let result = replace_all(target, client, names, round).and_then(|m| {
            let started = Instant::now();
            conn.exchange(target, m).map(|()| started.elapsed())
        });
        tally.messages += 1;
        match result {
            Ok(took) => {
                tally.latencies_us.push(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
                if pace.trace_slow.is_some_and(|t| took >= t) {
                    let at = sent.duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
                    tally.slow.push((at, took));
                }
            }
            Err(e) => {
                tally.errors += 1;
                tally.first_error.get_or_insert_with(|| e.to_string());
                // Do not spin on a server that is gone.
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
    tally
}

/// Address `round` of a client: 10.CLIENT.x.y, different from the previous round's.
fn address(client: usize, round: u32) -> Ipv4Addr {
    let [_, _, hi, lo] = (round % 65_000 + 1).to_be_bytes();
    Ipv4Addr::new(10, (client % 256) as u8, hi, lo)
}

fn replace_all(target: &Target, client: usize, names: &[Name], round: u32) -> Result<Message, BoxError> {
    let mut message = update_message(&target.zone);
    for name in names {
        message.add_update(delete_rrset(name));
        message.add_update(Record::from_rdata(name.clone(), 60, RData::A(A(address(client, round)))));
    }
    Ok(message)
}

fn update_message(zone: &Name) -> Message {
    let mut zone_query = Query::new();
    zone_query.set_name(zone.clone()).set_query_class(DNSClass::IN).set_query_type(RecordType::SOA);
    let id = getrandom::u32().map(|v| v as u16).unwrap_or(0);
    let mut message = Message::new(id, MessageType::Query, OpCode::Update);
    message.add_zone(zone_query);
    message
}

/// RFC 2136 §2.5.2: CLASS ANY, TTL 0, empty RDATA deletes the whole rrset.
fn delete_rrset(name: &Name) -> Record {
    let mut r = Record::update0(name.clone(), 0, RecordType::A);
    r.dns_class = DNSClass::ANY;
    r
}

/// `expire` mode: publish `n_hosts` hosts in batches, then time one guarded deletion per host.
fn expire(target: &Target, label: &str, n_hosts: usize) -> Result<(), BoxError> {
    let names: Vec<Name> =
        (0..n_hosts).map(|h| host_name(&format!("{label}x"), 0, h, &target.zone)).collect::<Result<_, _>>()?;
    let mut tcp = Conn::new(Transport::Tcp);
    for chunk in names.chunks(PUBLISH_BATCH) {
        tcp.exchange(target, replace_all(target, 0, chunk, 1)?)?;
    }
    let mut udp = Conn::new(Transport::Udp);
    let started = Instant::now();
    for name in &names {
        let mut message = update_message(&target.zone);
        // RFC 2136 §2.4.2: the rrset must hold exactly the published value.
        message.add_pre_requisite(Record::from_rdata(name.clone(), 0, RData::A(A(address(0, 1)))));
        message.add_update(delete_rrset(name));
        udp.exchange(target, message)?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "dns_load expire hosts={n_hosts} messages={n_hosts} seconds={elapsed:.3} messages_per_s={:.1}",
        n_hosts as f64 / elapsed
    );
    Ok(())
}

/// A client's transport: a connected UDP socket, or a TCP connection kept open across
/// messages (reopened after an error).
#[derive(Debug)]
enum Conn {
    Udp(Option<UdpSocket>),
    Tcp(Option<TcpStream>),
}

impl Conn {
    fn new(transport: Transport) -> Conn {
        match transport {
            Transport::Udp => Conn::Udp(None),
            Transport::Tcp => Conn::Tcp(None),
        }
    }

    /// Signs, sends, and checks that the answer is a NOERROR with a valid TSIG.
    fn exchange(&mut self, target: &Target, mut message: Message) -> Result<(), BoxError> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let signer =
            TSigner::new(target.secret.clone(), target.algorithm.clone(), target.key_name.clone(), TSIG_FUDGE)?;
        let verifier = message.finalize(&signer, now)?;
        let request = message.to_vec()?;
        let id = message.metadata.id;
        let answer = match self {
            Conn::Udp(socket) => {
                let result = udp_exchange(socket, target, &request, id);
                if result.is_err() {
                    *socket = None;
                }
                result?
            }
            Conn::Tcp(stream) => {
                let result = tcp_exchange(stream, target, &request, id);
                if result.is_err() {
                    *stream = None;
                }
                result?
            }
        };
        let response = Message::from_vec(&answer)?;
        let rcode = response.metadata.response_code;
        if rcode != ResponseCode::NoError {
            return Err(format!("the server answered rcode {}", u16::from(rcode)).into());
        }
        let mut verifier = verifier.ok_or("no TSIG verifier for the request")?;
        verifier.verify(&answer).map_err(|e| format!("answer failed TSIG verification: {e}"))?;
        Ok(())
    }
}

fn udp_exchange(socket: &mut Option<UdpSocket>, target: &Target, request: &[u8], id: u16) -> Result<Vec<u8>, BoxError> {
    let socket = match socket {
        Some(s) => s,
        None => {
            let s = UdpSocket::bind(("127.0.0.1", 0))?;
            s.connect(target.server)?;
            s.set_read_timeout(Some(target.timeout))?;
            socket.insert(s)
        }
    };
    socket.send(request)?;
    let mut buf = vec![0u8; 65_535];
    loop {
        let n = socket.recv(&mut buf)?;
        // A late answer to an earlier, timed-out message has another id.
        if n >= 12 && u16::from_be_bytes([buf[0], buf[1]]) == id {
            buf.truncate(n);
            if buf[2] & 0x02 != 0 {
                return Err("answer truncated over UDP".into());
            }
            return Ok(buf);
        }
    }
}

fn tcp_exchange(stream: &mut Option<TcpStream>, target: &Target, request: &[u8], id: u16) -> Result<Vec<u8>, BoxError> {
    let stream = match stream {
        Some(s) => s,
        None => {
            let s = TcpStream::connect_timeout(&target.server, target.timeout)?;
            s.set_nodelay(true)?;
            s.set_read_timeout(Some(target.timeout))?;
            s.set_write_timeout(Some(target.timeout))?;
            stream.insert(s)
        }
    };
    let len = u16::try_from(request.len()).map_err(|_| "message exceeds 65535 octets")?;
    let mut framed = Vec::with_capacity(request.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(request);
    stream.write_all(&framed)?;
    let mut len = [0u8; 2];
    stream.read_exact(&mut len)?;
    let mut answer = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut answer)?;
    if answer.len() < 12 || u16::from_be_bytes([answer[0], answer[1]]) != id {
        return Err(io::Error::other("answer over TCP has another id").into());
    }
    Ok(answer)
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}
