//! Text from plugins made safe for a terminal: a version, a metadata value, a log line or an
//! error may carry escape sequences (colours, cursor moves, a cleared screen) or carriage
//! returns that would forge lines looking like the engine's. Every control character but the
//! tab is shown escaped (`\x1b`, `\r`, `\u{9b}`), so what a plugin wrote is what one reads.

use std::borrow::Cow;

/// `text` with its control characters escaped (tab kept).
pub fn safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) && (c as u32) < 0x80 => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c != '\t' && c.is_control()
}

#[cfg(test)]
mod tests {
    use super::safe;

    #[test]
    fn control_characters_are_shown_escaped() {
        assert_eq!(safe("plain text\twith tab"), "plain text\twith tab");
        assert_eq!(
            safe("\x1b[2J\x1b[31m✓ deploy #1 succeeded\r\nfake"),
            "\\x1b[2J\\x1b[31m✓ deploy #1 succeeded\\r\\nfake"
        );
        assert_eq!(safe("c1 \u{9b}31m"), "c1 \\u{9b}31m");
        assert_eq!(safe("del \x7f"), "del \\x7f");
    }
}
