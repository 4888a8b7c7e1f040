//! Safety numbers.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod common;

use common::{check_published, rng};
use curbside_crypto::{IdentityKeyPair, SafetyNumber};

#[test]
fn both_users_see_the_same_number_whatever_the_order() {
    let mut rng = rng(1);
    let a1 = *IdentityKeyPair::generate(&mut rng).unwrap().public();
    let a2 = *IdentityKeyPair::generate(&mut rng).unwrap().public();
    let b1 = *IdentityKeyPair::generate(&mut rng).unwrap().public();
    let n1 = SafetyNumber::compute("alice", &[a1, a2], "bob", &[b1]);
    let n2 = SafetyNumber::compute("bob", &[b1], "alice", &[a2, a1]);
    assert_eq!(n1, n2);
    assert_eq!(n1.digits().len(), 60);
    assert!(n1.digits().bytes().all(|b| b.is_ascii_digit()));
    let shown = n1.to_string();
    assert_eq!(shown.lines().count(), 3);
    assert!(n2.matches(&shown));
    assert!(n2.matches(n1.digits()));
}

#[test]
fn any_changed_key_or_user_id_changes_the_number() {
    let mut rng = rng(2);
    let a = *IdentityKeyPair::generate(&mut rng).unwrap().public();
    let b = *IdentityKeyPair::generate(&mut rng).unwrap().public();
    let mallory = *IdentityKeyPair::generate(&mut rng).unwrap().public();
    let real = SafetyNumber::compute("alice", &[a], "bob", &[b]);
    let mitm = SafetyNumber::compute("alice", &[a], "bob", &[mallory]);
    let added_device = SafetyNumber::compute("alice", &[a], "bob", &[b, mallory]);
    let renamed = SafetyNumber::compute("alice", &[a], "bob2", &[b]);
    for other in [&mitm, &added_device, &renamed] {
        assert_ne!(&real, other);
        assert!(!real.matches(other.digits()));
    }
    // Read-out with typos or missing digits does not match.
    let mut typo = real.digits().to_owned().into_bytes();
    typo[59] = if typo[59] == b'0' { b'1' } else { b'0' };
    assert!(!real.matches(std::str::from_utf8(&typo).unwrap()));
    assert!(!real.matches(&real.digits()[..59]));
}

#[test]
fn known_answer_is_stable() {
    // Fixed identities: the number must never change for the same keys, or
    // every verified contact would see a false "key changed" warning.
    let a = IdentityKeyPair::from_bytes(&[[1u8].as_slice(), &[0x11; 32], &[0x22; 32]].concat()).unwrap();
    let b = IdentityKeyPair::from_bytes(&[[1u8].as_slice(), &[0x33; 32], &[0x44; 32]].concat()).unwrap();
    let n = SafetyNumber::compute("npi:1234567893", &[*a.public()], "npi:1245319599", &[*b.public()]);
    check_published("safety-number-v1.txt", n.digits());
}
