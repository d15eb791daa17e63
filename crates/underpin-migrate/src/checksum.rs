//! Checksums over a canonical form of a script, so that a checkout with other line endings
//! or a byte-order mark never looks like an edit.

use sha2::{Digest, Sha256};

/// Identifies how [`checksum`] is computed. It is stored beside each checksum in history
/// so a later change of algorithm can tell old checksums apart instead of flagging every
/// untouched file as edited.
pub const ALGORITHM: &str = "sha256-canonical-v1";

/// Returns the canonical text: one leading U+FEFF dropped, CRLF and lone CR turned into LF.
/// A U+FEFF anywhere else is data and stays.
pub fn canonicalize(text: &str) -> String {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if !text.contains('\r') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' {
            if chars.peek() == Some(&'\n') {
                chars.next();
            }
            out.push('\n');
        } else {
            out.push(c);
        }
    }
    out
}

/// Returns the lowercase hex SHA-256 of text that is already canonical.
pub fn checksum(canonical: &str) -> String {
    let digest = Sha256::digest(canonical.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push(char::from_digit((byte >> 4) as u32, 16).unwrap_or('0'));
        hex.push(char::from_digit((byte & 0xf) as u32, 16).unwrap_or('0'));
    }
    hex
}

/// A running checksum over the statements of a no-transaction script, one prefix at a
/// time, so resuming can tell whether the statements that already ran were edited.
#[derive(Clone, Default)]
pub struct ProgressChecksum {
    hasher: Sha256,
}

impl ProgressChecksum {
    /// Adds the next statement that ran.
    pub fn push(&mut self, statement: &str) {
        self.hasher.update(statement.as_bytes());
        self.hasher.update(b"\n");
    }

    /// Returns the lowercase hex checksum of the statements pushed so far.
    pub fn hex(&self) -> String {
        let digest = self.hasher.clone().finalize();
        digest.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    /// Returns the checksum of the first `count` statements.
    pub fn of_prefix(statements: &[&str], count: usize) -> String {
        let mut progress = ProgressChecksum::default();
        for statement in statements.iter().take(count) {
            progress.push(statement);
        }
        progress.hex()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LF: &str = "CREATE TABLE gadget (id bigint PRIMARY KEY, label text NOT NULL);\n";

    #[test]
    fn line_endings_share_a_checksum() {
        let crlf = LF.replace('\n', "\r\n");
        let cr = LF.replace('\n', "\r");
        let expected = checksum(&canonicalize(LF));
        assert_eq!(checksum(&canonicalize(&crlf)), expected);
        assert_eq!(checksum(&canonicalize(&cr)), expected);
    }

    #[test]
    fn edit_changes_checksum() {
        let edited = LF.replace("label text", "label varchar(20)");
        assert_ne!(checksum(&canonicalize(&edited)), checksum(&canonicalize(LF)));
    }

    #[test]
    fn only_leading_bom_dropped() {
        let body = "ALTER TABLE gadget ADD COLUMN note text;\n";
        assert_eq!(canonicalize(&format!("\u{feff}{body}")), body);
        let inner = "SELECT '\u{feff}';\n";
        assert_eq!(canonicalize(inner), inner);
        assert_eq!(canonicalize("\u{feff}\u{feff}x"), "\u{feff}x");
    }

    #[test]
    fn mixed_endings() {
        assert_eq!(canonicalize("a\r\nb\rc\nd\r"), "a\nb\nc\nd\n");
        assert_eq!(canonicalize("\r\r\n"), "\n\n");
    }

    #[test]
    fn golden_empty_checksums() {
        // Pinned: changing these breaks every history that recorded an empty migration.
        assert_eq!(
            checksum(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            checksum("-- intentionally empty\n"),
            "022a7f42d76ffe4fdbca26e19829d271c4ffc6d5b5dd9f14c92df0e0b7923a5d"
        );
    }
}
