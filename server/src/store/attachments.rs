//! Attachment records: the row that makes a stored blob exist (its owner,
//! size and expiry), the lookups of a download and of the start-up sweep of
//! blobs without a row, and expiry. The blobs themselves are files, written
//! by the HTTP layer (`http::attachments`).

use std::collections::HashSet;
use std::time::Duration;

use curbside_protocol::audit::{Action, Details};
use curbside_protocol::ids::{Address, AttachmentId, UserId};
use sqlx::Row;

use super::rows::attachment_id;
use super::sql::placeholders;
use super::{ms, Store};
use crate::audit::{Actor, Event};
use crate::error::ServerError;

impl Store {
    /// Records a stored attachment blob.
    pub async fn add_attachment(
        &self,
        id: &AttachmentId,
        owner: &Address,
        size: u64,
        actor: &Actor,
        now: i64,
        ttl: Duration,
    ) -> Result<i64, ServerError> {
        let expires_at = now.saturating_add(ms(ttl));
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO attachments (attachment_id, owner_user, owner_device, size, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.as_str())
        .bind(owner.user_id.as_str())
        .bind(i64::from(owner.device_id.0))
        .bind(i64::try_from(size).unwrap_or(i64::MAX))
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        let event = Event::new(actor, Action::AttachmentStored)
            .attachment(id)
            .details(Details {
                size: Some(size),
                ..Details::default()
            });
        tx.audit(vec![event], now).await?;
        tx.commit().await?;
        Ok(expires_at)
    }

    /// The bytes of `user`'s unexpired attachments (all their devices), and
    /// when the oldest of them expires (`None` if there is none): what the
    /// per-user attachment quota is checked against.
    pub async fn attachment_usage(&self, user: &UserId, now: i64) -> Result<(u64, Option<i64>), ServerError> {
        let row = self
            .writer
            .fetch_one(
                sqlx::query(
                    "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) AS used, MIN(expires_at) AS oldest \
                     FROM attachments WHERE owner_user = $1 AND expires_at > $2",
                )
                .bind(user.as_str())
                .bind(now),
            )
            .await?;
        let used = u64::try_from(row.try_get::<i64, _>("used")?).unwrap_or(0);
        Ok((used, row.try_get::<Option<i64>, _>("oldest")?))
    }

    /// The size of an attachment that has not expired.
    pub async fn attachment_size(&self, id: &AttachmentId, now: i64) -> Result<Option<u64>, ServerError> {
        let row = self
            .writer
            .fetch_optional(
                sqlx::query("SELECT size FROM attachments WHERE attachment_id = $1 AND expires_at > $2")
                    .bind(id.as_str())
                    .bind(now),
            )
            .await?;
        row.map(|r| Ok(u64::try_from(r.try_get::<i64, _>("size")?).unwrap_or(0)))
            .transpose()
    }

    /// Which of `ids` have an attachment row, expired or not (the start-up
    /// sweep of blobs without one, in batches of at most a few hundred).
    pub async fn attachments_present(
        &self,
        ids: &[AttachmentId],
    ) -> Result<HashSet<AttachmentId>, ServerError> {
        let mut present = HashSet::new();
        for chunk in ids.chunks(500) {
            let list = placeholders(1, 1, chunk.len());
            let sql = format!("SELECT attachment_id FROM attachments WHERE attachment_id IN {list}");
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(id.as_str());
            }
            for r in self.writer.fetch_all(q).await? {
                present.insert(attachment_id(&r, "attachment_id")?);
            }
        }
        Ok(present)
    }

    /// Deletes the records of expired attachments and returns their ids (the caller deletes the files).
    /// Deletes the records of attachments expired at `now` or stored at or
    /// before `created_cutoff` (the retention policy's limit; `i64::MIN`
    /// for none), returning their ids (whose blobs the caller deletes).
    pub async fn expire_attachments(
        &self,
        now: i64,
        created_cutoff: i64,
    ) -> Result<Vec<AttachmentId>, ServerError> {
        let rows = self
            .writer
            .fetch_all(
                sqlx::query(
                    "DELETE FROM attachments WHERE expires_at <= $1 OR created_at <= $2 RETURNING attachment_id",
                )
                .bind(now)
                .bind(created_cutoff),
            )
            .await?;
        rows.iter().map(|r| attachment_id(r, "attachment_id")).collect()
    }
}
