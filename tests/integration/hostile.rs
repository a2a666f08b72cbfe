//! Hostile input, one table: every case asserts the exact answer and that neither the
//! database nor DNS changed. The answers are the documented ones (README, "Hostile input").

use crate::util::{Cgi, PASSWORD, USER, World};

const HOME: &str = "home.dyn.example.test";

/// An authenticated GET, so the case reaches the part of the parser it is about.
fn q(query: &str) -> Cgi {
    Cgi::get(query).basic(USER, PASSWORD)
}

fn post(content_type: &str, body: &str) -> Cgi {
    Cgi::get("").basic(USER, PASSWORD).post(content_type, body)
}

fn label(n: usize) -> String {
    "a".repeat(n)
}

#[test]
fn hostile_inputs_have_defined_answers_and_change_nothing() {
    let w = world!(World::knot());
    let long_label = format!("hostname={}.dyn.example.test&myip=192.0.2.1", label(64));
    // 4 labels of 63 + 3 dots = 255 octets > 253.
    let long_name = format!("hostname={0}.{0}.{0}.{0}&myip=192.0.2.1", label(63));
    let many_params = format!("hostname={HOME}&myip=192.0.2.1&{}", vec!["x=1"; 63].join("&"));
    let long_query = format!("hostname={HOME}&myip=192.0.2.1&pad={}", "a".repeat(8 * 1024));
    let hosts_21 = format!("hostname={}&myip=192.0.2.1", vec!["nobody.dyn.example.test"; 21].join(","));
    let big_body = format!("hostname={HOME}&myip=192.0.2.1&pad={}", "a".repeat(8 * 1024));
    let long_user = Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1")).basic(&"u".repeat(300), PASSWORD);
    let huge_auth = Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1"))
        .env("HTTP_AUTHORIZATION", &format!("Basic {}", "QUFB".repeat(1200)));
    let bad_utf8_auth = Cgi::get(&format!("hostname={HOME}")).env("HTTP_AUTHORIZATION", "Basic /w==");

    let cases: Vec<(&str, Cgi, u16, &str)> = vec![
        // Encoding.
        ("invalid percent-encoding", q("hostname=%zz&myip=192.0.2.1"), 200, "badagent\n"),
        ("truncated percent-encoding", q(&format!("hostname={HOME}&myip=192.0.2.1%2")), 200, "badagent\n"),
        ("lone percent", q(&format!("hostname={HOME}%&myip=192.0.2.1")), 200, "badagent\n"),
        ("invalid UTF-8", q("hostname=%ff%fe.dyn.example.test&myip=192.0.2.1"), 200, "badagent\n"),
        ("overlong UTF-8", q("hostname=%c0%ae.dyn.example.test&myip=192.0.2.1"), 200, "badagent\n"),
        ("UTF-16 surrogate", q("hostname=%ed%a0%80.dyn.example.test&myip=192.0.2.1"), 200, "badagent\n"),
        ("NUL in hostname", q(&format!("hostname={HOME}%00&myip=192.0.2.1")), 200, "badagent\n"),
        ("NUL in a parameter name", q(&format!("host%00name={HOME}&myip=192.0.2.1")), 200, "badagent\n"),
        ("newline in hostname", q(&format!("hostname={HOME}%0a&myip=192.0.2.1")), 200, "badagent\n"),
        ("CR LF header injection", q(&format!("hostname={HOME}%0d%0aX-A:%20b&myip=192.0.2.1")), 200, "badagent\n"),
        ("escape in myip", q(&format!("hostname={HOME}&myip=192.0.2.1%1b")), 200, "badagent\n"),
        ("DEL in password", Cgi::get(&format!("hostname={HOME}&user={USER}&pass=a%7f")), 200, "badagent\n"),
        ("C1 control", q(&format!("hostname={HOME}%c2%85&myip=192.0.2.1")), 200, "badagent\n"),
        // Sizes and counts.
        ("more than 64 parameters", q(&many_params), 200, "badagent\n"),
        ("query string over 8 KiB", q(&long_query), 200, "badagent\n"),
        ("body over 8 KiB", post("application/x-www-form-urlencoded", &big_body), 200, "badagent\n"),
        ("21 hostnames", q(&hosts_21), 200, "numhost\n"),
        ("label of 64 octets", q(&long_label), 200, "notfqdn\n"),
        ("name of 255 octets", q(&long_name), 200, "notfqdn\n"),
        ("user name over 256 bytes", long_user, 401, "badauth\n"),
        ("Authorization over 4 KiB", huge_auth, 401, "badauth\n"),
        // Duplicated parameters: the first non-empty value wins.
        (
            "duplicated hostname, first wins",
            q(&format!("hostname=nobody.dyn.example.test&hostname={HOME}&myip=192.0.2.1")),
            200,
            "nohost\n",
        ),
        ("duplicated myip, first wins", q(&format!("hostname={HOME}&myip=0.0.0.0&myip=192.0.2.1")), 200, "badip\n"),
        // Hostnames.
        ("wildcard", q("hostname=*.dyn.example.test&myip=192.0.2.1"), 200, "notfqdn\n"),
        ("underscore", q("hostname=_dmarc.dyn.example.test&myip=192.0.2.1"), 200, "notfqdn\n"),
        ("leading hyphen", q("hostname=-home.dyn.example.test&myip=192.0.2.1"), 200, "notfqdn\n"),
        ("trailing hyphen", q("hostname=home-.dyn.example.test&myip=192.0.2.1"), 200, "notfqdn\n"),
        ("empty label", q("hostname=home..dyn.example.test&myip=192.0.2.1"), 200, "notfqdn\n"),
        ("two trailing dots", q(&format!("hostname={HOME}..&myip=192.0.2.1")), 200, "notfqdn\n"),
        ("leading dot", q(&format!("hostname=.{HOME}&myip=192.0.2.1")), 200, "notfqdn\n"),
        ("single label", q("hostname=localhost&myip=192.0.2.1"), 200, "notfqdn\n"),
        ("space inside", q("hostname=ho%20me.dyn.example.test&myip=192.0.2.1"), 200, "notfqdn\n"),
        ("slash", q("hostname=home/x.dyn.example.test&myip=192.0.2.1"), 200, "notfqdn\n"),
        ("at sign", q("hostname=user@home.dyn.example.test&myip=192.0.2.1"), 200, "notfqdn\n"),
        ("IP address as hostname", q("hostname=192.0.2.1&myip=192.0.2.1"), 200, "nohost\n"),
        ("only commas", q("hostname=,&myip=192.0.2.1"), 200, "notfqdn\nnotfqdn\n"),
        ("empty hostname", q("hostname=&myip=192.0.2.1"), 200, "notfqdn\n"),
        ("bad punycode", q("hostname=xn--a.dyn.example.test&myip=192.0.2.1"), 200, "notfqdn\n"),
        ("the zone itself, not owned", q("hostname=dyn.example.test&myip=192.0.2.1"), 200, "nohost\n"),
        ("outside every zone", q("hostname=home.example.org&myip=192.0.2.1"), 200, "nohost\n"),
        // Addresses.
        ("scoped IPv6", q(&format!("hostname={HOME}&myip6=fe80::1%25eth0")), 200, "badip\n"),
        ("link-local IPv6", q(&format!("hostname={HOME}&myip6=fe80::1")), 200, "badip\n"),
        ("IPv4-mapped IPv6", q(&format!("hostname={HOME}&myip6=::ffff:192.0.2.1")), 200, "badip\n"),
        ("IPv4-mapped IPv6 in myip", q(&format!("hostname={HOME}&myip=::ffff:192.0.2.1")), 200, "badip\n"),
        ("0.0.0.0", q(&format!("hostname={HOME}&myip=0.0.0.0")), 200, "badip\n"),
        ("::", q(&format!("hostname={HOME}&myip6=::")), 200, "badip\n"),
        ("IPv4 multicast", q(&format!("hostname={HOME}&myip=239.1.2.3")), 200, "badip\n"),
        ("IPv6 multicast", q(&format!("hostname={HOME}&myip6=ff02::1")), 200, "badip\n"),
        ("broadcast", q(&format!("hostname={HOME}&myip=255.255.255.255")), 200, "badip\n"),
        ("IPv4 link-local", q(&format!("hostname={HOME}&myip=169.254.1.1")), 200, "badip\n"),
        ("leading zeros", q(&format!("hostname={HOME}&myip=192.0.2.010")), 200, "badip\n"),
        ("CIDR suffix", q(&format!("hostname={HOME}&myip=192.0.2.1/24")), 200, "badip\n"),
        ("hex IPv4", q(&format!("hostname={HOME}&myip=0xc0.0.2.1")), 200, "badip\n"),
        ("five octets", q(&format!("hostname={HOME}&myip=192.0.2.1.5")), 200, "badip\n"),
        ("two IPv4 in myip", q(&format!("hostname={HOME}&myip=192.0.2.1,192.0.2.2")), 200, "badip\n"),
        ("IPv4 in myip6", q(&format!("hostname={HOME}&myip6=192.0.2.1")), 200, "badip\n"),
        ("IPv6 with port", q(&format!("hostname={HOME}&myip6=[2001:db8::1]:80")), 200, "badip\n"),
        ("garbage REMOTE_ADDR, no myip", q(&format!("hostname={HOME}")).remote("not-an-ip"), 200, "badip\n"),
        ("multicast REMOTE_ADDR, no myip", q(&format!("hostname={HOME}")).remote("224.0.0.1"), 200, "badip\n"),
        // Credentials.
        (
            "Basic not base64",
            Cgi::get(&format!("hostname={HOME}")).env("HTTP_AUTHORIZATION", "Basic !!!"),
            401,
            "badauth\n",
        ),
        (
            "Basic without colon",
            Cgi::get(&format!("hostname={HOME}")).env("HTTP_AUTHORIZATION", "Basic YWxpY2U="),
            401,
            "badauth\n",
        ),
        ("Basic with invalid UTF-8", bad_utf8_auth, 401, "badauth\n"),
        (
            "Bearer scheme",
            Cgi::get(&format!("hostname={HOME}")).env("HTTP_AUTHORIZATION", "Bearer abc"),
            401,
            "badauth\n",
        ),
        ("wrong password", Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1")).basic(USER, "x"), 401, "badauth\n"),
        ("SQL in user name", Cgi::get(&format!("hostname={HOME}")).basic("a' OR '1'='1", "x"), 401, "badauth\n"),
        // Request shape.
        (
            "PUT",
            {
                let mut c = q(&format!("hostname={HOME}&myip=192.0.2.1"));
                c.method = "PUT".into();
                c
            },
            405,
            "badagent\n",
        ),
        (
            "unknown path",
            q(&format!("hostname={HOME}&myip=192.0.2.1")).path("/nic/update/../../etc"),
            404,
            "badagent\n",
        ),
        ("JSON body", post("application/json", "{\"hostname\":\"x\"}"), 200, "badagent\n"),
        ("form body with bad encoding", post("application/x-www-form-urlencoded", "hostname=%zz"), 200, "badagent\n"),
    ];
    // Exactly the cases above: a case lost in an edit (or a table cut short) fails here.
    assert_eq!(cases.len(), 69, "the table has {} cases", cases.len());
    let mut names: Vec<&str> = cases.iter().map(|(name, ..)| *name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "case names must be unique");
    let mut failures = Vec::new();
    for (name, req, status, body) in &cases {
        let r = w.cgi(req);
        if (r.status, r.body.as_str()) != (*status, *body) {
            failures.push(format!("{name}: expected {status} {body:?}, got {} {:?}", r.status, r.body));
        }
        assert_eq!(r.header("Content-Length"), Some(r.body.len().to_string().as_str()), "{name}");
        assert!(!r.log.contains("panicked"), "{name}: {}", r.log);
        assert_eq!(w.stored(HOME), (None, None), "{name}: database changed");
        assert!(w.a(HOME).is_empty() && w.aaaa(HOME).is_empty(), "{name}: DNS changed");
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
