//! The referral Bundles, as sent and as exported, are valid FHIR R4 by the
//! official R4 JSON schema (not only by our own checks), and the schema
//! check is able to fail: broken Bundles are refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../tests/fhir_r4/mod.rs"]
mod fhir_r4;

use curbside_client::fhir::{ehr_bundle, referral_bundle, Patient, Practitioner, Request};
use curbside_protocol::referral::Status;
use fhir_r4::{r4, unresolved_references};
use serde_json::{json, Value};

fn request(status: Status) -> Request<'static> {
    Request {
        referral_id: "r0123456789abcdef",
        status,
        priority: "urgent",
        specialty: "Dermatology",
        requester: Practitioner {
            user_id: "u0123456789abcdef01234567",
            npi: Some("1234567893"),
            name: Some("Dr. Alice Abbot"),
        },
        performer: Practitioner {
            user_id: "u76543210fedcba9876543210",
            npi: Some("1245319599"),
            name: Some("Dr. Bob Brennan"),
        },
        note: Some("Pruritic rash, 3 weeks"),
        status_reason: (status == Status::Declined).then_some("Not accepting new patients"),
        authored_on: "2026-11-23T10:00:00.000Z",
        last_modified: Some("2026-11-24T08:30:00.000Z"),
    }
}

fn patients() -> Vec<Patient> {
    [
        &br#"{"resourceType":"Patient","id":"p-77","name":[{"family":"Roewright","given":["Janelle"]}],
             "gender":"female","birthDate":"1961-04-02","identifier":[{"system":"urn:mrn","value":"MRN-00451234"}]}"#[..],
        br#"{"resourceType":"Patient","name":[{"text":"Janelle Roewright"}]}"#,
    ]
    .iter()
    .map(|p| Patient::parse(p).unwrap())
    .collect()
}

#[test]
fn sent_and_exported_bundles_are_valid_r4() {
    for patient in patients() {
        for status in [
            Status::Requested,
            Status::Accepted,
            Status::Declined,
            Status::Cancelled,
            Status::Completed,
        ] {
            let sent = referral_bundle(&patient, &request(status));
            r4().assert_valid(&sent);
            assert_eq!(unresolved_references(&sent), Vec::<String>::new());
            let export = ehr_bundle(&patient, &request(status), "2026-11-24T09:00:00.000Z");
            r4().assert_valid(&export);
            assert_eq!(unresolved_references(&export), Vec::<String>::new());
        }
    }
}

fn broken(edit: impl FnOnce(&mut Value)) -> Vec<String> {
    let mut b = ehr_bundle(
        &patients()[0],
        &request(Status::Completed),
        "2026-11-24T09:00:00.000Z",
    );
    edit(&mut b);
    r4().errors(&b)
}

#[test]
fn the_schema_refuses_broken_bundles() {
    let cases: Vec<(&str, Vec<String>)> = vec![
        (
            "a ServiceRequest status that is no FHIR code",
            broken(|b| b["entry"][0]["resource"]["status"] = json!("accepted")),
        ),
        (
            "a Task status that is no FHIR code (the schema's own enumeration)",
            broken(|b| b["entry"][4]["resource"]["status"] = json!("declined")),
        ),
        (
            "a Practitioner where the ServiceRequest belongs",
            broken(|b| b["entry"][0]["resource"]["resourceType"] = json!("Practitioner")),
        ),
        (
            "a Reference with an element it does not have",
            broken(|b| b["entry"][0]["resource"]["subject"] = json!({"ref": "urn:uuid:x"})),
        ),
        (
            "a resource without resourceType",
            broken(|b| {
                b["entry"][1]["resource"]
                    .as_object_mut()
                    .unwrap()
                    .remove("resourceType");
            }),
        ),
        (
            "a Bundle type that is no FHIR code",
            broken(|b| b["type"] = json!("referral")),
        ),
        (
            "an element R4 does not have",
            broken(|b| b["entry"][2]["resource"]["npi"] = json!("1234567893")),
        ),
        (
            "a ServiceRequest without subject",
            broken(|b| {
                b["entry"][0]["resource"]
                    .as_object_mut()
                    .unwrap()
                    .remove("subject");
            }),
        ),
        (
            "a birthDate that is no FHIR date",
            broken(|b| b["entry"][1]["resource"]["birthDate"] = json!("4/2/61")),
        ),
        (
            "a priority that is no FHIR code",
            broken(|b| b["entry"][0]["resource"]["priority"] = json!("high")),
        ),
    ];
    for (what, errors) in cases {
        assert!(!errors.is_empty(), "{what}: accepted");
    }
    // The errors point at the element at fault.
    let errors = broken(|b| b["entry"][4]["resource"]["status"] = json!("declined"));
    assert!(
        errors.iter().any(|e| e.contains("/entry/4/resource/status")),
        "{errors:#?}"
    );
    // And a valid Bundle with an unresolvable reference is caught by ours.
    let mut b = referral_bundle(&patients()[0], &request(Status::Requested));
    b["entry"][0]["resource"]["subject"]["reference"] = json!("Patient/p-77");
    assert_eq!(unresolved_references(&b), vec!["Patient/p-77".to_owned()]);
}
