//! Byte offsets to 1-based line and column numbers.

/// Converts increasing byte offsets to (line, column) in one pass over the text, so that
/// positioning every statement of a script costs as much as reading the script once.
///
/// Lines end at `\n`, which covers `\r\n` too, and a lone `\r` is an ordinary character. Columns count
/// characters, not bytes.
pub(crate) struct LineCursor<'a> {
    bytes: &'a [u8],
    offset: usize,
    line: u32,
    column: u32,
}

impl<'a> LineCursor<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        LineCursor {
            bytes: text.as_bytes(),
            offset: 0,
            line: 1,
            column: 1,
        }
    }

    /// Moves to `offset` and returns its (line, column). An offset behind the cursor restarts
    /// from the beginning, an offset past the end is clamped to the end, and an offset inside
    /// a multi-byte character points at that character.
    pub(crate) fn position_at(&mut self, offset: usize) -> (u32, u32) {
        let target = offset.min(self.bytes.len());
        if target < self.offset {
            *self = LineCursor {
                bytes: self.bytes,
                offset: 0,
                line: 1,
                column: 1,
            };
        }
        for &byte in &self.bytes[self.offset..target] {
            if byte == b'\n' {
                self.line = self.line.saturating_add(1);
                self.column = 1;
            } else if !is_continuation_byte(byte) {
                self.column = self.column.saturating_add(1);
            }
        }
        self.offset = target;
        (self.line, self.column_at_character_start())
    }

    /// Undoes the count of a character whose lead byte lies before the offset but whose
    /// remaining bytes do not.
    fn column_at_character_start(&self) -> u32 {
        let inside_character = self
            .bytes
            .get(self.offset)
            .is_some_and(|&byte| is_continuation_byte(byte));
        if inside_character {
            self.column - 1
        } else {
            self.column
        }
    }
}

fn is_continuation_byte(byte: u8) -> bool {
    byte & 0xC0 == 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_byte_is_line_one_column_one() {
        assert_eq!(LineCursor::new("abc").position_at(0), (1, 1));
    }

    #[test]
    fn columns_count_characters() {
        let text = "éé x";
        assert_eq!(LineCursor::new(text).position_at(5), (1, 4));
    }

    #[test]
    fn offset_inside_character_points_at_it() {
        let text = "aé";
        assert_eq!(LineCursor::new(text).position_at(2), (1, 2));
    }

    #[test]
    fn crlf_and_lone_cr() {
        let text = "a\r\nb\rc";
        let mut cursor = LineCursor::new(text);
        assert_eq!(cursor.position_at(3), (2, 1));
        assert_eq!(cursor.position_at(5), (2, 3));
    }

    #[test]
    fn backwards_offset_restarts() {
        let text = "a\nb\nc";
        let mut cursor = LineCursor::new(text);
        assert_eq!(cursor.position_at(4), (3, 1));
        assert_eq!(cursor.position_at(2), (2, 1));
    }

    #[test]
    fn offset_past_end_is_clamped() {
        assert_eq!(LineCursor::new("ab\n").position_at(99), (2, 1));
    }
}
