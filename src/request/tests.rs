//! Unit tests for request parsing, routing, parameters, client addresses and hostnames.

use std::path::Path;

use super::route::MAX_PATH_TOKEN;
use super::*;

fn config(extra: &str) -> Config {
    let text = format!(
        "[database]\npath = \"/tmp/x.db\"\n[dns]\ntsig_key = \"hmac-sha256:k.:c2VjcmV0\"\n[[zones]]\nname = \"dyn.example.com\"\n{extra}"
    );
    Config::from_toml(Path::new("/etc/ddns-cgi/config.toml"), &text).expect("config")
}

fn env(pairs: &[(&str, &str)]) -> Env {
    let mut e: Env = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    e.entry("REQUEST_METHOD".into()).or_insert_with(|| "GET".into());
    e.entry("SCRIPT_NAME".into()).or_insert_with(|| "/nic/update".into());
    e.entry("REMOTE_ADDR".into()).or_insert_with(|| "198.51.100.7".into());
    e
}

fn get(query: &str) -> Request {
    parse(&env(&[("QUERY_STRING", query)]), b"", &config("")).expect("parses")
}

#[track_caller]
fn check_host(raw: &str, expected: Option<&str>) {
    assert_eq!(normalize_hostname(raw).as_deref(), expected, "input {raw:?}");
}

#[test]
fn hostnames_normalise() {
    check_host("Home.Dyn.Example.COM.", Some("home.dyn.example.com"));
    check_host("bücher.dyn.example.com", Some("xn--bcher-kva.dyn.example.com"));
    check_host("xn--bcher-kva.dyn.example.com", Some("xn--bcher-kva.dyn.example.com"));
    check_host("a.b", Some("a.b"));
    check_host("single", None);
    check_host("a..b", None);
    check_host("a.b..", None);
    check_host("-a.example.com", None);
    check_host("a-.example.com", None);
    check_host("under_score.example.com", None);
    check_host("*.example.com", None);
    check_host(&format!("{}.example.com", "a".repeat(64)), None);
    check_host(&format!("{}.example.com", "a".repeat(63)), Some(&format!("{}.example.com", "a".repeat(63))));
    let long = vec!["abcdefghi"; 26].join(".");
    assert!(long.len() > 253);
    check_host(&long, None);
    check_host("", None);
}

#[test]
fn form_decoding_is_strict() {
    assert_eq!(
        parse_form(b"a=1&b=x+y&c=%3A%3a&d").expect("ok"),
        vec![("a".into(), "1".into()), ("b".into(), "x y".into()), ("c".into(), "::".into()), ("d".into(), "".into())]
    );
    assert!(parse_form(b"a=%zz").is_err());
    assert!(parse_form(b"a=%4").is_err());
    assert!(parse_form(b"a=%ff").is_err());
    assert!(parse_form(b"a=%00").is_err());
    let many = vec!["a=1"; MAX_PARAMS + 1].join("&");
    assert!(parse_form(many.as_bytes()).is_err());
}

#[test]
fn aliases_first_match_wins_and_empty_is_absent() {
    let r = get("host=h.dyn.example.com&hostname=x.dyn.example.com&myip=&ip4=192.0.2.1&ipv4=192.0.2.2");
    assert_eq!(r.hostnames, Ok(vec![HostArg::Valid("x.dyn.example.com".into())]));
    assert_eq!(r.addresses, Ok(Addresses { ipv4: Some("192.0.2.2".parse().expect("ip")), ipv6: None }));
}

#[test]
fn dual_stack_in_myip_either_order() {
    let both =
        Addresses { ipv4: Some("192.0.2.1".parse().expect("ip")), ipv6: Some("2001:db8::1".parse().expect("ip")) };
    assert_eq!(get("hostname=a.b&myip=192.0.2.1,2001:db8::1").addresses, Ok(both));
    assert_eq!(get("hostname=a.b&myip=2001:db8::1,192.0.2.1").addresses, Ok(both));
    assert_eq!(get("hostname=a.b&myip=2001%3adb8%3a%3a1").addresses.map(|a| a.ipv6), Ok(both.ipv6));
    assert!(matches!(get("hostname=a.b&myip=192.0.2.1,192.0.2.2").addresses, Err(AddressError::Repeated { .. })));
    assert!(matches!(get("hostname=a.b&myip6=192.0.2.1").addresses, Err(AddressError::WrongFamily { .. })));
    assert!(matches!(get("hostname=a.b&myip=1.2.3").addresses, Err(AddressError::Unparsable { .. })));
    assert!(matches!(get("hostname=a.b&myip=0.0.0.0").addresses, Err(AddressError::NotUnicast { .. })));
    assert!(matches!(get("hostname=a.b&myip6=fe80::1%25eth0").addresses, Err(AddressError::Unparsable { .. })));
    assert!(matches!(get("hostname=a.b&myip6=::ffff:192.0.2.1").addresses, Err(AddressError::NotUnicast { .. })));
}

#[test]
fn family_parameters_carry_their_family() {
    let v4 = |s: &str| Some(s.parse::<Ipv4Addr>().expect("ip"));
    let v6 = |s: &str| Some(s.parse::<Ipv6Addr>().expect("ip"));
    let wrong = |q: &str, param: &str, family: u8| {
        let err = get(q).addresses.expect_err(q);
        assert!(
            matches!(&err, AddressError::WrongFamily { param: p, family: f, .. } if p == param && *f == family),
            "{q}: {err:?}"
        );
    };
    wrong("hostname=a.b&ipv4=2001:db8::1", "ipv4", 4);
    wrong("hostname=a.b&ip4=2001:db8::1", "ip4", 4);
    wrong("hostname=a.b&ipv6=192.0.2.1", "ipv6", 6);
    wrong("hostname=a.b&ip6=192.0.2.1", "ip6", 6);
    // One address per family parameter: a list is not an address.
    assert!(matches!(get("hostname=a.b&ipv4=192.0.2.1,2001:db8::1").addresses, Err(AddressError::Unparsable { .. })));
    // `myip` takes either family.
    assert_eq!(get("hostname=a.b&myip=2001:db8::1").addresses, Ok(Addresses { ipv4: None, ipv6: v6("2001:db8::1") }));
    // nanodnsd's form, and agreeing or disagreeing values across parameters.
    assert_eq!(
        get("hostname=a.b&ipv4=192.0.2.1&ipv6=2001:db8::1").addresses,
        Ok(Addresses { ipv4: v4("192.0.2.1"), ipv6: v6("2001:db8::1") })
    );
    assert_eq!(
        get("hostname=a.b&myip=192.0.2.1&ipv4=192.0.2.1").addresses,
        Ok(Addresses { ipv4: v4("192.0.2.1"), ipv6: None })
    );
    assert!(matches!(
        get("hostname=a.b&myip=192.0.2.1&ipv4=192.0.2.2").addresses,
        Err(AddressError::Repeated { family: 4, .. })
    ));
    assert_eq!(
        get("hostname=a.b&myip=192.0.2.1,&ipv6=").addresses,
        Ok(Addresses { ipv4: v4("192.0.2.1"), ipv6: None })
    );
}

#[test]
fn ipv6_prefixes_are_checked_and_kept() {
    let prefix = Some(Ipv6Prefix { addr: "2001:db8:1:2::".parse().expect("ip"), len: 64 });
    for q in ["ip6lanprefix=2001:db8:1:2::/64", "ip6lanprefix=2001:db8:1:2::%2F64", "ipv6prefix=2001:db8:1:2::%2f64"] {
        let r = get(&format!("hostname=a.b&myip=192.0.2.1&{q}"));
        assert_eq!((r.ipv6_prefix, r.addresses.is_ok()), (prefix, true), "{q}");
    }
    let r = get("hostname=a.b&myip=192.0.2.1&ip6lanprefix=");
    assert_eq!((r.ipv6_prefix, r.addresses.is_ok()), (None, true));
    for bad in [
        "2001:db8::",
        "2001:db8::/0",
        "2001:db8::/129",
        "2001:db8::/+64",
        "2001:db8::/",
        "192.0.2.0/24",
        "fe80::/64",
        "ff00::/8",
        "::/64",
    ] {
        let r = get(&format!("hostname=a.b&myip=192.0.2.1&ip6lanprefix={bad}"));
        assert!(matches!(r.addresses, Err(AddressError::NotPrefix { .. })), "{bad}: {:?}", r.addresses);
        assert_eq!(r.ipv6_prefix, None);
    }
}

#[test]
fn txt_values_and_txt_only_requests() {
    let r = get("hostname=a.b&txt=hello%20world");
    assert_eq!(r.txt, Some(Ok(TxtChange::Set("hello world".into()))));
    // TXT only: no address, and none taken from the client.
    let e = env(&[("QUERY_STRING", "hostname=a.b&txt="), ("REMOTE_ADDR", "198.51.100.9")]);
    let r = parse(&e, b"", &config("")).expect("parses");
    assert_eq!((r.txt, r.addresses), (Some(Ok(TxtChange::Clear)), Ok(Addresses { ipv4: None, ipv6: None })));
    let r = get("hostname=a.b&txt=v&myip=192.0.2.1");
    assert_eq!(r.addresses, Ok(Addresses { ipv4: Some("192.0.2.1".parse().expect("ip")), ipv6: None }));
    assert_eq!(get("hostname=a.b").txt, None);
    let long = "x".repeat(MAX_TXT_BYTES);
    assert_eq!(get(&format!("hostname=a.b&txt={long}")).txt, Some(Ok(TxtChange::Set(long.clone()))));
    assert_eq!(get(&format!("hostname=a.b&txt={long}x")).txt, Some(Err(TxtError::TooLong { n_bytes: 513 })));
    for bad in ["%C3%A9", "caf%C3%A9"] {
        assert!(matches!(get(&format!("hostname=a.b&txt={bad}")).txt, Some(Err(TxtError::NotPrintable { .. }))));
    }
}

#[test]
fn offline_and_delete_intents() {
    assert_eq!(get("hostname=a.b").intent, Intent::Update);
    assert_eq!(get("hostname=a.b&offline=no").intent, Intent::Update);
    assert_eq!(get("hostname=a.b&offline=NOCHG").intent, Intent::Update);
    assert_eq!(get("hostname=a.b&offline=yes").intent, Intent::Offline);
    assert_eq!(get("hostname=a.b&offline=YES&myip=192.0.2.1").intent, Intent::Offline);
    let e = env(&[("QUERY_STRING", "hostname=a.b"), ("SCRIPT_NAME", "/nic/delete")]);
    assert_eq!(parse(&e, b"", &config("")).expect("parses").intent, Intent::Offline);
    let e = env(&[("QUERY_STRING", "hostname=a.b"), ("SCRIPT_NAME", "/api/update")]);
    assert_eq!(parse(&e, b"", &config("")).expect("parses").intent, Intent::Update);
}

#[test]
fn ttl_within_bounds() {
    let cfg = config("[defaults]\nmin_dns_ttl = 30\nmax_dns_ttl = 3600\n");
    let ttl = |q: &str| parse(&env(&[("QUERY_STRING", q)]), b"", &cfg).expect("parses").ttl;
    assert_eq!(ttl("hostname=a.b"), Ok(None));
    assert_eq!(ttl("hostname=a.b&ttl="), Ok(None));
    assert_eq!(ttl("hostname=a.b&ttl=30"), Ok(Some(30)));
    assert_eq!(ttl("hostname=a.b&ttl=3600"), Ok(Some(3600)));
    assert_eq!(ttl("hostname=a.b&ttl=29"), Err(TtlError::OutOfRange { ttl: 29, min: 30, max: 3600 }));
    assert_eq!(ttl("hostname=a.b&ttl=3601"), Err(TtlError::OutOfRange { ttl: 3601, min: 30, max: 3600 }));
    for bad in ["-1", "+60", "60s", "1e3", "4294967296", "99999999999", " 60"] {
        assert!(matches!(ttl(&format!("hostname=a.b&ttl={bad}")), Err(TtlError::Malformed { .. })), "{bad}");
    }
}

#[test]
fn client_address_fallback_and_proxies() {
    let cfg = config("[http]\nproxy_header = \"X-Forwarded-For\"\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]\n");
    let run = |remote: &str, xff: Option<&str>| {
        let mut e = env(&[("QUERY_STRING", "hostname=a.b"), ("REMOTE_ADDR", remote)]);
        if let Some(x) = xff {
            e.insert("HTTP_X_FORWARDED_FOR".into(), x.into());
        }
        parse(&e, b"", &cfg).expect("parses").addresses
    };
    let v4 = |s: &str| Ok(Addresses { ipv4: Some(s.parse().expect("ip")), ipv6: None });
    assert_eq!(run("198.51.100.9", Some("203.0.113.5")), v4("198.51.100.9"));
    assert_eq!(run("127.0.0.1", Some("203.0.113.5")), v4("203.0.113.5"));
    assert_eq!(run("127.0.0.1", Some("6.6.6.6, 203.0.113.5, 10.1.1.1")), v4("203.0.113.5"));
    assert_eq!(run("::ffff:198.51.100.9", None), v4("198.51.100.9"));
    assert!(matches!(run("127.0.0.1", None), Err(AddressError::NoClientAddress { .. })));
}

#[test]
fn unusable_proxy_header_leaves_the_proxy_as_client() {
    let cfg = config("[http]\nproxy_header = \"X-Forwarded-For\"\ntrusted_proxies = [\"127.0.0.1\"]\n");
    let run = |xff: &str| {
        let e = env(&[("QUERY_STRING", "hostname=a.b"), ("REMOTE_ADDR", "127.0.0.1"), ("HTTP_X_FORWARDED_FOR", xff)]);
        parse(&e, b"", &cfg).expect("parses")
    };
    let proxy: Option<IpAddr> = Some("127.0.0.1".parse().expect("ip"));
    let oversized = "203.0.113.9,".repeat(400);
    for xff in ["", oversized.as_str(), "203.0.113.5, bogus", "127.0.0.1"] {
        let r = run(xff);
        assert_eq!(r.client, proxy, "{xff}");
        assert!(r.proxy_fallback.is_some(), "{xff}");
        // The proxy's own address is never published for the client.
        assert!(matches!(r.addresses, Err(AddressError::NoClientAddress { .. })), "{xff}");
    }
    let r = run("bogus, 203.0.113.5");
    assert_eq!((r.client, r.proxy_fallback), (Some("203.0.113.5".parse().expect("ip")), None));
}

#[test]
fn client_address_fallback_must_be_unicast() {
    // Regression (hostile-input table): a multicast REMOTE_ADDR was published as is.
    let e = env(&[("QUERY_STRING", "hostname=a.b"), ("REMOTE_ADDR", "224.0.0.1")]);
    let r = parse(&e, b"", &config("")).expect("parses");
    assert!(matches!(r.addresses, Err(AddressError::NotUnicast { .. })), "{:?}", r.addresses);
}

#[test]
fn invalid_punycode_is_not_a_hostname() {
    // Regression (hostile-input table): `xn--` labels skipped IDN validation.
    assert_eq!(normalize_hostname("xn--a.dyn.example.com"), None);
    assert_eq!(normalize_hostname("XN--BCHER-KVA.example.com").as_deref(), Some("xn--bcher-kva.example.com"));
}

/// Credentials as `(user name or "", secret)`, to compare in tables.
fn shown(c: Option<Credentials>) -> Option<(String, String)> {
    c.map(|c| match c {
        Credentials::Password { username, password } => (username, password.expose().clone()),
        Credentials::Token { token } => (String::new(), token.expose().clone()),
    })
}

#[test]
fn credentials_from_basic_or_params() {
    let basic = |user_pass: &str| {
        let token = base64::engine::general_purpose::STANDARD.encode(user_pass);
        let e =
            env(&[("QUERY_STRING", "hostname=a.b&user=q&pass=r"), ("HTTP_AUTHORIZATION", &format!("Basic {token}"))]);
        shown(parse(&e, b"", &config("")).expect("parses").credentials)
    };
    assert_eq!(basic("alice:pa:ss"), Some(("alice".into(), "pa:ss".into())));
    // inadyn's `Basic Og==` carries nothing: the parameters are used.
    assert_eq!(basic(":"), Some(("q".into(), "r".into())));
    // A password without a user name is a token alone.
    assert_eq!(basic(":tok"), Some(("".into(), "tok".into())));
    assert!(get("hostname=a.b&username=u").credentials.is_none());
    assert_eq!(shown(get("hostname=a.b&token=t").credentials), Some(("".into(), "t".into())));
    assert_eq!(shown(get("hostname=a.b&password=t").credentials), Some(("".into(), "t".into())));
    assert_eq!(shown(get("hostname=a.b&user=u&token=t").credentials), Some(("u".into(), "t".into())));
}

fn at(path: &str, extra: &[(&str, &str)]) -> Result<Request, RejectError> {
    let mut pairs = vec![("SCRIPT_NAME", path), ("QUERY_STRING", "myip=192.0.2.1")];
    pairs.extend_from_slice(extra);
    parse(&env(&pairs), b"", &config(""))
}

#[test]
fn token_in_the_path() {
    let tok = "ddns_Ab-9_x";
    // nginx: the whole path in SCRIPT_NAME.
    let r = at(&format!("/update/{tok}"), &[]).expect("parses");
    assert_eq!(shown(r.credentials), Some(("".into(), tok.into())));
    assert_eq!(r.hostnames, Err(HostsError::Missing));
    let r = at(&format!("/nic/update/{tok}/Home.Dyn.Example.com./"), &[]).expect("parses");
    assert_eq!(shown(r.credentials), Some(("".into(), tok.into())));
    assert_eq!(r.hostnames, Ok(vec![HostArg::Valid("home.dyn.example.com".into())]));
    // Apache: the script in SCRIPT_NAME, the rest in PATH_INFO. The path wins over Basic
    // and over the hostname parameter.
    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("alice:pw"));
    let r = at(
        "/update",
        &[
            ("PATH_INFO", &format!("/{tok}/a.b")),
            ("HTTP_AUTHORIZATION", &basic),
            ("QUERY_STRING", "hostname=c.d&myip=192.0.2.1"),
        ],
    )
    .expect("parses");
    assert_eq!(shown(r.credentials), Some(("".into(), tok.into())));
    assert_eq!(r.hostnames, Ok(vec![HostArg::Valid("a.b".into())]));
    // Only REQUEST_URI names the path (the script name is something else).
    let r =
        at("/cgi-bin/ddns-cgi", &[("REQUEST_URI", &format!("/update/{tok}/a%2Eb?myip=192.0.2.1"))]).expect("parses");
    assert_eq!(shown(r.credentials), Some(("".into(), tok.into())));
    assert_eq!(r.hostnames, Ok(vec![HostArg::Valid("a.b".into())]));
    // Anything else below an endpoint is an unknown path.
    for bad in [
        "/update//a.b".to_owned(),
        format!("/update/{tok}/a.b/c"),
        "/update/to.ken".to_owned(),
        "/update/../etc".to_owned(),
        format!("/update/{}", "a".repeat(MAX_PATH_TOKEN + 1)),
        format!("/updates/{tok}"),
    ] {
        assert!(matches!(at(&bad, &[]), Err(RejectError::NotFound { .. })), "{bad}");
    }
}

#[track_caller]
fn check_log_path(pairs: &[(&str, &str)], expected: &str) {
    assert_eq!(log_path(&env(pairs), &config("")), expected, "{pairs:?}");
}

#[test]
fn logged_paths_hide_tokens() {
    let tok = "ddns_AAAAbbbbCCCCdddd0000111122223333444455556";
    check_log_path(&[("SCRIPT_NAME", "/nic/update")], "/nic/update");
    check_log_path(&[("SCRIPT_NAME", "/update/")], "/update");
    check_log_path(&[("SCRIPT_NAME", &format!("/update/{tok}"))], "/update/***");
    check_log_path(&[("SCRIPT_NAME", &format!("/update/{tok}/a.b"))], "/update/***");
    check_log_path(&[("SCRIPT_NAME", "/update"), ("PATH_INFO", &format!("/{tok}"))], "/update/***");
    check_log_path(&[("SCRIPT_NAME", "/x"), ("REQUEST_URI", &format!("/update/{tok}?a=b"))], "/update/***");
    // Unknown paths keep one short word.
    check_log_path(&[("SCRIPT_NAME", "/cgi-bin/other")], "/cgi-bin/***");
    check_log_path(&[("SCRIPT_NAME", "/other")], "/other");
    check_log_path(&[("SCRIPT_NAME", &format!("/update/{tok}/a.b/c"))], "/update/***");
    check_log_path(&[("SCRIPT_NAME", &format!("/{tok}"))], "/***");
    check_log_path(&[("SCRIPT_NAME", &format!("/updates/{tok}"))], "/updates/***");
    // The Flask API's path forms; its query form logs no query at all.
    check_log_path(&[("SCRIPT_NAME", &format!("/update-by-path/{tok}/a.b"))], "/update-by-path/***");
    check_log_path(
        &[("SCRIPT_NAME", &format!("/update-by-path/{tok}/a.b/192.0.2.1/2001:db8::1"))],
        "/update-by-path/***",
    );
    check_log_path(&[("SCRIPT_NAME", "/delete-by-path/12345678/a.b")], "/delete-by-path/***");
    check_log_path(&[("SCRIPT_NAME", &format!("/update-by-path/{tok}/a.b/1/2/3"))], "/update-by-path/***");
    check_log_path(
        &[("SCRIPT_NAME", "/x"), ("REQUEST_URI", &format!("/update-by-path/{tok}/a.b?ttl=60"))],
        "/update-by-path/***",
    );
    check_log_path(
        &[("SCRIPT_NAME", "/update-by-query"), ("QUERY_STRING", &format!("secret={tok}"))],
        "/update-by-query",
    );
}

#[test]
fn hostname_lists() {
    assert_eq!(get("myip=192.0.2.1").hostnames, Err(HostsError::Missing));
    assert_eq!(
        get("hostname=a.b%2CBAD_.x,c.d.").hostnames,
        Ok(vec![HostArg::Valid("a.b".into()), HostArg::NotFqdn("BAD_.x".into()), HostArg::Valid("c.d".into())])
    );
    let many = vec!["a.b"; 21].join(",");
    assert_eq!(get(&format!("hostname={many}")).hostnames, Err(HostsError::TooMany { n_hosts: 21 }));
}

#[test]
fn rejects() {
    let cfg = config("");
    let e = env(&[("REQUEST_METHOD", "PUT")]);
    assert_eq!(parse(&e, b"", &cfg).expect_err("405"), RejectError::MethodNotAllowed { method: "PUT".into() });
    let e = env(&[("SCRIPT_NAME", "/cgi-bin/other")]);
    assert_eq!(parse(&e, b"", &cfg).expect_err("404"), RejectError::NotFound { path: "/cgi-bin/***".into() });
    let e = env(&[("REQUEST_METHOD", "POST"), ("CONTENT_TYPE", "application/json")]);
    assert!(matches!(parse(&e, b"{}", &cfg), Err(RejectError::UnsupportedContentType { .. })));
    let e = env(&[("REQUEST_METHOD", "POST"), ("CONTENT_TYPE", "application/x-www-form-urlencoded")]);
    let r = parse(&e, b"hostname=a.b&myip=192.0.2.3", &cfg).expect("post");
    assert_eq!(r.hostnames, Ok(vec![HostArg::Valid("a.b".into())]));
    // Regression: a body cut short published `203.0.113.2` for `203.0.113.254`.
    let e = env(&[
        ("REQUEST_METHOD", "POST"),
        ("CONTENT_TYPE", "application/x-www-form-urlencoded"),
        ("CONTENT_LENGTH", "31"),
    ]);
    assert!(parse(&e, b"hostname=a.b&myip=203.0.113.254", &cfg).is_ok());
    assert_eq!(
        parse(&e, b"hostname=a.b&myip=203.0.113.2", &cfg).expect_err("short"),
        RejectError::ShortBody { n_bytes: 29, content_length: 31 }
    );
    assert!(matches!(parse(&e, b"", &cfg), Err(RejectError::ShortBody { n_bytes: 0, .. })));
}

#[test]
fn json_when_accepted() {
    let e = env(&[("HTTP_ACCEPT", "text/html, application/json;q=0.9")]);
    assert_eq!(parse(&e, b"", &config("")).expect("ok").format, Format::Json);
    assert_eq!(get("").format, Format::Text);
}

/// What a family the request does not give does: per endpoint (`absent`), `remove` on
/// nanodnsd's `/api/update` and `keep` elsewhere; a TXT-only request keeps either way, and
/// on a `remove` endpoint a request without any address removes both (no client fallback).
#[test]
fn absent_families_per_endpoint() {
    let cfg = config("");
    let run = |path: &str, query: &str| {
        let r = parse(&env(&[("QUERY_STRING", query), ("SCRIPT_NAME", path)]), b"", &cfg).expect("parses");
        (r.absent, r.addresses)
    };
    let v4 = Some("192.0.2.1".parse().expect("ip"));
    let none = Addresses { ipv4: None, ipv6: None };
    let only_v4 = Addresses { ipv4: v4, ipv6: None };
    let client = Addresses { ipv4: Some("198.51.100.7".parse().expect("ip")), ipv6: None };
    for (path, query, expected) in [
        ("/api/update", "hostname=a.b&ipv4=192.0.2.1", (Absent::Remove, Ok(only_v4))),
        ("/api/update", "hostname=a.b&ipv4=192.0.2.1&ipv6=", (Absent::Remove, Ok(only_v4))),
        ("/api/update", "hostname=a.b&ipv4=&ipv6=", (Absent::Remove, Ok(none))),
        ("/api/update", "hostname=a.b", (Absent::Remove, Ok(none))),
        ("/api/update", "hostname=a.b&txt=x", (Absent::Keep, Ok(none))),
        ("/api/update", "hostname=a.b&txt=x&ipv4=192.0.2.1", (Absent::Remove, Ok(only_v4))),
        ("/nic/update", "hostname=a.b&ipv4=192.0.2.1&ipv6=", (Absent::Keep, Ok(only_v4))),
        ("/nic/update", "hostname=a.b", (Absent::Keep, Ok(client))),
        ("/update", "hostname=a.b&myip=192.0.2.1", (Absent::Keep, Ok(only_v4))),
    ] {
        assert_eq!(run(path, query), expected, "{path}?{query}");
    }
    // An endpoint written without `absent` keeps, one written with `remove` removes.
    let cfg = config(
        "[[endpoints]]\npath = \"/nic/update\"\n[[endpoints]]\npath = \"/fritz\"\nabsent = \"remove\"\n[[endpoints]]\npath = \"/api/update\"\n",
    );
    let run = |path: &str| {
        let q = "hostname=a.b&ipv4=192.0.2.1";
        parse(&env(&[("QUERY_STRING", q), ("SCRIPT_NAME", path)]), b"", &cfg).expect("parses").absent
    };
    assert_eq!([run("/nic/update"), run("/fritz"), run("/api/update")], [Absent::Keep, Absent::Remove, Absent::Keep]);
}

#[test]
fn wait_is_a_switch_or_seconds_in_every_url_form() {
    let cfg = config("");
    let wait = |pairs: &[(&str, &str)]| parse(&env(pairs), b"", &cfg).expect("parses").wait;
    let query = |q: &str| wait(&[("QUERY_STRING", q)]);
    assert_eq!(query("hostname=a.b"), Ok(None));
    // Empty counts as absent, as for `ttl`.
    assert_eq!(query("hostname=a.b&wait="), Ok(None));
    for (value, expected) in [
        ("0", Wait::No),
        ("no", Wait::No),
        ("false", Wait::No),
        ("1", Wait::Yes),
        ("YES", Wait::Yes),
        ("true", Wait::Yes),
        ("on", Wait::Yes),
        ("2", Wait::Seconds(2)),
        ("30", Wait::Seconds(30)),
        ("0030", Wait::Seconds(30)),
        ("4294967295", Wait::Seconds(u32::MAX)),
    ] {
        assert_eq!(query(&format!("hostname=a.b&wait={value}")), Ok(Some(expected)), "{value}");
    }
    for bad in ["-1", "1.5", "abc", "4294967296", "1s", "99999999999"] {
        assert!(
            matches!(query(&format!("hostname=a.b&wait={bad}")), Err(WaitError::Malformed { .. })),
            "{bad:?} is refused"
        );
    }
    // The POST body, the token path, and the Flask API's path and query forms read it too.
    let body = "hostname=a.b&myip=192.0.2.1&wait=1";
    let len = body.len().to_string();
    let post = [
        ("REQUEST_METHOD", "POST"),
        ("CONTENT_TYPE", "application/x-www-form-urlencoded"),
        ("CONTENT_LENGTH", len.as_str()),
    ];
    let posted = parse(&env(&post), body.as_bytes(), &cfg).expect("parses");
    assert_eq!(posted.wait, Ok(Some(Wait::Yes)));
    assert_eq!(
        wait(&[("SCRIPT_NAME", "/update/ddns_Ab-9_x/a.dyn.example.com"), ("QUERY_STRING", "wait=5")]),
        Ok(Some(Wait::Seconds(5)))
    );
    assert_eq!(
        wait(&[("SCRIPT_NAME", "/update-by-path/ddns_Ab-9_x/a.dyn.example.com/192.0.2.1"), ("QUERY_STRING", "wait=1")]),
        Ok(Some(Wait::Yes))
    );
    assert_eq!(
        wait(&[
            ("SCRIPT_NAME", "/update-by-query"),
            ("QUERY_STRING", "secret=ddns_Ab-9_x&fqdn=a.dyn.example.com&wait=yes")
        ]),
        Ok(Some(Wait::Yes))
    );
}
