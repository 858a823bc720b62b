//! Plain-text tables and ages, the way `kubectl get` prints them.

use std::fmt::Write;

/// Left-aligned columns separated by three spaces, as kubectl does; trailing blanks trimmed.
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..headers.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([headers[c].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("   ").trim_end());
    }
    out
}

/// An age as kubectl prints it: `42s`, `5m`, `3h`, `2d` (the largest unit only).
pub fn age(from: jiff::Timestamp, now: jiff::Timestamp) -> String {
    let seconds = (now.as_second() - from.as_second()).max(0);
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 2 * 3600 => format!("{}m", s / 60),
        s if s < 2 * 86400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

/// A duration in milliseconds, short: `850ms`, `1.2s`, `3m4s`.
pub fn duration_ms(ms: u64) -> String {
    match ms {
        ms if ms < 1000 => format!("{ms}ms"),
        ms if ms < 60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        ms => format!("{}m{}s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

/// ANSI colours, only when printing to a terminal.
#[derive(Debug, Clone, Copy)]
pub struct Paint(pub bool);

impl Paint {
    fn wrap(self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
    pub fn red(self, text: &str) -> String {
        self.wrap("31", text)
    }
    pub fn green(self, text: &str) -> String {
        self.wrap("32", text)
    }
    pub fn bold(self, text: &str) -> String {
        self.wrap("1", text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_under_their_headers() {
        let out = render(
            &["NAME", "X"],
            &[
                vec!["a".into(), "1".into()],
                vec!["longer".into(), "".into()],
            ],
        );
        assert_eq!(out, "NAME     X\na        1\nlonger\n");
    }

    #[test]
    fn ages_use_the_largest_unit_like_kubectl() {
        let t = |s: i64| jiff::Timestamp::from_second(1_800_000_000 + s).unwrap();
        assert_eq!(age(t(0), t(42)), "42s");
        assert_eq!(age(t(0), t(300)), "5m");
        assert_eq!(age(t(0), t(3 * 3600)), "3h");
        assert_eq!(age(t(0), t(3 * 86400)), "3d");
        assert_eq!(age(t(10), t(0)), "0s", "a clock skew is not a negative age");
    }

    #[test]
    fn durations_are_short() {
        assert_eq!(duration_ms(850), "850ms");
        assert_eq!(duration_ms(1240), "1.2s");
        assert_eq!(duration_ms(184_000), "3m4s");
    }

    #[test]
    fn colour_only_when_asked() {
        assert_eq!(Paint(false).red("x"), "x");
        assert_eq!(Paint(true).red("x"), "\x1b[31mx\x1b[0m");
    }
}
