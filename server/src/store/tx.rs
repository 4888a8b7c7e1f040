//! Transactions. Every change the store makes runs in a [`Tx`]: a
//! transaction on the writing pool that knows its [`Backend`] and appends
//! the audit entries of the change it holds, so that an action and its
//! entries commit together or not at all (the log is never ahead of, or
//! behind, what it records).

use std::ops::{Deref, DerefMut};

use sqlx::{Any, AnyConnection, AnyPool, Transaction};

use super::{audit, Backend};
use crate::audit::Event;
use crate::error::ServerError;

/// An open transaction; dropped without [`Tx::commit`], it rolls back.
#[derive(Debug)]
pub(super) struct Tx {
    inner: Transaction<'static, Any>,
    backend: Backend,
}

impl Tx {
    /// Begins a transaction on `pool`.
    pub(super) async fn begin(pool: &AnyPool, backend: Backend) -> Result<Self, ServerError> {
        Ok(Self {
            inner: pool.begin().await?,
            backend,
        })
    }

    /// The backend the transaction runs on (for the statements that differ).
    pub(super) fn backend(&self) -> Backend {
        self.backend
    }

    /// Takes the audit head lock now, before statements that allocate ids
    /// from sequences (see `audit::lock_head`).
    pub(super) async fn lock_audit_head(&mut self) -> Result<(), ServerError> {
        audit::lock_head(self).await
    }

    /// Appends `events` to the audit log at time `now`, inside this
    /// transaction. Returns the new tree size.
    pub(super) async fn audit(&mut self, events: Vec<Event>, now: i64) -> Result<u64, ServerError> {
        audit::append(self, events, now).await
    }

    /// Commits the change and its audit entries.
    pub(super) async fn commit(self) -> Result<(), ServerError> {
        Ok(self.inner.commit().await?)
    }
}

impl Deref for Tx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.inner
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.inner
    }
}
