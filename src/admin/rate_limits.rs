//! `ratelimit list` and `ratelimit clear`: the rate-limit counters as `crate::ratelimit`
//! counts them, with when each limited key passes again.

use serde::Serialize;

use crate::cli::{CliError, RatelimitCommand};
use crate::config::Config;
use crate::ratelimit;
use crate::store::Store;

use super::render::{json, table};

/// `ratelimit list` and `ratelimit clear`: the counters behind `abuse` answers.
pub(crate) fn ratelimit(
    config: &Config,
    store: &mut Store,
    command: RatelimitCommand,
    now: i64,
) -> Result<String, CliError> {
    let limits = &config.rate_limit;
    match command {
        RatelimitCommand::List { output } => {
            let longest = limits.good_window_seconds.max(limits.bad_window_seconds);
            let mut rows = Vec::new();
            for counter in store.rate_limit_counters(now - i64::from(longest))? {
                let Some((window, max)) = ratelimit::limit_of(limits, &counter.scope) else { continue };
                let since = now - i64::from(window);
                let counted: Vec<i64> = counter.at.iter().copied().filter(|t| *t >= since).collect();
                if counted.is_empty() {
                    continue;
                }
                // A request passes once fewer than `max` rows are inside its window: when the
                // oldest rows beyond `max - 1` have left it, one second after they are older
                // than the window.
                let max_rows = usize::try_from(max).unwrap_or(usize::MAX);
                let until =
                    counted.len().checked_sub(max_rows).and_then(|i| counted.get(i)).map(|t| t + i64::from(window) + 1);
                rows.push((counter.scope, counter.key, counted.len(), max, window, until));
            }
            if output.json {
                let items: Vec<CounterJson<'_>> = rows
                    .iter()
                    .map(|(scope, key, n, max, window, until)| CounterJson {
                        scope,
                        key,
                        n_requests: *n,
                        max_requests: *max,
                        window_seconds: *window,
                        limited_until: *until,
                    })
                    .collect();
                return json(&items);
            }
            let rows = rows
                .into_iter()
                .map(|(scope, key, n, max, window, until)| {
                    vec![
                        scope,
                        key,
                        n.to_string(),
                        max.to_string(),
                        window.to_string(),
                        until.map_or_else(|| "-".to_owned(), crate::log::rfc3339),
                    ]
                })
                .collect();
            Ok(table(&["SCOPE", "KEY", "REQUESTS", "LIMIT", "WINDOW", "LIMITED_UNTIL"], rows))
        }
        RatelimitCommand::Clear { key: None } => {
            let n = store.clear_rate_limit(None)?;
            Ok(format!("cleared {n} rate-limit {}\n", rows_word(n)))
        }
        RatelimitCommand::Clear { key: Some(arg) } => {
            match store.clear_rate_limit(Some(&ratelimit::keys_for(limits, &arg)))? {
                0 => Err(CliError::not_found(format!("no rate-limit rows of `{arg}`"))),
                n => Ok(format!("cleared {n} rate-limit {} of `{arg}`\n", rows_word(n))),
            }
        }
    }
}

fn rows_word(n: usize) -> &'static str {
    if n == 1 { "row" } else { "rows" }
}

/// One counter of `ratelimit list --json`; `limited_until` (seconds since the epoch) is
/// `null` while requests still pass.
#[derive(Serialize)]
struct CounterJson<'a> {
    scope: &'a str,
    key: &'a str,
    n_requests: usize,
    max_requests: u32,
    window_seconds: u32,
    limited_until: Option<i64>,
}
