//! The transports: CGI (`cgi`, one process per request, RFC 3875) and FastCGI (`fastcgi`, a
//! long-running server). Both turn what the web server sends into the same `Env` and bounded
//! body, call `update::handle`, and write the same `Reply` bytes; they decide nothing.

pub(crate) mod cgi;
pub(crate) mod fastcgi;
