//! The audit trail for people and scripts: `hostname history` (one hostname, newest first)
//! and `log` (every hostname from a time on). The rows and their columns come from
//! `crate::audit`; this file picks the rows and the output form.

use crate::cli::{CliError, LogArgs};
use crate::request::normalize_hostname;
use crate::store::Store;

use super::render::table;

/// `hostname history FQDN`: the hostname's audit rows, newest first.
pub(super) fn history(store: &Store, fqdn: &str, limit: u32, json: bool) -> Result<String, CliError> {
    let fqdn_ascii =
        normalize_hostname(fqdn).ok_or_else(|| CliError::failure(format!("`{fqdn}` is not a valid hostname")))?;
    let rows = store.audit_history(&fqdn_ascii, limit)?;
    audit_output(&rows, json)
}

/// `log --since ...`: the audit rows from a time on, oldest first.
pub(crate) fn audit_log(store: &Store, args: &LogArgs, now: i64) -> Result<String, CliError> {
    let since = crate::audit::parse_since(&args.since, now).map_err(CliError::failure)?;
    let rows = store.audit_since(since, args.refused, args.limit)?;
    audit_output(&rows, args.output.json)
}

fn audit_output(rows: &[crate::store::AuditRow], json: bool) -> Result<String, CliError> {
    if json {
        let text = crate::audit::json(rows).map_err(|e| CliError::failure(format!("cannot write JSON: {e}")))?;
        return Ok(format!("{text}\n"));
    }
    Ok(table(&crate::audit::HEADER, rows.iter().map(crate::audit::cells).collect()))
}
