//! Keeping secrets out of every message: URLs lose passwords and secret-looking query values,
//! and any text can be scrubbed of the secret values a scan knows about.

/// Query parameter names whose values are always hidden.
pub const SECRET_PARAM_NAMES: &[&str] = &[
    "api_key",
    "apikey",
    "api-key",
    "key",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "password",
    "passwd",
    "secret",
    "signature",
    "sig",
    "auth",
    "code",
];

const MASK: &str = "***";

fn is_secret_name(name: &str, extra: &[String]) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_PARAM_NAMES.contains(&lower.as_str())
        || extra.iter().any(|e| e.eq_ignore_ascii_case(name))
}

/// The URL with any userinfo password and the values of secret query parameters replaced by
/// `***`. Works on text, so it never fails, even for URLs that do not parse.
pub fn redact_url(url: &str, extra_secret_params: &[String]) -> String {
    let (before_fragment, fragment) = match url.split_once('#') {
        Some((a, f)) => (a, Some(f)),
        None => (url, None),
    };
    let (base, query) = match before_fragment.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (before_fragment, None),
    };
    let mut out = redact_userinfo(base);
    if let Some(query) = query {
        out.push('?');
        let parts: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if is_secret_name(name, extra_secret_params) => {
                    format!("{name}={MASK}")
                }
                _ => pair.to_string(),
            })
            .collect();
        out.push_str(&parts.join("&"));
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

fn redact_userinfo(base: &str) -> String {
    let Some(scheme_end) = base.find("://") else {
        return base.to_string();
    };
    let authority_start = scheme_end + 3;
    let rest = &base[authority_start..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            let user = userinfo.split(':').next().unwrap_or("");
            let masked = if userinfo.contains(':') {
                format!("{user}:{MASK}")
            } else {
                MASK.to_string()
            };
            format!(
                "{}{}@{}{}",
                &base[..authority_start],
                masked,
                &authority[at + 1..],
                &rest[authority_end..]
            )
        }
        None => base.to_string(),
    }
}

/// Secret values (tokens, passwords, keys) a scan holds; `scrub` removes them from any text.
#[derive(Clone, Default)]
pub struct Secrets {
    values: Vec<String>,
}

impl std::fmt::Debug for Secrets {
    /// Never prints the values.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} values)", self.values.len())
    }
}

impl Secrets {
    pub fn new() -> Self {
        Secrets::default()
    }

    /// Remembers a secret. Very short values are not scrubbed (they would mangle messages) but
    /// are never put into messages by our code either.
    pub fn add(&mut self, value: &str) {
        if value.len() >= 4 && !self.values.iter().any(|v| v == value) {
            self.values.push(value.to_string());
            // Longest first, so a secret containing another is removed whole.
            self.values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for value in &self.values {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), MASK);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_query_values_and_passwords_are_masked() {
        assert_eq!(
            redact_url(
                "https://bob:hunter2@api.x.com/v1/users?api_key=abc&page=2&Token=t#frag",
                &[]
            ),
            "https://bob:***@api.x.com/v1/users?api_key=***&page=2&Token=***#frag"
        );
        assert_eq!(
            redact_url(
                "http://127.0.0.1:80/a?x_custom=s&q=1",
                &["X_CUSTOM".to_string()]
            ),
            "http://127.0.0.1:80/a?x_custom=***&q=1"
        );
    }

    #[test]
    fn urls_without_secrets_are_unchanged() {
        for url in [
            "http://h/p",
            "http://h/p?page=1&limit=10",
            "not a url",
            "http://user@h/p",
        ] {
            let want = if url == "http://user@h/p" {
                "http://***@h/p"
            } else {
                url
            };
            assert_eq!(redact_url(url, &[]), want);
        }
    }

    #[test]
    fn scrub_removes_every_known_secret_longest_first() {
        let mut s = Secrets::new();
        s.add("secret-token-456");
        s.add("token-456");
        s.add("ab"); // too short to scrub safely
        assert_eq!(
            s.scrub("got 401 for secret-token-456 and token-456 (ab)"),
            "got 401 for *** and *** (ab)"
        );
    }
}
