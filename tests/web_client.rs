//! The web client is served at `/` by `curbside serve` (real server, real
//! TLS): the committed `web/public/` files, byte for byte, each with the
//! strict Content Security Policy and revalidated by `ETag`; nothing
//! outside `web/public` (no `..`, no hidden files, never an API path); and
//! `web_dir` (`serve --web-dir`) serving a directory's files instead. API
//! answers are `no-store`, so a browser's disk cache keeps none.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use common::*;
use curbside_server::store::Backend;
use reqwest::{header, Method, StatusCode};

fn public() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("web/public")
}

async fn sqlite_world(tweak: impl FnOnce(&mut curbside_server::Config)) -> World {
    World::start_with(Db::new(Backend::Sqlite).await.unwrap(), tweak).await
}

fn base(world: &World) -> String {
    format!("https://localhost:{}", world.server().addr.port())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_built_client_is_served_with_a_strict_policy() {
    let world = sqlite_world(|_| {}).await;
    let http = world.http();
    let index = http.get(format!("{}/", base(&world))).send().await.unwrap();
    assert_eq!(index.status(), StatusCode::OK);
    let h = index.headers().clone();
    assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
    let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(h[header::CACHE_CONTROL], "no-cache");
    let body = index.bytes().await.unwrap();
    assert_eq!(
        &body[..],
        &std::fs::read(public().join("index.html")).unwrap()[..]
    );

    // Every committed file is served as it is on disk.
    let mut files = Vec::new();
    collect(&public(), &public(), &mut files);
    assert!(files.len() > 1 || cfg!(not(curbside_web)), "{files:?}");
    for name in &files {
        let got = http.get(format!("{}/{name}", base(&world))).send().await.unwrap();
        assert_eq!(got.status(), StatusCode::OK, "{name}");
        assert!(
            got.headers().contains_key(header::CONTENT_SECURITY_POLICY),
            "{name}"
        );
        assert_eq!(
            &got.bytes().await.unwrap()[..],
            &std::fs::read(public().join(name)).unwrap()[..],
            "{name}"
        );
    }

    // Revalidation: the same ETag is answered 304, without a body.
    let etag = h[header::ETAG].clone();
    let again = http
        .get(format!("{}/", base(&world)))
        .header(header::IF_NONE_MATCH, etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(root, &path, out);
        } else {
            let name = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if !name.split('/').any(|s| s.starts_with('.')) {
                out.push(name);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_else_is_served() {
    let world = sqlite_world(|_| {}).await;
    let http = world.http();
    for (method, path) in [
        (Method::GET, "/no-such-file.js"),
        (Method::GET, "/../Cargo.toml"),
        (Method::GET, "/assets/../../Cargo.toml"),
        (Method::GET, "/%2e%2e/Cargo.toml"),
        (Method::GET, "/.gitignore"),
        (Method::GET, "/v1/index.html"),
        (Method::POST, "/"),
        (Method::DELETE, "/index.html"),
    ] {
        let got = http
            .request(method.clone(), format!("{}{path}", base(&world)))
            .send()
            .await
            .unwrap();
        assert_eq!(got.status(), StatusCode::NOT_FOUND, "{method} {path}");
        let body: serde_json::Value = got.json().await.unwrap();
        assert_eq!(body["code"], "not_found", "{method} {path}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_keeps_no_api_answer_in_its_cache() {
    let world = sqlite_world(|_| {}).await;
    let http = world.http();
    let alice = world.clinician("Alice Adeyemi", NPIS[0], "Dermatology").await;
    let token = world.login(&alice).await;
    for (path, auth) in [
        ("/v1/auth/challenge", false),
        ("/v1/directory?name=Alice", true),
        ("/v1/no-such-endpoint", false),
    ] {
        let mut request = http.get(format!("{}{path}", base(&world)));
        if auth {
            request = request.bearer_auth(&token);
        }
        let got = request.send().await.unwrap();
        assert_eq!(got.headers()[header::CACHE_CONTROL], "no-store", "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_dir_is_served_instead_read_on_each_request() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "<!doctype html><title>dev</title>").unwrap();
    let secret = tempfile::tempdir().unwrap();
    std::fs::write(secret.path().join("secret.txt"), "not for the web").unwrap();
    let web_dir = dir.path().to_owned();
    let world = sqlite_world(|c| c.web_dir = Some(web_dir)).await;
    let http = world.http();
    let get = |path: &str| http.get(format!("{}{path}", base(&world))).send();
    assert_eq!(
        get("/").await.unwrap().text().await.unwrap(),
        "<!doctype html><title>dev</title>"
    );
    // A file added while the server runs is served; nothing outside the directory is.
    std::fs::create_dir(dir.path().join("assets")).unwrap();
    std::fs::write(dir.path().join("assets/app.js"), "export {};").unwrap();
    let js = get("/assets/app.js").await.unwrap();
    assert_eq!(
        js.headers()[header::CONTENT_TYPE],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(js.text().await.unwrap(), "export {};");
    let name = secret.path().file_name().unwrap().to_string_lossy().into_owned();
    let escape = get(&format!("/../{name}/secret.txt")).await.unwrap();
    assert_eq!(escape.status(), StatusCode::NOT_FOUND);
}
