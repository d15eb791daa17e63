//! Database URLs: which backend a URL names, and how to show it without its password.

use std::borrow::Cow;
use std::fmt;

use url::Url;

/// The database engines underpin talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        })
    }
}

/// A URL that cannot be used, with the reason. It never contains the password.
#[derive(Debug, thiserror::Error)]
#[error("invalid database URL `{redacted}`: {reason}")]
pub struct UrlError {
    pub redacted: String,
    pub reason: String,
}

/// A parsed database URL. `Display` and `Debug` print the redacted form.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    raw: String,
    backend: Backend,
}

impl DatabaseUrl {
    /// Parses `postgres://…`, `postgresql://…`, `sqlite:…`, or a plain path ending in
    /// `.db`, `.sqlite` or `.sqlite3` (taken as a SQLite file).
    pub fn parse(raw: &str) -> Result<Self, UrlError> {
        let trimmed = raw.trim();
        let error = |reason: &str| UrlError {
            redacted: redact_url(trimmed),
            reason: reason.to_string(),
        };
        if trimmed.is_empty() {
            return Err(error(
                "the URL is empty; pass --database-url, set DATABASE_URL, or pick an environment with --env",
            ));
        }

        let lower = trimmed.to_ascii_lowercase();
        let backend = if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            if has_unencoded_userinfo(trimmed) {
                return Err(error(
                    "the user or password contains an unencoded `@` or `/`; percent-encode them in the URL (`@` as %40, `/` as %2F)",
                ));
            }
            Url::parse(trimmed).map_err(|e| error(&e.to_string()))?;
            Backend::Postgres
        } else if lower.starts_with("sqlite:") {
            Backend::Sqlite
        } else if [".db", ".sqlite", ".sqlite3"]
            .iter()
            .any(|ext| lower.ends_with(ext))
        {
            return Ok(DatabaseUrl {
                raw: format!("sqlite:{trimmed}"),
                backend: Backend::Sqlite,
            });
        } else {
            return Err(error(
                "unknown scheme; use postgres://user@host/db or sqlite:path/to/file.db",
            ));
        };

        Ok(DatabaseUrl {
            raw: trimmed.to_string(),
            backend,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Returns the URL with its password. Pass it only to a driver, never to a message.
    pub fn expose(&self) -> &str {
        &self.raw
    }

    /// Returns the URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        redact_url(&self.raw)
    }

    /// Returns the secret strings this URL carries, for scrubbing text that might quote them.
    pub fn secrets(&self) -> Vec<String> {
        url_secrets(&self.raw)
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

const SECRET_QUERY_KEYS: &[&str] = &["password", "sslpassword", "pass", "pwd"];
const MASK: &str = "***";

/// Replaces the password of a URL, and query parameters that carry one, with `***`.
/// Text that does not parse as a URL is scrubbed by a plain textual scan instead.
pub fn redact_url(raw: &str) -> String {
    // A password with an unencoded `@` or `/` makes URL parsers split it into host and
    // path, so the userinfo is masked by text first, up to the last `@`.
    if has_unencoded_userinfo(raw) {
        return redact_userinfo_text(raw);
    }
    match Url::parse(raw) {
        Ok(mut url) if url.has_host() || url.password().is_some() => {
            if url.password().is_some() {
                // Only fails for URLs that cannot carry credentials, which rules out this branch.
                let _ = url.set_password(Some(MASK));
            }
            redact_query(&mut url);
            url.to_string()
        }
        _ => redact_userinfo_text(raw),
    }
}

fn redact_query(url: &mut Url) {
    if url.query().is_none() {
        return;
    }
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(key, value)| {
            let secret = SECRET_QUERY_KEYS.contains(&key.to_ascii_lowercase().as_str());
            (
                key.into_owned(),
                if secret {
                    MASK.to_string()
                } else {
                    value.into_owned()
                },
            )
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
}

/// Masks `user:password@` in text that is not a well-formed URL, and `password=…` in
/// libpq key/value connection strings (`host=db user=app password=secret`).
fn redact_userinfo_text(raw: &str) -> String {
    let Some(scheme_end) = raw.find("://") else {
        return redact_key_values(raw);
    };
    let rest = &raw[scheme_end + 3..];
    let Some(at) = rest.rfind('@') else {
        return raw.to_string();
    };
    let userinfo = &rest[..at];
    match userinfo.find(':') {
        Some(colon) => format!(
            "{}{}:{}{}",
            &raw[..scheme_end + 3],
            &userinfo[..colon],
            MASK,
            &rest[at..]
        ),
        None => raw.to_string(),
    }
}

/// Returns whether the text between `://` and the last `@` contains an `@` or `/`, which a URL
/// parser would read as the end of the userinfo or the start of the path.
fn has_unencoded_userinfo(raw: &str) -> bool {
    let Some(scheme_end) = raw.find("://") else {
        return false;
    };
    let rest = &raw[scheme_end + 3..];
    let authority_end = rest.find(['?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return false;
    };
    rest[..at].contains(['@', '/'])
}

/// Masks the values of secret keys in `key=value` text, quoted (`'…'`) or not.
fn redact_key_values(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(eq) = rest.find('=') {
        let before = &rest[..eq];
        let key_start = before
            .rfind(|c: char| c.is_whitespace())
            .map(|i| i + 1)
            .unwrap_or(0);
        let key = before[key_start..].trim().to_ascii_lowercase();
        out.push_str(&rest[..=eq]);
        rest = &rest[eq + 1..];
        if !SECRET_QUERY_KEYS.contains(&key.as_str()) {
            continue;
        }
        let value_end = if let Some(quoted) = rest.strip_prefix('\'') {
            quoted.find('\'').map(|i| i + 2).unwrap_or(rest.len())
        } else {
            rest.find(char::is_whitespace).unwrap_or(rest.len())
        };
        out.push_str(MASK);
        rest = &rest[value_end..];
    }
    out.push_str(rest);
    out
}

/// Returns the passwords in a URL, both as written (percent-encoded) and decoded.
fn url_secrets(raw: &str) -> Vec<String> {
    let mut secrets = Vec::new();
    if let Some(scheme_end) = raw.find("://") {
        let rest = &raw[scheme_end + 3..];
        if let Some(at) = rest.rfind('@')
            && let Some((_, password)) = rest[..at].split_once(':')
            && !password.is_empty()
        {
            secrets.push(password.to_string());
        }
    }
    let Ok(url) = Url::parse(raw) else {
        return secrets;
    };
    let mut push = |value: &str| {
        if value.is_empty() {
            return;
        }
        secrets.push(value.to_string());
        if let Ok(decoded) = percent_decode(value)
            && decoded != value
        {
            secrets.push(decoded);
        }
    };
    if let Some(password) = url.password() {
        push(password);
    }
    for (key, value) in url.query_pairs() {
        if SECRET_QUERY_KEYS.contains(&key.to_ascii_lowercase().as_str()) {
            push(&value);
        }
    }
    secrets
}

fn percent_decode(value: &str) -> Result<String, std::string::FromUtf8Error> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
}

/// Scrubs known secrets out of any text before it is printed or logged.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a secret. Very short strings are skipped because masking every `a` in a
    /// message would make it unreadable; URLs are still redacted structurally.
    pub fn add(&mut self, secret: impl Into<String>) {
        let secret = secret.into();
        if secret.len() >= 3 && !self.secrets.contains(&secret) {
            self.secrets.push(secret);
            // Longest first, so a secret that contains another is masked whole.
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    pub fn add_url(&mut self, url: &DatabaseUrl) {
        for secret in url.secrets() {
            self.add(secret);
        }
    }

    /// Returns `text` with every known secret replaced by `***`.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), MASK));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_password_is_masked() {
        let url = DatabaseUrl::parse("postgres://app:s3cr3t@db.internal:5432/sop").unwrap();
        assert_eq!(url.backend(), Backend::Postgres);
        assert_eq!(url.redacted(), "postgres://app:***@db.internal:5432/sop");
        assert!(!format!("{url} {url:?}").contains("s3cr3t"));
    }

    #[test]
    fn query_password_is_masked() {
        let redacted = redact_url("postgresql://app@db/sop?sslmode=require&password=hunter22");
        assert!(redacted.contains("sslmode=require"));
        assert!(!redacted.contains("hunter22"));
    }

    #[test]
    fn encoded_password_is_collected_both_ways() {
        let url = DatabaseUrl::parse("postgres://app:p%40ss%3Aword@db/sop").unwrap();
        let secrets = url.secrets();
        assert!(secrets.contains(&"p%40ss%3Aword".to_string()));
        assert!(secrets.contains(&"p@ss:word".to_string()));
    }

    #[test]
    fn malformed_url_still_masked() {
        let redacted = redact_url("postgres://app:pa ss@db:notaport/sop");
        assert!(!redacted.contains("pa ss"), "{redacted}");
    }

    #[test]
    fn password_with_at_and_slash_is_masked() {
        let raw = "postgres://app2:k9@Secret/Tail@127.0.0.1:62432/qa";
        let redacted = redact_url(raw);
        assert_eq!(redacted, "postgres://app2:***@127.0.0.1:62432/qa");
        let err = DatabaseUrl::parse(raw).unwrap_err();
        let message = err.to_string();
        assert!(
            !message.contains("Secret") && !message.contains("k9"),
            "{message}"
        );
        assert!(message.contains("%40"), "{message}");
    }

    #[test]
    fn key_value_password_is_masked() {
        let redacted = redact_url("host=127.0.0.1 user=app password=S3cretPW dbname=x");
        assert_eq!(redacted, "host=127.0.0.1 user=app password=*** dbname=x");
        let quoted = redact_url("host=db password='a b c' dbname=x");
        assert_eq!(quoted, "host=db password=*** dbname=x");
        let err = DatabaseUrl::parse("host=db password=S3cretPW").unwrap_err();
        assert!(!err.to_string().contains("S3cretPW"), "{err}");
    }

    #[test]
    fn sqlite_forms() {
        for raw in [
            "sqlite:app.db",
            "sqlite://app.db",
            "sqlite::memory:",
            "data/app.sqlite3",
        ] {
            let url = DatabaseUrl::parse(raw).unwrap();
            assert_eq!(url.backend(), Backend::Sqlite, "{raw}");
        }
    }

    #[test]
    fn unknown_scheme_names_fix() {
        let err = DatabaseUrl::parse("mysql://root:pw@h/db").unwrap_err();
        assert!(err.to_string().contains("postgres://"));
        assert!(!err.to_string().contains(":pw@"));
    }

    #[test]
    fn redactor_masks_secrets_in_text() {
        let mut redactor = Redactor::new();
        redactor.add_url(&DatabaseUrl::parse("postgres://u:topsecret@h/db").unwrap());
        assert_eq!(
            redactor.redact("auth failed for topsecret"),
            "auth failed for ***"
        );
    }
}
