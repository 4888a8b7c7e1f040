//! The FHIR R4 resources a referral carries, as typed serde structs (the
//! subset Curbside uses; unknown elements in a Patient file are kept
//! verbatim): a `Patient`, a `ServiceRequest` that refers to it, and the
//! `Bundle` (type `collection`) exported for an EHR. Validation names the
//! field at fault. All of this travels only inside the encryption.

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
/// `name` with a `family` or `given`, `gender` (if any) one of FHIR's codes,
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
            let family = n
                .get("family")
                .and_then(Value::as_str)
                .is_some_and(|f| !f.trim().is_empty());
            let given = match n.get("given") {
                None => false,
                Some(Value::Array(g)) if g.iter().all(Value::is_string) => !g.is_empty(),
                Some(_) => return Err(err(&format!("{field}.given"), "must be an array of strings")),
            };
            if !family && !given {
                return Err(err(&field, "needs family or given"));
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

    /// The patient's id, or `patient` if the file has none.
    #[must_use]
    pub fn id(&self) -> String {
        self.0
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("patient")
            .to_owned()
    }

    /// "Given Family" from the first name.
    #[must_use]
    pub fn display_name(&self) -> String {
        let Some(Value::Object(n)) = self.0.get("name").and_then(|n| n.get(0)) else {
            return String::new();
        };
        let mut parts: Vec<&str> = n
            .get("given")
            .and_then(Value::as_array)
            .map(|g| g.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(f) = n.get("family").and_then(Value::as_str) {
            parts.push(f);
        }
        parts.join(" ")
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

/// What the ServiceRequest of a referral says besides the patient.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The referral id (also the ServiceRequest id).
    pub referral_id: &'a str,
    /// routine, urgent or stat.
    pub priority: &'a str,
    /// Target specialty.
    pub specialty: &'a str,
    /// The referring clinician's Curbside user id.
    pub requester: &'a str,
    /// The receiving clinician's Curbside user id.
    pub performer: &'a str,
    /// Reason and history, in words.
    pub note: Option<&'a str>,
    /// The date it was written (YYYY-MM-DD).
    pub authored_on: &'a str,
}

/// The referral's FHIR content: a Bundle (type `collection`) holding the
/// ServiceRequest and the Patient it is about.
#[must_use]
pub fn referral_bundle(patient: &Patient, req: &Request<'_>) -> Value {
    let Request {
        referral_id,
        priority,
        specialty,
        requester,
        performer,
        note,
        authored_on,
    } = *req;
    let patient_id = patient.id();
    let mut request = serde_json::json!({
        "resourceType": "ServiceRequest",
        "id": referral_id,
        "status": "active",
        "intent": "order",
        "priority": priority,
        "category": [{"text": "Referral"}],
        "code": {"text": format!("Referral to {specialty}")},
        "subject": {"reference": format!("Patient/{patient_id}")},
        "authoredOn": authored_on,
        "requester": {"identifier": {"system": "urn:curbside:user", "value": requester}},
        "performer": [{"identifier": {"system": "urn:curbside:user", "value": performer}}],
    });
    if let (Some(n), Some(obj)) = (note, request.as_object_mut()) {
        obj.insert("note".into(), serde_json::json!([{"text": n}]));
    }
    serde_json::json!({
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": format!("urn:curbside:referral:{referral_id}"), "resource": request},
            {"fullUrl": format!("urn:curbside:patient:{patient_id}"), "resource": Value::Object(patient.0.clone())},
        ]
    })
}

/// The patient's display name in a referral Bundle (JSON), or `?`.
#[must_use]
pub fn patient_name(bundle: &str) -> String {
    let Ok(value) = serde_json::from_str::<Value>(bundle) else {
        return "?".into();
    };
    value["entry"]
        .as_array()
        .and_then(|entries| {
            entries
                .iter()
                .find(|e| e["resource"]["resourceType"] == "Patient")
                .and_then(|e| serde_json::to_vec(&e["resource"]).ok())
        })
        .and_then(|p| Patient::parse(&p).ok())
        .map_or_else(|| "?".into(), |p| p.display_name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_patient_is_kept_and_bad_ones_name_the_field() {
        let ok = br#"{"resourceType":"Patient","id":"p1","name":[{"family":"Roe","given":["Jane"]}],
                      "gender":"female","birthDate":"1961-04-02","identifier":[{"system":"urn:mrn","value":"451234"}]}"#;
        let p = Patient::parse(ok).unwrap();
        assert_eq!(p.display_name(), "Jane Roe");
        assert!(p.0.contains_key("identifier"));
        let cases: &[(&[u8], &str)] = &[
            (b"not json", "Patient"),
            (
                br#"{"resourceType":"Practitioner","name":[{"family":"X"}]}"#,
                "Patient.resourceType",
            ),
            (br#"{"resourceType":"Patient"}"#, "Patient.name"),
            (
                br#"{"resourceType":"Patient","name":[{"text":"x"}]}"#,
                "Patient.name[0]",
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
            assert_eq!(Patient::parse(json).unwrap_err().field, *field);
        }
        let req = Request {
            referral_id: "r1",
            priority: "urgent",
            specialty: "Dermatology",
            requester: "u_a",
            performer: "u_b",
            note: Some("itchy"),
            authored_on: "2026-11-23",
        };
        let bundle = referral_bundle(&p, &req);
        assert_eq!(
            bundle["entry"][0]["resource"]["subject"]["reference"],
            "Patient/p1"
        );
        assert_eq!(bundle["entry"][1]["resource"]["name"][0]["family"], "Roe");
    }
}
