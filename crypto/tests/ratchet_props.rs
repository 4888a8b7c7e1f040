//! Property tests of the Double Ratchet (proptest).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod common;

use common::{established, flip};
use curbside_crypto::ratchet::MAX_SKIP;
use curbside_crypto::{Error, Message};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    /// Alice (true) or Bob (false) sends a message.
    Send(bool),
    /// Deliver the in-flight message picked by the index, towards Alice or Bob.
    Deliver(bool, usize),
    /// Lose the in-flight message picked by the index.
    Drop(bool, usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => any::<bool>().prop_map(Op::Send),
        3 => (any::<bool>(), any::<usize>()).prop_map(|(d, i)| Op::Deliver(d, i)),
        1 => (any::<bool>(), any::<usize>()).prop_map(|(d, i)| Op::Drop(d, i)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Random interleavings of both directions, with reordering and drops
    /// (far within MAX_SKIP), deliver every delivered message exactly once,
    /// and every replay is refused.
    #[test]
    fn interleavings_deliver_exactly_once(seed in any::<u64>(), ops in proptest::collection::vec(op(), 1..120)) {
        let mut p = established(seed);
        // In flight towards Alice (index 0) and towards Bob (index 1).
        let mut in_flight: [Vec<(Message, Vec<u8>)>; 2] = [Vec::new(), Vec::new()];
        let mut delivered: Vec<(bool, Message)> = Vec::new();
        let mut counter = 0u32;
        for op in ops {
            match op {
                Op::Send(from_alice) => {
                    counter += 1;
                    let text = format!("msg {counter}").into_bytes();
                    let sender = if from_alice { &mut p.alice } else { &mut p.bob };
                    let m = sender.encrypt(&text).unwrap();
                    in_flight[usize::from(from_alice)].push((m, text));
                }
                Op::Deliver(to_alice, pick) => {
                    let queue = &mut in_flight[usize::from(!to_alice)];
                    if queue.is_empty() { continue; }
                    let (m, text) = queue.remove(pick % queue.len());
                    let receiver = if to_alice { &mut p.alice } else { &mut p.bob };
                    let pt = receiver.decrypt(&m, &mut p.rng).unwrap();
                    prop_assert_eq!(pt.as_slice(), text.as_slice());
                    delivered.push((to_alice, m));
                }
                Op::Drop(to_alice, pick) => {
                    let queue = &mut in_flight[usize::from(!to_alice)];
                    if !queue.is_empty() { queue.remove(pick % queue.len()); }
                }
            }
        }
        // Everything still in flight arrives, in reverse order.
        for (dir, queue) in in_flight.iter_mut().enumerate() {
            let to_alice = dir == 0;
            while let Some((m, text)) = queue.pop() {
                let receiver = if to_alice { &mut p.alice } else { &mut p.bob };
                let pt = receiver.decrypt(&m, &mut p.rng).unwrap();
                prop_assert_eq!(pt.as_slice(), text.as_slice());
                delivered.push((to_alice, m));
            }
        }
        // No message decrypts twice.
        for (to_alice, m) in &delivered {
            let receiver = if *to_alice { &mut p.alice } else { &mut p.bob };
            prop_assert!(receiver.decrypt(m, &mut p.rng).is_err());
        }
        // And the session still works both ways.
        let m = p.alice.encrypt(b"final").unwrap();
        let pt = p.bob.decrypt(&m, &mut p.rng).unwrap();
        prop_assert_eq!(pt.as_slice(), b"final");
        let m = p.bob.encrypt(b"final").unwrap();
        let pt = p.alice.decrypt(&m, &mut p.rng).unwrap();
        prop_assert_eq!(pt.as_slice(), b"final");
    }

    /// Any single flipped bit anywhere in the encoded message (header or
    /// body) is rejected, the session is unchanged, and the genuine message
    /// still decrypts afterwards.
    #[test]
    fn any_flipped_bit_is_rejected(seed in any::<u64>(), bit in any::<prop::sample::Index>(), new_chain in any::<bool>(), len in 0usize..300) {
        let mut p = established(seed);
        if new_chain {
            // Make the message start a new DH ratchet step on Bob's side.
            let m = p.bob.encrypt(b"turn").unwrap();
            p.alice.decrypt(&m, &mut p.rng).unwrap();
        }
        let text = vec![0x42; len];
        let m = p.alice.encrypt(&text).unwrap();
        let bytes = m.to_bytes();
        let flipped = flip(&bytes, bit.index(bytes.len() * 8));
        let before = p.bob.to_bytes();
        if let Ok(parsed) = Message::from_bytes(&flipped) {
            prop_assert!(p.bob.decrypt(&parsed, &mut p.rng).is_err());
        }
        prop_assert_eq!(&*p.bob.to_bytes(), &*before);
        let pt = p.bob.decrypt(&m, &mut p.rng).unwrap();
        prop_assert_eq!(pt.as_slice(), text.as_slice());
    }

    /// Truncating or extending a message is rejected without damage.
    #[test]
    fn truncated_or_extended_messages_are_rejected(seed in any::<u64>(), cut in any::<prop::sample::Index>(), extra in proptest::collection::vec(any::<u8>(), 1..40)) {
        let mut p = established(seed);
        let m = p.alice.encrypt(b"complete").unwrap();
        let bytes = m.to_bytes();
        let truncated = &bytes[..cut.index(bytes.len())];
        if let Ok(parsed) = Message::from_bytes(truncated) {
            prop_assert!(p.bob.decrypt(&parsed, &mut p.rng).is_err());
        }
        let extended = [bytes.as_slice(), &extra].concat();
        if let Ok(parsed) = Message::from_bytes(&extended) {
            prop_assert!(p.bob.decrypt(&parsed, &mut p.rng).is_err());
        }
        let pt = p.bob.decrypt(&m, &mut p.rng).unwrap();
        prop_assert_eq!(pt.as_slice(), b"complete");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    /// A message beyond MAX_SKIP is refused and the session is not damaged:
    /// messages within the bound still decrypt.
    #[test]
    fn exceeding_max_skip_is_rejected_without_damage(seed in any::<u64>(), beyond in 1u32..50) {
        let mut p = established(seed);
        let count = MAX_SKIP + beyond + 1;
        let msgs: Vec<_> = (0..count).map(|i| p.alice.encrypt(&i.to_be_bytes()).unwrap()).collect();
        let before = p.bob.to_bytes();
        let far = &msgs[(MAX_SKIP + beyond) as usize];
        prop_assert_eq!(
            p.bob.decrypt(far, &mut p.rng).err(),
            Some(Error::TooManySkipped { requested: u64::from(MAX_SKIP + beyond), limit: MAX_SKIP })
        );
        prop_assert_eq!(&*p.bob.to_bytes(), &*before);
        for i in [0usize, 5, MAX_SKIP as usize] {
            let pt = p.bob.decrypt(&msgs[i], &mut p.rng).unwrap();
            prop_assert_eq!(pt.as_slice(), &(i as u32).to_be_bytes());
        }
    }
}
