//! SQL text built by the store: the numbered placeholders of multi-row
//! `VALUES` lists and `IN` lists, written once for every statement, and
//! [`Select`], the only kind of statement the read pool runs.

use std::fmt::Write as _;

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::Any;

/// A statement with its arguments, for the writer or a transaction.
pub(super) type Statement<'q> = Query<'q, Any, AnyArguments<'q>>;

/// `rows` groups of `cols` numbered placeholders, the first numbered
/// `first`: `placeholders(1, 2, 3)` is `($1,$2,$3),($4,$5,$6)` (a
/// multi-row `VALUES` list), `placeholders(3, 1, 2)` is `($3,$4)` (an `IN`
/// list after two other parameters).
pub(super) fn placeholders(first: usize, rows: usize, cols: usize) -> String {
    numbered_or_anonymous(first, rows, cols, true)
}

/// The `VALUES` list of a statement whose only parameters are these, bound
/// in textual order: numbered on PostgreSQL, anonymous `?` on SQLite. SQLite
/// treats `$N` as a *named* parameter and sqlx asks each parameter's name as
/// it binds, which SQLite answers by scanning the statement's list of
/// names: a 64-row insert of numbered placeholders binds in quadratic time
/// (5 % of the server's profile under load, BENCHMARKS.md). Never mix the
/// two kinds in one statement: sqlx numbers unnamed ones on its own.
pub(super) fn values_list(conn: &sqlx::AnyConnection, rows: usize, cols: usize) -> String {
    numbered_or_anonymous(1, rows, cols, conn.backend_name() != "SQLite")
}

fn numbered_or_anonymous(first: usize, rows: usize, cols: usize, numbered: bool) -> String {
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
            if numbered {
                let _ = write!(out, "${}", first + r * cols + c);
            } else {
                out.push('?');
            }
        }
        out.push(')');
    }
    out
}

/// SQL text that only reads: it begins with `SELECT `. Made by
/// [`select!`], which checks it when the server compiles.
#[derive(Clone, Copy, Debug)]
pub(super) struct ReadOnly(&'static str);

impl ReadOnly {
    /// `sql`, if it is a `SELECT`. Evaluated by [`select!`] in a constant,
    /// where a failed check is a compile error: any other statement given
    /// to it does not compile.
    pub(super) const fn checked(sql: &'static str) -> Self {
        assert!(is_select(sql), "the read pool runs only SELECT statements");
        Self(sql)
    }

    /// A statement of this text, to bind arguments to.
    pub(super) fn query<'q>(self) -> Select<'q> {
        Select(sqlx::query(self.0))
    }

    /// This text followed by an `IN` list of `n` placeholders numbered
    /// from `$1`.
    pub(super) fn in_list(self, n: usize) -> ReadOnlyList {
        ReadOnlyList(format!("{}{}", self.0, placeholders(1, 1, n)))
    }
}

/// A [`ReadOnly`] text that ends in a list of placeholders.
#[derive(Clone, Debug)]
pub(super) struct ReadOnlyList(String);

impl ReadOnlyList {
    /// A statement of this text, to bind arguments to.
    pub(super) fn query(&self) -> Select<'_> {
        Select(sqlx::query(&self.0))
    }
}

/// A statement that only reads, with its arguments: what
/// [`Reads`](super::pool::Reads) runs (and a transaction may run too).
pub(super) struct Select<'q>(Statement<'q>);

impl<'q> Select<'q> {
    /// Binds the next argument.
    pub(super) fn bind<T>(self, value: T) -> Self
    where
        T: 'q + sqlx::Encode<'q, Any> + sqlx::Type<Any>,
    {
        Self(self.0.bind(value))
    }

    /// The statement, to run on the writer or in a transaction.
    pub(super) fn into_statement(self) -> Statement<'q> {
        self.0
    }
}

/// Whether `sql` begins with `SELECT ` (a `const fn`: [`select!`] checks
/// at compile time).
const fn is_select(sql: &str) -> bool {
    let mut rest = sql.as_bytes();
    let mut word: &[u8] = b"SELECT ";
    while let [w, more_word @ ..] = word {
        let [s, more @ ..] = rest else {
            return false;
        };
        if *s != *w {
            return false;
        }
        word = more_word;
        rest = more;
    }
    true
}

/// A [`Select`] of constant SQL text, refused at compile time unless it
/// begins with `SELECT `.
macro_rules! select {
    ($sql:expr $(,)?) => {{
        // A constant item (not an inline `const` block) so that even
        // `cargo check` evaluates it.
        const SQL: $crate::store::sql::ReadOnly = $crate::store::sql::ReadOnly::checked($sql);
        SQL.query()
    }};
}
pub(super) use select;

#[cfg(test)]
mod tests {
    use super::{is_select, placeholders};

    #[test]
    fn values_and_in_lists() {
        assert_eq!(placeholders(1, 2, 3), "($1,$2,$3),($4,$5,$6)");
        assert_eq!(placeholders(3, 1, 2), "($3,$4)");
        assert_eq!(placeholders(1, 1, 1), "($1)");
        assert_eq!(placeholders(1, 0, 4), "");
    }

    #[test]
    fn only_selects_are_read_only() {
        assert!(is_select("SELECT 1"));
        assert!(!is_select("SELECT"));
        assert!(!is_select("DELETE FROM queue"));
        assert!(!is_select(
            "WITH d AS (DELETE FROM queue RETURNING *) SELECT * FROM d"
        ));
        assert!(!is_select(" SELECT 1"));
    }
}
