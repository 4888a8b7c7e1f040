//! The two-clinician world: a real server in-process on port 0 with an
//! enrolled admin ([`World`]), verified clinicians (Dr. Alice and Dr. Bob,
//! more devices), HTTP access, stopping and restarting the server on the
//! same data, and the small helpers tests use with it (`mid`, `uid`,
//! `texts`).

use curbside_client::api::Api;
use curbside_client::{enroll, Account, Client, ServerInfo, UserDetails};
use curbside_protocol::http::{CreateInviteRequest, InviteTarget, Role};
use curbside_protocol::ids::{MessageId, UserId};
use curbside_server::config::Config;

use super::db::Db;
use super::{NPIS, QUIET, WAIT};

/// A running server with an enrolled admin.
pub struct World {
    pub db: Db,
    pub server: Option<curbside_server::Server>,
    pub info: ServerInfo,
    pub admin: Account,
    pub admin_token: String,
}

pub fn server_info(server: &curbside_server::Server) -> ServerInfo {
    ServerInfo {
        address: server.addr.to_string(),
        server_name: "localhost".into(),
        cert_pem: server.cert_pem.clone(),
    }
}

impl World {
    pub async fn start(db: Db) -> Self {
        Self::start_with(db, |_| {}).await
    }

    pub async fn start_with(db: Db, tweak: impl FnOnce(&mut Config)) -> Self {
        let mut config = db.config();
        tweak(&mut config);
        let server = curbside_server::start(config).await.unwrap();
        let info = server_info(&server);
        let token = server
            .bootstrap_token
            .clone()
            .expect("a fresh server issues a bootstrap token");
        let admin = enroll(
            info.clone(),
            &token,
            &UserDetails {
                display_name: "Site Admin".into(),
                ..UserDetails::default()
            },
        )
        .await
        .unwrap();
        let address = admin.address.clone().unwrap();
        let admin_token = Api::new(&info)
            .unwrap()
            .login(&address.user_id, address.device_id, admin.identity())
            .await
            .unwrap();
        Self {
            db,
            server: Some(server),
            info,
            admin,
            admin_token,
        }
    }

    pub fn api(&self) -> Api {
        Api::new(&self.info).unwrap()
    }

    /// An HTTP session token for `account`.
    pub async fn login(&self, account: &Account) -> String {
        let a = account.address.clone().unwrap();
        self.api()
            .login(&a.user_id, a.device_id, account.identity())
            .await
            .unwrap()
    }

    /// A raw HTTPS client trusting the server's pinned certificate.
    pub fn http(&self) -> reqwest::Client {
        let tls = curbside_client::tls::client_config(&self.info.cert_pem).unwrap();
        reqwest::Client::builder()
            .use_preconfigured_tls((*tls).clone())
            .resolve("localhost", self.server().addr)
            .build()
            .unwrap()
    }

    pub fn server(&self) -> &curbside_server::Server {
        self.server.as_ref().unwrap()
    }

    pub async fn invite(&self, target: InviteTarget) -> String {
        let req = CreateInviteRequest {
            target,
            expires_in_secs: None,
        };
        self.api()
            .create_invite(&self.admin_token, &req)
            .await
            .unwrap()
            .invite
    }

    /// Enrolls and verifies a clinician.
    pub async fn clinician(&self, name: &str, npi: &str, specialty: &str) -> Account {
        let invite = self
            .invite(InviteTarget::NewUser {
                role: Role::Clinician,
            })
            .await;
        let profile = UserDetails {
            display_name: name.into(),
            npi: Some(npi.into()),
            specialty: Some(specialty.into()),
        };
        let account = enroll(self.info.clone(), &invite, &profile).await.unwrap();
        self.api()
            .verify_user(&self.admin_token, &account.address.as_ref().unwrap().user_id)
            .await
            .unwrap();
        account
    }

    /// Two verified clinicians: Dr. Alice Adeyemi (dermatology) and Dr. Bob
    /// Brennan (internal medicine).
    pub async fn alice_and_bob(&self) -> (Account, Account) {
        let alice = self.clinician("Dr. Alice Adeyemi", NPIS[0], "Dermatology").await;
        let bob = self
            .clinician("Dr. Bob Brennan", NPIS[1], "Internal Medicine")
            .await;
        (alice, bob)
    }

    /// Enrolls another device of `user`.
    pub async fn second_device(&self, user: &UserId) -> Account {
        let invite = self
            .invite(InviteTarget::NewDevice {
                user_id: user.clone(),
            })
            .await;
        enroll(self.info.clone(), &invite, &UserDetails::default())
            .await
            .unwrap()
    }

    /// Stops the server gracefully (connected clients are told).
    pub async fn stop_server(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
    }

    /// Starts the server again on the same data (on a new port: `info` is updated).
    pub async fn start_server(&mut self) -> ServerInfo {
        let server = curbside_server::start(self.db.config()).await.unwrap();
        self.info = server_info(&server);
        self.server = Some(server);
        self.info.clone()
    }

    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
        self.db.drop_database().await;
    }
}

pub fn mid(s: &str) -> MessageId {
    MessageId::new(s).unwrap()
}

/// Receives exactly `n` messages (acknowledging each), then checks that
/// nothing more arrives; returns (sender user, text) in arrival order.
pub async fn texts(client: &mut Client, n: usize) -> Vec<(UserId, String)> {
    let mut out = Vec::new();
    while out.len() < n {
        let r = client
            .next_message(WAIT)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("only {} of {n} messages arrived", out.len()));
        client.ack(&[r.delivery_id]).await.unwrap();
        out.push((
            r.sender.user_id,
            String::from_utf8(r.content.expect("decrypts").to_vec()).unwrap(),
        ));
    }
    assert!(
        client.next_message(QUIET).await.unwrap().is_none(),
        "more than {n} messages arrived"
    );
    out
}

pub fn uid(account: &Account) -> UserId {
    account.address.as_ref().unwrap().user_id.clone()
}
