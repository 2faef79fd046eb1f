//! The proxy the environment names for a server, read as curl reads it.

use std::net::IpAddr;

use url::{Host, Url};

/// A proxy that an environment variable names for a server ([`env_proxy`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvProxy {
    /// The variable it came from, e.g. `https_proxy`.
    pub variable: &'static str,
    /// The proxy URL: the variable's value, with `http://` in front when it names no scheme (as curl
    /// reads `proxy.example:3128`).
    pub url: String,
}

/// The proxy the environment names for connections to `server` (an `http(s)://` or `ws(s)://` URL), as
/// curl reads it: `https_proxy` or `HTTPS_PROXY` for `https`/`wss` servers, `http_proxy` for `http`/`ws`
/// servers (lower case only, as curl: a CGI program gets `HTTP_PROXY` from a request's `Proxy` header),
/// then `all_proxy` or `ALL_PROXY`; none when `no_proxy` or `NO_PROXY` lists the server's host. `var`
/// looks a variable up (`|name| std::env::var(name).ok()`); an empty value counts as unset.
///
/// `no_proxy` is a comma (or space) separated list: `*` (every host), host names (matching the name and
/// every name below it: `example.com` and `.example.com` both match `api.example.com`), IP addresses
/// and CIDR ranges (`10.0.0.0/8`, `::1/128`). Ports are not part of the match.
///
/// ```
/// let env = |name: &str| match name {
///     "https_proxy" => Some("proxy.internal:3128".to_owned()),
///     "no_proxy" => Some("localhost,.corp.example".to_owned()),
///     _ => None,
/// };
/// let server = url::Url::parse("https://api.example.com").unwrap();
/// let proxy = sails_io::env_proxy(&server, env).unwrap();
/// assert_eq!((proxy.variable, proxy.url.as_str()), ("https_proxy", "http://proxy.internal:3128"));
/// let inside = url::Url::parse("wss://sails.corp.example").unwrap();
/// assert_eq!(sails_io::env_proxy(&inside, env), None);
/// ```
pub fn env_proxy(server: &Url, var: impl Fn(&str) -> Option<String>) -> Option<EnvProxy> {
    let get = |name: &'static str| var(name).filter(|v| !v.trim().is_empty()).map(|v| (name, v));
    let no_proxy = get("no_proxy").or_else(|| get("NO_PROXY"));
    if let (Some((_, list)), Some(host)) = (&no_proxy, server.host()) {
        if no_proxy_lists(list, &host) {
            return None;
        }
    }
    let scheme_specific = match server.scheme() {
        "https" | "wss" => get("https_proxy").or_else(|| get("HTTPS_PROXY")),
        _ => get("http_proxy"),
    };
    let (variable, value) = scheme_specific.or_else(|| get("all_proxy")).or_else(|| get("ALL_PROXY"))?;
    let value = value.trim();
    let url = if value.contains("://") { value.to_owned() } else { format!("http://{value}") };
    Some(EnvProxy { variable, url })
}

/// Whether a `no_proxy` list names `host`.
fn no_proxy_lists(list: &str, host: &Host<&str>) -> bool {
    let ip = match host {
        Host::Ipv4(ip) => Some(IpAddr::V4(*ip)),
        Host::Ipv6(ip) => Some(IpAddr::V6(*ip)),
        Host::Domain(_) => None,
    };
    let name = match host {
        Host::Domain(name) => name.trim_end_matches('.').to_ascii_lowercase(),
        _ => String::new(),
    };
    list.split([',', ' ', '\t']).map(str::trim).filter(|e| !e.is_empty()).any(|entry| {
        if entry == "*" {
            return true;
        }
        if let Some((net, bits)) = entry.split_once('/') {
            return ip.is_some_and(|ip| in_range(ip, net, bits));
        }
        let entry = entry.trim_start_matches('.').trim_end_matches('.');
        let entry = entry.strip_prefix('[').and_then(|e| e.strip_suffix(']')).unwrap_or(entry);
        if entry.is_empty() {
            return false;
        }
        match ip {
            Some(ip) => entry.parse::<IpAddr>() == Ok(ip),
            None => {
                let entry = entry.to_ascii_lowercase();
                name == entry || name.strip_suffix(entry.as_str()).is_some_and(|head| head.ends_with('.'))
            }
        }
    })
}

/// Whether `ip` is in the CIDR range `net/bits` (same address family only).
fn in_range(ip: IpAddr, net: &str, bits: &str) -> bool {
    let (Ok(net), Ok(bits)) =
        (net.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>(), bits.parse::<u32>())
    else {
        return false;
    };
    let prefix = |width: u32, a: u128, b: u128| {
        if bits > width {
            return false;
        }
        let shift = width - bits;
        // A shift by the full width (bits = 0) matches everything.
        shift >= width || (a >> shift) == (b >> shift)
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => prefix(32, u32::from(a).into(), u32::from(b).into()),
        (IpAddr::V6(a), IpAddr::V6(b)) => prefix(128, u128::from(a), u128::from(b)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the variables hold (they are the user's input), reading them never panics, and the
        /// rules hold: `*` sends every server direct, and so does a list naming the server's host.
        #[test]
        fn any_environment_is_read_without_panicking(
            no_proxy in "[a-z0-9.,:/\\[\\]* \t-]{0,40}",
            proxy in "\\PC{0,30}",
            host in "[a-z][a-z0-9-]{0,10}(\\.[a-z]{1,5}){0,2}",
        ) {
            let server = Url::parse(&format!("https://{host}:1337")).unwrap();
            let env = |list: String| {
                let proxy = proxy.clone();
                move |name: &str| match name {
                    "https_proxy" => Some(proxy.clone()),
                    "no_proxy" => Some(list.clone()),
                    _ => None,
                }
            };
            let _ = env_proxy(&server, env(no_proxy.clone()));
            prop_assert_eq!(env_proxy(&server, env(format!("{no_proxy},*"))), None);
            prop_assert_eq!(env_proxy(&server, env(format!("{no_proxy},{host}"))), None);
        }
    }

    fn proxy_for(server: &str, vars: &[(&str, &str)]) -> Option<(&'static str, String)> {
        let env = |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned());
        env_proxy(&Url::parse(server).unwrap(), env).map(|p| (p.variable, p.url))
    }

    #[test]
    fn picks_the_variable_of_the_scheme_then_all_proxy() {
        let vars = [("https_proxy", "http://s:1"), ("http_proxy", "http://p:2"), ("ALL_PROXY", "a:3")];
        assert_eq!(proxy_for("https://h", &vars), Some(("https_proxy", "http://s:1".into())));
        assert_eq!(proxy_for("wss://h", &vars), Some(("https_proxy", "http://s:1".into())));
        assert_eq!(proxy_for("http://h", &vars), Some(("http_proxy", "http://p:2".into())));
        assert_eq!(proxy_for("ws://h", &vars), Some(("http_proxy", "http://p:2".into())));
        assert_eq!(
            proxy_for("https://h", &[("HTTPS_PROXY", "http://S:1")]),
            Some(("HTTPS_PROXY", "http://S:1".into()))
        );
        // curl ignores an upper-case HTTP_PROXY; ALL_PROXY is the fallback, with http:// added.
        assert_eq!(
            proxy_for("http://h", &[("HTTP_PROXY", "http://x:1"), ("ALL_PROXY", "a:3")]),
            Some(("ALL_PROXY", "http://a:3".into()))
        );
        assert_eq!(proxy_for("http://h", &[("HTTP_PROXY", "http://x:1")]), None);
        // Empty values are unset; any scheme is passed on (the builder refuses those it cannot use).
        assert_eq!(
            proxy_for("https://h", &[("https_proxy", " "), ("all_proxy", "https://s:1")]),
            Some(("all_proxy", "https://s:1".into()))
        );
        assert_eq!(proxy_for("https://h", &[]), None);
    }

    #[test]
    fn no_proxy_lists_hosts_domains_addresses_and_ranges() {
        let through = |server: &str, no_proxy: &str| {
            proxy_for(server, &[("http_proxy", "p:1"), ("NO_PROXY", no_proxy)]).is_some()
        };
        assert!(!through("http://localhost:1337", "localhost"));
        assert!(!through("http://api.example.com", "example.com"));
        assert!(!through("http://api.example.com", ".example.com"));
        assert!(!through("http://API.Example.COM.", "example.com"));
        assert!(through("http://badexample.com", "example.com"), "a suffix of the name is not a domain below it");
        assert!(through("http://example.org", "example.com, localhost"));
        assert!(!through("http://anything", "*"));
        assert!(!through("http://127.0.0.1:1337", "localhost 127.0.0.1"));
        assert!(!through("http://10.1.2.3", "10.0.0.0/8"));
        assert!(through("http://11.1.2.3", "10.0.0.0/8"));
        assert!(!through("http://192.168.1.1", "0.0.0.0/0"));
        assert!(!through("http://[::1]:1337", "::1"));
        assert!(!through("http://[::1]:1337", "[::1]"));
        assert!(!through("http://[fd00::5]", "fd00::/8"));
        assert!(through("http://[fe80::5]", "fd00::/8"));
        assert!(through("http://10.1.2.3", "10.0.0.0/33"), "an impossible range names nothing");
        assert!(through("http://10.1.2.3", "example.com"), "a name does not match an address");
        // no_proxy wins over NO_PROXY, as curl reads the lower-case one first.
        assert!(proxy_for("http://h", &[("http_proxy", "p:1"), ("no_proxy", "other"), ("NO_PROXY", "h")]).is_some());
    }
}
