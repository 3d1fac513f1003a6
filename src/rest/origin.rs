//! Where a scan may send requests. Credentials (auth, api keys, every `headers :=` entry) are
//! sent with every request, so a scan that has any goes only to the origin (scheme, host, port)
//! of the start URL, its `https` upgrade, and the hosts the user allowed with `allowed_hosts`. A
//! next link or a redirect anywhere else is refused, never followed with or without
//! credentials. A scan with no credentials and no headers sends nothing secret: it follows
//! next links and redirects to any http(s) origin.

use reqwest::Url;

/// One `allowed_hosts` entry: `host` (any port), `host:port`, or `scheme://host[:port]` (that
/// origin only).
#[derive(Debug, Clone, PartialEq)]
pub struct AllowedHost {
    scheme: Option<String>,
    host: String,
    port: Option<u16>,
}

impl AllowedHost {
    /// Parses an entry; the error says what is accepted.
    pub fn parse(entry: &str) -> Result<AllowedHost, String> {
        let entry = entry.trim();
        let bad = || {
            format!(
                "allowed_hosts entry '{entry}' is not a host name, host:port or scheme://host[:port] \
                 (e.g. 'api2.example.com', '127.0.0.1:9001', 'https://files.example.com')"
            )
        };
        let with_scheme = entry.contains("://");
        let url = Url::parse(&if with_scheme {
            entry.to_string()
        } else {
            format!("http://{entry}")
        })
        .map_err(|_| bad())?;
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(bad)?;
        if host.contains('*') {
            return Err(format!(
                "allowed_hosts entry '{entry}' has a wildcard, which is not supported: list each \
                 host (e.g. 'api2.example.com')"
            ));
        }
        let plain_host = host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._[]:".contains(&b));
        if !plain_host
            || !matches!(url.path(), "" | "/")
            || url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
            || url.password().is_some()
            || !matches!(url.scheme(), "http" | "https")
        {
            return Err(bad());
        }
        // `h:80` names port 80 even though it is http's default (the URL parser drops it).
        let authority = entry.split_once("://").map_or(entry, |(_, rest)| rest);
        let authority = authority.strip_suffix('/').unwrap_or(authority);
        let explicit_port = authority.rsplit_once(':').is_some_and(|(h, p)| {
            !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && (!h.contains(':') || h.ends_with(']'))
        });
        Ok(AllowedHost {
            scheme: with_scheme.then(|| url.scheme().to_string()),
            host: host.to_ascii_lowercase(),
            port: if with_scheme || explicit_port {
                url.port_or_known_default()
            } else {
                None
            },
        })
    }

    fn permits(&self, home_scheme: &str, url: &Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        if !host.eq_ignore_ascii_case(&self.host) {
            return false;
        }
        match &self.scheme {
            Some(scheme) => scheme == url.scheme() && self.port == url.port_or_known_default(),
            // Never from https down to http.
            None => {
                (url.scheme() == "https" || url.scheme() == home_scheme)
                    && self
                        .port
                        .is_none_or(|p| Some(p) == url.port_or_known_default())
            }
        }
    }
}

/// The origins a scan's requests may go to.
#[derive(Clone, PartialEq)]
pub struct Origins {
    home: Url,
    allowed: Vec<AllowedHost>,
    /// Whether requests carry credentials or user headers; without, any origin is permitted.
    credentials: bool,
}

impl std::fmt::Debug for Origins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Origins({}, allowed {:?}, credentials {})",
            self.home(),
            self.allowed,
            self.credentials
        )
    }
}

/// `scheme://host[:port]` of a URL, as shown in messages.
pub fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// Same scheme, host and port.
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str().map(str::to_ascii_lowercase) == b.host_str().map(str::to_ascii_lowercase)
        && a.port_or_known_default() == b.port_or_known_default()
}

impl Origins {
    /// `home` is the start URL; only its origin is kept (no userinfo, path or query). Requests
    /// are taken to carry credentials until [`Origins::without_credentials`] says otherwise.
    pub fn new(mut home: Url, allowed: Vec<AllowedHost>) -> Origins {
        let _ = home.set_username("");
        let _ = home.set_password(None);
        home.set_path("");
        home.set_query(None);
        home.set_fragment(None);
        Origins {
            home,
            allowed,
            credentials: true,
        }
    }

    /// The scan sends no credentials and no user headers: following a link or redirect
    /// anywhere (http or https) gives nothing away.
    pub fn without_credentials(mut self) -> Origins {
        self.credentials = false;
        self
    }

    /// Whether requests carry credentials or user headers.
    pub fn credentials(&self) -> bool {
        self.credentials
    }

    /// The start URL's origin, as shown in messages.
    pub fn home(&self) -> String {
        origin_of(&self.home)
    }

    /// Whether a request to `url` may be sent (with the scan's credentials).
    pub fn permits(&self, url: &Url) -> bool {
        if same_origin(&self.home, url)
            || (!self.credentials && matches!(url.scheme(), "http" | "https"))
        {
            return true;
        }
        // http://h -> https://h on the default ports is the same server, better protected.
        let upgrade = self.home.scheme() == "http"
            && url.scheme() == "https"
            && self.home.port().is_none()
            && url.port().is_none()
            && self.home.host_str().map(str::to_ascii_lowercase)
                == url.host_str().map(str::to_ascii_lowercase);
        upgrade
            || self
                .allowed
                .iter()
                .any(|a| a.permits(self.home.scheme(), url))
    }

    /// Whether the HTTP client may follow a redirect from `from` (the last URL, `first` the
    /// request's URL) to `to` after `hops` redirects; Err is the reason, to show as is.
    pub fn redirect(&self, first: &Url, from: &Url, to: &Url, hops: usize) -> Result<(), String> {
        if hops > 10 {
            return Err("more than 10 redirects (a redirect loop?)".to_string());
        }
        if !matches!(to.scheme(), "http" | "https") {
            return Err(format!(
                "the server redirected to a '{}:' URL; rest_scan follows only http and https \
                 redirects (ask the API provider for the http(s) address of the data)",
                to.scheme()
            ));
        }
        if !self.permits(to) {
            return Err(format!(
                "the server redirected to {}, another origin than {}; credentials and headers \
                 are sent only to the start URL's origin, so the redirect is not followed \
                 (if that host is trusted, add {})",
                origin_of(to),
                origin_of(first),
                Origins::suggestion(to)
            ));
        }
        // The HTTP client drops Authorization when the port changes (http:80 -> https:443),
        // which would end in a misleading 401.
        if self.credentials
            && from.scheme() == "http"
            && to.scheme() == "https"
            && from.host_str().map(str::to_ascii_lowercase)
                == to.host_str().map(str::to_ascii_lowercase)
        {
            return Err(format!(
                "the server redirected from {} to {} (an upgrade to https); credentials are not \
                 sent along on a redirect that changes the scheme, so it is not followed: give \
                 the https URL to rest_scan",
                origin_of(from),
                origin_of(to)
            ));
        }
        Ok(())
    }

    /// What to add to `allowed_hosts` to permit `url`.
    pub fn suggestion(url: &Url) -> String {
        let host = url.host_str().unwrap_or("");
        match url.port() {
            Some(port) => format!("allowed_hosts := ['{host}:{port}']"),
            None => format!("allowed_hosts := ['{host}']"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn origins(home: &str, allowed: &[&str]) -> Origins {
        Origins::new(
            url(home),
            allowed
                .iter()
                .map(|a| AllowedHost::parse(a).unwrap())
                .collect(),
        )
    }

    #[test]
    fn only_the_start_origin_is_permitted_by_default() {
        let o = origins("http://127.0.0.1:8765/users", &[]);
        assert!(o.permits(&url("http://127.0.0.1:8765/users?page=2")));
        assert!(same_origin(&url("http://h:1/a"), &url("http://H:1/b")));
        assert!(!o.permits(&url("http://127.0.0.1:8766/users")));
        assert!(!o.permits(&url("http://localhost:8765/users")));
        assert!(!o.permits(&url("https://127.0.0.1:8765/users")));
        let o = origins("https://API.example.com/v1", &[]);
        assert!(o.permits(&url("https://api.example.com:443/v1?page=2")));
        assert!(!o.permits(&url("http://api.example.com/v1")));
        assert!(!o.permits(&url("https://api.example.com.evil.net/v1")));
    }

    #[test]
    fn http_to_https_on_the_same_host_is_an_upgrade() {
        let o = origins("http://api.example.com/v1", &[]);
        assert!(o.permits(&url("https://api.example.com/v1")));
        assert!(!o.permits(&url("https://api.example.com:8443/v1")));
    }

    #[test]
    fn allowed_hosts_permit_hosts_ports_and_origins() {
        let o = origins(
            "https://api.example.com/v1",
            &[
                "api2.example.com",
                "127.0.0.1:9001",
                "http://legacy.example.com",
            ],
        );
        assert!(o.permits(&url("https://api2.example.com:8443/x")));
        // no downgrade to http for a bare host
        assert!(!o.permits(&url("http://api2.example.com/x")));
        assert!(o.permits(&url("https://127.0.0.1:9001/x")));
        assert!(!o.permits(&url("https://127.0.0.1:9002/x")));
        assert!(o.permits(&url("http://legacy.example.com/x")));
        assert!(!o.permits(&url("https://legacy.example.com/x")));
        assert!(!o.permits(&url("http://legacy.example.com:8080/x")));
    }

    #[test]
    fn an_explicit_default_port_in_allowed_hosts_means_that_port() {
        let o = origins("http://api.example.com/v1", &["h:80"]);
        assert!(o.permits(&url("http://h/x")));
        assert!(o.permits(&url("http://h:80/x")));
        assert!(!o.permits(&url("http://h:8080/x")));
        assert!(!o.permits(&url("https://h/x")));
        let o = origins("http://api.example.com/v1", &["h"]);
        assert!(o.permits(&url("http://h:8080/x")));
    }

    #[test]
    fn wildcards_and_passwords_in_allowed_hosts_are_refused() {
        for bad in ["*", "*.example.com", "https://*.example.com"] {
            let e = AllowedHost::parse(bad).unwrap_err();
            assert!(e.contains("wildcard, which is not supported"), "{e}");
        }
        for bad in [":pw@h", "https://:pw@h", "h h", "h!x"] {
            let e = AllowedHost::parse(bad).unwrap_err();
            assert!(e.contains("is not a host name"), "{bad}: {e}");
        }
    }

    #[test]
    fn redirects_with_credentials_stay_within_the_permitted_origins() {
        let o = origins("http://api.example.com/v1", &[]);
        let (first, from) = (
            url("http://api.example.com/v1"),
            url("http://api.example.com/v1"),
        );
        assert_eq!(
            o.redirect(&first, &from, &url("http://api.example.com/v2"), 1),
            Ok(())
        );
        let e = o
            .redirect(&first, &from, &url("http://www.example.com/v1"), 1)
            .unwrap_err();
        assert!(
            e.contains("another origin") && e.contains("allowed_hosts := ['www.example.com']"),
            "{e}"
        );
        let e = o
            .redirect(&first, &from, &url("http://api.example.com/v1"), 11)
            .unwrap_err();
        assert!(e.contains("more than 10 redirects"), "{e}");
    }

    #[test]
    fn an_https_upgrade_redirect_with_credentials_says_to_use_https() {
        let o = origins("http://api.example.com/v1", &[]);
        let first = url("http://api.example.com/v1");
        let e = o
            .redirect(&first, &first, &url("https://api.example.com/v1"), 1)
            .unwrap_err();
        assert!(
            e.contains("an upgrade to https") && e.contains("give the https URL"),
            "{e}"
        );
        assert!(!e.contains("another origin"), "{e}");
        // nothing secret is sent: the upgrade is followed
        let o = o.without_credentials();
        assert_eq!(
            o.redirect(&first, &first, &url("https://api.example.com/v1"), 1),
            Ok(())
        );
    }

    #[test]
    fn without_credentials_any_http_origin_may_be_followed() {
        let o = origins("https://example.com/v1", &[]).without_credentials();
        let first = url("https://example.com/v1");
        assert_eq!(
            o.redirect(&first, &first, &url("https://www.example.com/v1"), 1),
            Ok(())
        );
        assert!(o.permits(&url("http://127.0.0.1:9/next")));
        assert!(!o.permits(&url("ftp://example.com/x")));
    }

    #[test]
    fn a_redirect_to_another_scheme_names_the_scheme() {
        for o in [
            origins("https://example.com/v1", &[]),
            origins("https://example.com/v1", &[]).without_credentials(),
        ] {
            let first = url("https://example.com/v1");
            let e = o
                .redirect(&first, &first, &url("ftp://example.com/data.json"), 1)
                .unwrap_err();
            assert!(
                e.contains("a 'ftp:' URL; rest_scan follows only http and https"),
                "{e}"
            );
            assert!(!e.contains("null") && !e.contains("allowed_hosts"), "{e}");
        }
    }

    #[test]
    fn bad_allowed_hosts_entries_are_named() {
        for bad in ["", "http://h/path", "ftp://h", "u:p@h", "h?x=1"] {
            let e = AllowedHost::parse(bad).unwrap_err();
            assert!(e.contains(&format!("'{bad}'")), "{e}");
        }
    }

    #[test]
    fn suggestions_name_host_and_port() {
        assert_eq!(
            Origins::suggestion(&url("http://127.0.0.1:9001/users")),
            "allowed_hosts := ['127.0.0.1:9001']"
        );
        assert_eq!(
            origin_of(&url("http://127.0.0.1:9001/users")),
            "http://127.0.0.1:9001"
        );
    }
}
