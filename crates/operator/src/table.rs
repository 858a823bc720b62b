//! Plain-text tables the way `kubectl get` prints them: the lab's live view and kubectl-fabric.

use std::fmt::Write;

/// Left-aligned columns separated by three spaces, as kubectl does; trailing blanks trimmed.
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..headers.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([headers[c].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let header: Vec<&str> = headers.to_vec();
    for row in
        std::iter::once(header).chain(rows.iter().map(|r| r.iter().map(String::as_str).collect()))
    {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("   ").trim_end());
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        let out = super::render(
            &["NAME", "PHASE"],
            &[
                vec!["leaf1-abc".into(), "Pending".into()],
                vec!["x".into(), "Remediated".into()],
            ],
        );
        assert_eq!(
            out,
            "NAME        PHASE\nleaf1-abc   Pending\nx           Remediated\n"
        );
    }
}
