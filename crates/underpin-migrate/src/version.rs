//! Migration versions: digit groups compared as numbers, so `9` sorts before `10` and
//! `0001` equals `1`.

use std::cmp::Ordering;
use std::fmt;

/// A migration version such as `20240101000007`, `0001`, or Flyway's `1.2.3`.
///
/// The canonical text drops leading zeros from each part, so two spellings of one number
/// are the same version (and a duplicate when both appear in one folder).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version {
    canonical: String,
}

impl Version {
    /// Parses digit groups separated by `.` or `_` (Flyway allows both). Returns `None`
    /// for anything else.
    pub fn parse(text: &str) -> Option<Version> {
        if text.is_empty() {
            return None;
        }
        let mut parts = Vec::new();
        for part in text.split(['.', '_']) {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let trimmed = part.trim_start_matches('0');
            parts.push(if trimmed.is_empty() { "0" } else { trimmed });
        }
        Some(Version {
            canonical: parts.join("."),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.canonical
    }

    fn parts(&self) -> impl Iterator<Item = &str> {
        self.canonical.split('.')
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let mut left = self.parts();
        let mut right = other.parts();
        loop {
            match (left.next(), right.next()) {
                (None, None) => return Ordering::Equal,
                (None, Some(_)) => return Ordering::Less,
                (Some(_), None) => return Ordering::Greater,
                // Parts carry no leading zeros, so a longer part is a larger number.
                (Some(a), Some(b)) => match a.len().cmp(&b.len()).then_with(|| a.cmp(b)) {
                    Ordering::Equal => continue,
                    unequal => return unequal,
                },
            }
        }
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical)
    }
}

impl serde::Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.canonical)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    #[test]
    fn numeric_not_lexical_order() {
        assert!(v("9") < v("10"));
        assert!(v("20240101000007") > v("20231231235959"));
        assert!(v("1.2") < v("1.10"));
        assert!(v("1") < v("1.1"));
    }

    #[test]
    fn leading_zeros_are_one_version() {
        assert_eq!(v("0001"), v("1"));
        assert_eq!(v("0001").as_str(), "1");
        assert_eq!(v("000").as_str(), "0");
        assert_eq!(v("1_2").as_str(), "1.2");
    }

    #[test]
    fn rejects_non_digits() {
        for bad in ["", "v1", "1..2", "1.", "abc", "1-2"] {
            assert!(Version::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn huge_versions_compare() {
        assert!(v("123456789012345678901234567890") > v("99999999999999999999999999999"));
    }
}
