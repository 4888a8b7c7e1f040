//! The HTTPS APIs: enrollment, sessions, admin, directory.

use curbside_crypto::IdentityKeyPair;
use curbside_protocol::audit::{AuditPage, AuditQuery, ConsistencyProof, InclusionProof, TreeHeadResponse};
use curbside_protocol::auth::{transcript, Purpose};
use curbside_protocol::error::ErrorBody;
use curbside_protocol::frames::DirectoryEntry;
use curbside_protocol::http::{
    AttachmentStored, ChallengeResponse, CreateInviteRequest, DeactivatedUser, DeviceSummary, EnrollRequest,
    EnrollResponse, GrantRoleRequest, InviteResponse, Role, SessionRequest, SessionResponse, UserSummary,
};
use curbside_protocol::ids::{Address, DeviceId, MessageId, UserId};
use curbside_protocol::referral::{CreateReferral, Referral, Transition, TransitionRequest};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{ClientError, Result};
use crate::ServerInfo;

/// An HTTPS client for one server.
#[derive(Clone, Debug)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    server_name: String,
}

impl Api {
    /// A client trusting the server's pinned certificate.
    pub fn new(server: &ServerInfo) -> Result<Self> {
        let tls = crate::tls::client_config(&server.cert_pem)?;
        let mut builder = reqwest::Client::builder()
            .use_preconfigured_tls((*tls).clone())
            .https_only(true);
        // Connect to the configured address whatever the name resolves to.
        if let Ok(addr) = server.address.parse::<std::net::SocketAddr>() {
            builder = builder.resolve(&server.server_name, addr);
        }
        let http = builder.build().map_err(|e| ClientError::Http(e.to_string()))?;
        Ok(Self {
            http,
            base: server.base_url(),
            server_name: server.server_name.clone(),
        })
    }

    async fn call<B: Serialize, R: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&B>,
    ) -> Result<R> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await.map_err(|e| ClientError::Http(e.to_string()))?;
        Self::json(resp, path).await
    }

    /// `POST /v1/enroll`.
    pub async fn enroll(&self, req: &EnrollRequest) -> Result<EnrollResponse> {
        self.call(reqwest::Method::POST, "/v1/enroll", None, Some(req))
            .await
    }

    /// Obtains an HTTP session token by signing a fresh challenge.
    pub async fn login(
        &self,
        user_id: &UserId,
        device_id: DeviceId,
        identity: &IdentityKeyPair,
    ) -> Result<String> {
        let challenge: ChallengeResponse = self
            .call::<(), _>(reqwest::Method::GET, "/v1/auth/challenge", None, None)
            .await?;
        let bytes: [u8; 32] = challenge
            .challenge
            .as_slice()
            .try_into()
            .map_err(|_| ClientError::Protocol("challenge length".into()))?;
        if challenge.server_name != self.server_name {
            return Err(ClientError::Protocol(format!(
                "server calls itself {:?}, expected {:?}",
                challenge.server_name, self.server_name
            )));
        }
        let signature = identity.sign(&transcript(
            Purpose::HttpSession,
            &self.server_name,
            user_id,
            device_id,
            &bytes,
        ))?;
        let req = SessionRequest {
            user_id: user_id.clone(),
            device_id,
            challenge: challenge.challenge,
            signature: signature.as_bytes().to_vec().into(),
        };
        let session: SessionResponse = self
            .call(reqwest::Method::POST, "/v1/auth/session", None, Some(&req))
            .await?;
        Ok(session.token)
    }

    /// `POST /v1/admin/invites`.
    pub async fn create_invite(&self, token: &str, req: &CreateInviteRequest) -> Result<InviteResponse> {
        self.call(reqwest::Method::POST, "/v1/admin/invites", Some(token), Some(req))
            .await
    }

    /// `POST /v1/devices/invites`: an invite for a new device of the caller.
    pub async fn create_device_invite(
        &self,
        token: &str,
        req: &CreateInviteRequest,
    ) -> Result<InviteResponse> {
        self.call(
            reqwest::Method::POST,
            "/v1/devices/invites",
            Some(token),
            Some(req),
        )
        .await
    }

    /// `GET /v1/policy`: the organisation's retention and recall window.
    pub async fn policy(&self, token: &str) -> Result<curbside_protocol::http::Policy> {
        self.call::<(), _>(reqwest::Method::GET, "/v1/policy", Some(token), None)
            .await
    }

    /// `PUT /v1/admin/retention`: sets (or, with `None`, lifts) the retention policy.
    pub async fn set_retention(
        &self,
        token: &str,
        retention_secs: Option<u64>,
    ) -> Result<curbside_protocol::http::Policy> {
        let req = curbside_protocol::http::SetRetention { retention_secs };
        self.call(
            reqwest::Method::PUT,
            "/v1/admin/retention",
            Some(token),
            Some(&req),
        )
        .await
    }

    /// `GET /v1/oncall`: every on-call role with its holders now and its shifts.
    pub async fn oncall_roles(&self, token: &str) -> Result<Vec<curbside_protocol::oncall::OnCallRole>> {
        self.call::<(), _>(reqwest::Method::GET, "/v1/oncall", Some(token), None)
            .await
    }

    /// `POST /v1/admin/oncall`: a new on-call role.
    pub async fn create_oncall_role(
        &self,
        token: &str,
        req: &curbside_protocol::oncall::CreateRole,
    ) -> Result<curbside_protocol::oncall::OnCallRole> {
        self.call(reqwest::Method::POST, "/v1/admin/oncall", Some(token), Some(req))
            .await
    }

    /// `POST /v1/admin/oncall/{role}/shifts`: schedules a shift.
    pub async fn schedule_shift(
        &self,
        token: &str,
        role: &curbside_protocol::ids::OnCallRoleId,
        req: &curbside_protocol::oncall::ScheduleShift,
    ) -> Result<serde_json::Value> {
        let path = format!("/v1/admin/oncall/{role}/shifts");
        self.call(reqwest::Method::POST, &path, Some(token), Some(req))
            .await
    }

    /// `POST /v1/oncall/{role}/handoff`: hands the role off at once.
    pub async fn hand_off(
        &self,
        token: &str,
        role: &curbside_protocol::ids::OnCallRoleId,
        req: &curbside_protocol::oncall::HandOff,
    ) -> Result<curbside_protocol::oncall::OnCallRole> {
        let path = format!("/v1/oncall/{role}/handoff");
        self.call(reqwest::Method::POST, &path, Some(token), Some(req))
            .await
    }

    /// `PUT /v1/consults/opt-in`: answer consults of these specialties (one's own).
    pub async fn consult_opt_in(&self, token: &str, specialties: Vec<String>) -> Result<()> {
        let req = curbside_protocol::consult::OptIn { specialties };
        let _: curbside_protocol::consult::OptIn = self
            .call(
                reqwest::Method::PUT,
                "/v1/consults/opt-in",
                Some(token),
                Some(&req),
            )
            .await?;
        Ok(())
    }

    /// `GET /v1/consults/opt-in`: the specialties this user answers consults
    /// for (the user's, set from any device).
    pub async fn consult_opt_ins(&self, token: &str) -> Result<Vec<String>> {
        let got: curbside_protocol::consult::OptIn = self
            .call::<(), _>(reqwest::Method::GET, "/v1/consults/opt-in", Some(token), None)
            .await?;
        Ok(got.specialties)
    }

    /// `POST /v1/consults`: asks a specialty; the answer names who it goes to.
    pub async fn post_consult(
        &self,
        token: &str,
        req: &curbside_protocol::consult::PostConsult,
    ) -> Result<curbside_protocol::consult::Consult> {
        self.call(reqwest::Method::POST, "/v1/consults", Some(token), Some(req))
            .await
    }

    /// `GET /v1/consults`: the consults one asked or received.
    pub async fn consults(&self, token: &str) -> Result<Vec<curbside_protocol::consult::Consult>> {
        self.call::<(), _>(reqwest::Method::GET, "/v1/consults", Some(token), None)
            .await
    }

    /// `POST /v1/consults/{id}/close` (the asker).
    pub async fn close_consult(&self, token: &str, id: &curbside_protocol::ids::ConsultId) -> Result<()> {
        let path = format!("/v1/consults/{id}/close");
        self.call::<(), ()>(reqwest::Method::POST, &path, Some(token), None)
            .await
    }

    /// `GET /v1/admin/users`.
    pub async fn list_users(&self, token: &str) -> Result<Vec<UserSummary>> {
        self.call::<(), _>(reqwest::Method::GET, "/v1/admin/users", Some(token), None)
            .await
    }

    /// `POST /v1/admin/users/{user}/verify`.
    pub async fn verify_user(&self, token: &str, user: &UserId) -> Result<()> {
        self.call::<(), ()>(
            reqwest::Method::POST,
            &format!("/v1/admin/users/{user}/verify"),
            Some(token),
            None,
        )
        .await
    }

    /// `POST /v1/admin/users/{user}/roles`.
    pub async fn grant_role(&self, token: &str, user: &UserId, role: Role) -> Result<()> {
        self.call(
            reqwest::Method::POST,
            &format!("/v1/admin/users/{user}/roles"),
            Some(token),
            Some(&GrantRoleRequest { role }),
        )
        .await
    }

    /// `POST /v1/admin/users/{user}/deactivate`.
    pub async fn deactivate_user(&self, token: &str, user: &UserId) -> Result<DeactivatedUser> {
        self.call::<(), _>(
            reqwest::Method::POST,
            &format!("/v1/admin/users/{user}/deactivate"),
            Some(token),
            None,
        )
        .await
    }

    /// `POST /v1/admin/users/{user}/devices/{device}/revoke`.
    pub async fn revoke_device(&self, token: &str, device: &Address) -> Result<()> {
        let path = format!(
            "/v1/admin/users/{}/devices/{}/revoke",
            device.user_id, device.device_id
        );
        self.call::<(), ()>(reqwest::Method::POST, &path, Some(token), None)
            .await
    }

    /// `POST /v1/attachments`: streams an encrypted blob from `file`.
    pub async fn upload_attachment(&self, token: &str, file: tokio::fs::File) -> Result<AttachmentStored> {
        let len = file.metadata().await?.len();
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024));
        let resp = self
            .http
            .post(format!("{}/v1/attachments", self.base))
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_LENGTH, len)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(body)
            .send()
            .await
            .map_err(|e| ClientError::Http(e.to_string()))?;
        Self::json(resp, "/v1/attachments").await
    }

    /// `GET /v1/attachments/{id}`: streams the blob into `out`; returns its size.
    pub async fn download_attachment(
        &self,
        token: &str,
        id: &(impl AsRef<str> + ?Sized),
        out: &mut (impl tokio::io::AsyncWrite + Unpin),
    ) -> Result<u64> {
        use futures_util::StreamExt as _;
        use tokio::io::AsyncWriteExt as _;
        let id = id.as_ref();
        let resp = self
            .http
            .get(format!("{}/v1/attachments/{id}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| ClientError::Http(e.to_string()))?;
        if !resp.status().is_success() {
            return Self::json::<()>(resp, "/v1/attachments").await.map(|()| 0);
        }
        let mut stream = resp.bytes_stream();
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| ClientError::Http(e.to_string()))?;
            out.write_all(&chunk).await?;
            size = size.saturating_add(chunk.len() as u64);
        }
        out.flush().await?;
        Ok(size)
    }

    async fn json<R: DeserializeOwned>(resp: reqwest::Response, path: &str) -> Result<R> {
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| ClientError::Http(e.to_string()))?;
        if !status.is_success() {
            return Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(e) => ClientError::Server {
                    code: e.code,
                    message: e.message,
                    details: None,
                },
                Err(_) => ClientError::Http(format!("HTTP {status}")),
            });
        }
        let body: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
        serde_json::from_slice(body)
            .map_err(|e| ClientError::Protocol(format!("unexpected response to {path}: {e}")))
    }

    /// `POST /v1/devices/{device_id}/revoke`: revokes one of the caller's devices.
    pub async fn revoke_own_device(&self, token: &str, device: DeviceId) -> Result<()> {
        let path = format!("/v1/devices/{device}/revoke");
        self.call::<(), ()>(reqwest::Method::POST, &path, Some(token), None)
            .await
    }

    /// `GET /v1/devices`: the caller's own devices, revoked ones included.
    pub async fn own_devices(&self, token: &str) -> Result<Vec<DeviceSummary>> {
        self.call::<(), _>(reqwest::Method::GET, "/v1/devices", Some(token), None)
            .await
    }

    /// `GET /v1/directory`: by name (a part of it) and specialty.
    pub async fn directory(
        &self,
        token: &str,
        name: Option<&str>,
        specialty: Option<&str>,
    ) -> Result<Vec<DirectoryEntry>> {
        let filters: Vec<(&str, &str)> = [("name", name), ("specialty", specialty)]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
        self.directory_where(token, &filters).await
    }

    /// `GET /v1/directory` with any of its filters (`name`, `specialty`,
    /// `npi`, `user_id`), all of which must match.
    pub async fn directory_where(
        &self,
        token: &str,
        filters: &[(&str, &str)],
    ) -> Result<Vec<DirectoryEntry>> {
        let mut url = url::Url::parse(&format!("{}/v1/directory", self.base))
            .map_err(|e| ClientError::Http(e.to_string()))?;
        for (key, value) in filters {
            url.query_pairs_mut().append_pair(key, value);
        }
        let path = format!("/v1/directory?{}", url.query().unwrap_or_default());
        self.call::<(), _>(reqwest::Method::GET, &path, Some(token), None)
            .await
    }

    // ---- compliance API ---------------------------------------------------------------

    async fn get_query<Q: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        token: &str,
        query: &Q,
    ) -> Result<R> {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .query(query)
            .send()
            .await
            .map_err(|e| ClientError::Http(e.to_string()))?;
        Self::json(resp, path).await
    }

    /// `GET /v1/audit/tree-head`: the current signed tree head and the log key.
    pub async fn audit_tree_head(&self, token: &str) -> Result<TreeHeadResponse> {
        self.get_query("/v1/audit/tree-head", token, &()).await
    }

    /// `GET /v1/audit/entries`: one page of a query.
    pub async fn audit_entries(&self, token: &str, query: &AuditQuery) -> Result<AuditPage> {
        self.get_query("/v1/audit/entries", token, query).await
    }

    /// `GET /v1/audit/proof/inclusion`.
    pub async fn audit_inclusion(&self, token: &str, seq: u64, tree_size: u64) -> Result<InclusionProof> {
        self.get_query(
            "/v1/audit/proof/inclusion",
            token,
            &[("seq", seq), ("tree_size", tree_size)],
        )
        .await
    }

    /// `GET /v1/audit/proof/consistency`.
    pub async fn audit_consistency(&self, token: &str, first: u64, second: u64) -> Result<ConsistencyProof> {
        self.get_query(
            "/v1/audit/proof/consistency",
            token,
            &[("first", first), ("second", second)],
        )
        .await
    }

    /// `GET /v1/audit/export`: streams the export into `out`. Returns the last
    /// sequence number the export covers and the bytes written.
    pub async fn audit_export(
        &self,
        token: &str,
        query: &AuditQuery,
        out: &mut (impl tokio::io::AsyncWrite + Unpin),
    ) -> Result<(u64, u64)> {
        use futures_util::StreamExt as _;
        use tokio::io::AsyncWriteExt as _;
        let resp = self
            .http
            .get(format!("{}/v1/audit/export", self.base))
            .bearer_auth(token)
            .query(query)
            .send()
            .await
            .map_err(|e| ClientError::Http(e.to_string()))?;
        if !resp.status().is_success() {
            return Self::json::<()>(resp, "/v1/audit/export").await.map(|()| (0, 0));
        }
        let through = resp
            .headers()
            .get("curbside-audit-through")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| ClientError::Protocol("export without Curbside-Audit-Through".into()))?;
        let mut stream = resp.bytes_stream();
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| ClientError::Http(format!("the export was cut off: {e}")))?;
            out.write_all(&chunk).await?;
            size = size.saturating_add(chunk.len() as u64);
        }
        out.flush().await?;
        Ok((through, size))
    }

    // ---- referrals --------------------------------------------------------------------

    /// `POST /v1/referrals`.
    pub async fn create_referral(&self, token: &str, req: &CreateReferral) -> Result<Referral> {
        self.call(reqwest::Method::POST, "/v1/referrals", Some(token), Some(req))
            .await
    }

    /// `GET /v1/referrals/{id}`.
    pub async fn referral(&self, token: &str, id: &str) -> Result<Referral> {
        self.call::<(), _>(
            reqwest::Method::GET,
            &format!("/v1/referrals/{id}"),
            Some(token),
            None,
        )
        .await
    }

    /// `GET /v1/referrals?status=&direction=in|out`.
    pub async fn referrals(
        &self,
        token: &str,
        status: Option<&str>,
        direction: Option<&str>,
    ) -> Result<Vec<Referral>> {
        let mut query = Vec::new();
        if let Some(s) = status {
            query.push(("status", s));
        }
        if let Some(d) = direction {
            query.push(("direction", d));
        }
        self.get_query("/v1/referrals", token, &query).await
    }

    /// `POST /v1/referrals/{id}/{transition}`.
    pub async fn transition_referral(
        &self,
        token: &str,
        id: &str,
        transition: Transition,
        reason_message_id: Option<MessageId>,
    ) -> Result<Referral> {
        let path = format!("/v1/referrals/{id}/{}", transition.as_str());
        self.call(
            reqwest::Method::POST,
            &path,
            Some(token),
            Some(&TransitionRequest { reason_message_id }),
        )
        .await
    }
}
