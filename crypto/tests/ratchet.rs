//! Functional and security-property tests of X3DH and the Double Ratchet.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod common;

use common::{established, flip, rng, Device};
use curbside_crypto::message::{Header, RatchetMessage};
use curbside_crypto::prekeys::SignedPreKey;
use curbside_crypto::primitives::sign::Signature;
use curbside_crypto::ratchet::{MAX_SKIP, MAX_SKIPPED_KEYS};
use curbside_crypto::{Error, IdentityKey, Message, PreKeyBundle, PreKeyId, Session, SignedPreKeyPair};

#[test]
fn session_without_one_time_prekey() {
    let mut rng = rng(1);
    let alice = Device::new(&mut rng);
    let bob = Device::new(&mut rng);
    let bundle = PreKeyBundle::new(*bob.identity.public(), *bob.signed_prekey.public(), None).unwrap();
    let mut a = Session::initiate(&alice.identity, &bundle, &mut rng).unwrap();
    let Message::PreKey(m) = a.encrypt(b"no otk").unwrap() else {
        panic!()
    };
    assert_eq!(m.prekey.one_time_prekey_id, None);
    // Offering a one-time prekey the message did not use is refused.
    assert_eq!(
        Session::accept(
            &bob.identity,
            &bob.signed_prekey,
            Some(&bob.one_time_prekey),
            &m,
            &mut rng
        )
        .err(),
        Some(Error::OneTimePreKeyMismatch)
    );
    let (mut b, pt) = Session::accept(&bob.identity, &bob.signed_prekey, None, &m, &mut rng).unwrap();
    assert_eq!(&pt[..], b"no otk");
    let reply = b.encrypt(b"ok").unwrap();
    assert_eq!(&a.decrypt(&reply, &mut rng).unwrap()[..], b"ok");
}

#[test]
fn prekey_messages_repeat_until_answered_and_all_decrypt() {
    let mut rng = rng(2);
    let alice = Device::new(&mut rng);
    let bob = Device::new(&mut rng);
    let mut a = Session::initiate(&alice.identity, &bob.bundle(), &mut rng).unwrap();
    let m1 = a.encrypt(b"one").unwrap();
    let m2 = a.encrypt(b"two").unwrap();
    assert!(matches!(m2, Message::PreKey(_)) && a.awaiting_first_reply());
    // Bob receives the second first: it carries the X3DH fields too.
    let Message::PreKey(p2) = &m2 else { panic!() };
    let (mut b, pt) = bob.accept(p2, &mut rng).unwrap();
    assert_eq!(pt, b"two");
    assert_eq!(&b.decrypt(&m1, &mut rng).unwrap()[..], b"one");
    let r = b.encrypt(b"ack").unwrap();
    a.decrypt(&r, &mut rng).unwrap();
    assert!(!a.awaiting_first_reply());
    assert!(matches!(a.encrypt(b"three").unwrap(), Message::Ratchet(_)));
}

#[test]
fn wrong_prekey_ids_are_refused() {
    let mut rng = rng(3);
    let alice = Device::new(&mut rng);
    let bob = Device::new(&mut rng);
    let mut a = Session::initiate(&alice.identity, &bob.bundle(), &mut rng).unwrap();
    let Message::PreKey(m) = a.encrypt(b"x").unwrap() else {
        panic!()
    };
    let other_spk = SignedPreKeyPair::generate(&bob.identity, PreKeyId(2), 0, &mut rng).unwrap();
    assert_eq!(
        Session::accept(
            &bob.identity,
            &other_spk,
            Some(&bob.one_time_prekey),
            &m,
            &mut rng
        )
        .err(),
        Some(Error::SignedPreKeyMismatch(1))
    );
}

#[test]
fn long_conversation_both_directions() {
    let mut p = established(4);
    for round in 0..50u32 {
        for i in 0..(round % 4) {
            let text = format!("a{round}-{i}");
            let m = p.alice.encrypt(text.as_bytes()).unwrap();
            assert_eq!(p.bob.decrypt(&m, &mut p.rng).unwrap().as_slice(), text.as_bytes());
        }
        let text = format!("b{round}");
        let m = p.bob.encrypt(text.as_bytes()).unwrap();
        assert_eq!(
            p.alice.decrypt(&m, &mut p.rng).unwrap().as_slice(),
            text.as_bytes()
        );
    }
}

#[test]
fn out_of_order_across_a_ratchet_step() {
    let mut p = established(5);
    let early: Vec<_> = (0..3)
        .map(|i| p.alice.encrypt(format!("e{i}").as_bytes()).unwrap())
        .collect();
    // Bob reads only the last, answers; Alice starts a new chain.
    assert_eq!(&p.bob.decrypt(&early[2], &mut p.rng).unwrap()[..], b"e2");
    let r = p.bob.encrypt(b"r").unwrap();
    p.alice.decrypt(&r, &mut p.rng).unwrap();
    let late = p.alice.encrypt(b"late").unwrap();
    assert_eq!(&p.bob.decrypt(&late, &mut p.rng).unwrap()[..], b"late");
    // The two skipped messages of the old chain still decrypt, once.
    assert_eq!(p.bob.skipped_key_count(), 2);
    assert_eq!(&p.bob.decrypt(&early[0], &mut p.rng).unwrap()[..], b"e0");
    assert_eq!(&p.bob.decrypt(&early[1], &mut p.rng).unwrap()[..], b"e1");
    assert_eq!(p.bob.skipped_key_count(), 0);
    assert_eq!(
        p.bob.decrypt(&early[1], &mut p.rng).err(),
        Some(Error::DuplicateMessage)
    );
}

#[test]
fn replay_is_rejected_in_current_chain_and_from_skipped_keys() {
    let mut p = established(6);
    let m0 = p.alice.encrypt(b"zero").unwrap();
    let m1 = p.alice.encrypt(b"one").unwrap();
    p.bob.decrypt(&m1, &mut p.rng).unwrap();
    assert_eq!(
        p.bob.decrypt(&m1, &mut p.rng).err(),
        Some(Error::DuplicateMessage)
    );
    p.bob.decrypt(&m0, &mut p.rng).unwrap();
    assert_eq!(
        p.bob.decrypt(&m0, &mut p.rng).err(),
        Some(Error::DuplicateMessage)
    );
}

#[test]
fn max_skip_is_enforced_and_leaves_the_session_intact() {
    let mut p = established(7);
    let mut last = None;
    for i in 0..=MAX_SKIP + 1 {
        last = Some(p.alice.encrypt(format!("m{i}").as_bytes()).unwrap());
    }
    let before = p.bob.to_bytes();
    let err = p.bob.decrypt(last.as_ref().unwrap(), &mut p.rng).unwrap_err();
    assert_eq!(
        err,
        Error::TooManySkipped {
            requested: u64::from(MAX_SKIP) + 1,
            limit: MAX_SKIP
        }
    );
    assert_eq!(
        *p.bob.to_bytes(),
        *before,
        "a refused message must not change the session"
    );
    // Exactly MAX_SKIP is allowed.
    let mut p = established(8);
    let msgs: Vec<_> = (0..=MAX_SKIP)
        .map(|i| p.alice.encrypt(format!("m{i}").as_bytes()).unwrap())
        .collect();
    p.bob.decrypt(&msgs[MAX_SKIP as usize], &mut p.rng).unwrap();
    assert_eq!(p.bob.skipped_key_count(), MAX_SKIP as usize);
}

#[test]
fn previous_chain_skip_is_bounded_too() {
    // Alice sends MAX_SKIP + 2 messages on her chain; Bob sees only the first,
    // answers, and Alice's next message (on a new chain) claims a previous
    // chain length that would make Bob skip MAX_SKIP + 1 keys.
    let mut p = established(9);
    let msgs: Vec<_> = (0..MAX_SKIP + 2)
        .map(|i| p.alice.encrypt(format!("m{i}").as_bytes()).unwrap())
        .collect();
    p.bob.decrypt(&msgs[0], &mut p.rng).unwrap();
    let r = p.bob.encrypt(b"r").unwrap();
    p.alice.decrypt(&r, &mut p.rng).unwrap();
    let next = p.alice.encrypt(b"new chain").unwrap();
    assert_eq!(next.ratchet_message().header.previous_chain_len, MAX_SKIP + 2);
    let before = p.bob.to_bytes();
    assert_eq!(
        p.bob.decrypt(&next, &mut p.rng).err(),
        Some(Error::TooManySkipped {
            requested: u64::from(MAX_SKIP) + 1,
            limit: MAX_SKIP
        })
    );
    assert_eq!(*p.bob.to_bytes(), *before);
    // The session still works for messages within bounds.
    assert_eq!(&p.bob.decrypt(&msgs[1], &mut p.rng).unwrap()[..], b"m1");
}

#[test]
fn skipped_key_store_is_capped() {
    let mut p = established(10);
    // Three chains of MAX_SKIP skipped keys each (> MAX_SKIPPED_KEYS in total).
    let mut oldest = None;
    for round in 0..3 {
        let msgs: Vec<_> = (0..=MAX_SKIP)
            .map(|i| p.alice.encrypt(format!("{round}-{i}").as_bytes()).unwrap())
            .collect();
        if round == 0 {
            oldest = Some(msgs[0].clone());
        }
        p.bob.decrypt(&msgs[MAX_SKIP as usize], &mut p.rng).unwrap();
        let r = p.bob.encrypt(b"r").unwrap();
        p.alice.decrypt(&r, &mut p.rng).unwrap();
        assert!(p.bob.skipped_key_count() <= MAX_SKIPPED_KEYS);
    }
    assert_eq!(p.bob.skipped_key_count(), MAX_SKIPPED_KEYS);
    // The oldest skipped key was evicted.
    assert!(p.bob.decrypt(oldest.as_ref().unwrap(), &mut p.rng).is_err());
}

#[test]
fn forward_secrecy_captured_state_cannot_read_earlier_messages() {
    let mut p = established(11);
    let mut sent = Vec::new();
    for i in 0..10 {
        let m = if i % 3 == 0 {
            p.bob.encrypt(b"from bob").unwrap()
        } else {
            p.alice.encrypt(b"from alice").unwrap()
        };
        let pt = if i % 3 == 0 {
            p.alice.decrypt(&m, &mut p.rng)
        } else {
            p.bob.decrypt(&m, &mut p.rng)
        };
        pt.unwrap();
        sent.push((i % 3 == 0, m));
    }
    // An attacker captures both states after message N = 10.
    let alice_captured = Session::from_bytes(&p.alice.to_bytes()).unwrap();
    let bob_captured = Session::from_bytes(&p.bob.to_bytes()).unwrap();
    for (to_alice, m) in &sent {
        let mut state = if *to_alice {
            alice_captured.clone()
        } else {
            bob_captured.clone()
        };
        assert!(
            state.decrypt(m, &mut p.rng).is_err(),
            "a captured state decrypted an earlier message"
        );
    }
}

#[test]
fn post_compromise_security_after_a_round_trip() {
    let mut p = established(12);
    // The attacker captures Alice's state.
    let mut stolen = Session::from_bytes(&p.alice.to_bytes()).unwrap();
    // Both sides complete a DH ratchet round trip with fresh keys.
    let m = p.alice.encrypt(b"a").unwrap();
    p.bob.decrypt(&m, &mut p.rng).unwrap();
    let m = p.bob.encrypt(b"b").unwrap();
    p.alice.decrypt(&m, &mut p.rng).unwrap();
    let m = p.alice.encrypt(b"c").unwrap();
    p.bob.decrypt(&m, &mut p.rng).unwrap();
    // New messages from Bob are out of the attacker's reach.
    let secret = p.bob.encrypt(b"after healing").unwrap();
    assert!(stolen.decrypt(&secret, &mut p.rng).is_err());
    assert_eq!(
        &p.alice.decrypt(&secret, &mut p.rng).unwrap()[..],
        b"after healing"
    );
}

#[test]
fn bundle_with_bad_signatures_is_refused() {
    let mut rng = rng(13);
    let bob = Device::new(&mut rng);
    let mallory = Device::new(&mut rng);
    // A signed prekey signed by someone else.
    let spk = bob.signed_prekey.public();
    assert_eq!(
        SignedPreKey::new(
            mallory.identity.public(),
            spk.id(),
            *spk.public_key(),
            *spk.signature()
        )
        .err(),
        Some(Error::BadSignature)
    );
    // A serialized bundle whose signed-prekey signature was altered.
    let bytes = bob.bundle().to_bytes();
    let sig_offset = 1 + IdentityKey::ENCODED_LEN + 4 + 32;
    assert_eq!(
        PreKeyBundle::from_bytes(&flip(&bytes, sig_offset * 8 + 3)).err(),
        Some(Error::BadSignature)
    );
    // An identity whose X25519 key was swapped (its signature no longer matches).
    let mut id = bob.identity.public().to_bytes();
    id[40] ^= 1;
    assert_eq!(IdentityKey::from_bytes(&id).err(), Some(Error::BadSignature));
    let sig = Signature::from_bytes([0; 64]);
    assert!(IdentityKey::new(
        *bob.identity.public().signing_key(),
        *bob.identity.public().agreement_key(),
        sig
    )
    .is_err());
}

#[test]
fn identity_binding_swapped_initiator_identity_fails() {
    let mut rng = rng(14);
    let alice = Device::new(&mut rng);
    let bob = Device::new(&mut rng);
    let mallory = Device::new(&mut rng);
    let mut a = Session::initiate(&alice.identity, &bob.bundle(), &mut rng).unwrap();
    let Message::PreKey(mut m) = a.encrypt(b"from alice").unwrap() else {
        panic!()
    };
    // Mallory claims Alice's message as hers (a validly signed identity of her own).
    m.prekey.identity = *mallory.identity.public();
    assert!(bob.accept(&m, &mut rng).is_err());
}

#[test]
fn mismatched_associated_data_fails() {
    // A ratchet message from one session fed to a session between other identities.
    let mut p = established(15);
    let mut q = established(16);
    let m = p.alice.encrypt(b"for bob").unwrap();
    let before = q.bob.to_bytes();
    assert!(q.bob.decrypt(&m, &mut q.rng).is_err());
    assert_eq!(*q.bob.to_bytes(), *before);
    // Same keys, other AD: re-encoding the header with another previous-chain
    // length changes the authenticated header and fails.
    let Message::Ratchet(r) = p.alice.encrypt(b"x").unwrap() else {
        panic!()
    };
    let forged = RatchetMessage {
        header: Header {
            previous_chain_len: r.header.previous_chain_len + 1,
            ..r.header
        },
        ciphertext: r.ciphertext.clone(),
    };
    assert_eq!(
        p.bob.decrypt_ratchet(&forged, &mut p.rng).err(),
        Some(Error::DecryptionFailed)
    );
    p.bob.decrypt_ratchet(&r, &mut p.rng).unwrap();
}

#[test]
fn prekey_message_from_another_identity_is_not_decrypted_by_existing_session() {
    let mut rng = rng(17);
    let alice = Device::new(&mut rng);
    let bob = Device::new(&mut rng);
    let mallory = Device::new(&mut rng);
    let mut a = Session::initiate(&alice.identity, &bob.bundle(), &mut rng).unwrap();
    let Message::PreKey(m) = a.encrypt(b"1").unwrap() else {
        panic!()
    };
    let (mut b, _) = bob.accept(&m, &mut rng).unwrap();
    let Message::PreKey(mut m2) = a.encrypt(b"2").unwrap() else {
        panic!()
    };
    m2.prekey.identity = *mallory.identity.public();
    assert_eq!(
        b.decrypt(&Message::PreKey(m2), &mut rng).err(),
        Some(Error::DecryptionFailed)
    );
}

#[test]
fn low_order_keys_in_bundles_and_headers_are_refused() {
    let mut rng = rng(18);
    let alice = Device::new(&mut rng);
    let mut p = established(19);
    // A ratchet header carrying the all-zero point (order 1): refused, session unchanged.
    let Message::Ratchet(mut r) = p.alice.encrypt(b"x").unwrap() else {
        panic!()
    };
    r.header.ratchet_key = curbside_crypto::primitives::x25519::AgreementPublic::from_bytes([0; 32]);
    let before = p.bob.to_bytes();
    assert_eq!(
        p.bob.decrypt_ratchet(&r, &mut p.rng).err(),
        Some(Error::NonContributory)
    );
    assert_eq!(*p.bob.to_bytes(), *before);
    // A one-time prekey that is a low-order point: X3DH refuses it.
    let bob = Device::new(&mut rng);
    let bundle = PreKeyBundle::new(
        *bob.identity.public(),
        *bob.signed_prekey.public(),
        Some(curbside_crypto::OneTimePreKey {
            id: PreKeyId(1),
            public: curbside_crypto::primitives::x25519::AgreementPublic::from_bytes([0; 32]),
        }),
    )
    .unwrap();
    assert_eq!(
        Session::initiate(&alice.identity, &bundle, &mut rng).err(),
        Some(Error::NonContributory)
    );
}

#[test]
fn signed_prekey_round_trips_and_is_verified_on_parse() {
    let mut rng = rng(20);
    let bob = Device::new(&mut rng);
    let other = Device::new(&mut rng);
    let bytes = bob.signed_prekey.public().to_bytes();
    assert_eq!(bytes.len(), SignedPreKey::ENCODED_LEN);
    assert_eq!(
        &SignedPreKey::from_bytes(bob.identity.public(), &bytes).unwrap(),
        bob.signed_prekey.public()
    );
    assert_eq!(
        SignedPreKey::from_bytes(other.identity.public(), &bytes).err(),
        Some(Error::BadSignature)
    );
    assert!(SignedPreKey::from_bytes(bob.identity.public(), &bytes[..99]).is_err());
}
