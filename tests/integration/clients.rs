//! The clients people run, against ddns-cgi behind real web servers: GNU wget (credentials
//! only after the 401 challenge), busybox wget, ddclient (two hosts in one request, then a
//! changed address), inadyn (custom provider, IPv4 and IPv6 sections, HTTP/1.0, `%3a`) and the
//! OpenWrt script from `contrib/`. The client examples under `contrib/` are the ones run, with
//! only the server, port, password, TLS and address source replaced. Each update is checked in
//! Knot.

use std::process::Command;

use crate::util::dnsserver::require_program;
use crate::util::web::{Front, WebServer, shipped};
use crate::util::{PASSWORD, USER};
use crate::web::{HOME, NAS, creds, web_world};

#[track_caller]
fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn gnu_wget_sends_credentials_after_the_challenge() {
    if require_program("wget", "wget").is_none() {
        return;
    }
    let world = crate::world!(web_world());
    let web = crate::world!(WebServer::start(&world, Front::NginxFcgiwrap));
    let url = web.url(&format!("/nic/update?hostname={HOME}&myip=192.0.2.30"));
    // No --auth-no-challenge: wget first asks without credentials.
    let (ok, stdout, stderr) = run(Command::new("wget").args([
        "-q",
        "-O",
        "-",
        "--tries=1",
        &format!("--user={USER}"),
        &format!("--password={PASSWORD}"),
        &url,
    ]));
    assert!(ok, "wget failed: {stderr}\n{}", web.logs());
    assert_eq!(stdout, "good 192.0.2.30\n");
    assert_eq!(world.a(HOME), ["192.0.2.30"]);
    let access = std::fs::read_to_string(web.dir.join("access.log")).expect("access log");
    let statuses: Vec<&str> = access.lines().filter_map(|l| l.split("\" ").nth(1)?.split(' ').next()).collect();
    assert_eq!(statuses, ["401", "200"], "{access}");
}

#[test]
fn busybox_wget_with_credentials_in_the_url() {
    if require_program("busybox", "busybox").is_none() {
        return;
    }
    let world = crate::world!(web_world());
    let web = crate::world!(WebServer::start(&world, Front::ApacheCgi));
    let url = web.url(&format!("/nic/update?hostname={HOME}&myip=2001:db8::31"));
    let url = url.replacen("http://", &format!("http://{}@", creds()), 1);
    let (ok, stdout, stderr) = run(Command::new("busybox").args(["wget", "-q", "-O", "-", &url]));
    assert!(ok, "busybox wget failed: {stderr}\n{}", web.logs());
    assert_eq!(stdout, "good 2001:db8::31\n");
    assert_eq!(world.aaaa(HOME), ["2001:db8::31"]);
}

#[test]
fn ddclient_two_hosts_then_a_new_address() {
    if require_program("ddclient", "ddclient").is_none() {
        return;
    }
    let world = crate::world!(web_world());
    // Apache + mod_cgi: the front where a chunked answer would break ddclient.
    let web = crate::world!(WebServer::start(&world, Front::ApacheCgi));
    let dir = web.dir.join("ddclient");
    std::fs::create_dir_all(&dir).expect("ddclient dir");
    let conf = dir.join("ddclient.conf");
    let cache = dir.join("ddclient.cache");
    let write_conf = |addr: &str| {
        let text = shipped("contrib/ddclient.conf")
            .replace("daemon=300", "daemon=0")
            .replace("syslog=yes", "syslog=no")
            .replace("ssl=yes", "ssl=no")
            // ddclient waits 30 s before it sends a changed address again; the test does not.
            .replace("protocol=dyndns2", "min-interval=0\nprotocol=dyndns2")
            .replace("/run/ddclient.pid", &dir.join("pid").display().to_string())
            .replace("ddns.example.com", &format!("127.0.0.1:{}", web.port))
            .replace("login=alice", &format!("login={USER}"))
            .replace("password='secret'", &format!("password='{PASSWORD}'"))
            .replace("use=web, web=https://checkip.dyndns.org/, web-skip='IP Address'", &format!("use=ip, ip={addr}"))
            .replace("dyn.example.com", "dyn.example.test");
        std::fs::write(&conf, text).expect("write ddclient.conf");
    };
    let ddclient = || {
        let (ok, stdout, stderr) = run(Command::new("ddclient")
            .args(["-daemon=0", "-foreground", "-verbose", "-noquiet", "-file"])
            .arg(&conf)
            .arg("-cache")
            .arg(&cache));
        let out = format!("{stdout}{stderr}");
        assert!(ok, "ddclient failed:\n{out}\n{}", web.logs());
        out
    };
    write_conf("192.0.2.40");
    let out = ddclient();
    assert_eq!(world.a(HOME), ["192.0.2.40"], "{out}");
    assert_eq!(world.a(NAS), ["192.0.2.40"], "{out}");
    assert!(out.contains("SUCCESS"), "{out}");
    write_conf("192.0.2.41");
    let out = ddclient();
    assert_eq!((world.a(HOME), world.a(NAS)), (vec!["192.0.2.41".to_owned()], vec!["192.0.2.41".to_owned()]), "{out}");
    // One request per run, for both hosts.
    let access = std::fs::read_to_string(web.dir.join("access.log")).expect("access log");
    let hits: Vec<&str> = access.lines().filter(|l| l.contains("/nic/update")).collect();
    assert_eq!(hits.len(), 2, "{access}");
    assert!(hits.iter().all(|l| l.contains(&format!("hostname={HOME},{NAS}")) && l.contains("\" 200 ")), "{access}");
}

#[test]
fn inadyn_custom_provider_ipv4_and_ipv6() {
    if require_program("inadyn", "inadyn").is_none() {
        return;
    }
    let world = crate::world!(web_world());
    let web = crate::world!(WebServer::start(&world, Front::NginxFastcgi));
    let dir = web.dir.join("inadyn");
    std::fs::create_dir_all(&dir).expect("inadyn dir");
    let conf = dir.join("inadyn.conf");
    let text = shipped("contrib/inadyn.conf")
        .replace("ddns.example.com", &format!("127.0.0.1:{}", web.port))
        .replace("username    = alice", &format!("username    = {USER}"))
        .replace("password    = \"secret\"", &format!("password    = \"{PASSWORD}\""))
        .replace("ssl         = true", "ssl         = false")
        .replace("checkip-server = checkip.example.com", "checkip-command = \"echo 192.0.2.50\"")
        .replace(
            "checkip-command = \"ip -6 -o addr show dev eth0 scope global | awk '{print $4}' | cut -d/ -f1 | head -n1\"",
            "checkip-command = \"echo 2001:db8::50\"",
        )
        .replace("dyn.example.com", "dyn.example.test");
    std::fs::write(&conf, text).expect("write inadyn.conf");
    let (ok, stdout, stderr) = run(Command::new("inadyn")
        .args(["-1", "-n", "-l", "debug", "-f"])
        .arg(&conf)
        .arg(format!("--cache-dir={}", dir.display()))
        .arg(format!("--pidfile={}", dir.join("pid").display())));
    let out = format!("{stdout}{stderr}");
    assert!(ok, "inadyn failed:\n{out}\n{}", web.logs());
    assert_eq!(world.a(HOME), ["192.0.2.50"], "{out}\n{}", web.logs());
    assert_eq!(world.a(NAS), ["192.0.2.50"], "{out}");
    assert_eq!(world.aaaa(HOME), ["2001:db8::50"], "{out}\n{}", web.logs());
    // inadyn speaks HTTP/1.0 and encodes the colons of the IPv6 address.
    let access = std::fs::read_to_string(web.dir.join("access.log")).expect("access log");
    assert!(access.contains("myip=2001%3adb8%3a%3a50 HTTP/1.0\" 200"), "{access}");
}

#[test]
fn openwrt_script_with_curl() {
    let world = crate::world!(web_world());
    let web = crate::world!(WebServer::start(&world, Front::ApacheFcgid));
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/openwrt/ddns-cgi-update.sh");
    let update = |password: &str, args: &[&str]| {
        run(Command::new("sh")
            .arg(&script)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("DDNS_CONF", "/nonexistent")
            .env("DDNS_URL", web.url("/nic/update"))
            .env("DDNS_USER", USER)
            .env("DDNS_PASSWORD", password)
            .env("DDNS_HOSTNAME", format!("{HOME},{NAS}")))
    };
    let (ok, stdout, stderr) = update(PASSWORD, &["192.0.2.60", "2001:db8::60"]);
    assert!(ok, "script failed: {stdout}{stderr}\n{}", web.logs());
    assert_eq!(stdout, "good 192.0.2.60 2001:db8::60\ngood 192.0.2.60 2001:db8::60\n");
    assert_eq!((world.a(HOME), world.aaaa(HOME)), (vec!["192.0.2.60".to_owned()], vec!["2001:db8::60".to_owned()]));
    assert_eq!(world.a(NAS), ["192.0.2.60"]);
    // A wrong password: the answer is printed and the exit status says failure.
    let (ok, stdout, _) = update("wrong", &["192.0.2.61"]);
    assert!(!ok);
    assert_eq!(stdout, "badauth\n");
    assert_eq!(world.a(HOME), ["192.0.2.60"]);
}
