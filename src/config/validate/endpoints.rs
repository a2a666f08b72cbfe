//! `[[endpoints]]`: each entry's path, action, API (`dyndns2` or `flask`), what an absent
//! address family does, and its parameter aliases, checked against each other (a name belongs
//! to one list) and against the defaults; none given means the defaults
//! (`DEFAULT_ENDPOINTS`, applied by the caller).

use super::Validator;
use crate::config::raw::RawEndpoint;
use crate::config::{Absent, Action, Api, ConfigError, Endpoint, ParamAliases};

impl Validator<'_> {
    pub(super) fn endpoints(&self, raw: Vec<RawEndpoint>) -> Result<Vec<Endpoint>, ConfigError> {
        let mut out: Vec<Endpoint> = Vec::with_capacity(raw.len());
        for (i, e) in raw.into_iter().enumerate() {
            let key = format!("endpoints[{i}].path");
            if !e.path.starts_with('/') || e.path.len() > 256 {
                return Err(self.invalid(&key, format!("must start with `/`, got `{}`", e.path)));
            }
            if out.iter().any(|o| o.path == e.path) {
                return Err(self.invalid(&key, format!("repeats path `{}`", e.path)));
            }
            let params_set = e.params.is_set();
            let d = ParamAliases::default();
            let list = |name: &str, v: Option<Vec<String>>, default: Vec<String>| match v {
                None => Ok(default),
                Some(v) if v.is_empty() || v.iter().any(|s| s.is_empty()) => {
                    Err(self.invalid(&format!("endpoints[{i}].params.{name}"), "must be a list of non-empty names"))
                }
                Some(v) => Ok(v),
            };
            let written = [
                e.params.address.is_some(),
                e.params.ipv4.is_some(),
                e.params.ipv6.is_some(),
                e.params.ipv6_prefix.is_some(),
            ];
            let mut params = ParamAliases {
                hostname: list("hostname", e.params.hostname, d.hostname)?,
                address: list("address", e.params.address, d.address)?,
                ipv4: list("ipv4", e.params.ipv4, d.ipv4)?,
                ipv6: list("ipv6", e.params.ipv6, d.ipv6)?,
                ipv6_prefix: list("ipv6_prefix", e.params.ipv6_prefix, d.ipv6_prefix)?,
                username: list("username", e.params.username, d.username)?,
                password: list("password", e.params.password, d.password)?,
            };
            // A name written into one address list leaves the default of another: the
            // Python ddns-daemon's `ipv4 = ["myip", ...]` makes `myip` IPv4 only, as there.
            let claimed: Vec<String> = [&params.address, &params.ipv4, &params.ipv6, &params.ipv6_prefix]
                .into_iter()
                .zip(written)
                .filter(|(_, w)| *w)
                .flat_map(|(names, _)| names.iter().cloned())
                .collect();
            for (names, w) in [&mut params.address, &mut params.ipv4, &mut params.ipv6, &mut params.ipv6_prefix]
                .into_iter()
                .zip(written)
            {
                if !w {
                    names.retain(|n| !claimed.contains(n));
                }
            }
            // A name in two written address lists would make the family it promises ambiguous.
            let lists = [
                ("address", &params.address),
                ("ipv4", &params.ipv4),
                ("ipv6", &params.ipv6),
                ("ipv6_prefix", &params.ipv6_prefix),
            ];
            for (n, (key, names)) in lists.iter().enumerate() {
                for (other, other_names) in &lists[n + 1..] {
                    if let Some(name) = names.iter().find(|name| other_names.contains(name)) {
                        return Err(self.invalid(
                            &format!("endpoints[{i}].params.{other}"),
                            format!("repeats `{name}` from `params.{key}`; a name belongs to one address list"),
                        ));
                    }
                }
            }
            let action = match e.action.as_deref() {
                None | Some("update") => Action::Update,
                Some("delete") => Action::Delete,
                Some(other) => {
                    return Err(self.invalid(
                        &format!("endpoints[{i}].action"),
                        format!("must be `update` or `delete`, got `{other}`"),
                    ));
                }
            };
            let api = match e.api.as_deref() {
                None | Some("dyndns2") => Api::Dyndns2,
                // The Flask API's parameter names are its own; aliases would be ignored.
                Some("flask") if params_set => {
                    return Err(self.invalid(
                        &format!("endpoints[{i}].params"),
                        "does not apply to `api = \"flask\"`, whose parameter names are fixed",
                    ));
                }
                Some("flask") => Api::Flask,
                Some(other) => {
                    return Err(self.invalid(
                        &format!("endpoints[{i}].api"),
                        format!("must be `dyndns2` or `flask`, got `{other}`"),
                    ));
                }
            };
            let absent = match (e.absent.as_deref(), action) {
                (None | Some("keep"), _) => Absent::Keep,
                // A deletion removes every family; `remove` there would promise a choice.
                (Some("remove"), Action::Delete) => {
                    return Err(self.invalid(
                        &format!("endpoints[{i}].absent"),
                        "does not apply to `action = \"delete\"`, which removes every family",
                    ));
                }
                (Some("remove"), Action::Update) => Absent::Remove,
                (Some(other), _) => {
                    return Err(self.invalid(
                        &format!("endpoints[{i}].absent"),
                        format!("must be `keep` or `remove`, got `{other}`"),
                    ));
                }
            };
            out.push(Endpoint { path: e.path, action, api, absent, params });
        }
        Ok(out)
    }
}
