//! Project Wycheproof vectors (C2SP/wycheproof, see `vectors/wycheproof/README.md`),
//! every case checked through Curbside's own primitive wrappers.
//!
//! Each test prints how many vectors it ran and fails if a file yields none.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use curbside_crypto::primitives::aead::{self, AeadKey, NONCE_LEN};
use curbside_crypto::primitives::constant_time_eq;
use curbside_crypto::primitives::hash::{hkdf_sha256, hmac_sha256};
use curbside_crypto::primitives::sign::VerifyingKey;
use curbside_crypto::primitives::x25519::{AgreementPublic, AgreementSecret};
use curbside_crypto::Error;
use serde::Deserialize;

#[derive(Deserialize)]
struct File<G> {
    algorithm: String,
    #[serde(rename = "numberOfTests")]
    number_of_tests: usize,
    #[serde(rename = "testGroups")]
    groups: Vec<G>,
}

fn load<G: for<'de> Deserialize<'de>>(name: &str) -> File<G> {
    let path = format!("{}/tests/vectors/wycheproof/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn hexd(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
enum Expect {
    Valid,
    Invalid,
    Acceptable,
}

/// Written straight to stderr (not `println!`) so that the counts show in a
/// plain `cargo test` run, which captures the output of passing tests.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn report(name: &str, file_total: usize, ran: usize) {
    say(&format!(
        "wycheproof {name}: {ran} vectors run (file declares {file_total})"
    ));
    assert!(ran > 0, "{name} yielded no vectors");
    assert_eq!(ran, file_total, "{name}: not every vector was run");
}

#[derive(Deserialize)]
struct XdhGroup {
    tests: Vec<XdhTest>,
}
#[derive(Deserialize)]
struct XdhTest {
    #[serde(rename = "tcId")]
    id: u32,
    flags: Vec<String>,
    public: String,
    private: String,
    shared: String,
    result: Expect,
}

#[test]
fn wycheproof_x25519() {
    let file: File<XdhGroup> = load("x25519_test.json");
    assert_eq!(file.algorithm, "XDH");
    let (mut ran, mut refused_zero) = (0, 0);
    for t in file.groups.iter().flat_map(|g| &g.tests) {
        ran += 1;
        let secret = AgreementSecret::from_bytes(hexd(&t.private).try_into().unwrap());
        let public = AgreementPublic::try_from(hexd(&t.public).as_slice()).unwrap();
        let expected = hexd(&t.shared);
        let outcome = secret.diffie_hellman(&public);
        if expected.iter().all(|&b| b == 0) {
            // Low-order public keys: Wycheproof calls these "acceptable"; our
            // wrapper must refuse them.
            assert!(t.flags.iter().any(|f| f == "ZeroSharedSecret"), "tc {}", t.id);
            assert_eq!(outcome.err(), Some(Error::NonContributory), "tc {}", t.id);
            refused_zero += 1;
        } else {
            assert_ne!(
                t.result,
                Expect::Invalid,
                "tc {}: no invalid X25519 cases expected",
                t.id
            );
            let shared = outcome.unwrap_or_else(|e| panic!("tc {}: {e}", t.id));
            assert_eq!(shared.as_bytes().as_slice(), expected.as_slice(), "tc {}", t.id);
        }
    }
    say(&format!(
        "wycheproof x25519_test.json: {refused_zero} low-order cases refused as non-contributory"
    ));
    assert!(refused_zero > 0);
    report("x25519_test.json", file.number_of_tests, ran);
}

#[derive(Deserialize)]
struct AeadGroup {
    tests: Vec<AeadTest>,
}
#[derive(Deserialize)]
struct AeadTest {
    #[serde(rename = "tcId")]
    id: u32,
    key: String,
    iv: String,
    aad: String,
    msg: String,
    ct: String,
    tag: String,
    result: Expect,
}

#[test]
fn wycheproof_chacha20_poly1305() {
    let file: File<AeadGroup> = load("chacha20_poly1305_test.json");
    assert_eq!(file.algorithm, "CHACHA20-POLY1305");
    let mut ran = 0;
    for t in file.groups.iter().flat_map(|g| &g.tests) {
        ran += 1;
        let key = AeadKey::from_slice(&hexd(&t.key)).unwrap();
        let sealed = [hexd(&t.ct), hexd(&t.tag)].concat();
        let (aad, msg) = (hexd(&t.aad), hexd(&t.msg));
        let nonce: Option<[u8; NONCE_LEN]> = hexd(&t.iv).try_into().ok();
        match (t.result, nonce) {
            (Expect::Valid, Some(nonce)) => {
                assert_eq!(
                    aead::seal(&key, &nonce, &aad, &msg).unwrap(),
                    sealed,
                    "tc {}",
                    t.id
                );
                assert_eq!(
                    aead::open(&key, &nonce, &aad, &sealed).unwrap(),
                    msg,
                    "tc {}",
                    t.id
                );
            }
            (Expect::Invalid, Some(nonce)) => {
                assert_eq!(
                    aead::open(&key, &nonce, &aad, &sealed),
                    Err(Error::DecryptionFailed),
                    "tc {}",
                    t.id
                );
            }
            // Our API only accepts 96-bit nonces, so other sizes cannot be expressed.
            (Expect::Invalid, None) => {}
            (other, _) => panic!("tc {}: unexpected {other:?} with nonce {}", t.id, t.iv),
        }
    }
    report("chacha20_poly1305_test.json", file.number_of_tests, ran);
}

#[derive(Deserialize)]
struct EddsaGroup {
    #[serde(rename = "publicKey")]
    public_key: EddsaKey,
    tests: Vec<EddsaTest>,
}
#[derive(Deserialize)]
struct EddsaKey {
    pk: String,
}
#[derive(Deserialize)]
struct EddsaTest {
    #[serde(rename = "tcId")]
    id: u32,
    msg: String,
    sig: String,
    result: Expect,
}

#[test]
fn wycheproof_ed25519() {
    let file: File<EddsaGroup> = load("ed25519_test.json");
    assert_eq!(file.algorithm, "EDDSA");
    let mut ran = 0;
    for g in &file.groups {
        let key = VerifyingKey::try_from(hexd(&g.public_key.pk).as_slice()).unwrap();
        for t in &g.tests {
            ran += 1;
            let outcome = key.verify(&hexd(&t.msg), &hexd(&t.sig));
            match t.result {
                Expect::Valid => outcome.unwrap_or_else(|e| panic!("tc {}: {e}", t.id)),
                Expect::Invalid => assert_eq!(outcome, Err(Error::BadSignature), "tc {}", t.id),
                Expect::Acceptable => panic!("tc {}: no acceptable Ed25519 cases expected", t.id),
            }
        }
    }
    report("ed25519_test.json", file.number_of_tests, ran);
}

#[derive(Deserialize)]
struct HkdfGroup {
    tests: Vec<HkdfTest>,
}
#[derive(Deserialize)]
struct HkdfTest {
    #[serde(rename = "tcId")]
    id: u32,
    ikm: String,
    salt: String,
    info: String,
    size: usize,
    okm: String,
    result: Expect,
}

#[test]
fn wycheproof_hkdf_sha256() {
    let file: File<HkdfGroup> = load("hkdf_sha256_test.json");
    assert_eq!(file.algorithm, "HKDF-SHA-256");
    let mut ran = 0;
    for t in file.groups.iter().flat_map(|g| &g.tests) {
        ran += 1;
        let mut out = vec![0u8; t.size];
        let outcome = hkdf_sha256(&hexd(&t.salt), &hexd(&t.ikm), &hexd(&t.info), &mut out);
        match t.result {
            Expect::Valid => {
                outcome.unwrap_or_else(|e| panic!("tc {}: {e}", t.id));
                assert_eq!(hex::encode(&out), t.okm, "tc {}", t.id);
            }
            Expect::Invalid => assert_eq!(outcome, Err(Error::InvalidLength), "tc {}", t.id),
            Expect::Acceptable => panic!("tc {}: no acceptable HKDF cases expected", t.id),
        }
    }
    report("hkdf_sha256_test.json", file.number_of_tests, ran);
}

#[derive(Deserialize)]
struct MacGroup {
    #[serde(rename = "tagSize")]
    tag_size: usize,
    tests: Vec<MacTest>,
}
#[derive(Deserialize)]
struct MacTest {
    #[serde(rename = "tcId")]
    id: u32,
    key: String,
    msg: String,
    tag: String,
    result: Expect,
}

#[test]
fn wycheproof_hmac_sha256() {
    let file: File<MacGroup> = load("hmac_sha256_test.json");
    assert_eq!(file.algorithm, "HMACSHA256");
    let mut ran = 0;
    for g in &file.groups {
        for t in &g.tests {
            ran += 1;
            let full = hmac_sha256(&hexd(&t.key), &hexd(&t.msg));
            let expected = hexd(&t.tag);
            // Truncated groups compare a prefix of the full tag (in constant time).
            let matches = constant_time_eq(&full[..g.tag_size / 8], &expected);
            match t.result {
                Expect::Valid => assert!(matches, "tc {}", t.id),
                Expect::Invalid => assert!(!matches, "tc {}", t.id),
                Expect::Acceptable => panic!("tc {}: no acceptable HMAC cases expected", t.id),
            }
        }
    }
    report("hmac_sha256_test.json", file.number_of_tests, ran);
}
