//! Unit tests of the `dns` module: the shape of each UPDATE message (prerequisites and
//! deletions per RFC 2136), TXT splitting, the wire-size estimates the batches trust, message
//! ids, serial arithmetic and the error texts.

use std::net::Ipv4Addr;

use hickory_proto::op::{OpCode, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::rdata::tsig::TsigError;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::message::txt_rdata;
use super::*;

fn name(s: &str) -> Name {
    Name::from_ascii(s).expect("name")
}

#[test]
fn replace_builds_delete_then_add_per_family() {
    let m = replace_message(
        &name("dyn.example.com."),
        &name("h.dyn.example.com."),
        60,
        Some("192.0.2.1".parse().expect("ip")),
        None,
    )
    .expect("message");
    assert_eq!(m.metadata.op_code, OpCode::Update);
    let updates = &m.authorities;
    assert_eq!(updates.len(), 2);
    assert_eq!((updates[0].dns_class, updates[0].ttl), (DNSClass::ANY, 0));
    assert_eq!(updates[1].data, RData::A(A("192.0.2.1".parse().expect("ip"))));
    assert_eq!(updates[1].ttl, 60);
}

#[test]
fn delete_removes_both_families_in_one_message() {
    let m = delete_message(&name("dyn.example.com."), &name("h.dyn.example.com.")).expect("message");
    assert_eq!(m.metadata.op_code, OpCode::Update);
    assert!(m.answers.is_empty(), "no prerequisites");
    let del = &m.authorities;
    assert_eq!(del.len(), 3);
    assert!(del.iter().all(|r| r.dns_class == DNSClass::ANY && r.ttl == 0 && r.name == name("h.dyn.example.com.")));
    let types: Vec<RecordType> = del.iter().map(Record::record_type).collect();
    assert_eq!(types, [RecordType::A, RecordType::AAAA, RecordType::TXT]);
}

#[test]
fn expire_guards_each_deletion_with_the_stored_value() {
    let hosts = [
        Published {
            fqdn: name("a.dyn.example.com."),
            ipv4: Some("192.0.2.1".parse().expect("ip")),
            ipv6: None,
            txt: None,
        },
        Published {
            fqdn: name("b.dyn.example.com."),
            ipv4: None,
            ipv6: Some("2001:db8::1".parse().expect("ip")),
            txt: None,
        },
    ];
    let m = expire_message(&name("dyn.example.com."), &hosts).expect("message");
    // RFC 2136 §2.4.2: class of the zone, TTL 0, the exact value.
    let pre = &m.answers;
    assert_eq!(pre.len(), 2);
    assert_eq!(
        (pre[0].dns_class, pre[0].ttl, &pre[0].data),
        (DNSClass::IN, 0, &RData::A(A("192.0.2.1".parse().expect("ip"))))
    );
    assert_eq!(pre[1].record_type(), RecordType::AAAA);
    // §2.5.2: class ANY, TTL 0, no data.
    let del = &m.authorities;
    assert_eq!(del.len(), 2);
    assert!(del.iter().all(|r| r.dns_class == DNSClass::ANY && r.ttl == 0));
    assert_eq!((del[0].record_type(), del[1].record_type()), (RecordType::A, RecordType::AAAA));
    assert!(hosts.iter().all(|h| h.wire_estimate() > 0));
    let err = expire_message(&name("other.com."), &hosts).expect_err("outside");
    assert_eq!(err.to_string(), "`a.dyn.example.com.` is not inside zone `other.com.`");
}

#[test]
fn probe_changes_nothing_and_guards_its_name() {
    let m = probe_message(&name("dyn.example.com.")).expect("message");
    assert_eq!(m.metadata.op_code, OpCode::Update);
    let pre = &m.answers;
    assert_eq!(pre.len(), 2);
    // RFC 2136 §2.4.1: the apex SOA exists (class ANY, type SOA, TTL 0, no data).
    assert_eq!(
        (&pre[0].name, pre[0].dns_class, pre[0].record_type(), pre[0].ttl),
        (&name("dyn.example.com."), DNSClass::ANY, RecordType::SOA, 0)
    );
    // §2.4.5: the probe name is not in use (class NONE, type ANY).
    assert_eq!(
        (&pre[1].name, pre[1].dns_class, pre[1].record_type()),
        (&name("_ddns-cgi-check.dyn.example.com."), DNSClass::NONE, RecordType::ANY)
    );
    // §2.5.2: delete its A rrset, which does not exist.
    let del = &m.authorities;
    assert_eq!(del.len(), 1);
    assert_eq!(
        (&del[0].name, del[0].dns_class, del[0].record_type()),
        (&name("_ddns-cgi-check.dyn.example.com."), DNSClass::ANY, RecordType::A)
    );
}

#[test]
fn txt_values_are_split_into_character_strings() {
    let long = "x".repeat(crate::request::MAX_TXT_BYTES);
    let rdata = txt_rdata(&long);
    let strings: Vec<usize> = rdata.txt_data.iter().map(|s| s.len()).collect();
    assert_eq!(strings, [255, 255, 2]);
    assert_eq!(txt_rdata("abc").txt_data.len(), 1);
    let m = txt_message(&name("acme.example.com."), &name("s.acme.example.com."), 1, &["one", "two"]).expect("message");
    let types: Vec<(RecordType, DNSClass)> = m.authorities.iter().map(|r| (r.record_type(), r.dns_class)).collect();
    assert_eq!(
        types,
        [(RecordType::TXT, DNSClass::ANY), (RecordType::TXT, DNSClass::IN), (RecordType::TXT, DNSClass::IN)]
    );
    // An expired host's TXT is removed only if it still holds the stored value.
    let host = Published { fqdn: name("a.dyn.example.com."), ipv4: None, ipv6: None, txt: Some("v".into()) };
    let m = expire_message(&name("dyn.example.com."), std::slice::from_ref(&host)).expect("message");
    assert_eq!(m.answers[0].data, RData::TXT(txt_rdata("v")));
    assert_eq!((m.authorities[0].record_type(), m.authorities[0].dns_class), (RecordType::TXT, DNSClass::ANY));
}

/// `HostChange::wire_estimate` is exact for names written without compression: the
/// message of several hosts, encoded uncompressed, is the header, the zone section and
/// the hosts' estimates, octet for octet. So a batch bounded by the estimates fits.
#[test]
fn host_change_estimates_are_the_uncompressed_size() {
    use hickory_proto::serialize::binary::{BinEncodable as _, BinEncoder, NameEncoding};
    let zone = name("dyn.example.com.");
    let hosts = vec![
        HostChange {
            fqdn: name("a.dyn.example.com."),
            ttl: 60,
            a: Rrset::Replace(Ipv4Addr::new(192, 0, 2, 1)),
            aaaa: Rrset::Replace("2001:db8::1".parse().expect("v6")),
            txt: Rrset::Replace("x".repeat(300)),
        },
        HostChange {
            fqdn: name("longer-name.dyn.example.com."),
            ttl: 60,
            a: Rrset::Delete,
            aaaa: Rrset::Keep,
            txt: Rrset::Delete,
        },
    ];
    let message = change_message(&zone, &hosts).expect("message");
    let mut wire = Vec::new();
    let mut encoder = BinEncoder::new(&mut wire);
    encoder.set_name_encoding(NameEncoding::Uncompressed);
    message.emit(&mut encoder).expect("encode");
    // Header (RFC 1035 §4.1.1) and one zone record: its name, type and class.
    let overhead = 12 + (zone.len() + 1) + 4;
    let estimated: usize = hosts.iter().map(HostChange::wire_estimate).sum();
    assert_eq!(wire.len(), overhead + estimated);
    assert_eq!(hosts[1].wire_estimate(), 2 * ("longer-name.dyn.example.com.".len() + 1 + 10));
}

/// The expiry batches (`MAX_BATCH_OCTETS`) trust this estimate to keep a message under
/// TCP's 64 KiB: it is the uncompressed wire size, octet for octet, for a TXT value that
/// is not a multiple of 255 octets long (one that is gets one octet too many).
#[test]
fn published_estimates_are_the_uncompressed_size() {
    use hickory_proto::serialize::binary::{BinEncodable as _, BinEncoder, NameEncoding};
    let zone = name("dyn.example.com.");
    let hosts = vec![
        Published {
            fqdn: name("a.dyn.example.com."),
            ipv4: Some(Ipv4Addr::new(192, 0, 2, 1)),
            ipv6: Some("2001:db8::1".parse().expect("v6")),
            txt: Some("x".repeat(300)),
        },
        Published { fqdn: name("longer-name.dyn.example.com."), ipv4: None, ipv6: None, txt: Some("y".into()) },
        Published {
            fqdn: name("v6.dyn.example.com."),
            ipv4: None,
            ipv6: Some("2001:db8::2".parse().expect("v6")),
            txt: None,
        },
    ];
    let message = expire_message(&zone, &hosts).expect("message");
    let mut wire = Vec::new();
    let mut encoder = BinEncoder::new(&mut wire);
    encoder.set_name_encoding(NameEncoding::Uncompressed);
    message.emit(&mut encoder).expect("encode");
    // Header (RFC 1035 §4.1.1) and one zone record: its name, type and class.
    let overhead = 12 + (zone.len() + 1) + 4;
    let estimated: usize = hosts.iter().map(Published::wire_estimate).sum();
    assert_eq!(wire.len(), overhead + estimated);
    // Per record: owner name, type, class, TTL and RDLENGTH (10 octets), then the data.
    let per_record = |fqdn: &str| fqdn.len() + 1 + 10;
    assert_eq!(hosts[1].wire_estimate(), 2 * per_record("longer-name.dyn.example.com.") + 2);
    assert_eq!(hosts[2].wire_estimate(), 2 * per_record("v6.dyn.example.com.") + 16);
}

/// A fixed message id would let an off-path attacker forge the unsigned error answers
/// (RFC 5452 asks for unpredictable ids); the suite's servers answer whatever the id,
/// so only this shows it. Sixteen equal ids in a row from 16 random bits: 2^-240.
#[test]
fn message_ids_differ_from_message_to_message() {
    let (zone, fqdn) = (name("dyn.example.com."), name("h.dyn.example.com."));
    let ids: std::collections::HashSet<u16> =
        (0..16).map(|_| delete_message(&zone, &fqdn).expect("message").metadata.id).collect();
    assert!(ids.len() > 1, "{ids:?}");
}

#[test]
fn refuses_names_outside_the_zone() {
    let err = replace_message(&name("dyn.example.com."), &name("h.other.com."), 60, None, None).expect_err("outside");
    assert_eq!(err.to_string(), "`h.other.com.` is not inside zone `dyn.example.com.`");
}

#[test]
fn serial_lag_wraps_around() {
    assert_eq!(serial_lag(5, 5), 0);
    assert_eq!(serial_lag(6, 5), 0);
    assert_eq!(serial_lag(3, 5), 2);
    // RFC 1982 §3.2: 1 follows 4294967295, so a server at 1 is not behind one at u32::MAX.
    assert_eq!(serial_lag(1, u32::MAX), 0);
    assert_eq!(serial_lag(u32::MAX, 1), 2);
    assert_eq!(serial_lag(0, 1 << 31), 1 << 31);
}

#[test]
fn rcode_messages_name_the_code() {
    let e = DnsError::Rcode {
        server: "127.0.0.1:53".parse().expect("addr"),
        rcode: ResponseCode::NotAuth,
        tsig_error: Some(TsigError::BadSig),
    };
    assert_eq!(e.to_string(), "127.0.0.1:53 answered NOTAUTH (TSIG error BADSIG)");
}

#[test]
fn no_message_touches_a_type_but_a_aaaa_and_txt() {
    // Signed zones (issue 24): the server owns RRSIG, NSEC, NSEC3 and DNSKEY and keeps them
    // right as A, AAAA and TXT change; an UPDATE that added or deleted any of them, or deleted
    // a whole name (type ANY, RFC 2136 §2.5.3), would break the zone's proofs. Every builder,
    // with every kind of change, names only A, AAAA and TXT in its update section.
    let zone = name("dyn.example.com.");
    let fqdn = name("h.dyn.example.com.");
    let (v4, v6) = (Some("192.0.2.1".parse().expect("ip")), Some("2001:db8::1".parse().expect("ip")));
    let change = |a, aaaa, txt| HostChange { fqdn: fqdn.clone(), ttl: 60, a, aaaa, txt };
    let published = Published { fqdn: fqdn.clone(), ipv4: v4, ipv6: v6, txt: Some("v".into()) };
    let messages = [
        replace_message(&zone, &fqdn, 60, v4, v6),
        delete_message(&zone, &fqdn),
        change_message(
            &zone,
            &[
                change(Rrset::Replace(v4.expect("v4")), Rrset::Replace(v6.expect("v6")), Rrset::Replace("t".into())),
                change(Rrset::Delete, Rrset::Delete, Rrset::Delete),
                change(Rrset::Keep, Rrset::Keep, Rrset::Keep),
            ],
        ),
        expire_message(&zone, &[published]),
        txt_message(&zone, &fqdn, 60, &["a", "b"]),
        txt_message(&zone, &fqdn, 60, &[]),
        probe_message(&zone),
    ];
    for message in messages {
        let message = message.expect("message");
        assert!(!message.authorities.is_empty(), "{message:?}");
        for r in &message.authorities {
            assert!(
                matches!(r.record_type(), RecordType::A | RecordType::AAAA | RecordType::TXT),
                "an update names {}: {r:?}",
                r.record_type()
            );
        }
    }
}
