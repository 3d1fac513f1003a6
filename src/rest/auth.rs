//! Authentication: how a request is decorated. Secrets are given by value or by the name of an
//! environment variable (`token_env := 'GITHUB_TOKEN'`) so pipeline scripts hold none.

use std::time::{Duration, Instant};

/// Where an API key goes.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyLocation {
    Header,
    Query,
}

#[derive(Clone, PartialEq)]
pub enum Auth {
    None,
    ApiKey {
        name: String,
        value: String,
        location: KeyLocation,
    },
    Bearer {
        token: String,
    },
    Basic {
        user: String,
        password: String,
    },
    OAuth2 {
        token_url: String,
        client_id: String,
        client_secret: String,
        scope: Option<String>,
    },
}

impl std::fmt::Debug for Auth {
    /// Never prints a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => write!(f, "Auth::None"),
            Auth::ApiKey { name, location, .. } => {
                write!(f, "Auth::ApiKey({name} in {location:?})")
            }
            Auth::Bearer { .. } => write!(f, "Auth::Bearer"),
            Auth::Basic { user, .. } => write!(f, "Auth::Basic({user})"),
            Auth::OAuth2 {
                token_url,
                client_id,
                ..
            } => write!(f, "Auth::OAuth2({token_url}, {client_id})"),
        }
    }
}

impl Auth {
    /// The secret values this auth holds (to scrub from messages).
    pub fn secrets(&self) -> Vec<&str> {
        match self {
            Auth::None => vec![],
            Auth::ApiKey { value, .. } => vec![value],
            Auth::Bearer { token } => vec![token],
            Auth::Basic { password, .. } => vec![password],
            Auth::OAuth2 { client_secret, .. } => vec![client_secret],
        }
    }
}

/// Resolves a secret given by value or by environment variable name; exactly one must be set.
pub fn resolve_secret(
    function: &str,
    option: &str,
    value: Option<&str>,
    env_name: Option<&str>,
    lookup_env: impl Fn(&str) -> Option<String>,
) -> Result<String, String> {
    match (value, env_name) {
        (Some(_), Some(_)) => Err(format!(
            "{function}: give either {option} or {option}_env, not both"
        )),
        (Some(v), None) if !v.is_empty() => Ok(v.to_string()),
        (Some(_), None) => Err(format!("{function}: option {option} is empty")),
        (None, Some(name)) => match lookup_env(name) {
            Some(v) if !v.is_empty() => Ok(v),
            Some(_) => Err(format!(
                "{function}: environment variable {name} (from {option}_env) is empty"
            )),
            None => Err(format!(
                "{function}: environment variable {name} (from {option}_env) is not set"
            )),
        },
        (None, None) => Err(format!(
            "{function}: this auth needs {option} or {option}_env"
        )),
    }
}

/// A cached OAuth2 access token.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub token: String,
    pub expires_at: Option<Instant>,
}

impl AccessToken {
    /// `expires_in` seconds from `now`; refreshed a little early (10% of the lifetime, at most
    /// 30 s) so a request never leaves with a token about to expire.
    pub fn new(token: String, expires_in: Option<u64>, now: Instant) -> Self {
        let expires_at = expires_in.and_then(|secs| {
            let life = Duration::from_secs(secs);
            let margin = (life / 10).min(Duration::from_secs(30));
            // A server may announce any lifetime: one beyond what an Instant can hold means
            // "does not expire" rather than an overflow.
            now.checked_add(life - margin)
        });
        AccessToken { token, expires_at }
    }

    pub fn is_fresh(&self, now: Instant) -> bool {
        self.expires_at.is_none_or(|t| now < t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_resolve_from_value_or_environment() {
        let env = |name: &str| (name == "API_TOKEN").then(|| "from-env".to_string());
        assert_eq!(
            resolve_secret("f", "token", Some("v"), None, env).unwrap(),
            "v"
        );
        assert_eq!(
            resolve_secret("f", "token", None, Some("API_TOKEN"), env).unwrap(),
            "from-env"
        );
        assert_eq!(
            resolve_secret("f", "token", None, Some("NOPE"), env).unwrap_err(),
            "f: environment variable NOPE (from token_env) is not set"
        );
        assert!(resolve_secret("f", "token", Some("v"), Some("API_TOKEN"), env).is_err());
        assert_eq!(
            resolve_secret("f", "token", None, None, env).unwrap_err(),
            "f: this auth needs token or token_env"
        );
    }

    #[test]
    fn debug_output_never_contains_secrets() {
        let auths = [
            Auth::Bearer {
                token: "tok-secret".into(),
            },
            Auth::Basic {
                user: "alice".into(),
                password: "pw-secret".into(),
            },
            Auth::ApiKey {
                name: "X-Key".into(),
                value: "key-secret".into(),
                location: KeyLocation::Header,
            },
            Auth::OAuth2 {
                token_url: "http://t".into(),
                client_id: "id".into(),
                client_secret: "cs-secret".into(),
                scope: None,
            },
        ];
        for a in auths {
            let text = format!("{a:?}");
            assert!(!text.contains("secret"), "{text}");
        }
    }

    #[test]
    fn tokens_are_refreshed_before_they_expire() {
        let now = Instant::now();
        let t = AccessToken::new("t".into(), Some(100), now);
        assert!(t.is_fresh(now + Duration::from_secs(89)));
        assert!(!t.is_fresh(now + Duration::from_secs(91)));
        let forever = AccessToken::new("t".into(), None, now);
        assert!(forever.is_fresh(now + Duration::from_secs(1_000_000)));
    }
}
