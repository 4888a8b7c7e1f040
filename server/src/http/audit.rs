//! The compliance API (compliance officer role only). Every request,
//! including refused ones, is itself recorded in the audit log before
//! anything is answered.
//!
//! - `GET /v1/audit/entries`: filtered query, cursor pagination; with
//!   `tree_size=N`, each record with its inclusion proof in the tree of N
//!   entries (what `curbside audit query` checks every row it shows with).
//! - `GET /v1/audit/export`: JSONL or CSV, streamed, any size.
//! - `GET /v1/audit/tree-head`: the current signed tree head and the log key.
//! - `GET /v1/audit/proof/inclusion?seq=&tree_size=`.
//! - `GET /v1/audit/proof/consistency?first=&second=`.

use std::collections::HashMap;

use super::extract::Json;
use super::extract::Query;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use curbside_protocol::audit::{
    csv_fields, Action, AuditPage, AuditRecord, ConsistencyProof, Details, HexHash, InclusionProof, Outcome,
    TreeHeadResponse, CSV_HEADER,
};
use curbside_protocol::error::ErrorCode;
use curbside_protocol::http::Role;
use curbside_protocol::ids::{MessageId, UserId};

use super::{refused, MaybeCaller};
use crate::audit::{Actor, Event};
use crate::error::ApiError;
use crate::store::{now_ms, AuditFilter, PageRequest, Store};
use crate::AppState;

/// Default and largest page of `GET /v1/audit/entries`.
const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 1000;
/// Entries fetched per database round trip while exporting.
const EXPORT_PAGE: u32 = 1000;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/audit/entries", get(entries))
        .route("/v1/audit/export", get(export))
        .route("/v1/audit/tree-head", get(tree_head))
        .route("/v1/audit/proof/inclusion", get(inclusion))
        .route("/v1/audit/proof/consistency", get(consistency))
}

/// Authenticates and authorizes a compliance request, recording a refusal
/// (unauthenticated or wrong role) as a failed `action`.
async fn authorize(state: &AppState, who: MaybeCaller, action: Action) -> Result<Actor, ApiError> {
    match who.caller {
        Ok(caller) => caller.require(state, Role::ComplianceOfficer, action).await,
        Err(e) => {
            let event = Event::new(&Actor::anonymous(who.source), action).details(Details {
                endpoint: Some(who.endpoint),
                ..Details::default()
            });
            Err(refused(state, event, e).await)
        }
    }
}

/// Records a request refused for its parameters, and returns the error.
async fn refuse(state: &AppState, actor: &Actor, action: Action, e: ApiError) -> ApiError {
    refused(state, Event::new(actor, action), e).await
}

fn number<T: std::str::FromStr>(params: &HashMap<String, String>, key: &str) -> Result<Option<T>, ApiError> {
    params
        .get(key)
        .map(|v| {
            v.parse()
                .map_err(|_| ApiError::invalid(format!("{key} must be a non-negative integer")))
        })
        .transpose()
}

/// The parameters of a query or export.
pub(crate) struct Parsed {
    filter: AuditFilter,
    cursor: Option<u64>,
    limit: u32,
    descending: bool,
    through: Option<u64>,
    csv: bool,
    tree_size: Option<u64>,
}

const QUERY_KEYS: &[&str] = &[
    "actor",
    "counterpart",
    "action",
    "message_id",
    "referral_id",
    "outcome",
    "since_ms",
    "until_ms",
    "cursor",
    "limit",
    "order",
    "through",
    "format",
    "tree_size",
];

pub(crate) fn parse(params: &HashMap<String, String>) -> Result<Parsed, ApiError> {
    if let Some(unknown) = params.keys().find(|k| !QUERY_KEYS.contains(&k.as_str())) {
        return Err(ApiError::invalid(format!("unknown parameter {unknown}")));
    }
    let user = |key: &str| -> Result<Option<UserId>, ApiError> {
        params
            .get(key)
            .map(|v| UserId::new(v.as_str()).map_err(|e| ApiError::invalid(format!("{key}: {e}"))))
            .transpose()
    };
    let filter = AuditFilter {
        actor: user("actor")?,
        counterpart: user("counterpart")?,
        action: params
            .get("action")
            .map(|a| Action::parse(a).ok_or_else(|| ApiError::invalid(format!("unknown action {a}"))))
            .transpose()?,
        message_id: params
            .get("message_id")
            .map(|m| MessageId::new(m.as_str()).map_err(|e| ApiError::invalid(format!("message_id: {e}"))))
            .transpose()?,
        referral_id: params.get("referral_id").cloned(),
        outcome: params
            .get("outcome")
            .map(|o| Outcome::parse(o).ok_or_else(|| ApiError::invalid("outcome must be success or failure")))
            .transpose()?,
        since_ms: number(params, "since_ms")?,
        until_ms: number(params, "until_ms")?,
    };
    let limit = number::<u32>(params, "limit")?.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::invalid(format!("limit must be 1 to {MAX_PAGE}")));
    }
    let descending = match params.get("order").map(String::as_str) {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(ApiError::invalid("order must be asc or desc")),
    };
    let csv = match params.get("format").map(String::as_str) {
        None | Some("jsonl") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::invalid("format must be jsonl or csv")),
    };
    Ok(Parsed {
        filter,
        cursor: number(params, "cursor")?,
        limit,
        descending,
        through: number(params, "through")?,
        csv,
        tree_size: number(params, "tree_size")?,
    })
}

async fn entries(
    State(state): State<AppState>,
    who: MaybeCaller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<AuditPage>, ApiError> {
    let action = Action::AuditQueried;
    let actor = authorize(&state, who, action).await?;
    let p = match parse(&params) {
        Ok(p) => p,
        Err(e) => return Err(refuse(&state, &actor, action, e).await),
    };
    if let Some(size) = p.tree_size {
        let current = state.store.audit_tree().await?.size();
        if size == 0 || size > current {
            let e = ApiError::invalid(format!("tree_size must be 1 to {current} (the current size)"));
            return Err(refuse(&state, &actor, action, e).await);
        }
    }
    let event = Event::new(&actor, action).details(Details {
        filters: Some(p.filter.describe()),
        tree_size: p.tree_size,
        ..Details::default()
    });
    state.store.record(vec![event]).await?;
    // Proven entries stop at the proven tree.
    let through = match (p.through, p.tree_size) {
        (Some(t), Some(s)) => Some(t.min(s)),
        (t, s) => t.or(s),
    };
    let records = state
        .store
        .audit_page(
            &p.filter,
            PageRequest {
                cursor: p.cursor,
                limit: p.limit,
                descending: p.descending,
                through,
            },
        )
        .await?;
    let proofs = match p.tree_size {
        None => None,
        Some(size) => {
            let mut proofs = Vec::with_capacity(records.len());
            for r in &records {
                let proof = state.store.inclusion_proof(r.entry.seq, size).await?;
                proofs.push(proof.into_iter().map(HexHash).collect());
            }
            Some(proofs)
        }
    };
    let next_cursor = if records.len() == p.limit as usize {
        records.last().map(|r| r.entry.seq)
    } else {
        None
    };
    Ok(Json(AuditPage {
        records,
        next_cursor,
        proofs,
    }))
}

async fn export(
    State(state): State<AppState>,
    who: MaybeCaller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let action = Action::AuditExported;
    let actor = authorize(&state, who, action).await?;
    let p = match parse(&params) {
        Ok(p) if p.descending || p.cursor.is_some() || p.tree_size.is_some() => {
            let e = ApiError::invalid("exports are oldest first and whole: no order, cursor or tree_size");
            return Err(refuse(&state, &actor, action, e).await);
        }
        Ok(p) => p,
        Err(e) => return Err(refuse(&state, &actor, action, e).await),
    };
    // The export covers the log as it is now (including the entry recording
    // this export), unless the caller asks for less.
    let event = Event::new(&actor, action).details(Details {
        filters: Some(p.filter.describe()),
        format: Some(if p.csv { "csv" } else { "jsonl" }.into()),
        ..Details::default()
    });
    let tree = state.store.record_with_head(event).await?;
    let through = p.through.unwrap_or(tree.size()).min(tree.size());
    tracing::info!(user = ?actor.user, through, csv = p.csv, "audit export started");
    let stream = export_stream(state.store.clone(), p.filter, through, p.csv);
    let content_type = if p.csv {
        "text/csv; charset=utf-8"
    } else {
        "application/x-ndjson"
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::HeaderName::from_static("curbside-audit-through"),
                through.to_string(),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// Pages through the log by sequence number, rendering each page.
fn export_stream(
    store: Store,
    filter: AuditFilter,
    through: u64,
    csv: bool,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    struct Cursor {
        store: Store,
        filter: AuditFilter,
        after: u64,
        header: bool,
        done: bool,
    }
    let start = Cursor {
        store,
        filter,
        after: 0,
        header: csv,
        done: through == 0,
    };
    futures_util::stream::unfold(start, move |mut c| async move {
        if c.header {
            c.header = false;
            return Some((csv_rows(&[]).map(Bytes::from), c));
        }
        if c.done {
            return None;
        }
        let page = c
            .store
            .audit_page(
                &c.filter,
                PageRequest {
                    cursor: Some(c.after),
                    limit: EXPORT_PAGE,
                    descending: false,
                    through: Some(through),
                },
            )
            .await;
        let records = match page {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "audit export failed");
                c.done = true;
                return Some((Err(std::io::Error::other("audit export failed")), c));
            }
        };
        match records.last() {
            Some(last) => c.after = last.entry.seq,
            None => return None,
        }
        if records.len() < EXPORT_PAGE as usize || c.after >= through {
            c.done = true;
        }
        let bytes = if csv { csv_rows(&records) } else { jsonl(&records) };
        Some((bytes.map(Bytes::from), c))
    })
}

fn jsonl(records: &[AuditRecord]) -> Result<Vec<u8>, std::io::Error> {
    let mut out = Vec::with_capacity(records.len() * 400);
    for r in records {
        serde_json::to_writer(&mut out, r)?;
        out.push(b'\n');
    }
    Ok(out)
}

/// CSV rows (with the header when `records` is empty).
fn csv_rows(records: &[AuditRecord]) -> Result<Vec<u8>, std::io::Error> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    let io = |e: csv::Error| std::io::Error::other(e.to_string());
    if records.is_empty() {
        w.write_record(CSV_HEADER).map_err(io)?;
    }
    for r in records {
        w.write_record(csv_fields(r)).map_err(io)?;
    }
    w.into_inner().map_err(|e| std::io::Error::other(e.to_string()))
}

async fn tree_head(
    State(state): State<AppState>,
    who: MaybeCaller,
) -> Result<Json<TreeHeadResponse>, ApiError> {
    let action = Action::AuditTreeHeadRequested;
    let actor = authorize(&state, who, action).await?;
    let event = Event::new(&actor, action);
    let tree = state.store.record_with_head(event).await?;
    let head = state.log_key.sign(tree.size(), tree.root(), now_ms());
    Ok(Json(TreeHeadResponse {
        tree_head: head,
        log_key: state.log_key.public_key().into(),
    }))
}

async fn inclusion(
    State(state): State<AppState>,
    who: MaybeCaller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<InclusionProof>, ApiError> {
    let action = Action::AuditProofRequested;
    let actor = authorize(&state, who, action).await?;
    let current = state.store.audit_tree().await?.size();
    let checked = (|| {
        let seq: u64 = number(&params, "seq")?.ok_or_else(|| ApiError::invalid("seq is required"))?;
        let size: u64 = number(&params, "tree_size")?.unwrap_or(current);
        if seq == 0 || seq > size || size > current {
            return Err(ApiError::invalid(format!(
                "need 1 <= seq <= tree_size <= {current} (the current size)"
            )));
        }
        Ok((seq, size))
    })();
    let (seq, size) = match checked {
        Ok(v) => v,
        Err(e) => return Err(refuse(&state, &actor, action, e).await),
    };
    let event = Event::new(&actor, action).details(Details {
        first: Some(seq),
        tree_size: Some(size),
        ..Details::default()
    });
    state.store.record(vec![event]).await?;
    let record = state
        .store
        .audit_record(seq)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such entry"))?;
    let proof = state.store.inclusion_proof(seq, size).await?;
    Ok(Json(InclusionProof {
        record,
        tree_size: size,
        proof: proof.into_iter().map(HexHash).collect(),
    }))
}

async fn consistency(
    State(state): State<AppState>,
    who: MaybeCaller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<ConsistencyProof>, ApiError> {
    let action = Action::AuditProofRequested;
    let actor = authorize(&state, who, action).await?;
    let current = state.store.audit_tree().await?.size();
    let checked = (|| {
        let first: u64 = number(&params, "first")?.ok_or_else(|| ApiError::invalid("first is required"))?;
        let second: u64 = number(&params, "second")?.unwrap_or(current);
        if first == 0 || first > second || second > current {
            return Err(ApiError::invalid(format!(
                "need 1 <= first <= second <= {current} (the current size)"
            )));
        }
        Ok((first, second))
    })();
    let (first, second) = match checked {
        Ok(v) => v,
        Err(e) => return Err(refuse(&state, &actor, action, e).await),
    };
    let event = Event::new(&actor, action).details(Details {
        first: Some(first),
        tree_size: Some(second),
        ..Details::default()
    });
    state.store.record(vec![event]).await?;
    let proof = state.store.consistency_proof(first, second).await?;
    Ok(Json(ConsistencyProof {
        first,
        second,
        proof: proof.into_iter().map(HexHash).collect(),
    }))
}
