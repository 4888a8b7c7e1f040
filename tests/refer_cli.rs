//! Referrals from the command line, with the real binary: a FHIR Patient
//! file validated on the device, the content (with an attachment) end to end
//! encrypted, the lifecycle on the server, export for an EHR, and the
//! patient nowhere in the server's database or log.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "fhir_r4/mod.rs"]
mod fhir_r4;

use common::*;
use curbside_server::store::Backend;

const PATIENT: &str = r#"{"resourceType":"Patient","id":"p-77","name":[{"family":"Roewright","given":["Janelle"]}],
"gender":"female","birthDate":"1961-04-02","identifier":[{"system":"urn:mrn","value":"MRN-00451234"}]}"#;
/// A valid FHIR name given as text only.
const PATIENT_TEXT_NAME: &str = r#"{"resourceType":"Patient","name":[{"text":"Janelle Roewright"}]}"#;

/// The entry whose fullUrl `reference` names (panics if none does).
fn resolve<'a>(bundle: &'a serde_json::Value, reference: &serde_json::Value) -> &'a serde_json::Value {
    let entries = bundle["entry"].as_array().unwrap();
    &entries
        .iter()
        .find(|e| e["fullUrl"] == *reference)
        .unwrap_or_else(|| panic!("{reference} resolves to no entry"))["resource"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_referral_from_the_cli() {
    let db = Db::new(Backend::Sqlite).await.unwrap();
    let dir = db.dir.path().to_path_buf();
    let mut server = spawn_for_cli(&db, "127.0.0.1:0");
    let run = |args: &[&str]| cli_ok(&dir, &server, args);
    let ids = enroll_clinicians(
        &dir,
        &server,
        &[("alice", "Family Medicine"), ("bob", "Dermatology")],
    );
    let bob = ids[1].clone();
    std::fs::write(dir.join("patient.json"), PATIENT).unwrap();
    std::fs::write(
        dir.join("bad.json"),
        r#"{"resourceType":"Patient","name":[{"family":"X"}],"birthDate":"4/2/61"}"#,
    )
    .unwrap();
    std::fs::write(dir.join("rash.jpg"), vec![7u8; 100_000]).unwrap();

    // A malformed patient file is refused on the device, naming the field.
    let bad = cli(
        &dir,
        &server,
        &[
            "refer",
            "create",
            "--profile",
            "alice",
            "--to",
            &bob,
            "--specialty",
            "Dermatology",
            "--patient",
            "bad.json",
        ],
    );
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("Patient.birthDate"),
        "{bad:?}"
    );
    // Addressed by specialty only: the verified dermatologists are listed to choose from.
    let choose = cli(
        &dir,
        &server,
        &[
            "refer",
            "create",
            "--profile",
            "alice",
            "--specialty",
            "Dermatology",
            "--patient",
            "patient.json",
        ],
    );
    // Without --to: a list of whom to refer to (the caller not in it), not an error.
    let listed = String::from_utf8_lossy(&choose.stdout).into_owned();
    assert!(
        choose.status.success() && listed.contains(&bob) && listed.contains("Dr. bob"),
        "{listed}{}",
        String::from_utf8_lossy(&choose.stderr)
    );
    assert!(!listed.contains("Dr. alice"), "{listed}");
    // A receiver outside the specialty is refused.
    let wrong = cli(
        &dir,
        &server,
        &[
            "refer",
            "create",
            "--profile",
            "alice",
            "--to",
            &bob,
            "--specialty",
            "Cardiology",
            "--patient",
            "patient.json",
        ],
    );
    let refused = String::from_utf8_lossy(&wrong.stderr).into_owned();
    assert!(
        !wrong.status.success() && refused.contains("is not a verified clinician in Cardiology"),
        "{refused}"
    );

    let created = run(&[
        "refer",
        "create",
        "--profile",
        "alice",
        "--to",
        &bob,
        "--specialty",
        "Dermatology",
        "--priority",
        "urgent",
        "--patient",
        "patient.json",
        "--note",
        "Pruritic rash, 3 weeks",
        "--attach",
        "rash.jpg",
    ]);
    assert!(created.contains("(urgent, Dermatology): requested"), "{created}");
    let referral = created.split_whitespace().nth(1).unwrap().to_owned();
    let inbox = run(&["sync", "--profile", "bob", "--wait", "1"]);
    assert!(
        inbox.contains(&format!(
            "referral {referral} from Dr. alice: patient Janelle Roewright, 1 attachment"
        )),
        "{inbox}"
    );
    let shown = run(&["refer", "show", "--profile", "bob", &referral]);
    assert!(
        shown.contains("patient: Janelle Roewright") && shown.contains("note: Pruritic rash"),
        "{shown}"
    );
    assert!(shown.contains("attachment: rash.jpg (100000 bytes)"), "{shown}");
    // Bob saves the attachment, checked and decrypted, byte for byte.
    let saved = run(&[
        "refer",
        "download",
        "--profile",
        "bob",
        &referral,
        "--out",
        "from-alice",
    ]);
    assert!(saved.contains("Saved rash.jpg (100000 bytes)"), "{saved}");
    assert_eq!(
        std::fs::read(dir.join("from-alice/rash.jpg")).unwrap(),
        vec![7u8; 100_000]
    );
    let again = cli(
        &dir,
        &server,
        &["refer", "download", "--profile", "bob", &referral, "--index", "2"],
    );
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("--index is 1 to 1"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    // Only the receiving clinician may accept; then complete.
    assert!(!cli(
        &dir,
        &server,
        &["refer", "accept", "--profile", "alice", &referral]
    )
    .status
    .success());
    assert_eq!(
        run(&["refer", "accept", "--profile", "bob", &referral]),
        format!("Referral {referral}: accepted")
    );
    // Alice, who referred, learns it at her next sync.
    let synced = run(&["sync", "--profile", "alice", "--wait", "1"]);
    assert!(
        synced.contains(&format!("[referral {referral}] accepted (urgent")),
        "{synced}"
    );
    assert_eq!(
        run(&["refer", "complete", "--profile", "bob", &referral]),
        format!("Referral {referral}: completed")
    );
    let synced = run(&["sync", "--profile", "alice", "--wait", "1"]);
    assert!(
        synced.contains(&format!("[referral {referral}] completed")),
        "{synced}"
    );
    let list = run(&["refer", "list", "--profile", "alice", "--direction", "out"]);
    assert!(
        list.contains("completed")
            && list.contains("urgent")
            && list.contains("Janelle Roewright")
            && list.contains("Dr. alice -> Dr. bob"),
        "{list}"
    );
    // The FHIR Bundle for an EHR, from either side: valid R4 (the official
    // schema), the lifecycle's current status, the clinicians by NPI, and
    // every reference resolving inside the Bundle.
    for who in ["bob", "alice"] {
        let bundle: serde_json::Value =
            serde_json::from_str(&run(&["refer", "export", "--profile", who, &referral])).unwrap();
        fhir_r4::r4().assert_valid(&bundle);
        assert_eq!(fhir_r4::unresolved_references(&bundle), Vec::<String>::new());
        assert_eq!(bundle["resourceType"], "Bundle");
        assert_eq!(bundle["type"], "transaction");
        let request = &bundle["entry"][0]["resource"];
        assert_eq!(request["resourceType"], "ServiceRequest");
        assert_eq!(request["status"], "completed", "{who}: {request:#}");
        assert_eq!(request["priority"], "urgent");
        assert_eq!(request["note"][0]["text"], "Pruritic rash, 3 weeks");
        assert_eq!(request["identifier"][0]["value"], referral.as_str());
        let patient = resolve(&bundle, &request["subject"]["reference"]);
        assert_eq!(patient["resourceType"], "Patient");
        assert_eq!(patient["identifier"][0]["value"], "MRN-00451234");
        for (party, npi, name) in [
            (&request["requester"], NPIS[0], "Dr. alice"),
            (&request["performer"][0], NPIS[1], "Dr. bob"),
        ] {
            let p = resolve(&bundle, &party["reference"]);
            assert_eq!(p["resourceType"], "Practitioner");
            assert_eq!(p["identifier"][0]["system"], "http://hl7.org/fhir/sid/us-npi");
            assert_eq!(p["identifier"][0]["value"], npi);
            assert_eq!(p["name"][0]["text"], name);
        }
        let task = &bundle["entry"][4]["resource"];
        assert_eq!(task["resourceType"], "Task");
        assert_eq!(task["status"], "completed");
        assert_eq!(resolve(&bundle, &task["focus"]["reference"]), request);
        assert!(bundle["entry"].as_array().unwrap().iter().all(|e| e["fullUrl"]
            .as_str()
            .unwrap()
            .starts_with("urn:uuid:")
            && e["request"]["method"].is_string()));
    }

    // A second referral, declined with a reason the referring clinician reads.
    // (Its patient is named by a FHIR name's text only.)
    std::fs::write(dir.join("patient-text.json"), PATIENT_TEXT_NAME).unwrap();
    let second = run(&[
        "refer",
        "create",
        "--profile",
        "alice",
        "--to",
        &bob,
        "--specialty",
        "Dermatology",
        "--patient",
        "patient-text.json",
    ]);
    let second = second.split_whitespace().nth(1).unwrap().to_owned();
    run(&["sync", "--profile", "bob", "--wait", "1"]);
    assert!(
        !cli(&dir, &server, &["refer", "decline", "--profile", "bob", &second])
            .status
            .success()
    );
    run(&[
        "refer",
        "decline",
        "--profile",
        "bob",
        &second,
        "--reason",
        "Not accepting new patients this month",
    ]);
    run(&["sync", "--profile", "alice", "--wait", "1"]);
    let shown = run(&["refer", "show", "--profile", "alice", &second]);
    assert!(
        shown.contains("declined") && shown.contains("reason: Not accepting new patients"),
        "{shown}"
    );
    assert!(shown.contains("patient: Janelle Roewright"), "{shown}");
    // Declined: revoked for the ServiceRequest, rejected (with the reason) for the Task.
    let bundle: serde_json::Value =
        serde_json::from_str(&run(&["refer", "export", "--profile", "bob", &second])).unwrap();
    fhir_r4::r4().assert_valid(&bundle);
    assert_eq!(fhir_r4::unresolved_references(&bundle), Vec::<String>::new());
    assert_eq!(bundle["entry"][0]["resource"]["status"], "revoked");
    assert_eq!(
        bundle["entry"][1]["resource"]["name"][0]["text"],
        "Janelle Roewright"
    );
    assert_eq!(bundle["entry"][4]["resource"]["status"], "rejected");
    assert_eq!(
        bundle["entry"][4]["resource"]["statusReason"]["text"],
        "Not accepting new patients this month"
    );

    server.child.kill().unwrap();
    let _ = server.child.wait();
    for marker in [
        "Roewright",
        "Janelle",
        "MRN-00451234",
        "Pruritic",
        "Not accepting",
    ] {
        assert_absent(&db, Some(&dir.join("server.log")), marker).await;
    }
}
