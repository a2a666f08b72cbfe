//! `hostname status FQDN`: what the world can see of a hostname now. It asks the zone's
//! primary and each read-back server (`confirm`) for the host's A, AAAA and TXT records and
//! the zone's SOA serial, unsigned, each query bounded by the zone's `timeout_ms`, and shows
//! one row per server. It reads no database and changes nothing: the records are what DNS
//! answers, not what the row holds (`hostname list` shows that).

use std::net::SocketAddr;

use hickory_proto::rr::{Name, RecordType};
use serde::Serialize;

use crate::cli::CliError;
use crate::config::{Config, Zone};
use crate::confirm;
use crate::dns;

use super::host_arg;
use super::render::{json, table};

/// One server's answers, as `--json` prints them.
#[derive(Debug, Serialize)]
struct ServerStatus {
    server: SocketAddr,
    /// `primary` (the zone's `server`) or `secondary` (a `confirm` server).
    role: &'static str,
    /// The zone's SOA serial it serves; `null` when it did not answer with one.
    serial: Option<u32>,
    a: Vec<String>,
    aaaa: Vec<String>,
    txt: Vec<String>,
    /// Why a query failed (the first failure); `null` when all were answered.
    error: Option<String>,
}

/// `hostname status FQDN [--json]`.
pub(super) fn status(config: &Config, fqdn: &str, as_json: bool) -> Result<String, CliError> {
    let fqdn = host_arg(fqdn)?;
    let Some(zone) = confirm::zone_of(config, &fqdn) else {
        return Err(CliError::not_found(format!("`{fqdn}` is in no configured zone")));
    };
    let name = Name::from_ascii(format!("{fqdn}."))
        .map_err(|e| CliError::failure(format!("`{fqdn}` is not a valid hostname: {e}")))?;
    let servers = std::iter::once((zone.server, "primary")).chain(zone.confirm.iter().map(|s| (*s, "secondary")));
    let rows: Vec<ServerStatus> = servers.map(|(server, role)| ask(zone, &name, server, role)).collect();
    if as_json {
        return json(&rows);
    }
    let cells = |v: &[String]| if v.is_empty() { "-".to_owned() } else { v.join(",") };
    let lines = rows
        .iter()
        .map(|r| {
            vec![
                r.server.to_string(),
                r.role.to_owned(),
                r.serial.map_or_else(|| "-".to_owned(), |s| s.to_string()),
                cells(&r.a),
                cells(&r.aaaa),
                cells(&r.txt),
                r.error.clone().unwrap_or_else(|| "-".to_owned()),
            ]
        })
        .collect();
    Ok(table(&["SERVER", "ROLE", "SERIAL", "A", "AAAA", "TXT", "ERROR"], lines))
}

fn ask(zone: &Zone, name: &Name, server: SocketAddr, role: &'static str) -> ServerStatus {
    let mut error = None;
    let mut keep = |e: dns::DnsError| {
        error.get_or_insert_with(|| e.to_string());
    };
    let serial = dns::soa_serial(server, &zone.name, zone.timeout).map_err(&mut keep).ok();
    let mut records =
        |rtype| dns::query_rrset(server, name, rtype, zone.timeout).map_err(&mut keep).unwrap_or_default();
    let (a, aaaa, txt) = (records(RecordType::A), records(RecordType::AAAA), records(RecordType::TXT));
    ServerStatus { server, role, serial, a, aaaa, txt, error }
}
