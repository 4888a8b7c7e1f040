//! A `send` frame through the connection's dispatch up to its commit: the
//! frame is built from the input (few users and devices, so that names
//! collide), serialised, parsed as the connection parses it, and validated
//! by the server's checks that need no storage against a set of current
//! devices also drawn from the input (what the store would answer). Never
//! panics, and the verdict is the one the protocol specifies: `invalid_request`
//! for no envelope, an empty ciphertext or a device named twice,
//! `too_many_recipients`, `not_found` for a user that does not exist, and
//! `stale_devices` with exactly the missing and extra devices, sorted.
#![no_main]

use std::collections::{BTreeSet, HashMap};

use curbside_protocol::error::ErrorCode;
use curbside_protocol::frames::{parse_client_frame, ClientFrame, Envelope, ErrorDetails, MessageKind};
use curbside_protocol::ids::{Address, DeviceId, MessageId, RequestId, UserId};
use curbside_server::fuzzing::check_send;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

const USERS: &[&str] = &["alice", "bob", "carol", "dave"];

fn user(u: &mut Unstructured<'_>) -> Result<UserId> {
    Ok(UserId::new(*u.choose(USERS)?).expect("a valid user id"))
}

fn address(u: &mut Unstructured<'_>) -> Result<Address> {
    Ok(Address {
        user_id: user(u)?,
        device_id: DeviceId(u.int_in_range(0..=4)?),
    })
}

struct Case {
    sender: Address,
    envelopes: Vec<Envelope>,
    max_recipients: usize,
    current: HashMap<UserId, Vec<DeviceId>>,
}

fn case(u: &mut Unstructured<'_>) -> Result<Case> {
    let sender = address(u)?;
    let mut current = HashMap::new();
    for name in USERS {
        if u.ratio(3, 4)? {
            let mut devices = Vec::new();
            for device in 0..=4 {
                if u.ratio(1, 2)? {
                    devices.push(DeviceId(device));
                }
            }
            current.insert(UserId::new(*name).expect("a valid user id"), devices);
        }
    }
    let mut envelopes = Vec::new();
    for _ in 0..u.int_in_range(0..=12)? {
        let to = address(u)?;
        let len = u.int_in_range(0..=3)?;
        envelopes.push(Envelope {
            user_id: to.user_id,
            device_id: to.device_id,
            ciphertext: u.bytes(len)?.to_vec().into(),
        });
    }
    let max_recipients = u.int_in_range(0..=12)?;
    Ok(Case {
        sender,
        envelopes,
        max_recipients,
        current,
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(Case {
        sender,
        envelopes,
        max_recipients,
        current,
    }) = case(&mut Unstructured::new(data))
    else {
        return;
    };
    // The frame as a client sends it, read as the connection reads it.
    let frame = ClientFrame::Send {
        id: RequestId::new("r1").expect("a valid request id"),
        message_id: MessageId::new("m1").expect("a valid message id"),
        kind: MessageKind::Message,
        recipients: envelopes,
        priority: Default::default(),
        escalation: None,
        role: None,
        consult: None,
    };
    let text = serde_json::to_string(&frame).expect("a frame serialises");
    let parsed = parse_client_frame(&text).expect("a well-formed send parses");
    assert_eq!(parsed, frame);
    let ClientFrame::Send { recipients, .. } = parsed else {
        unreachable!("a send parses as a send");
    };

    let verdict = check_send(&sender, &recipients, max_recipients, current.clone());

    // The specification, computed independently.
    let named: BTreeSet<Address> = recipients
        .iter()
        .map(|e| Address {
            user_id: e.user_id.clone(),
            device_id: e.device_id,
        })
        .collect();
    let expected_code = if recipients.is_empty() {
        Some(ErrorCode::InvalidRequest)
    } else if recipients.len() > max_recipients {
        Some(ErrorCode::TooManyRecipients)
    } else if recipients.iter().any(|e| e.ciphertext.is_empty()) || named.len() != recipients.len() {
        Some(ErrorCode::InvalidRequest)
    } else {
        None
    };
    if let Some(code) = expected_code {
        let (error, details) = verdict.expect_err("refused before the device check");
        assert_eq!(error.code, code);
        assert!(details.is_none());
        return;
    }
    let mut users: BTreeSet<UserId> = named.iter().map(|a| a.user_id.clone()).collect();
    users.insert(sender.user_id.clone());
    if let Some(absent) = users.iter().find(|u| !current.contains_key(*u)) {
        let (error, details) = verdict.expect_err("a user that does not exist");
        assert_eq!(error.code, ErrorCode::NotFound);
        assert!(error.message.contains(absent.as_str()), "{}", error.message);
        assert!(details.is_none());
        return;
    }
    let required: BTreeSet<Address> = users
        .iter()
        .flat_map(|u| {
            current[u].iter().map(|d| Address {
                user_id: u.clone(),
                device_id: *d,
            })
        })
        .filter(|a| *a != sender)
        .collect();
    let missing: Vec<Address> = required.difference(&named).cloned().collect();
    let extra: Vec<Address> = named.difference(&required).cloned().collect();
    if missing.is_empty() && extra.is_empty() {
        assert!(verdict.is_ok(), "{:?}", verdict.err().map(|(e, _)| e.message));
    } else {
        let (error, details) = verdict.expect_err("a stale device list");
        assert_eq!(error.code, ErrorCode::StaleDevices);
        assert_eq!(details, Some(ErrorDetails::StaleDevices { missing, extra }));
    }
});
