//! Where a scan may send requests. Credentials (auth, api keys, every `headers :=` entry) are
//! sent with every request, so requests go only to the origin (scheme, host, port) of the start
//! URL, its `https` upgrade, and the hosts the user allowed with `allowed_hosts`. A next link
//! or a redirect anywhere else is refused, never followed with or without credentials.

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
        if !matches!(url.path(), "" | "/")
            || url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
            || !matches!(url.scheme(), "http" | "https")
        {
            return Err(bad());
        }
        Ok(AllowedHost {
            scheme: with_scheme.then(|| url.scheme().to_string()),
            host: host.to_ascii_lowercase(),
            port: if with_scheme {
                url.port_or_known_default()
            } else {
                url.port()
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
}

impl std::fmt::Debug for Origins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Origins({}, allowed {:?})", self.home(), self.allowed)
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
    /// `home` is the start URL; only its origin is kept (no userinfo, path or query).
    pub fn new(mut home: Url, allowed: Vec<AllowedHost>) -> Origins {
        let _ = home.set_username("");
        let _ = home.set_password(None);
        home.set_path("");
        home.set_query(None);
        home.set_fragment(None);
        Origins { home, allowed }
    }

    /// The start URL's origin, as shown in messages.
    pub fn home(&self) -> String {
        origin_of(&self.home)
    }

    /// Whether a request to `url` may be sent (with the scan's credentials).
    pub fn permits(&self, url: &Url) -> bool {
        if same_origin(&self.home, url) {
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
