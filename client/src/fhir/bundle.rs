//! The referral as a FHIR R4 Bundle, and back.
//!
//! One builder makes both forms, from the same parts:
//! - [`referral_bundle`]: a Bundle of type `collection`, the clinical content
//!   sent end to end encrypted when a referral is created (a package of
//!   resources, with no instruction to a server);
//! - [`ehr_bundle`]: a Bundle of type `transaction`, what `refer export`
//!   writes for an EHR: the same entries, each with the `request` a FHIR
//!   server needs to import it (conditional, so an import run twice neither
//!   duplicates the patient or the clinicians nor the referral, and a
//!   re-export after a status change updates it).
//!
//! The entries, in this order: the `ServiceRequest` (the referral), the
//! `Patient`, the requester and the performer as `Practitioner`s
//! identified by NPI (`http://hl7.org/fhir/sid/us-npi`) and by Curbside user
//! id (`urn:curbside:user`), and a `Task` carrying the lifecycle as FHIR's
//! referral workflow does (owner: the performer; focus: the ServiceRequest).
//! Every entry has a `fullUrl` `urn:uuid:…` derived from the referral id and
//! the entry's role (so every client, and every export of one referral,
//! names them alike), and every reference in the Bundle is one of them.
//!
//! Status mapping (Curbside lifecycle → `ServiceRequest.status`,
//! `Task.status`): requested → active, requested; accepted → active,
//! accepted; declined → revoked, rejected; cancelled → revoked, cancelled;
//! completed → completed, completed. `ServiceRequest.status` has no code
//! for "declined by the performer" (`revoked`: ended before completion);
//! the Task tells declined and cancelled apart.

use curbside_protocol::referral::Status;
use serde_json::{json, Value};

use super::{err, FhirError, Patient};

/// The NPI identifier system.
pub const NPI_SYSTEM: &str = "http://hl7.org/fhir/sid/us-npi";
/// The identifier system of Curbside user ids.
pub const USER_SYSTEM: &str = "urn:curbside:user";
/// The identifier system of Curbside referral ids.
pub const REFERRAL_SYSTEM: &str = "urn:curbside:referral";

/// A clinician in the Bundle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Practitioner<'a> {
    /// The Curbside user id.
    pub user_id: &'a str,
    /// The NPI, if known (a verified clinician has one).
    pub npi: Option<&'a str>,
    /// The name as the directory shows it.
    pub name: Option<&'a str>,
}

/// What the Bundle says besides the patient.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The referral id.
    pub referral_id: &'a str,
    /// Where the referral is (the server's envelope says).
    pub status: Status,
    /// routine, urgent or stat.
    pub priority: &'a str,
    /// Target specialty.
    pub specialty: &'a str,
    /// The referring clinician.
    pub requester: Practitioner<'a>,
    /// The receiving clinician.
    pub performer: Practitioner<'a>,
    /// Reason and history, in words.
    pub note: Option<&'a str>,
    /// Why it was declined or cancelled, if it was.
    pub status_reason: Option<&'a str>,
    /// When it was written (a FHIR dateTime).
    pub authored_on: &'a str,
    /// When its status last changed (a FHIR dateTime), if known.
    pub last_modified: Option<&'a str>,
}

/// `ServiceRequest.status` for a Curbside status.
#[must_use]
pub fn service_request_status(status: Status) -> &'static str {
    match status {
        Status::Requested | Status::Accepted => "active",
        Status::Declined | Status::Cancelled => "revoked",
        Status::Completed => "completed",
    }
}

/// `Task.status` for a Curbside status.
#[must_use]
pub fn task_status(status: Status) -> &'static str {
    match status {
        Status::Requested => "requested",
        Status::Accepted => "accepted",
        Status::Declined => "rejected",
        Status::Cancelled => "cancelled",
        Status::Completed => "completed",
    }
}

/// The `urn:uuid:` of an entry: SHA-256 of a versioned label, the referral
/// id and the role, as a UUID of version 8 (RFC 9562, custom).
#[must_use]
pub fn full_url(referral_id: &str, role: &str) -> String {
    let mut input = b"curbside fhir fullUrl v1\0".to_vec();
    input.extend_from_slice(referral_id.as_bytes());
    input.push(0);
    input.extend_from_slice(role.as_bytes());
    let mut b = curbside_crypto::primitives::hash::sha256(&input);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().take(16).map(|x| format!("{x:02x}")).collect();
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn identifier(system: &str, value: &str) -> Value {
    json!({"system": system, "value": value})
}

fn practitioner(p: &Practitioner<'_>) -> Value {
    let mut ids = Vec::new();
    if let Some(npi) = p.npi.filter(|n| !n.is_empty()) {
        ids.push(identifier(NPI_SYSTEM, npi));
    }
    ids.push(identifier(USER_SYSTEM, p.user_id));
    let mut r = json!({"resourceType": "Practitioner", "identifier": ids});
    if let (Some(name), Some(obj)) = (p.name.filter(|n| !n.trim().is_empty()), r.as_object_mut()) {
        obj.insert("name".into(), json!([{"text": name}]));
    }
    r
}

fn reference(url: &str, display: Option<&str>) -> Value {
    match display.filter(|d| !d.trim().is_empty()) {
        Some(d) => json!({"reference": url, "display": d}),
        None => json!({"reference": url}),
    }
}

/// The entries, each `(fullUrl, resource, request)` where request is what
/// a transaction asks of the server.
fn entries(patient: &Patient, req: &Request<'_>) -> Vec<(String, Value, Value)> {
    let id = req.referral_id;
    let [sr_url, patient_url, requester_url, performer_url, task_url] =
        ["service-request", "patient", "requester", "performer", "task"].map(|r| full_url(id, r));
    let referral_id = identifier(REFERRAL_SYSTEM, id);
    let patient_name = patient.display_name();
    let subject = reference(&patient_url, Some(&patient_name));
    let requester = reference(&requester_url, req.requester.name);
    let performer = reference(&performer_url, req.performer.name);
    let mut sr = json!({
        "resourceType": "ServiceRequest",
        "identifier": [referral_id],
        "status": service_request_status(req.status),
        "intent": "order",
        "category": [{
            "coding": [{"system": "http://snomed.info/sct", "code": "3457005", "display": "Patient referral"}],
            "text": "Referral"
        }],
        "priority": req.priority,
        "code": {"text": format!("Referral to {}", req.specialty)},
        "subject": subject,
        "authoredOn": req.authored_on,
        "requester": requester,
        "performer": [performer],
        "performerType": {"text": req.specialty},
    });
    let mut task = json!({
        "resourceType": "Task",
        "identifier": [referral_id],
        "status": task_status(req.status),
        "intent": "order",
        "priority": req.priority,
        "code": {"text": "Fulfill the referral"},
        "focus": {"reference": sr_url},
        "basedOn": [{"reference": sr_url}],
        "for": subject,
        "authoredOn": req.authored_on,
        "requester": requester,
        "owner": performer,
    });
    if let (Some(n), Some(obj)) = (req.note, sr.as_object_mut()) {
        obj.insert("note".into(), json!([{"text": n}]));
    }
    if let Some(obj) = task.as_object_mut() {
        if let Some(at) = req.last_modified {
            obj.insert("lastModified".into(), json!(at));
        }
        if let Some(why) = req.status_reason {
            obj.insert("statusReason".into(), json!({"text": why}));
        }
    }
    let mut patient_resource = Value::Object(patient.0.clone());
    let mut patient_request = json!({"method": "POST", "url": "Patient"});
    if let Some(q) = patient.search_identifier() {
        patient_request["ifNoneExist"] = json!(format!("identifier={q}"));
    }
    // The patient's own id names it in the sender's system, not the receiver's.
    if let Some(obj) = patient_resource.as_object_mut() {
        obj.remove("id");
    }
    let practitioner_request = |p: &Practitioner<'_>| match p.npi.filter(|n| !n.is_empty()) {
        Some(npi) => {
            json!({"method": "POST", "url": "Practitioner", "ifNoneExist": format!("identifier={NPI_SYSTEM}|{npi}")})
        }
        None => {
            json!({"method": "POST", "url": "Practitioner", "ifNoneExist": format!("identifier={USER_SYSTEM}|{}", p.user_id)})
        }
    };
    let by_referral =
        |kind: &str| json!({"method": "PUT", "url": format!("{kind}?identifier={REFERRAL_SYSTEM}|{id}")});
    vec![
        (sr_url, sr, by_referral("ServiceRequest")),
        (patient_url, patient_resource, patient_request),
        (
            requester_url,
            practitioner(&req.requester),
            practitioner_request(&req.requester),
        ),
        (
            performer_url,
            practitioner(&req.performer),
            practitioner_request(&req.performer),
        ),
        (task_url, task, by_referral("Task")),
    ]
}

/// The referral's content as sent: a Bundle of type `collection`.
#[must_use]
pub fn referral_bundle(patient: &Patient, req: &Request<'_>) -> Value {
    let entry: Vec<Value> = entries(patient, req)
        .into_iter()
        .map(|(url, resource, _)| json!({"fullUrl": url, "resource": resource}))
        .collect();
    json!({"resourceType": "Bundle", "type": "collection", "entry": entry})
}

/// The referral for an EHR: a Bundle of type `transaction`, with `timestamp`.
#[must_use]
pub fn ehr_bundle(patient: &Patient, req: &Request<'_>, timestamp: &str) -> Value {
    let entry: Vec<Value> = entries(patient, req)
        .into_iter()
        .map(|(url, resource, request)| json!({"fullUrl": url, "resource": resource, "request": request}))
        .collect();
    json!({"resourceType": "Bundle", "type": "transaction", "timestamp": timestamp, "entry": entry})
}

/// What a stored referral Bundle holds (of this format or of the earlier
/// one, whose references did not resolve and which named clinicians by
/// user id only).
#[derive(Clone, Debug, PartialEq)]
pub struct Received {
    /// The patient.
    pub patient: Patient,
    /// The ServiceRequest's note.
    pub note: Option<String>,
    /// The ServiceRequest's `authoredOn`.
    pub authored_on: Option<String>,
    /// The Practitioners it names: (user id, NPI, name).
    pub practitioners: Vec<(String, Option<String>, Option<String>)>,
}

impl Received {
    /// Reads a referral Bundle (JSON).
    pub fn parse(bundle: &str) -> Result<Self, FhirError> {
        let value: Value =
            serde_json::from_str(bundle).map_err(|e| err("Bundle", format!("not JSON: {e}")))?;
        if value["resourceType"] != "Bundle" {
            return Err(err("Bundle.resourceType", "must be \"Bundle\""));
        }
        let entries = value["entry"]
            .as_array()
            .ok_or_else(|| err("Bundle.entry", "missing"))?;
        let of_type = |t: &'static str| {
            entries
                .iter()
                .filter_map(|e| e["resource"].as_object())
                .filter(move |r| r.get("resourceType").and_then(Value::as_str) == Some(t))
        };
        let patient = of_type("Patient")
            .next()
            .ok_or_else(|| err("Bundle.entry", "no Patient"))?;
        let patient = Patient::parse(&serde_json::to_vec(patient).unwrap_or_default())?;
        let request = of_type("ServiceRequest")
            .next()
            .map(|r| Value::Object(r.clone()))
            .unwrap_or_default();
        let text = |v: &Value| v.as_str().map(str::to_owned);
        let practitioners = of_type("Practitioner")
            .filter_map(|p| {
                let ids = p.get("identifier")?.as_array()?;
                let value_of = |system: &str| {
                    ids.iter()
                        .find(|i| i["system"] == system)
                        .and_then(|i| i["value"].as_str())
                        .map(str::to_owned)
                };
                let name = p
                    .get("name")
                    .and_then(|n| n[0]["text"].as_str())
                    .map(str::to_owned);
                Some((value_of(USER_SYSTEM)?, value_of(NPI_SYSTEM), name))
            })
            .collect();
        Ok(Self {
            patient,
            note: text(&request["note"][0]["text"]),
            authored_on: text(&request["authoredOn"]),
            practitioners,
        })
    }

    /// The NPI and name the Bundle gives the clinician `user_id`.
    #[must_use]
    pub fn practitioner(&self, user_id: &str) -> Option<(Option<&str>, Option<&str>)> {
        self.practitioners
            .iter()
            .find(|(id, _, _)| id == user_id)
            .map(|(_, npi, name)| (npi.as_deref(), name.as_deref()))
    }
}
