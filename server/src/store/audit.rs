//! The audit log's storage: append inside the caller's transaction, query
//! with filters and a stable cursor, and the nodes proofs are built from.
//!
//! Appends read and lock the single `audit_head` row (`FOR UPDATE` on
//! PostgreSQL; SQLite's single connection serialises everything), so entries
//! get consecutive sequence numbers and commit in that order: a reader that
//! paginates by sequence number never skips an entry that commits later.

use curbside_protocol::audit::{Action, AuditEntry, AuditRecord, Details, HexHash, Outcome};
use curbside_protocol::http::Role;
use curbside_protocol::ids::{DeviceId, MessageId, UserId};
use curbside_protocol::merkle::{self, CompactRange, Hash, NodeId};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::rows::corrupt;
use super::sql::values_list;
use super::tx::Tx;
use super::{Backend, Store};
use crate::audit::Event;
use crate::error::ServerError;

/// Rows per multi-row INSERT (16 parameters each). Small on purpose: SQLite
/// looks parameter names up linearly, so binding a statement of n
/// parameters costs O(n²) (it showed in the profile at 500 rows; see
/// BENCHMARKS.md).
const CHUNK: usize = 32;

const COLUMNS: &str = "seq, time_ms, actor_user, actor_device, actor_role, action, counterpart_user, \
                       counterpart_device, message_id, referral_id, attachment_id, source, outcome, reason, \
                       details, leaf_hash";

/// Takes the audit head lock at the start of a transaction that will insert
/// queue rows or receipts. Their ids come from sequences: allocated under
/// the lock that also orders the commits, ids become visible in increasing
/// order, so a connection that reads its queue "after the last id pushed"
/// never skips a row that commits late (PostgreSQL, several pool
/// connections or nodes; SQLite's single connection serialises anyway).
pub(super) async fn lock_head(tx: &mut Tx) -> Result<(), ServerError> {
    if tx.backend() == Backend::Postgres {
        sqlx::query("SELECT size FROM audit_head WHERE id = 1 FOR UPDATE")
            .fetch_one(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Appends `events` to the log inside `tx`, the transaction of the action
/// they record ([`Tx::audit`]). Returns the new tree size.
pub(super) async fn append(tx: &mut Tx, events: Vec<Event>, now: i64) -> Result<u64, ServerError> {
    let lock = match tx.backend() {
        Backend::Sqlite => "SELECT size, peaks FROM audit_head WHERE id = 1",
        Backend::Postgres => "SELECT size, peaks FROM audit_head WHERE id = 1 FOR UPDATE",
    };
    let conn: &mut AnyConnection = tx;
    let head = sqlx::query(lock).fetch_one(&mut *conn).await?;
    let mut tree = tree_from_row(&head)?;
    if events.is_empty() {
        return Ok(tree.size());
    }
    let mut entries = Vec::with_capacity(events.len());
    let mut nodes = Vec::new();
    for event in events {
        let entry = event.into_entry(tree.size() + 1, now);
        let leaf = entry.leaf_hash();
        nodes.extend(tree.append(leaf).into_iter().filter(|(id, _)| id.level > 0));
        entries.push((entry, leaf));
    }
    for chunk in entries.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO audit_log ({COLUMNS}) VALUES {}",
            values_list(conn, chunk.len(), 16)
        );
        let mut q = sqlx::query(&sql);
        for (e, leaf) in chunk {
            let details = serde_json::to_string(&e.details).map_err(|_| corrupt("audit details"))?;
            q = q
                .bind(int(e.seq))
                .bind(e.time_ms)
                .bind(e.actor_user.as_ref().map(|u| u.as_str().to_owned()))
                .bind(e.actor_device.map(|d| i64::from(d.0)))
                .bind(e.actor_role.map(Role::as_str))
                .bind(e.action.as_str())
                .bind(e.counterpart_user.as_ref().map(|u| u.as_str().to_owned()))
                .bind(e.counterpart_device.map(|d| i64::from(d.0)))
                .bind(e.message_id.as_ref().map(|m| m.as_str().to_owned()))
                .bind(e.referral_id.clone())
                .bind(e.attachment_id.clone())
                .bind(e.source.clone())
                .bind(e.outcome.as_str())
                .bind(e.reason.clone())
                .bind(details)
                .bind(leaf.to_vec());
        }
        q.execute(&mut *conn).await?;
    }
    for chunk in nodes.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO audit_nodes (level, idx, hash) VALUES {}",
            values_list(conn, chunk.len(), 3)
        );
        let mut q = sqlx::query(&sql);
        for (id, hash) in chunk {
            q = q
                .bind(i64::from(id.level))
                .bind(int(id.index))
                .bind(hash.to_vec());
        }
        q.execute(&mut *conn).await?;
    }
    sqlx::query("UPDATE audit_head SET size = $1, peaks = $2 WHERE id = 1")
        .bind(int(tree.size()))
        .bind(tree.peaks_bytes())
        .execute(&mut *conn)
        .await?;
    Ok(tree.size())
}

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn tree_from_row(row: &AnyRow) -> Result<CompactRange, ServerError> {
    let size = u64::try_from(row.try_get::<i64, _>("size")?).map_err(|_| corrupt("audit tree size"))?;
    let peaks: Vec<u8> = row.try_get("peaks")?;
    CompactRange::from_bytes(size, &peaks).map_err(|_| corrupt("audit tree head"))
}

/// A validated audit query: filters combine with AND.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Actor user.
    pub actor: Option<UserId>,
    /// Counterpart user.
    pub counterpart: Option<UserId>,
    /// Action.
    pub action: Option<Action>,
    /// Message id.
    pub message_id: Option<MessageId>,
    /// Referral id.
    pub referral_id: Option<String>,
    /// Outcome.
    pub outcome: Option<Outcome>,
    /// At or after (ms).
    pub since_ms: Option<i64>,
    /// Before (ms).
    pub until_ms: Option<i64>,
}

impl AuditFilter {
    /// The filters as `key=value` pairs, for the entry that records the query.
    #[must_use]
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(v) = &self.actor {
            parts.push(format!("actor={v}"));
        }
        if let Some(v) = &self.counterpart {
            parts.push(format!("counterpart={v}"));
        }
        if let Some(v) = self.action {
            parts.push(format!("action={}", v.as_str()));
        }
        if let Some(v) = &self.message_id {
            parts.push(format!("message_id={v}"));
        }
        if let Some(v) = &self.referral_id {
            parts.push(format!("referral_id={v}"));
        }
        if let Some(v) = self.outcome {
            parts.push(format!("outcome={}", v.as_str()));
        }
        if let Some(v) = self.since_ms {
            parts.push(format!("since_ms={v}"));
        }
        if let Some(v) = self.until_ms {
            parts.push(format!("until_ms={v}"));
        }
        parts.join(" ")
    }
}

enum Bind {
    Text(String),
    Int(i64),
}

/// One page of the log.
#[derive(Clone, Copy, Debug)]
pub struct PageRequest {
    /// Entries after (ascending) or before (descending) this sequence number.
    pub cursor: Option<u64>,
    /// At most this many.
    pub limit: u32,
    /// Newest first.
    pub descending: bool,
    /// Ignore entries after this sequence number.
    pub through: Option<u64>,
}

fn record_from_row(row: &AnyRow) -> Result<AuditRecord, ServerError> {
    let seq = u64::try_from(row.try_get::<i64, _>("seq")?).map_err(|_| corrupt("audit seq"))?;
    let bad = || corrupt(&format!("audit entry {seq}"));
    let opt_user = |col: &str| -> Result<Option<UserId>, ServerError> {
        row.try_get::<Option<String>, _>(col)?
            .map(|s| UserId::new(s).map_err(|_| bad()))
            .transpose()
    };
    let opt_device = |col: &str| -> Result<Option<DeviceId>, ServerError> {
        row.try_get::<Option<i64>, _>(col)?
            .map(|d| u32::try_from(d).map(DeviceId).map_err(|_| bad()))
            .transpose()
    };
    let details: Details = serde_json::from_str(&row.try_get::<String, _>("details")?).map_err(|_| bad())?;
    let leaf: Hash = row
        .try_get::<Vec<u8>, _>("leaf_hash")?
        .try_into()
        .map_err(|_| bad())?;
    let entry = AuditEntry {
        seq,
        time_ms: row.try_get("time_ms")?,
        actor_user: opt_user("actor_user")?,
        actor_device: opt_device("actor_device")?,
        actor_role: row
            .try_get::<Option<String>, _>("actor_role")?
            .map(|r| Role::parse(&r).ok_or_else(bad))
            .transpose()?,
        action: Action::parse(&row.try_get::<String, _>("action")?).ok_or_else(bad)?,
        counterpart_user: opt_user("counterpart_user")?,
        counterpart_device: opt_device("counterpart_device")?,
        message_id: row
            .try_get::<Option<String>, _>("message_id")?
            .map(|m| MessageId::new(m).map_err(|_| bad()))
            .transpose()?,
        referral_id: row.try_get("referral_id")?,
        attachment_id: row.try_get("attachment_id")?,
        source: row.try_get("source")?,
        outcome: Outcome::parse(&row.try_get::<String, _>("outcome")?).ok_or_else(bad)?,
        reason: row.try_get("reason")?,
        details,
    };
    Ok(AuditRecord {
        entry,
        leaf_hash: HexHash(leaf),
    })
}

impl Store {
    /// Appends entries in their own transaction (for actions that change
    /// nothing else: refusals, reads, queries of the log itself).
    pub async fn record(&self, events: Vec<Event>) -> Result<(), ServerError> {
        self.record_at(events, super::now_ms()).await.map(|_| ())
    }

    /// [`Store::record`] at a given time; returns the new tree size.
    pub async fn record_at(&self, events: Vec<Event>, now: i64) -> Result<u64, ServerError> {
        let mut tx = self.begin().await?;
        let size = tx.audit(events, now).await?;
        tx.commit().await?;
        Ok(size)
    }

    /// Appends an entry and returns the tree (size and peaks) that includes it.
    pub async fn record_with_head(&self, event: Event) -> Result<CompactRange, ServerError> {
        let mut tx = self.begin().await?;
        tx.audit(vec![event], super::now_ms()).await?;
        let row = sqlx::query("SELECT size, peaks FROM audit_head WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
        let tree = tree_from_row(&row)?;
        tx.commit().await?;
        Ok(tree)
    }

    /// The current tree (size and peaks).
    pub async fn audit_tree(&self) -> Result<CompactRange, ServerError> {
        let row = self
            .writer
            .fetch_one(sqlx::query("SELECT size, peaks FROM audit_head WHERE id = 1"))
            .await?;
        tree_from_row(&row)
    }

    /// Entries matching `filter`, one page.
    pub async fn audit_page(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Vec<AuditRecord>, ServerError> {
        let mut clauses: Vec<String> = Vec::new();
        let mut binds: Vec<Bind> = Vec::new();
        let mut push = |clause: &str, b: Bind| {
            binds.push(b);
            clauses.push(clause.replace('?', &format!("${}", binds.len())));
        };
        if let Some(v) = &filter.actor {
            push("actor_user = ?", Bind::Text(v.as_str().to_owned()));
        }
        if let Some(v) = &filter.counterpart {
            push("counterpart_user = ?", Bind::Text(v.as_str().to_owned()));
        }
        if let Some(v) = filter.action {
            push("action = ?", Bind::Text(v.as_str().to_owned()));
        }
        if let Some(v) = &filter.message_id {
            push("message_id = ?", Bind::Text(v.as_str().to_owned()));
        }
        if let Some(v) = &filter.referral_id {
            push("referral_id = ?", Bind::Text(v.clone()));
        }
        if let Some(v) = filter.outcome {
            push("outcome = ?", Bind::Text(v.as_str().to_owned()));
        }
        if let Some(v) = filter.since_ms {
            push("time_ms >= ?", Bind::Int(v));
        }
        if let Some(v) = filter.until_ms {
            push("time_ms < ?", Bind::Int(v));
        }
        if let Some(v) = page.through {
            push("seq <= ?", Bind::Int(int(v)));
        }
        if let Some(c) = page.cursor {
            if page.descending {
                push("seq < ?", Bind::Int(int(c)));
            } else {
                push("seq > ?", Bind::Int(int(c)));
            }
        }
        let filter_sql = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_log {filter_sql} ORDER BY seq {} LIMIT {}",
            if page.descending { "DESC" } else { "ASC" },
            page.limit.max(1)
        );
        let mut q = sqlx::query(&sql);
        for b in binds {
            q = match b {
                Bind::Text(s) => q.bind(s),
                Bind::Int(i) => q.bind(i),
            };
        }
        let rows = self.writer.fetch_all(q).await?;
        rows.iter().map(record_from_row).collect()
    }

    /// One entry.
    pub async fn audit_record(&self, seq: u64) -> Result<Option<AuditRecord>, ServerError> {
        let row = self
            .writer
            .fetch_optional(
                sqlx::query(&format!("SELECT {COLUMNS} FROM audit_log WHERE seq = $1")).bind(int(seq)),
            )
            .await?;
        row.as_ref().map(record_from_row).transpose()
    }

    async fn node(&self, id: NodeId) -> Result<Hash, ServerError> {
        let row = if id.level == 0 {
            self.writer
                .fetch_optional(
                    sqlx::query("SELECT leaf_hash AS hash FROM audit_log WHERE seq = $1")
                        .bind(int(id.index.saturating_add(1))),
                )
                .await?
        } else {
            self.writer
                .fetch_optional(
                    sqlx::query("SELECT hash FROM audit_nodes WHERE level = $1 AND idx = $2")
                        .bind(i64::from(id.level))
                        .bind(int(id.index)),
                )
                .await?
        };
        row.ok_or_else(|| corrupt("missing audit tree node"))?
            .try_get::<Vec<u8>, _>("hash")?
            .try_into()
            .map_err(|_| corrupt("audit tree node"))
    }

    async fn proof(&self, groups: Vec<Vec<NodeId>>) -> Result<Vec<Hash>, ServerError> {
        let mut out = Vec::with_capacity(groups.len());
        for group in groups {
            let mut hashes = Vec::with_capacity(group.len());
            for id in group {
                hashes.push(self.node(id).await?);
            }
            out.push(merkle::fold_range(&hashes));
        }
        Ok(out)
    }

    /// The inclusion proof of entry `seq` in the tree of `size` entries
    /// (the caller checks `1 <= seq <= size <= current size`).
    pub async fn inclusion_proof(&self, seq: u64, size: u64) -> Result<Vec<Hash>, ServerError> {
        let groups = merkle::inclusion_proof_nodes(seq.saturating_sub(1), size)
            .map_err(|e| ServerError::Config(e.to_string()))?;
        self.proof(groups).await
    }

    /// The consistency proof from `first` to `second` entries (the caller
    /// checks `1 <= first <= second <= current size`).
    pub async fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>, ServerError> {
        let groups =
            merkle::consistency_proof_nodes(first, second).map_err(|e| ServerError::Config(e.to_string()))?;
        self.proof(groups).await
    }
}
