//! Durations as nanodnsd writes them: a bare number is seconds, and a number with `s`, `m`,
//! `h` or `d` is seconds, minutes, hours or days (`90`, `15m`, `1h`, `1d`). One parser for
//! every config key and command-line flag that is a number of seconds; the callers keep their
//! own bounds. Milliseconds (`*_ms` keys) and days (`audit.keep_days`) stay plain integers.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};

/// What every message says a duration looks like.
pub(crate) const EXPECTED: &str = "a number of seconds or a duration such as `90`, `15m`, `1h`, `1d`";

/// The longest value quoted back in a message: the value came from a file or a command line,
/// and a long one is a mistake whose whole text helps nobody.
const MAX_QUOTED: usize = 40;

/// `s` as seconds: digits alone, or digits and one unit. No sign, no spaces inside, no
/// fractions, no mixed units (`1h30m`); nanodnsd has none of them.
pub(crate) fn parse(s: &str) -> Result<u64, String> {
    let bad = || format!("must be {EXPECTED}, got `{}`", quoted(s));
    let s = s.trim();
    let (digits, scale) = match s.char_indices().last() {
        Some((i, 's')) => (s.get(..i), 1),
        Some((i, 'm')) => (s.get(..i), 60),
        Some((i, 'h')) => (s.get(..i), 3_600),
        Some((i, 'd')) => (s.get(..i), 86_400),
        Some(_) => (Some(s), 1),
        None => return Err(bad()),
    };
    let digits = digits.filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())).ok_or_else(bad)?;
    let too_long = || format!("is too long, got `{}`", quoted(s));
    let n: u64 = digits.parse().map_err(|_| too_long())?;
    n.checked_mul(scale).ok_or_else(too_long)
}

/// `s` cut to [`MAX_QUOTED`] characters, control characters escaped.
fn quoted(s: &str) -> String {
    let mut out: String = s.chars().take(MAX_QUOTED).flat_map(char::escape_debug).collect();
    if s.chars().count() > MAX_QUOTED {
        out.push_str("...");
    }
    out
}

/// A config value in seconds, written as an integer (`3600`) or a string with a unit
/// (`"1h"`). Negative integers pass through, for the caller's bounds check to name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Seconds(pub(crate) i64);

impl From<Seconds> for i64 {
    fn from(s: Seconds) -> i64 {
        s.0
    }
}

impl<'de> serde::Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SecondsVisitor;

        impl Visitor<'_> for SecondsVisitor {
            type Value = Seconds;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(EXPECTED)
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Seconds, E> {
                Ok(Seconds(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Seconds, E> {
                i64::try_from(v).map(Seconds).map_err(|_| E::custom(format!("is too long, got `{v}`")))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Seconds, E> {
                let n = parse(v).map_err(E::custom)?;
                i64::try_from(n).map(Seconds).map_err(|_| E::custom(format!("is too long, got `{}`", quoted(v))))
            }
        }

        deserializer.deserialize_any(SecondsVisitor)
    }
}

/// A command-line flag in seconds that must fit a `u32` (TTLs), for clap's `value_parser`.
pub(crate) fn parse_u32(s: &str) -> Result<u32, String> {
    let n = parse(s)?;
    u32::try_from(n).map_err(|_| format!("is too long, got `{}`", quoted(s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, expected: Result<u64, &str>) {
        assert_eq!(parse(input), expected.map_err(str::to_owned), "{input:?}");
    }

    #[test]
    fn units_as_nanodnsd_writes_them() {
        check("90", Ok(90));
        check("0", Ok(0));
        check("45s", Ok(45));
        check("15m", Ok(900));
        check("1h", Ok(3_600));
        check("1d", Ok(86_400));
        check("7d", Ok(604_800));
        check(" 2h ", Ok(7_200));
        check("007", Ok(7));
        check("18446744073709551615", Ok(u64::MAX));
    }

    #[test]
    fn junk_is_refused_with_the_value_quoted() {
        let bad = |v: &str| format!("must be {EXPECTED}, got `{v}`");
        for input in ["", "  ", "h", "-1", "-1h", "+5", "1w", "1y", "1ms", "1.5h", "1h30m", "1 h", "1H", "ten", "0x10"]
        {
            check(input, Err(&bad(input)));
        }
        check("a\nb", Err(&bad("a\\nb")));
        check("99999999999999999999", Err("is too long, got `99999999999999999999`"));
        check("999999999999999999d", Err("is too long, got `999999999999999999d`"));
        let long = "x".repeat(100);
        check(&long, Err(&bad(&format!("{}...", "x".repeat(MAX_QUOTED)))));
    }

    #[test]
    fn flags_that_are_u32() {
        assert_eq!(parse_u32("1d"), Ok(86_400));
        assert_eq!(parse_u32("4294967295"), Ok(u32::MAX));
        assert_eq!(parse_u32("4294967296"), Err("is too long, got `4294967296`".to_owned()));
        assert!(parse_u32("soon").is_err());
    }

    #[test]
    fn toml_takes_an_integer_or_a_string() {
        #[derive(serde::Deserialize)]
        struct T {
            a: Seconds,
            b: Seconds,
            c: Seconds,
        }
        let t: T = toml::from_str("a = 3600\nb = \"1h\"\nc = -5").expect("parses");
        assert_eq!((t.a, t.b, t.c), (Seconds(3_600), Seconds(3_600), Seconds(-5)));
        let e = toml::from_str::<T>("a = \"1x\"\nb = 1\nc = 1").err().map(|e| e.message().to_owned());
        assert_eq!(e.as_deref(), Some(format!("must be {EXPECTED}, got `1x`").as_str()));
        let e = toml::from_str::<T>("a = true\nb = 1\nc = 1").err().map(|e| e.message().to_owned());
        assert!(e.is_some_and(|m| m.contains(EXPECTED)));
    }
}
