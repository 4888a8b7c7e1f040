//! `directory_search`: verified clinicians by name and specialty.

use curbside_protocol::frames::ServerFrame;
use curbside_protocol::ids::RequestId;

use super::{Refusal, Reply};
use crate::ws::connection::End;
use crate::ws::handler::Handler;

/// Answers `directory_results`.
pub(super) async fn execute(
    handler: &mut Handler,
    id: RequestId,
    name: Option<&str>,
    specialty: Option<&str>,
) -> Result<Reply, End> {
    let store = &handler.state.store;
    let found = store.bounded(store.directory(name, specialty)).await;
    Ok(found
        .map(|clinicians| ServerFrame::DirectoryResults { id, clinicians })
        .map_err(Refusal::from)
        .into())
}
