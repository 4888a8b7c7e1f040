//! Raw WebSocket access, for hostile-input tests: a TLS WebSocket to the
//! server that speaks JSON frames by hand (`RawWs`), the `auth` frame that
//! answers `hello`, and assertions on the error or close that comes back.

use std::time::Duration;

use curbside_client::{Account, ServerInfo};

use super::WAIT;

pub type RawWs = tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;
pub use tokio_tungstenite::tungstenite::Message as WsMessage;

/// A TLS WebSocket to the server, not yet authenticated (the `hello` is unread).
pub async fn raw_ws(info: &ServerInfo) -> RawWs {
    let tls = tokio_rustls::TlsConnector::from(curbside_client::tls::client_config(&info.cert_pem).unwrap());
    let tcp = tokio::net::TcpStream::connect(&info.address).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from(info.server_name.clone()).unwrap();
    let stream = tls.connect(name, tcp).await.unwrap();
    let (ws, _) = tokio_tungstenite::client_async(format!("{}/v1/ws", info.ws_url()), stream)
        .await
        .unwrap();
    ws
}

/// The next text frame as JSON, or `None` if the connection closed or
/// nothing came within `wait`.
pub async fn next_json(ws: &mut RawWs, wait: Duration) -> Option<serde_json::Value> {
    use futures_util::StreamExt;
    loop {
        match tokio::time::timeout(wait, ws.next()).await {
            Ok(Some(Ok(WsMessage::Text(t)))) => return Some(serde_json::from_str(t.as_str()).unwrap()),
            Ok(Some(Ok(WsMessage::Close(_)) | Err(_)) | None) | Err(_) => return None,
            Ok(Some(Ok(_))) => continue,
        }
    }
}

/// Sends a text frame.
pub async fn send_text(ws: &mut RawWs, text: impl Into<String>) {
    use futures_util::SinkExt;
    let _ = ws.send(WsMessage::text(text.into())).await;
}

/// The auth frame answering `hello` for `account`.
pub fn auth_frame(hello: &serde_json::Value, account: &Account) -> String {
    use curbside_protocol::auth::{transcript, Purpose};
    let challenge = curbside_protocol::bytes::Base64::decode(hello["challenge"].as_str().unwrap()).unwrap();
    let challenge: [u8; 32] = challenge.as_slice().try_into().unwrap();
    let address = account.address.as_ref().unwrap();
    let signed = transcript(
        Purpose::WebSocket,
        "localhost",
        &address.user_id,
        address.device_id,
        &challenge,
    );
    let signature = account.identity().sign(&signed).unwrap();
    serde_json::json!({
        "type": "auth", "version": 1, "user_id": address.user_id, "device_id": address.device_id,
        "signature": curbside_protocol::bytes::Base64(signature.as_bytes().to_vec()).encode(),
    })
    .to_string()
}

/// A raw connection authenticated as `account`.
pub async fn raw_authenticated(info: &ServerInfo, account: &Account) -> (RawWs, String) {
    let mut ws = raw_ws(info).await;
    let hello = next_json(&mut ws, WAIT).await.unwrap();
    let auth = auth_frame(&hello, account);
    send_text(&mut ws, auth.clone()).await;
    let ok = next_json(&mut ws, WAIT).await.unwrap();
    assert_eq!(ok["type"], "auth_ok", "{ok}");
    (ws, auth)
}

/// Asserts the next frame is an error with `code`.
pub async fn expect_error(ws: &mut RawWs, code: &str) -> serde_json::Value {
    loop {
        let frame = next_json(ws, WAIT)
            .await
            .unwrap_or_else(|| panic!("connection closed before the {code} error"));
        if frame["type"] == "prekeys_low" {
            continue;
        }
        assert_eq!(
            (frame["type"].as_str(), frame["code"].as_str()),
            (Some("error"), Some(code)),
            "{frame}"
        );
        return frame;
    }
}

/// Asserts the connection is closed by the server (nothing but a close within the wait).
pub async fn expect_closed(ws: &mut RawWs) {
    assert!(
        next_json(ws, WAIT).await.is_none(),
        "the connection should have been closed"
    );
}
