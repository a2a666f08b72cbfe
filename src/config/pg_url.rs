//! libpq's TLS parameters in a PostgreSQL `[database] url`: taken out of the query for
//! `store::postgres::tls`, which applies them, the rest left for the driver.

/// A `[database] url` with libpq's TLS parameters taken out of its query.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct TlsParams {
    /// The URL without them, for the driver.
    pub(super) rest: String,
    pub(super) sslmode: Option<String>,
    pub(super) sslrootcert: Option<String>,
}

/// Takes libpq's `sslmode` and `sslrootcert` out of a `postgresql://` URL's query: the driver
/// knows only `disable`, `prefer` and `require` and no root certificate, so these two are
/// applied by `store::postgres::tls`. Other parameters stay for the driver. Client
/// certificates are refused by name rather than as an unknown option. A key=value
/// connection string is passed on whole. Messages quote no part of the URL but the name.
pub(super) fn split_tls_params(url: &str) -> Result<TlsParams, String> {
    let is_url = url.starts_with("postgresql://") || url.starts_with("postgres://");
    let Some((base, query)) = url.split_once('?').filter(|_| is_url) else {
        return Ok(TlsParams { rest: url.to_owned(), sslmode: None, sslrootcert: None });
    };
    let decode = |s: &str| {
        percent_decode(s).ok_or_else(|| "has a query value that is not UTF-8 after percent-decoding".to_owned())
    };
    let (mut sslmode, mut sslrootcert, mut kept) = (None, None, Vec::new());
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match decode(k)?.as_str() {
            "sslmode" => sslmode = Some(decode(v)?),
            "sslrootcert" if decode(v)? == "system" => {
                return Err(
                    "has `sslrootcert=system`; give the path of the CA file that signed the server's certificate"
                        .to_owned(),
                );
            }
            "sslrootcert" => sslrootcert = Some(decode(v)?),
            name @ ("sslcert" | "sslkey" | "sslpassword") => {
                return Err(format!(
                    "has `{name}`: client certificates are not supported; authenticate with a password"
                ));
            }
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
    Ok(TlsParams { rest, sslmode, sslrootcert })
}

/// `%XX` escapes decoded as the driver decodes URL parts (RFC 3986 §2.1; `+` stays `+`); a
/// `%` not followed by two hex digits stays as it is. `None` when the bytes are not UTF-8.
/// `percent-encoding` is the crate the request parser decodes with (strict UTF-8).
fn percent_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s).decode_utf8().ok().map(std::borrow::Cow::into_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("%2Fetc%2fca.pem").as_deref(), Some("/etc/ca.pem"));
        assert_eq!(percent_decode("a+b%20c%").as_deref(), Some("a+b c%"));
        assert_eq!(percent_decode("%zz%4").as_deref(), Some("%zz%4"));
        assert_eq!(percent_decode("%C3%A9").as_deref(), Some("é"));
        assert_eq!(percent_decode("%FF"), None);
    }

    #[track_caller]
    fn split(url: &str, rest: &str, sslmode: Option<&str>, sslrootcert: Option<&str>) {
        let want = TlsParams {
            rest: rest.to_owned(),
            sslmode: sslmode.map(str::to_owned),
            sslrootcert: sslrootcert.map(str::to_owned),
        };
        assert_eq!(split_tls_params(url), Ok(want), "{url}");
    }

    #[test]
    fn tls_parameters_come_out_of_the_query() {
        split("postgresql://u:p@h/d", "postgresql://u:p@h/d", None, None);
        split(
            "postgresql://u@h/d?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&application_name=x",
            "postgresql://u@h/d?application_name=x",
            Some("verify-full"),
            Some("/etc/ca.pem"),
        );
        split("postgres://u@h/d?sslmode=require", "postgres://u@h/d", Some("require"), None);
        // The key=value form goes to the driver whole.
        split("host=h sslmode=require", "host=h sslmode=require", None, None);
        let e = split_tls_params("postgresql://u:hunter2@h/d?sslcert=c.pem").expect_err("client cert");
        assert!(e.contains("`sslcert`") && !e.contains("hunter2"), "{e}");
        assert!(split_tls_params("postgresql://h/d?sslrootcert=system").is_err());
    }
}
