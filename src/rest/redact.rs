//! Keeping secrets out of every message: URLs lose passwords and secret-looking query values,
//! and any text can be scrubbed of the secret values a scan knows about, in every form a server
//! or a library may echo them (as given, percent-encoded, JSON- or Debug-escaped, base64 of
//! `user:password`).

/// Query parameter (and header) names whose values are always hidden, compared after
/// lowercasing and turning `-` into `_`.
pub const SECRET_PARAM_NAMES: &[&str] = &["sig", "code", "sid", "jwt", "cookie"];

/// Name fragments that make a parameter's value secret wherever they appear in the name
/// (`api_key`, `x_apikey`, `access_token`, `client_secret`, `sessionid`, `signature`, ...).
pub const SECRET_NAME_PARTS: &[&str] = &[
    "key",
    "token",
    "secret",
    "password",
    "passwd",
    "pwd",
    "auth",
    "session",
    "sessid",
    "signature",
    "credential",
];

const MASK: &str = "***";

/// Whether a query parameter or header with this name carries a credential.
pub fn looks_secret(name: &str) -> bool {
    let lower = name.to_ascii_lowercase().replace('-', "_");
    SECRET_PARAM_NAMES.contains(&lower.as_str())
        || SECRET_NAME_PARTS.iter().any(|part| lower.contains(part))
        || lower.ends_with("_sid")
        || lower.ends_with("_sig")
}

fn is_secret_name(name: &str, extra: &[String]) -> bool {
    let name = percent_decode(name);
    looks_secret(&name) || extra.iter().any(|e| e.eq_ignore_ascii_case(&name))
}

/// `%XX` escapes decoded (invalid ones kept as they are); `+` stays `+`.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
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

/// Secrets at least this long are scrubbed wherever they appear; shorter ones would mangle our
/// own words (a parameter `key=breaker` inside "circuit breaker"), so text from a server that
/// contains one is withheld instead. Our own text never holds a secret: URLs in messages mask
/// secret parameters by name.
const MIN_SCRUB_LEN: usize = 8;

/// Secret values (tokens, passwords, keys, header values) a scan holds; `scrub` removes them,
/// in every encoded form, from any text.
#[derive(Clone, Default)]
pub struct Secrets {
    /// Every form of every secret of at least MIN_SCRUB_LEN bytes, longest first.
    values: Vec<String>,
    /// Every form of the shorter secrets.
    short: Vec<String>,
}

impl std::fmt::Debug for Secrets {
    /// Never prints the values.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Secrets({} forms, {} short)",
            self.values.len(),
            self.short.len()
        )
    }
}

/// The forms in which `value` may come back: as given, percent-encoded (upper- and lowercase
/// hex, `+` for spaces), JSON-escaped (also with `\/`) and Rust-Debug-escaped.
fn forms(value: &str) -> Vec<String> {
    let mut out = vec![value.to_string()];
    let mut push = |f: String| {
        if !out.contains(&f) {
            out.push(f);
        }
    };
    let pct = percent_encode(value);
    push(pct.to_ascii_lowercase_hex());
    push(pct.replace("%20", "+"));
    push(pct);
    // application/x-www-form-urlencoded, as query strings are written (`*` kept, space `+`).
    let form: String = percent_encode(value)
        .replace("%2A", "*")
        .replace("%20", "+");
    push(form.to_ascii_lowercase_hex());
    push(form);
    let json = serde_json::to_string(value).unwrap_or_default();
    let json = json
        .strip_prefix('"')
        .and_then(|j| j.strip_suffix('"'))
        .unwrap_or("")
        .to_string();
    push(json.replace('/', "\\/"));
    push(json);
    let debug = format!("{value:?}");
    push(debug[1..debug.len() - 1].to_string());
    out.retain(|f| !f.is_empty());
    out
}

/// Every byte but the unreserved ones (`A-Z a-z 0-9 - . _ ~`) as `%XX`.
pub fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

trait LowerHex {
    fn to_ascii_lowercase_hex(&self) -> String;
}

impl LowerHex for String {
    /// `%2F` -> `%2f`, the rest unchanged.
    fn to_ascii_lowercase_hex(&self) -> String {
        let mut out = String::with_capacity(self.len());
        let mut chars = self.chars();
        while let Some(c) = chars.next() {
            out.push(c);
            if c == '%' {
                for h in chars.by_ref().take(2) {
                    out.push(h.to_ascii_lowercase());
                }
            }
        }
        out
    }
}

/// Standard base64 with padding (what `Authorization: Basic` carries).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl Secrets {
    pub fn new() -> Self {
        Secrets::default()
    }

    /// Remembers a secret, whatever its length, in all its forms.
    pub fn add(&mut self, value: &str) {
        if value.is_empty() {
            return;
        }
        let list = if value.len() >= MIN_SCRUB_LEN {
            &mut self.values
        } else {
            &mut self.short
        };
        for form in forms(value) {
            if !list.contains(&form) {
                list.push(form);
            }
        }
        // Longest first, so a secret containing another is removed whole.
        list.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }

    /// Remembers basic credentials: the password and `base64(user:password)` (a server that
    /// echoes the Authorization header shows the latter).
    pub fn add_basic(&mut self, user: &str, password: &str) {
        self.add(password);
        let encoded = base64(format!("{user}:{password}").as_bytes());
        self.add(&encoded);
        // Without padding, as some servers print it.
        self.add(encoded.trim_end_matches('='));
    }

    /// Adds every secret of `other`.
    pub fn extend(&mut self, other: &Secrets) {
        for list in [&other.values, &other.short] {
            for v in list {
                self.add(v);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty() && self.short.is_empty()
    }

    /// `text` without any long secret (each replaced by `***`). Short secrets are left alone:
    /// our own text never holds them; text from a server goes through [`Secrets::server_text`].
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for value in &self.values {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), MASK);
            }
        }
        out
    }

    /// Text a server sent (an error body), fit to quote: scrubbed on the whole text first, then
    /// cut to `max_chars`, so a cut never leaves the start of a secret behind. None when it holds
    /// a secret too short to scrub safely: then it is not shown at all.
    pub fn server_text(&self, text: &str, max_chars: usize) -> Option<String> {
        let scrubbed = self.scrub(text);
        if self.short.iter().any(|s| scrubbed.contains(s.as_str())) {
            return None;
        }
        Some(scrubbed.chars().take(max_chars).collect())
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

    #[test]
    fn encoded_forms_of_a_secret_are_scrubbed() {
        let mut s = Secrets::new();
        s.add("p@ss/wörd \"x\"\\y+z");
        for echoed in [
            "p@ss/wörd \"x\"\\y+z",
            "p%40ss%2Fw%C3%B6rd%20%22x%22%5Cy%2Bz",
            "p%40ss%2fw%c3%b6rd%20%22x%22%5cy%2bz",
            "p%40ss%2Fw%C3%B6rd+%22x%22%5Cy%2Bz",
            "p@ss/wörd \\\"x\\\"\\\\y+z",
            "p@ss\\/wörd \\\"x\\\"\\\\y+z",
        ] {
            let text = format!("echo: {echoed} end");
            assert_eq!(s.scrub(&text), "echo: *** end", "{echoed}");
        }
    }

    #[test]
    fn basic_credentials_are_scrubbed_as_base64_too() {
        assert_eq!(base64(b"alice:pw"), "YWxpY2U6cHc=");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
        assert_eq!(base64(b""), "");
        let mut s = Secrets::new();
        s.add_basic("alice", "s3cret-pw");
        let header = format!("Basic {}", base64(b"alice:s3cret-pw"));
        assert_eq!(s.scrub(&format!("you sent {header}")), "you sent Basic ***");
        assert_eq!(s.scrub("pw s3cret-pw"), "pw ***");
    }

    #[test]
    fn server_text_is_scrubbed_before_it_is_cut() {
        let mut s = Secrets::new();
        s.add("tok_SECRET_abcdef123");
        let body = format!("{}Bearer tok_SECRET_abcdef123 rest", "x".repeat(190));
        let shown = s.server_text(&body, 200).unwrap();
        assert!(!shown.contains("tok_"), "{shown}");
        assert!(shown.ends_with("Bearer ***"), "{shown}");
    }

    #[test]
    fn server_text_with_a_short_secret_is_withheld() {
        let mut s = Secrets::new();
        s.add("k9");
        assert_eq!(s.server_text("{\"error\":\"bad key k9\"}", 200), None);
        assert_eq!(
            s.server_text("{\"error\":\"nope\"}", 200).as_deref(),
            Some("{\"error\":\"nope\"}")
        );
        // short secrets never mangle our own text
        assert_eq!(s.scrub("k9 k9"), "k9 k9");
    }

    #[test]
    fn credential_looking_names_are_recognised() {
        for name in [
            "api_key",
            "X-API-Key",
            "apikey",
            "access_token",
            "sessionid",
            "PHPSESSID",
            "X-Auth",
            "client_secret",
            "password",
            "sig",
            "signature",
            "jwt",
            "x-session",
            "Authorization",
            "Cookie",
            "code",
            "user_pwd",
            "credentials",
        ] {
            assert!(looks_secret(name), "{name}");
        }
        for name in [
            "n", "page", "limit", "offset", "status", "q", "since", "Accept",
        ] {
            assert!(!looks_secret(name), "{name}");
        }
        assert_eq!(
            redact_url("http://h/p?sessionid=abc&api%5Fkey=k&n=1", &[]),
            "http://h/p?sessionid=***&api%5Fkey=***&n=1"
        );
    }
}
