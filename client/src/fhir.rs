//! The FHIR R4 resources a referral carries: the `Patient` (validated as
//! typed checks; the subset Curbside uses, other elements of a Patient file
//! are kept verbatim), and in [`bundle`] the `ServiceRequest`, the
//! `Practitioner`s, the `Task` and the `Bundle` around them (a `collection`
//! sent inside the encryption, a `transaction` exported for an EHR).
//! Validation names the field at fault. All of this travels only inside the
//! encryption.

mod bundle;

pub use bundle::{
    ehr_bundle, full_url, referral_bundle, service_request_status, task_status, Practitioner, Received,
    Request, NPI_SYSTEM, REFERRAL_SYSTEM, USER_SYSTEM,
};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Why a FHIR document was refused; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct FhirError {
    /// The path of the field, e.g. `Patient.birthDate`.
    pub field: String,
    /// What is wrong with it.
    pub problem: String,
}

fn err(field: &str, problem: impl Into<String>) -> FhirError {
    FhirError {
        field: field.to_owned(),
        problem: problem.into(),
    }
}

/// A FHIR R4 Patient, validated: `resourceType` is `Patient`, at least one
/// `name`, each a HumanName with a `text`, a `family` or a `given`, `gender` (if any) one of FHIR's codes,
/// `birthDate` (if any) a FHIR date. Other elements are kept as they are.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Patient(pub Map<String, Value>);

impl Patient {
    /// Parses and validates a Patient resource (JSON).
    pub fn parse(json: &[u8]) -> Result<Self, FhirError> {
        let value: Value =
            serde_json::from_slice(json).map_err(|e| err("Patient", format!("not JSON: {e}")))?;
        let Value::Object(map) = value else {
            return Err(err("Patient", "must be a JSON object"));
        };
        match map.get("resourceType") {
            Some(Value::String(t)) if t == "Patient" => {}
            Some(other) => {
                return Err(err(
                    "Patient.resourceType",
                    format!("must be \"Patient\", not {other}"),
                ))
            }
            None => return Err(err("Patient.resourceType", "missing")),
        }
        let names = match map.get("name") {
            Some(Value::Array(names)) if !names.is_empty() => names,
            Some(_) => return Err(err("Patient.name", "must be a non-empty array of HumanName")),
            None => {
                return Err(err(
                    "Patient.name",
                    "missing: a referral needs the patient's name",
                ))
            }
        };
        for (i, name) in names.iter().enumerate() {
            let field = format!("Patient.name[{i}]");
            let Value::Object(n) = name else {
                return Err(err(&field, "must be a HumanName object"));
            };
            let text = match n.get("text") {
                None => false,
                Some(Value::String(t)) => !t.trim().is_empty(),
                Some(_) => return Err(err(&format!("{field}.text"), "must be a string")),
            };
            let family = match n.get("family") {
                None => false,
                Some(Value::String(f)) => !f.trim().is_empty(),
                Some(_) => return Err(err(&format!("{field}.family"), "must be a string")),
            };
            let given = match n.get("given") {
                None => false,
                Some(Value::Array(g)) if g.iter().all(Value::is_string) => {
                    g.iter().filter_map(Value::as_str).any(|g| !g.trim().is_empty())
                }
                Some(_) => return Err(err(&format!("{field}.given"), "must be an array of strings")),
            };
            if !text && !family && !given {
                return Err(err(&field, "needs text, family or given"));
            }
        }
        if let Some(g) = map.get("gender") {
            match g.as_str() {
                Some("male" | "female" | "other" | "unknown") => {}
                _ => return Err(err("Patient.gender", "must be male, female, other or unknown")),
            }
        }
        if let Some(d) = map.get("birthDate") {
            let ok = d.as_str().is_some_and(is_fhir_date);
            if !ok {
                return Err(err(
                    "Patient.birthDate",
                    "must be a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD)",
                ));
            }
        }
        if let Some(id) = map.get("id") {
            let ok = id.as_str().is_some_and(|s| {
                (1..=64).contains(&s.len())
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            });
            if !ok {
                return Err(err("Patient.id", "must be 1 to 64 of A-Z a-z 0-9 - ."));
            }
        }
        Ok(Self(map))
    }

    /// The patient's id in the file, or `patient` if it has none.
    #[must_use]
    pub fn id(&self) -> String {
        self.0
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("patient")
            .to_owned()
    }

    /// The first name: its `text` if it has one, else "Given Family".
    #[must_use]
    pub fn display_name(&self) -> String {
        let Some(Value::Object(n)) = self.0.get("name").and_then(|n| n.get(0)) else {
            return String::new();
        };
        if let Some(text) = n
            .get("text")
            .and_then(Value::as_str)
            .filter(|t| !t.trim().is_empty())
        {
            return text.trim().to_owned();
        }
        let mut parts: Vec<&str> = n
            .get("given")
            .and_then(Value::as_array)
            .map(|g| g.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(f) = n.get("family").and_then(Value::as_str) {
            parts.push(f);
        }
        parts.retain(|p| !p.trim().is_empty());
        parts.join(" ")
    }

    /// `system|value` of the first identifier that has both, escaped as a
    /// FHIR search parameter (for an EHR to find the patient it may know).
    #[must_use]
    pub fn search_identifier(&self) -> Option<String> {
        let escape = |s: &str| {
            s.chars()
                .flat_map(|c| match c {
                    '\\' | '|' | ',' | '$' => vec!['\\', c],
                    c => vec![c],
                })
                .collect::<String>()
        };
        self.0.get("identifier")?.as_array()?.iter().find_map(|i| {
            let system = i.get("system")?.as_str()?;
            let value = i.get("value")?.as_str()?;
            Some(format!("{}|{}", escape(system), escape(value)))
        })
    }
}

fn is_fhir_date(s: &str) -> bool {
    let digits = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_digit());
    let parts: Vec<&str> = s.split('-').collect();
    match parts.as_slice() {
        [y] => digits(y, 4),
        [y, m] => digits(y, 4) && digits(m, 2) && (1..=12).contains(&m.parse::<u8>().unwrap_or(0)),
        [y, m, d] => {
            digits(y, 4)
                && digits(m, 2)
                && digits(d, 2)
                && (1..=12).contains(&m.parse::<u8>().unwrap_or(0))
                && (1..=31).contains(&d.parse::<u8>().unwrap_or(0))
        }
        _ => false,
    }
}

/// The patient's display name in a referral Bundle (JSON), or `?`.
#[must_use]
pub fn patient_name(bundle: &str) -> String {
    Received::parse(bundle).map_or_else(|_| "?".into(), |r| r.patient.display_name())
}

#[cfg(test)]
mod tests {
    use curbside_protocol::referral::Status;

    use super::*;

    #[test]
    fn a_valid_patient_is_kept_and_bad_ones_name_the_field() {
        let ok = br#"{"resourceType":"Patient","id":"p1","name":[{"family":"Roe","given":["Jane"]}],
                      "gender":"female","birthDate":"1961-04-02","identifier":[{"system":"urn:mrn","value":"451|234"}]}"#;
        let p = Patient::parse(ok).unwrap();
        assert_eq!(p.display_name(), "Jane Roe");
        assert!(p.0.contains_key("identifier"));
        assert_eq!(p.search_identifier().as_deref(), Some(r"urn:mrn|451\|234"));
        // A name given as text only is a valid HumanName, and its text is shown.
        let text = Patient::parse(br#"{"resourceType":"Patient","name":[{"text":"Jane Q. Roe"}]}"#).unwrap();
        assert_eq!(text.display_name(), "Jane Q. Roe");
        let both = br#"{"resourceType":"Patient","name":[{"text":"Dr Jane Roe","family":"Roe"}]}"#;
        assert_eq!(Patient::parse(both).unwrap().display_name(), "Dr Jane Roe");
        let cases: &[(&[u8], &str)] = &[
            (b"not json", "Patient"),
            (
                br#"{"resourceType":"Practitioner","name":[{"family":"X"}]}"#,
                "Patient.resourceType",
            ),
            (br#"{"resourceType":"Patient"}"#, "Patient.name"),
            (
                br#"{"resourceType":"Patient","name":[{"use":"official"}]}"#,
                "Patient.name[0]",
            ),
            (
                br#"{"resourceType":"Patient","name":[{"text":"  "}]}"#,
                "Patient.name[0]",
            ),
            (
                br#"{"resourceType":"Patient","name":[{"text":["Jane"]}]}"#,
                "Patient.name[0].text",
            ),
            (
                br#"{"resourceType":"Patient","name":[{"family":["Roe"]}]}"#,
                "Patient.name[0].family",
            ),
            (
                br#"{"resourceType":"Patient","name":[{"given":"Jane"}]}"#,
                "Patient.name[0].given",
            ),
            (
                br#"{"resourceType":"Patient","name":[{"family":"R"}],"gender":"f"}"#,
                "Patient.gender",
            ),
            (
                br#"{"resourceType":"Patient","name":[{"family":"R"}],"birthDate":"04/02/1961"}"#,
                "Patient.birthDate",
            ),
            (
                br#"{"resourceType":"Patient","name":[{"family":"R"}],"birthDate":"1961-13-02"}"#,
                "Patient.birthDate",
            ),
        ];
        for (json, field) in cases {
            assert_eq!(
                Patient::parse(json).unwrap_err().field,
                *field,
                "{}",
                String::from_utf8_lossy(json)
            );
        }
    }

    fn request(status: Status) -> Request<'static> {
        Request {
            referral_id: "r1",
            status,
            priority: "urgent",
            specialty: "Dermatology",
            requester: Practitioner {
                user_id: "u_a",
                npi: Some("1234567893"),
                name: Some("Dr. A"),
            },
            performer: Practitioner {
                user_id: "u_b",
                npi: Some("1245319599"),
                name: Some("Dr. B"),
            },
            note: Some("itchy"),
            status_reason: None,
            authored_on: "2026-11-23T10:00:00.000Z",
            last_modified: None,
        }
    }

    #[test]
    fn the_bundle_names_clinicians_by_npi_and_its_references_resolve() {
        let p = Patient::parse(br#"{"resourceType":"Patient","id":"p1","name":[{"family":"Roe"}]}"#).unwrap();
        let bundle = referral_bundle(&p, &request(Status::Requested));
        assert_eq!(bundle["type"], "collection");
        let entries = bundle["entry"].as_array().unwrap();
        let urls: Vec<&str> = entries.iter().map(|e| e["fullUrl"].as_str().unwrap()).collect();
        assert!(
            urls.iter().all(|u| u.len() == 45 && u.starts_with("urn:uuid:")),
            "{urls:?}"
        );
        let sr = &entries[0]["resource"];
        assert_eq!(sr["resourceType"], "ServiceRequest");
        assert_eq!(sr["status"], "active");
        for (reference, kind) in [
            (&sr["subject"]["reference"], "Patient"),
            (&sr["requester"]["reference"], "Practitioner"),
            (&sr["performer"][0]["reference"], "Practitioner"),
        ] {
            let at = urls.iter().position(|u| reference == *u).unwrap();
            assert_eq!(entries[at]["resource"]["resourceType"], kind);
        }
        let performer = urls
            .iter()
            .position(|u| sr["performer"][0]["reference"] == *u)
            .unwrap();
        assert_eq!(
            entries[performer]["resource"]["identifier"][0]["system"],
            NPI_SYSTEM
        );
        assert_eq!(
            entries[performer]["resource"]["identifier"][0]["value"],
            "1245319599"
        );
        assert!(entries.iter().all(|e| e.get("request").is_none()));
        // Read back: the patient, the note and both clinicians.
        let read = Received::parse(&bundle.to_string()).unwrap();
        assert_eq!(read.patient.display_name(), "Roe");
        assert_eq!(read.note.as_deref(), Some("itchy"));
        assert_eq!(
            read.practitioner("u_b"),
            Some((Some("1245319599"), Some("Dr. B")))
        );
        assert_eq!(patient_name(&bundle.to_string()), "Roe");
    }

    #[test]
    fn the_lifecycle_maps_to_fhir_statuses_and_the_export_is_a_transaction() {
        let p = Patient::parse(br#"{"resourceType":"Patient","name":[{"text":"Jane Roe"}]}"#).unwrap();
        for (status, sr, task) in [
            (Status::Requested, "active", "requested"),
            (Status::Accepted, "active", "accepted"),
            (Status::Declined, "revoked", "rejected"),
            (Status::Cancelled, "revoked", "cancelled"),
            (Status::Completed, "completed", "completed"),
        ] {
            let b = ehr_bundle(&p, &request(status), "2026-11-24T09:00:00.000Z");
            assert_eq!(b["type"], "transaction");
            assert_eq!(b["entry"][0]["resource"]["status"], sr, "{status:?}");
            assert_eq!(b["entry"][4]["resource"]["status"], task, "{status:?}");
            assert!(b["entry"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["request"]["method"].is_string()));
        }
        // Same referral, same fullUrls; another referral, others.
        assert_eq!(full_url("r1", "patient"), full_url("r1", "patient"));
        assert_ne!(full_url("r1", "patient"), full_url("r2", "patient"));
        assert_eq!(&full_url("r1", "patient")[23..24], "8");
    }
}
