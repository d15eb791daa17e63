//! Text widths for laying out boxes without a font engine.
//!
//! The diagrams name `DejaVu Sans` first in their font list. The tables below are its advance
//! widths in thousandths of an em for printable ASCII, measured with Chromium's canvas
//! `measureText` at 1000 px. Verdana has nearly the same metrics, and Helvetica, Arial and
//! Liberation Sans are narrower, so a box sized from these widths also fits text drawn in
//! those fallback fonts.

/// The `font-family` value that the widths below were measured for, with its fallbacks.
pub const FONT_FAMILY: &str = "'DejaVu Sans', Verdana, 'Helvetica Neue', Arial, sans-serif";

/// Advance widths of U+0020 to U+007E in the regular face.
const REGULAR: [u16; 95] = [
    318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337, 636, 636, 636, 636, 636,
    636, 636, 636, 636, 636, 337, 337, 838, 838, 838, 531, 1000, 684, 686, 698, 770, 632, 575, 775, 752, 295,
    295, 656, 557, 863, 748, 787, 603, 787, 695, 635, 611, 732, 684, 989, 685, 611, 685, 390, 337, 390, 838,
    500, 500, 613, 635, 550, 635, 615, 352, 635, 634, 278, 278, 579, 278, 974, 634, 612, 635, 635, 411, 521,
    392, 634, 592, 818, 592, 592, 525, 636, 337, 636, 838,
];

/// Advance widths of U+0020 to U+007E in the bold face.
const BOLD: [u16; 95] = [
    348, 456, 521, 838, 696, 1002, 872, 306, 457, 457, 523, 838, 380, 415, 380, 365, 696, 696, 696, 696, 696,
    696, 696, 696, 696, 696, 400, 400, 838, 838, 838, 580, 1000, 774, 762, 734, 830, 683, 683, 821, 837, 372,
    372, 775, 637, 995, 837, 850, 733, 850, 770, 720, 682, 812, 774, 1103, 771, 724, 725, 457, 365, 457, 838,
    500, 500, 675, 716, 593, 716, 678, 435, 716, 712, 343, 343, 665, 343, 1042, 712, 687, 716, 716, 493, 595,
    478, 712, 652, 924, 645, 652, 582, 712, 365, 712, 838,
];

/// Width assumed for characters outside ASCII that are not wide (accented letters, Greek,
/// Cyrillic): about the widest lower-case letters of the font.
const OTHER: u16 = 700;

/// Width assumed for East Asian wide characters, which fallback fonts draw one em wide.
const WIDE: u16 = 1000;

/// Returns the width of `text` in pixels at `size` pixels per em.
pub fn width(text: &str, size: f64, bold: bool) -> f64 {
    let table = if bold { &BOLD } else { &REGULAR };
    let thousandths: u32 = text
        .chars()
        .map(|character| u32::from(char_width(character, table)))
        .sum();
    f64::from(thousandths) * size / 1000.0
}

fn char_width(character: char, table: &[u16; 95]) -> u16 {
    let code = u32::from(character);
    match code {
        0x20..=0x7e => table[(code - 0x20) as usize],
        // Hangul Jamo, CJK radicals to Yi, Hangul syllables, compatibility ideographs,
        // full-width forms, and the supplementary ideograph planes.
        0x1100..=0x115f
        | 0x2e80..=0xa4cf
        | 0xac00..=0xd7a3
        | 0xf900..=0xfaff
        | 0xff00..=0xff60
        | 0x20000..=0x3fffd => WIDE,
        _ => OTHER,
    }
}

/// Cuts `text` to at most `max_chars` characters, marking a cut with an ellipsis.
pub fn truncate(text: &str, max_chars: usize) -> std::borrow::Cow<'_, str> {
    if text.chars().count() <= max_chars {
        return std::borrow::Cow::Borrowed(text);
    }
    let kept: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    std::borrow::Cow::Owned(format!("{kept}…"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn width_sums_advances() {
        // "id" is 278 + 635 thousandths in the regular face.
        assert!((width("id", 10.0, false) - 9.13).abs() < 1e-9);
        assert!(width("id", 10.0, true) > width("id", 10.0, false));
    }

    #[test]
    fn width_covers_text_outside_ascii() {
        assert_eq!(width("é", 10.0, false), 7.0);
        assert_eq!(width("表", 10.0, false), 10.0);
    }

    #[test]
    fn truncate_marks_the_cut() {
        assert_eq!(truncate("abcdef", 6), "abcdef");
        assert_eq!(truncate("abcdef", 4), "abc…");
    }
}
