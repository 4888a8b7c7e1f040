//! SQL text built at run time: the numbered placeholders of multi-row
//! `VALUES` lists and `IN` lists, written once for every statement.

use std::fmt::Write as _;

/// `rows` groups of `cols` numbered placeholders, the first numbered
/// `first`: `placeholders(1, 2, 3)` is `($1,$2,$3),($4,$5,$6)` (a
/// multi-row `VALUES` list), `placeholders(3, 1, 2)` is `($3,$4)` (an `IN`
/// list after two other parameters).
pub(super) fn placeholders(first: usize, rows: usize, cols: usize) -> String {
    let mut out = String::with_capacity(rows * (cols * 5 + 3));
    for r in 0..rows {
        if r > 0 {
            out.push(',');
        }
        out.push('(');
        for c in 0..cols {
            if c > 0 {
                out.push(',');
            }
            let _ = write!(out, "${}", first + r * cols + c);
        }
        out.push(')');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::placeholders;

    #[test]
    fn values_and_in_lists() {
        assert_eq!(placeholders(1, 2, 3), "($1,$2,$3),($4,$5,$6)");
        assert_eq!(placeholders(3, 1, 2), "($3,$4)");
        assert_eq!(placeholders(1, 1, 1), "($1)");
        assert_eq!(placeholders(1, 0, 4), "");
    }
}
