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

    /// Parses a diesel folder version: `2017-05-18-170815` or the newer
    /// `2024-07-30-140000-0000`. diesel orders versions as strings, so a newer name sorts
    /// after an older one with the same timestamp. Digits past the 14 of the timestamp
    /// become a second part (`20240730140000.0`), which gives the same order when compared
    /// part by part, and keeps `…-120000` and `…-120000-0000` apart, as diesel does.
    pub fn parse_diesel(text: &str) -> Option<Version> {
        let digits: String = text.chars().filter(|c| *c != '-').collect();
        if digits.len() > 14 && digits.is_char_boundary(14) {
            let (timestamp, suffix) = digits.split_at(14);
            return Version::parse(&format!("{timestamp}.{suffix}"));
        }
        Version::parse(&digits)
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
    fn diesel_forms_sort_by_date() {
        let old = Version::parse_diesel("2024-04-12-144536").unwrap();
        let new = Version::parse_diesel("2024-07-30-140000-0000").unwrap();
        let newest = Version::parse_diesel("2026-08-22-100000").unwrap();
        assert!(old < new);
        assert!(new < newest);
        assert_eq!(Version::parse_diesel("20240412144536"), Some(old));
        assert_eq!(Version::parse_diesel("00000000000000").unwrap().as_str(), "0");
        let plain = Version::parse_diesel("2026-05-27-120000").unwrap();
        let suffixed = Version::parse_diesel("2026-05-27-120000-0000").unwrap();
        assert!(
            plain < suffixed,
            "both exist in one real history and must stay apart"
        );
    }

    #[test]
    fn huge_versions_compare() {
        assert!(v("123456789012345678901234567890") > v("99999999999999999999999999999"));
    }
}
