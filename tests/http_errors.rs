//! Every refusal on every HTTP endpoint is in the documented error format
//! (PROTOCOL.md "Errors"): a JSON body `{"code","message"}` with a stable
//! code, whatever was wrong with the request — not JSON, cut short, a
//! missing field, a wrong type, bad base64, an unknown enum value, no
//! `Content-Type`, a body too large, a bad path parameter, an unknown path
//! or method. Real server, real TLS, raw requests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use curbside_protocol::http::{InviteTarget, Role};
use reqwest::{Method, StatusCode};

/// Every POST endpoint that takes a JSON body, with the role its caller
/// needs (`None`: no session).
const JSON_ENDPOINTS: &[(&str, Auth)] = &[
    ("/v1/enroll", Auth::None),
    ("/v1/auth/session", Auth::None),
    ("/v1/admin/invites", Auth::Admin),
    ("/v1/admin/users/u_nobody/roles", Auth::Admin),
    ("/v1/devices/invites", Auth::Clinician),
    ("/v1/referrals", Auth::Clinician),
    ("/v1/referrals/ref-1/accept", Auth::Clinician),
];

#[derive(Clone, Copy, Debug)]
enum Auth {
    None,
    Admin,
    Clinician,
}

struct Caller {
    http: reqwest::Client,
    base: String,
    admin: String,
    clinician: String,
}

impl Caller {
    async fn new(world: &World) -> Self {
        let alice = world.clinician("Alice Adams", NPIS[0], "Dermatology").await;
        Self {
            http: world.http(),
            base: format!("https://localhost:{}", world.server().addr.port()),
            admin: world.admin_token.clone(),
            clinician: world.login(&alice).await,
        }
    }

    fn request(&self, method: Method, path: &str, auth: Auth) -> reqwest::RequestBuilder {
        let builder = self.http.request(method, format!("{}{path}", self.base));
        match auth {
            Auth::None => builder,
            Auth::Admin => builder.bearer_auth(&self.admin),
            Auth::Clinician => builder.bearer_auth(&self.clinician),
        }
    }

    async fn json(
        &self,
        path: &str,
        auth: Auth,
        body: impl Into<reqwest::Body>,
    ) -> (StatusCode, String, String) {
        let request = self
            .request(Method::POST, path, auth)
            .header("content-type", "application/json")
            .body(body);
        documented(request).await
    }
}

/// Sends `request` and checks that the answer is in the error format;
/// returns its status, code and message.
async fn documented(request: reqwest::RequestBuilder) -> (StatusCode, String, String) {
    answer_of(request.send().await.unwrap()).await
}

/// The answer's status, code and message, checked to be in the error format.
async fn answer_of(response: reqwest::Response) -> (StatusCode, String, String) {
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{status}: content type {content_type:?}, body {text:?}"
    );
    let body: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: not JSON ({e}): {text:?}"));
    let code = body["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no code: {text}"))
        .to_owned();
    let message = body["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no message: {text}"))
        .to_owned();
    assert!(!message.is_empty());
    assert_eq!(
        body.as_object().unwrap().len(),
        2,
        "only code and message: {text}"
    );
    (status, code, message)
}

fn expect(got: (StatusCode, String, String), status: u16, code: &str, context: &str) -> String {
    assert_eq!(
        (got.0.as_u16(), got.1.as_str()),
        (status, code),
        "{context}: {}",
        got.2
    );
    got.2
}

on_every_backend!(
    every_json_endpoint_refuses_bad_bodies_in_the_error_format,
    |db: Db| async move {
        let world = World::start(db).await;
        let caller = Caller::new(&world).await;
        for &(path, auth) in JSON_ENDPOINTS {
            let what = |case: &str| format!("POST {path}: {case}");
            expect(
                caller.json(path, auth, "{\"invite\":").await,
                400,
                "malformed_json",
                &what("cut short"),
            );
            expect(
                caller.json(path, auth, "not json").await,
                400,
                "malformed_json",
                &what("not JSON"),
            );
            expect(
                caller.json(path, auth, "[1, 2]").await,
                400,
                "invalid_request",
                &what("an array"),
            );
            expect(
                caller.json(path, auth, "\"text\"").await,
                400,
                "invalid_request",
                &what("a string"),
            );
            let plain = caller.request(Method::POST, path, auth).body("{}");
            expect(
                documented(plain).await,
                400,
                "invalid_request",
                &what("no Content-Type"),
            );
            let text = caller
                .request(Method::POST, path, auth)
                .header("content-type", "text/plain")
                .body("{}");
            expect(
                documented(text).await,
                400,
                "invalid_request",
                &what("text/plain"),
            );
            // The server answers before the body is all sent and closes that
            // connection: a client of its own, so no pooled connection is lost.
            let huge = Caller {
                http: world.http(),
                base: caller.base.clone(),
                admin: caller.admin.clone(),
                clinician: caller.clinician.clone(),
            };
            // The server answers as soon as it has read the length and closes:
            // a client still writing then sees the close as a broken pipe before
            // it reads the answer (a race, seen once under CI load). Try again
            // then; the answer, when read, must be the documented one.
            let mut answer = None;
            for _ in 0..5 {
                let request = huge
                    .request(Method::POST, path, auth)
                    .header("content-type", "application/json")
                    .body(vec![b' '; 3 * 1024 * 1024]);
                if let Ok(response) = request.send().await {
                    answer = Some(answer_of(response).await);
                    break;
                }
            }
            expect(
                answer.expect("the server answered the oversized body at least once in five tries"),
                413,
                "payload_too_large",
                &what("3 MiB"),
            );
        }
        world.stop().await;
    }
);

on_every_backend!(
    field_errors_name_the_field_and_have_their_code,
    |db: Db| async move {
        let world = World::start(db).await;
        let caller = Caller::new(&world).await;

        // Bad base64 in the enrollment's identity key (the first field read:
        // `json!` sorts keys).
        let invite = world
            .invite(InviteTarget::NewUser {
                role: Role::Clinician,
            })
            .await;
        let enroll = serde_json::json!({"invite": invite, "identity_key": "!!not base64!!"});
        let message = expect(
            caller.json("/v1/enroll", Auth::None, enroll.to_string()).await,
            400,
            "bad_base64",
            "enroll",
        );
        assert!(message.starts_with("identity_key"), "{message}");

        // An unknown role.
        let grant = serde_json::json!({"role": "superuser"}).to_string();
        let message = expect(
            caller
                .json("/v1/admin/users/u_nobody/roles", Auth::Admin, grant)
                .await,
            400,
            "invalid_request",
            "grant",
        );
        assert!(
            message.contains("role") && message.contains("superuser"),
            "{message}"
        );

        // An unknown priority, and a wrong type.
        let referral = serde_json::json!({
            "referral_id": "ref-1",
            "to": "u_nobody",
            "specialty": "Dermatology",
            "priority": "extreme",
            "message_id": "m1",
        });
        let message = expect(
            caller
                .json("/v1/referrals", Auth::Clinician, referral.to_string())
                .await,
            400,
            "invalid_request",
            "referral",
        );
        assert!(
            message.starts_with("priority: unknown variant `extreme`"),
            "{message}"
        );
        let mut wrong = referral;
        wrong["priority"] = "routine".into();
        wrong["specialty"] = 7.into();
        let message = expect(
            caller
                .json("/v1/referrals", Auth::Clinician, wrong.to_string())
                .await,
            400,
            "invalid_request",
            "referral specialty",
        );
        assert!(message.starts_with("specialty: invalid type"), "{message}");
        world.stop().await;
    }
);

on_every_backend!(
    paths_methods_and_queries_are_refused_in_the_error_format,
    |db: Db| async move {
        let world = World::start(db).await;
        let caller = Caller::new(&world).await;
        let get = |path: &str, auth| documented(caller.request(Method::GET, path, auth));

        let unknown = expect(
            get("/v1/nothing-here", Auth::None).await,
            404,
            "not_found",
            "unknown path",
        );
        assert!(unknown.contains("GET /v1/nothing-here"), "{unknown}");
        // `/` is the web client (tests/web_client.rs); a page that does not exist is not found.
        expect(get("/no-such-page", Auth::None).await, 404, "not_found", "a page");
        let wrong_method = documented(caller.request(Method::DELETE, "/v1/referrals", Auth::Clinician));
        expect(wrong_method.await, 405, "not_found", "DELETE /v1/referrals");
        let revoke = caller.request(Method::POST, "/v1/devices/not-a-number/revoke", Auth::Clinician);
        let message = expect(documented(revoke).await, 400, "invalid_request", "device id");
        assert!(message.starts_with("in the path"), "{message}");
        expect(
            get("/v1/audit/entries?limit=-3", Auth::Admin).await,
            403,
            "forbidden",
            "wrong role first",
        );
        // A WebSocket route asked for without an upgrade.
        let (status, _, _) = documented(caller.request(Method::GET, "/v1/ws", Auth::None)).await;
        assert!(status.is_client_error(), "{status}");
        // Without a session.
        expect(
            get("/v1/devices", Auth::None).await,
            401,
            "token_expired",
            "no token",
        );
        world.stop().await;
    }
);

on_every_backend!(
    the_attachment_endpoints_refuse_in_the_error_format,
    |db: Db| async move {
        let world = World::start_with(db, |c| c.limits.max_attachment_bytes = 1024).await;
        let caller = Caller::new(&world).await;
        let upload = |body: Vec<u8>| {
            caller
                .request(Method::POST, "/v1/attachments", Auth::Clinician)
                .header("content-type", "application/octet-stream")
                .body(body)
        };
        expect(
            documented(upload(vec![1; 4096])).await,
            413,
            "payload_too_large",
            "4 KiB upload",
        );
        let anonymous = caller
            .request(Method::POST, "/v1/attachments", Auth::None)
            .body(vec![1; 16]);
        expect(
            documented(anonymous).await,
            401,
            "token_expired",
            "upload without a session",
        );
        let get = |path: &str| documented(caller.request(Method::GET, path, Auth::Clinician));
        let (status, code, _) = get("/v1/attachments/not-an-id").await;
        assert!(
            (status.as_u16(), code.as_str()) == (400, "invalid_request")
                || (status.as_u16(), code.as_str()) == (404, "not_found"),
            "{status} {code}"
        );
        // What is within the limit is stored.
        let stored = upload(vec![1; 512]).send().await.unwrap();
        assert_eq!(stored.status(), StatusCode::OK);
        world.stop().await;
    }
);
