//! A host's address changes over the last days, drawn as a small SVG on the server: a time
//! axis (UTC days), one lane per address family with a mark per change (its new address as a
//! label where there is room, every detail in the mark's `<title>`), and a lane of refused
//! attempts marked with a cross. The console puts the picture beside the history table,
//! which stays the full record.
//!
//! The SVG is built here, not by a template, so this module is where it is made safe: every
//! text that came from data (addresses, answers, reasons) goes through [`escape`], and every
//! other piece is a constant or a number this module formatted. No script, no style
//! attribute (the console's Content-Security-Policy allows neither inline), no link. The same
//! rows and `now` give the same bytes. It reads no clock and no store: the console hands it
//! the audit rows and the time.
#![allow(dead_code, reason = "the console (issue 20) shows these; it is merged separately")]

use std::fmt::Write as _;

use crate::store::{AuditRow, Families};

/// The drawing's coordinate width; the picture scales to its container (`width="100%"`).
const WIDTH: f64 = 480.0;
/// Left of the plot: the lane names.
const LEFT: f64 = 52.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 6.0;
const LANE: f64 = 40.0;
/// Below the lanes: the axis and its labels.
const AXIS: f64 = 26.0;
const FONT: f64 = 11.0;
/// An estimate of a label character's width at [`FONT`] (digits and `:` of a sans-serif
/// face), to keep labels from overlapping.
const CHAR_WIDTH: f64 = 6.2;
const DAY: i64 = 86_400;

/// What to draw: the window ending `now` (seconds since the epoch), `days` long, and the
/// families the host takes (a lane each, even without changes).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeline {
    pub(crate) now: i64,
    pub(crate) days: u32,
    pub(crate) families: Families,
}

/// Which lane a mark is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lane {
    Ipv4,
    Ipv6,
    Refused,
}

impl Lane {
    fn name(self) -> &'static str {
        match self {
            Lane::Ipv4 => "IPv4",
            Lane::Ipv6 => "IPv6",
            Lane::Refused => "refused",
        }
    }

    fn class(self) -> &'static str {
        match self {
            Lane::Ipv4 => "v4",
            Lane::Ipv6 => "v6",
            Lane::Refused => "refused",
        }
    }
}

/// One mark: when, on which lane, its visible label (an address, `removed`, or none for a
/// refusal) and its tooltip; both texts unescaped yet.
struct Mark {
    at: i64,
    lane: Lane,
    label: Option<String>,
    title: String,
}

/// The marks of `rows` inside the window, oldest first (ties in the rows' order).
fn marks(rows: &[AuditRow], start: i64, now: i64) -> Vec<Mark> {
    let mut marks = Vec::new();
    for row in rows.iter().filter(|r| (start..=now).contains(&r.at)) {
        let when = minute(row.at);
        if row.kind == "refused" {
            let reason = row.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
            let title = format!("{when}: refused, {}{reason}", row.answer);
            marks.push(Mark { at: row.at, lane: Lane::Refused, label: None, title });
            continue;
        }
        let families = [(Lane::Ipv4, &row.old_ipv4, &row.new_ipv4), (Lane::Ipv6, &row.old_ipv6, &row.new_ipv6)];
        for (lane, old, new) in families {
            if old == new {
                continue;
            }
            let label = new.clone().unwrap_or_else(|| "removed".to_owned());
            let title = format!("{when}: {} {} → {label}", lane.name(), old.as_deref().unwrap_or("none"));
            marks.push(Mark { at: row.at, lane, label: Some(label), title });
        }
    }
    marks.sort_by_key(|m| m.at);
    marks
}

/// The SVG of `rows` (a host's audit rows, in any order) as `view` asks.
pub(crate) fn svg(rows: &[AuditRow], view: &Timeline) -> String {
    let days = i64::from(view.days.max(1));
    let end = view.now;
    let start = end - days * DAY;
    let marks = marks(rows, start, end);
    let has = |lane: Lane| marks.iter().any(|m| m.lane == lane);
    let lanes: Vec<Lane> = [
        (Lane::Ipv4, view.families.ipv4 || has(Lane::Ipv4)),
        (Lane::Ipv6, view.families.ipv6 || has(Lane::Ipv6)),
        (Lane::Refused, has(Lane::Refused)),
    ]
    .into_iter()
    .filter_map(|(lane, shown)| shown.then_some(lane))
    .collect();
    let axis_y = TOP + LANE * lanes.len() as f64 + 4.0;
    let height = axis_y + AXIS;
    let x_of = |at: i64| LEFT + (at - start) as f64 * (WIDTH - LEFT - RIGHT) / (end - start) as f64;
    let lane_y = |lane: Lane| {
        let i = lanes.iter().position(|l| *l == lane).unwrap_or(0);
        TOP + LANE * i as f64 + LANE / 2.0
    };

    let mut out = String::with_capacity(2048 + marks.len() * 256);
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"timeline\" role=\"img\" viewBox=\"0 0 {WIDTH} {h}\" \
         width=\"100%\" preserveAspectRatio=\"xMinYMin meet\" font-family=\"sans-serif\" font-size=\"{FONT}\">",
        h = fmt(height)
    );
    let _ = write!(
        out,
        "<title>Address changes, last {days} days</title><desc>{}</desc>",
        escape(&description(&marks, start, end))
    );

    // Lanes: a name and a thin line each.
    for lane in &lanes {
        let y = fmt(lane_y(*lane));
        let _ = write!(
            out,
            "<g class=\"lane {c}\"><text x=\"4\" y=\"{y}\" dy=\"0.35em\" fill=\"#444\">{n}</text>\
             <line x1=\"{l}\" y1=\"{y}\" x2=\"{r}\" y2=\"{y}\" stroke=\"#ccc\"/></g>",
            c = lane.class(),
            n = lane.name(),
            l = fmt(LEFT),
            r = fmt(WIDTH - RIGHT),
        );
    }
    axis(&mut out, start, end, axis_y, x_of);
    if marks.is_empty() {
        let _ = write!(
            out,
            "<text class=\"empty\" x=\"{x}\" y=\"{y}\" text-anchor=\"middle\" fill=\"#666\">no changes in the last {days} days</text>",
            x = fmt((LEFT + WIDTH - RIGHT) / 2.0),
            y = fmt(TOP + LANE / 2.0 - 12.0),
        );
    }
    for mark in &marks {
        draw_mark(&mut out, mark, x_of(mark.at), lane_y(mark.lane));
    }
    labels(&mut out, &marks, x_of, lane_y);
    out.push_str("</svg>");
    out
}

/// A mark: a filled dot for a new address, a hollow one for a removed address, a cross for a
/// refusal; its `<title>` is the tooltip and what a screen reader reads.
fn draw_mark(out: &mut String, mark: &Mark, x: f64, y: f64) {
    let title = escape(&mark.title);
    let (cx, cy) = (fmt(x), fmt(y));
    match (mark.lane, mark.label.as_deref()) {
        (Lane::Refused, _) => {
            let (l, r, t, b) = (fmt(x - 4.0), fmt(x + 4.0), fmt(y - 4.0), fmt(y + 4.0));
            let _ = write!(
                out,
                "<g class=\"mark refused\"><title>{title}</title>\
                 <path d=\"M{l} {t}L{r} {b}M{l} {b}L{r} {t}\" stroke=\"#c0392b\" stroke-width=\"2.5\" fill=\"none\"/></g>"
            );
        }
        (lane, Some("removed")) => {
            let _ = write!(
                out,
                "<g class=\"mark {c} removed\"><title>{title}</title>\
                 <circle cx=\"{cx}\" cy=\"{cy}\" r=\"4.5\" fill=\"#fff\" stroke=\"{s}\" stroke-width=\"2\"/></g>",
                c = lane.class(),
                s = colour(lane)
            );
        }
        (lane, _) => {
            let _ = write!(
                out,
                "<g class=\"mark {c}\"><title>{title}</title><circle cx=\"{cx}\" cy=\"{cy}\" r=\"5\" fill=\"{s}\"/></g>",
                c = lane.class(),
                s = colour(lane)
            );
        }
    }
}

fn colour(lane: Lane) -> &'static str {
    match lane {
        Lane::Ipv4 => "#1f6fb2",
        Lane::Ipv6 => "#2e8b57",
        Lane::Refused => "#c0392b",
    }
}

/// The visible labels, newest first so the current address always has one: above the lane,
/// else below it, else none (the mark's title still says it). A label starts at its mark, or
/// ends there near the right edge; it is placed only left of the labels already on its side.
fn labels(out: &mut String, marks: &[Mark], x_of: impl Fn(i64) -> f64, lane_y: impl Fn(Lane) -> f64) {
    // Per lane and side, the leftmost x taken by a label so far.
    let mut taken: Vec<(Lane, bool, f64)> = Vec::new();
    for mark in marks.iter().rev() {
        let Some(label) = mark.label.as_deref() else { continue };
        let x = x_of(mark.at);
        let width = label.chars().count() as f64 * CHAR_WIDTH;
        let (from, anchor) = if x + width > WIDTH - RIGHT { (x - width, "end") } else { (x, "start") };
        if from < LEFT {
            continue;
        }
        for above in [true, false] {
            let limit = taken.iter().find(|(l, a, _)| *l == mark.lane && *a == above).map_or(f64::INFINITY, |t| t.2);
            if from + width + 6.0 > limit {
                continue;
            }
            taken.retain(|(l, a, _)| !(*l == mark.lane && *a == above));
            taken.push((mark.lane, above, from));
            let y = lane_y(mark.lane) + if above { -9.0 } else { 17.0 };
            let _ = write!(
                out,
                "<text class=\"label {c}\" x=\"{x}\" y=\"{y}\" text-anchor=\"{anchor}\" fill=\"#222\">{t}</text>",
                c = mark.lane.class(),
                x = fmt(x),
                y = fmt(y),
                t = escape(label)
            );
            break;
        }
    }
}

/// The time axis: a line, a tick at each UTC midnight, and a date label every `step` days
/// (at most seven labels whatever the window).
fn axis(out: &mut String, start: i64, end: i64, y: f64, x_of: impl Fn(i64) -> f64) {
    let _ = write!(
        out,
        "<g class=\"axis\"><line x1=\"{l}\" y1=\"{y}\" x2=\"{r}\" y2=\"{y}\" stroke=\"#888\"/>",
        l = fmt(LEFT),
        r = fmt(WIDTH - RIGHT),
        y = fmt(y)
    );
    let n_days = (end - start) / DAY;
    let step = (n_days + 6) / 7;
    let last_midnight = end.div_euclid(DAY) * DAY;
    let mut midnight = last_midnight;
    let mut i = 0;
    while midnight >= start {
        let x = fmt(x_of(midnight));
        let labelled = i % step.max(1) == 0;
        let tick = if labelled { 5.0 } else { 3.0 };
        let _ = write!(out, "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"#888\"/>", fmt(y), fmt(y + tick));
        if labelled {
            let _ = write!(
                out,
                "<text x=\"{x}\" y=\"{}\" text-anchor=\"middle\" fill=\"#444\">{}</text>",
                fmt(y + 17.0),
                day_month(midnight)
            );
        }
        midnight -= DAY;
        i += 1;
    }
    out.push_str("</g>");
}

/// What the picture shows, in words, for `<desc>`.
fn description(marks: &[Mark], start: i64, end: i64) -> String {
    let count = |lane: Lane| marks.iter().filter(|m| m.lane == lane).count();
    let (v4, v6, refused) = (count(Lane::Ipv4), count(Lane::Ipv6), count(Lane::Refused));
    let span = format!("from {} to {} (UTC)", minute(start), minute(end));
    if marks.is_empty() {
        return format!("No address changes and no refused attempts {span}.");
    }
    let mut text = format!("{v4} IPv4 {}, {v6} IPv6 {}", plural(v4, "change"), plural(v6, "change"));
    let _ = write!(text, ", {refused} refused {} {span}.", plural(refused, "attempt"));
    if let Some(last) = marks.iter().rev().find(|m| m.lane != Lane::Refused) {
        let _ = write!(text, " Latest: {}.", last.title);
    }
    text
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 { word.to_owned() } else { format!("{word}s") }
}

/// Text and attribute values: the five characters XML gives meaning to, as references.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // XML 1.0 allows no other control characters, even as references.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A coordinate with one decimal, without a trailing `.0`: the same number, the same text.
fn fmt(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

/// `2026-12-07 13:05` (UTC).
fn minute(at: i64) -> String {
    let stamp = crate::log::rfc3339(at);
    // `2026-12-07T13:05:09Z`: the date and the hour and minute.
    let date = stamp.get(..10).unwrap_or(&stamp);
    let time = stamp.get(11..16).unwrap_or("");
    format!("{date} {time}")
}

/// `7 Dec` (UTC), for the axis.
fn day_month(at: i64) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let stamp = crate::log::rfc3339(at);
    let month = stamp.get(5..7).and_then(|m| m.parse::<usize>().ok()).unwrap_or(1);
    let day = stamp.get(8..10).and_then(|d| d.parse::<u32>().ok()).unwrap_or(1);
    format!("{day} {}", MONTHS.get(month.wrapping_sub(1)).unwrap_or(&"?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-07 12:00:00 UTC.
    const NOW: i64 = 1_796_644_800;
    const HOUR: i64 = 3600;

    fn view() -> Timeline {
        Timeline { now: NOW, days: 28, families: Families::BOTH }
    }

    fn change(at: i64, v4: (Option<&str>, Option<&str>), v6: (Option<&str>, Option<&str>)) -> AuditRow {
        let s = |v: Option<&str>| v.map(str::to_owned);
        AuditRow {
            at,
            kind: "change",
            answer: "good".to_owned(),
            txn: "0badcafe".to_owned(),
            client: Some("192.0.2.9".to_owned()),
            hostname: Some("home.dyn.example.com".to_owned()),
            user: Some("alice".to_owned()),
            auth: Some("token".to_owned()),
            old_ipv4: s(v4.0),
            old_ipv6: s(v6.0),
            new_ipv4: s(v4.1),
            new_ipv6: s(v6.1),
            old_txt: None,
            new_txt: None,
            rcode: None,
            reason: None,
        }
    }

    fn refused(at: i64, answer: &str, reason: &str) -> AuditRow {
        AuditRow {
            kind: "refused",
            answer: answer.to_owned(),
            reason: Some(reason.to_owned()),
            auth: None,
            ..change(at, (None, None), (None, None))
        }
    }

    /// The element names of `svg`: only the ones this module writes, so no text of the data
    /// became markup.
    #[track_caller]
    fn only_our_elements(svg: &str) {
        let allowed = ["svg", "title", "desc", "g", "text", "line", "circle", "path"];
        for piece in svg.split('<').skip(1) {
            let name: String =
                piece.trim_start_matches('/').chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
            assert!(allowed.contains(&name.as_str()), "element `{name}` in {svg}");
        }
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"), "{svg}");
        let opened = svg.matches("<g ").count() + svg.matches("<g>").count();
        assert_eq!(opened, svg.matches("</g>").count(), "{svg}");
        assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count(), "{svg}");
        assert_eq!(svg.matches("<title>").count(), svg.matches("</title>").count(), "{svg}");
    }

    #[test]
    fn data_stays_text() {
        let rows = [
            refused(NOW - HOUR, "badauth", "<script>alert(1)</script> & \"quoted\" 'single'"),
            change(NOW - 2 * HOUR, (None, Some("\"><script>alert(2)</script>")), (None, None)),
            refused(NOW - 3 * HOUR, "nohost</title><script>x</script>", "\u{1}control"),
        ];
        let svg = svg(&rows, &view());
        only_our_elements(&svg);
        assert!(!svg.contains("<script"), "{svg}");
        assert!(
            svg.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quoted&quot; &#39;single&#39;"),
            "{svg}"
        );
        assert!(svg.contains("&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;"), "{svg}");
        assert!(svg.contains("nohost&lt;/title&gt;"), "{svg}");
        assert!(svg.contains("\u{fffd}control") && !svg.contains('\u{1}'), "{svg}");
    }

    #[test]
    fn accessible_and_scalable() {
        let svg = svg(&[], &view());
        assert!(svg.starts_with(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"timeline\" role=\"img\" viewBox=\"0 0 480 "
        ));
        assert!(svg.contains(" width=\"100%\" "), "{svg}");
        // The title comes first: it names the picture for screen readers.
        let first_child = svg.split_once('>').map(|(_, rest)| rest).unwrap_or_default();
        assert!(first_child.starts_with("<title>Address changes, last 28 days</title><desc>"), "{svg}");
        // Nothing that a Content-Security-Policy without `unsafe-inline` would block.
        for absent in ["style", "script", "href", "on"] {
            assert!(!svg.contains(&format!(" {absent}=")) && !svg.contains(&format!("<{absent}")), "{absent}: {svg}");
        }
    }

    #[test]
    fn empty_history() {
        let old = change(NOW - 29 * 24 * HOUR, (None, Some("192.0.2.1")), (None, None));
        let svg = svg(&[old], &view());
        only_our_elements(&svg);
        assert!(svg.contains(">no changes in the last 28 days</text>"), "{svg}");
        assert!(svg.contains(
            "<desc>No address changes and no refused attempts from 2026-11-09 12:00 to 2026-12-07 12:00 (UTC).</desc>"
        ));
        assert!(svg.contains(">IPv4</text>") && svg.contains(">IPv6</text>") && !svg.contains(">refused</text>"));
        assert!(!svg.contains("class=\"mark"), "{svg}");
    }

    #[test]
    fn one_change() {
        let rows = [change(NOW - 24 * HOUR, (Some("192.0.2.1"), Some("192.0.2.2")), (None, None))];
        let svg = svg(&rows, &Timeline { families: Families { ipv4: true, ipv6: false }, ..view() });
        only_our_elements(&svg);
        assert_eq!(svg.matches("class=\"mark").count(), 1, "{svg}");
        // One day before the end of a 28-day plot 416 wide: 52 + 416 * 27 / 28.
        assert!(
            svg.contains(
                "<g class=\"mark v4\"><title>2026-12-06 12:00: IPv4 192.0.2.1 → 192.0.2.2</title><circle cx=\"453.1\" cy=\"26\" r=\"5\""
            ),
            "{svg}"
        );
        assert!(svg.contains(">192.0.2.2</text>"), "{svg}");
        // A host of one family has one lane.
        assert!(!svg.contains(">IPv6</text>") && svg.contains("viewBox=\"0 0 480 76\""), "{svg}");
        assert!(svg.contains("<desc>1 IPv4 change, 0 IPv6 changes, 0 refused attempts from"), "{svg}");
    }

    #[test]
    fn both_families_and_removals_and_refusals() {
        let rows = [
            change(NOW - 48 * HOUR, (None, Some("192.0.2.1")), (None, Some("2001:db8::1"))),
            change(NOW - 24 * HOUR, (Some("192.0.2.1"), None), (Some("2001:db8::1"), Some("2001:db8::1"))),
            refused(NOW - 12 * HOUR, "badauth", "wrong password"),
        ];
        let svg = svg(&rows, &view());
        only_our_elements(&svg);
        assert_eq!(svg.matches("<g class=\"mark v4\">").count(), 1, "{svg}");
        assert_eq!(svg.matches("<g class=\"mark v6\">").count(), 1, "{svg}");
        assert_eq!(svg.matches("<g class=\"mark v4 removed\">").count(), 1, "{svg}");
        assert_eq!(svg.matches("<g class=\"mark refused\">").count(), 1, "{svg}");
        // Each lane at its own height: IPv4 26, IPv6 66, refused 106.
        assert!(svg.contains("<title>2026-12-05 12:00: IPv6 none → 2001:db8::1</title><circle cx=\"438.3\" cy=\"66\""));
        assert!(
            svg.contains("<title>2026-12-06 12:00: IPv4 192.0.2.1 → removed</title><circle cx=\"453.1\" cy=\"26\"")
        );
        assert!(svg.contains("<title>2026-12-07 00:00: refused, badauth (wrong password)</title><path d=\"M456.6 102"));
        assert!(svg.contains(">refused</text>"), "{svg}");
        assert!(svg.contains("<desc>2 IPv4 changes, 1 IPv6 change, 1 refused attempt from"), "{svg}");
    }

    #[test]
    fn many_changes() {
        // An address a day for four weeks, then one an hour for the last day.
        let mut rows: Vec<AuditRow> = (1..28)
            .map(|d| {
                let (old, new) = (format!("198.51.100.{}", d - 1), format!("198.51.100.{d}"));
                change(NOW - (28 - d) * 24 * HOUR, (Some(old.as_str()), Some(new.as_str())), (None, None))
            })
            .collect();
        rows.extend((1..24).map(|h| change(NOW - h * HOUR, (Some("192.0.2.1"), Some("192.0.2.2")), (None, None))));
        let svg = svg(&rows, &view());
        only_our_elements(&svg);
        assert_eq!(svg.matches("<g class=\"mark v4\">").count(), 50, "{svg}");
        // The newest one is labelled; labels do not pile up.
        let labels = svg.matches("<text class=\"label v4\"").count();
        assert!((4..=12).contains(&labels), "{labels} labels: {svg}");
        assert!(svg.contains("text-anchor=\"end\" fill=\"#222\">192.0.2.2</text>"), "{svg}");
        // The same rows in another order give the same bytes.
        let mut reversed = rows.clone();
        reversed.reverse();
        assert_eq!(super::svg(&reversed, &view()), svg);
    }

    #[test]
    fn time_axis() {
        let svg = svg(&[], &view());
        // A tick each midnight, a label every fourth day back from the last one.
        let labels: Vec<&str> = svg
            .split("text-anchor=\"middle\" fill=\"#444\">")
            .skip(1)
            .filter_map(|s| s.split_once("</text>").map(|(l, _)| l))
            .collect();
        assert_eq!(labels, ["7 Dec", "3 Dec", "29 Nov", "25 Nov", "21 Nov", "17 Nov", "13 Nov"]);
        let axis = svg.split("<g class=\"axis\">").nth(1).unwrap_or_default();
        assert_eq!(axis.matches("<line").count(), 1 + 28, "{svg}");
        // A week: a label a day.
        let week = super::svg(&[], &Timeline { days: 7, ..view() });
        assert_eq!(week.matches("text-anchor=\"middle\" fill=\"#444\">").count(), 7, "{week}");
        assert!(week.contains(">1 Dec</text>") && week.contains(">7 Dec</text>"), "{week}");
        assert_eq!(day_month(NOW - 340 * 24 * HOUR), "1 Jan");
    }
}
