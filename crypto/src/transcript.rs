//! Curbside's published protocol vectors: a deterministic X3DH + Double
//! Ratchet conversation in both directions, with an out-of-order delivery.
//!
//! The transcript lives at `crypto/tests/vectors/curbside/transcript-v1.json`.
//! This test regenerates it from fixed seeds and fails if a single byte
//! differs. After an intended protocol change (which needs a new version
//! label), regenerate it with:
//!
//! ```text
//! CURBSIDE_REGENERATE_VECTORS=1 cargo test -p curbside-crypto --lib transcript
//! ```
//!
//! Every random value each party draws is listed in order (`random_draws`,
//! 32 bytes each), so another implementation can replay the conversation by
//! answering its own random-number requests from that list.

use rand_chacha::rand_core::{CryptoRng, Error as RngError, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde_json::{json, Value};

use crate::message::Message;
use crate::prekeys::{OneTimePreKeyPair, PreKeyBundle, PreKeyId, SignedPreKeyPair};
use crate::primitives::x25519::AgreementSecret;
use crate::ratchet::Session;
use crate::{x3dh, IdentityKeyPair};

const PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/vectors/curbside/transcript-v1.json"
);

/// A seeded generator that records every byte string it hands out.
struct RecordingRng {
    inner: ChaCha20Rng,
    draws: Vec<Vec<u8>>,
}

impl RecordingRng {
    fn new(seed: u8) -> Self {
        Self {
            inner: ChaCha20Rng::from_seed([seed; 32]),
            draws: Vec::new(),
        }
    }

    fn draws_hex(&self) -> Vec<String> {
        self.draws.iter().map(hex::encode).collect()
    }
}

impl RngCore for RecordingRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.inner.fill_bytes(dest);
        self.draws.push(dest.to_vec());
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), RngError> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for RecordingRng {}

fn message_json(index: usize, from: &str, plaintext: &str, message: &Message) -> Value {
    let header = message.ratchet_message().header;
    json!({
        "index": index,
        "from": from,
        "kind": match message { Message::PreKey(_) => "prekey", Message::Ratchet(_) => "ratchet" },
        "plaintext": plaintext,
        "header": {
            "ratchet_key": hex::encode(header.ratchet_key.as_bytes()),
            "previous_chain_len": header.previous_chain_len,
            "index": header.index,
            "encoded": hex::encode(header.to_bytes()),
        },
        "wire": hex::encode(message.to_bytes()),
    })
}

fn generate() -> Value {
    let mut a_rng = RecordingRng::new(0xA1);
    let mut b_rng = RecordingRng::new(0xB0);

    let alice = IdentityKeyPair::generate(&mut a_rng).unwrap();
    let bob = IdentityKeyPair::generate(&mut b_rng).unwrap();
    let spk = SignedPreKeyPair::generate(&bob, PreKeyId(1), 1_700_000_000, &mut b_rng).unwrap();
    let otk = OneTimePreKeyPair::generate(PreKeyId(42), &mut b_rng);
    let bundle = PreKeyBundle::new(*bob.public(), *spk.public(), Some(otk.public())).unwrap();

    let mut alice_session = Session::initiate(&alice, &bundle, &mut a_rng).unwrap();
    // The ephemeral key is Alice's third draw (after her Ed25519 seed and X25519 key).
    let ephemeral_bytes: [u8; 32] = a_rng.draws[2].clone().try_into().unwrap();
    let ephemeral = AgreementSecret::from_bytes(ephemeral_bytes);
    let sk = x3dh::initiate(&alice, &ephemeral, &bundle).unwrap();
    let x3dh_json = json!({
        "initiator_ephemeral_public": hex::encode(ephemeral.public_key().as_bytes()),
        "shared_secret": hex::encode(sk.0.as_ref()),
        "associated_data": hex::encode(alice_session.associated_data()),
        "root_key_after_first_sending_step": hex::encode(alice_session.root_key_bytes()),
    });

    let mut messages = Vec::new();
    let mut events = Vec::new();
    let send = |session: &mut Session, from: &str, text: &str, messages: &mut Vec<(Message, String)>| {
        let m = session.encrypt(text.as_bytes()).unwrap();
        messages.push((m, text.to_owned()));
        let i = messages.len() - 1;
        (i, from.to_owned())
    };
    let mut log = Vec::new();

    // 1. Alice sends two prekey messages; Bob accepts the first, then reads the second.
    log.push(send(
        &mut alice_session,
        "alice",
        "Dr. Okafor, quick question about a rash.",
        &mut messages,
    ));
    log.push(send(&mut alice_session, "alice", "Photo follows.", &mut messages));
    let Message::PreKey(first) = &messages[0].0 else {
        panic!("expected a prekey message")
    };
    let (mut bob_session, pt) = Session::accept(&bob, &spk, Some(&otk), first, &mut b_rng).unwrap();
    assert_eq!(&pt[..], messages[0].1.as_bytes());
    events.push(json!({"receive": 0, "by": "bob"}));
    assert_eq!(
        &bob_session.decrypt(&messages[1].0, &mut b_rng).unwrap()[..],
        messages[1].1.as_bytes()
    );
    events.push(json!({"receive": 1, "by": "bob"}));

    // 2. Bob answers with three messages; Alice reads them out of order (2, 4, 3).
    log.push(send(
        &mut bob_session,
        "bob",
        "Happy to help. How long has it been there?",
        &mut messages,
    ));
    log.push(send(&mut bob_session, "bob", "Any fever?", &mut messages));
    log.push(send(&mut bob_session, "bob", "Is it itchy?", &mut messages));
    for i in [2usize, 4, 3] {
        assert_eq!(
            &alice_session.decrypt(&messages[i].0, &mut a_rng).unwrap()[..],
            messages[i].1.as_bytes()
        );
        events.push(json!({"receive": i, "by": "alice"}));
    }

    // 3. One more round trip (a DH ratchet step each way).
    log.push(send(
        &mut alice_session,
        "alice",
        "Three days, no fever, mildly itchy.",
        &mut messages,
    ));
    assert_eq!(
        &bob_session.decrypt(&messages[5].0, &mut b_rng).unwrap()[..],
        messages[5].1.as_bytes()
    );
    events.push(json!({"receive": 5, "by": "bob"}));
    log.push(send(
        &mut bob_session,
        "bob",
        "Sounds like contact dermatitis; send the referral.",
        &mut messages,
    ));
    assert_eq!(
        &alice_session.decrypt(&messages[6].0, &mut a_rng).unwrap()[..],
        messages[6].1.as_bytes()
    );
    events.push(json!({"receive": 6, "by": "alice"}));

    let messages_json: Vec<Value> = log
        .iter()
        .map(|(i, from)| message_json(*i, from, &messages[*i].1, &messages[*i].0))
        .collect();

    json!({
        "name": "Curbside v1 X3DH + Double Ratchet transcript",
        "regenerate": "CURBSIDE_REGENERATE_VECTORS=1 cargo test -p curbside-crypto --lib transcript",
        "notes": [
            "All byte strings are lowercase hex. Constructions and labels: SECURITY.md.",
            "random_draws: every value the party drew from its random generator, in order, 32 bytes each.",
            "Alice draws: Ed25519 seed, X25519 identity key, X3DH ephemeral key, then one ratchet key per DH ratchet step.",
            "Bob draws: Ed25519 seed, X25519 identity key, signed prekey, one-time prekey, then one ratchet key per DH ratchet step.",
            "events: the order in which messages were received; messages 2..4 reach Alice out of order."
        ],
        "alice": {
            "random_draws": a_rng.draws_hex(),
            "identity_private": hex::encode(alice.to_bytes().as_slice()),
            "identity": hex::encode(alice.public().to_bytes()),
        },
        "bob": {
            "random_draws": b_rng.draws_hex(),
            "identity_private": hex::encode(bob.to_bytes().as_slice()),
            "identity": hex::encode(bob.public().to_bytes()),
            "signed_prekey_private": hex::encode(spk.to_bytes().as_slice()),
            "one_time_prekey_private": hex::encode(otk.to_bytes().as_slice()),
            "bundle": hex::encode(bundle.to_bytes()),
        },
        "x3dh": x3dh_json,
        "messages": messages_json,
        "events": events,
    })
}

#[test]
fn transcript_matches_published_vectors() {
    let generated = serde_json::to_string_pretty(&generate()).unwrap() + "\n";
    if std::env::var_os("CURBSIDE_REGENERATE_VECTORS").is_some() {
        std::fs::write(PATH, &generated).unwrap();
    }
    let published = std::fs::read_to_string(PATH).expect("published transcript missing; see the module docs");
    assert!(
        published == generated,
        "the protocol output differs from {PATH}: a wire-visible change needs a new version label"
    );
}

/// Replays the published file with only its own contents: the keys it lists
/// and the wire bytes. This is what a second implementation would do.
#[test]
fn published_transcript_decrypts_from_its_own_data() {
    let file: Value = serde_json::from_str(&std::fs::read_to_string(PATH).unwrap()).unwrap();
    let h = |v: &Value| hex::decode(v.as_str().unwrap()).unwrap();
    let bob = IdentityKeyPair::from_bytes(&h(&file["bob"]["identity_private"])).unwrap();
    let alice = IdentityKeyPair::from_bytes(&h(&file["alice"]["identity_private"])).unwrap();
    let spk = SignedPreKeyPair::from_bytes(&bob, &h(&file["bob"]["signed_prekey_private"])).unwrap();
    let otk = OneTimePreKeyPair::from_bytes(&h(&file["bob"]["one_time_prekey_private"])).unwrap();
    let bundle = PreKeyBundle::from_bytes(&h(&file["bob"]["bundle"])).unwrap();
    assert_eq!(bundle.identity(), bob.public());

    // The X3DH secret from the listed ephemeral key.
    let draws = file["alice"]["random_draws"].as_array().unwrap();
    let ephemeral = AgreementSecret::from_bytes(h(&draws[2]).try_into().unwrap());
    let sk = x3dh::initiate(&alice, &ephemeral, &bundle).unwrap();
    assert_eq!(
        hex::encode(sk.0.as_ref()),
        file["x3dh"]["shared_secret"].as_str().unwrap()
    );

    let messages = file["messages"].as_array().unwrap();
    let wire = |i: usize| Message::from_bytes(&h(&messages[i]["wire"])).unwrap();
    let text = |i: usize| messages[i]["plaintext"].as_str().unwrap().as_bytes().to_vec();
    let Message::PreKey(first) = wire(0) else {
        panic!("message 0 must be a prekey message")
    };
    let mut rng = ChaCha20Rng::from_seed([9; 32]);
    let (mut bob_session, pt) = Session::accept(&bob, &spk, Some(&otk), &first, &mut rng).unwrap();
    assert_eq!(pt.to_vec(), text(0));
    assert_eq!(bob_session.decrypt(&wire(1), &mut rng).unwrap().to_vec(), text(1));
    assert_eq!(bob_session.remote_identity(), alice.public());
}
