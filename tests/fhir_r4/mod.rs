//! FHIR R4 validation for tests: the official FHIR R4 JSON schema
//! (`tests/data/fhir-r4/fhir.schema.json.gz`, see the README beside it),
//! checked by the `jsonschema` crate. The schema knows every resource's
//! elements (`additionalProperties: false`), their types, required elements
//! and the codes of most required bindings (`Task.status`, `Bundle.type`,
//! `Patient.gender`, …). HL7's schema generator leaves out the codes of the
//! required bindings to value sets shared by all requests (RequestStatus,
//! RequestIntent, RequestPriority): `ServiceRequest.status`, `.intent` and
//! `.priority` are plain `code`s there, so [`SHARED_REQUIRED_CODES`] adds
//! those three value sets as the R4 specification lists them.
//! Shared by `tests/refer_cli.rs` and `client/tests/fhir_r4.rs` through
//! `#[path]`.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read as _;
use std::path::Path;
use std::sync::OnceLock;

use serde_json::{json, Value};

/// The required bindings of `ServiceRequest` the schema does not enumerate:
/// (element, the codes of its R4 value set).
pub(crate) const SHARED_REQUIRED_CODES: &[(&str, &[&str])] = &[
    // http://hl7.org/fhir/ValueSet/request-status (R4)
    (
        "status",
        &[
            "draft",
            "active",
            "on-hold",
            "revoked",
            "completed",
            "entered-in-error",
            "unknown",
        ],
    ),
    // http://hl7.org/fhir/ValueSet/request-intent (R4)
    (
        "intent",
        &[
            "proposal",
            "plan",
            "directive",
            "order",
            "original-order",
            "reflex-order",
            "filler-order",
            "instance-order",
            "option",
        ],
    ),
    // http://hl7.org/fhir/ValueSet/request-priority (R4)
    ("priority", &["routine", "urgent", "asap", "stat"]),
];

/// The compiled schema: the whole one (any resource, by `resourceType`)
/// and, for readable errors, one per resource type of ours.
pub(crate) struct FhirR4 {
    any: jsonschema::Validator,
    schema: Value,
}

/// The schema, decompressed and compiled once per test binary.
pub(crate) fn r4() -> &'static FhirR4 {
    static R4: OnceLock<FhirR4> = OnceLock::new();
    R4.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let path = ["tests/data", "../tests/data"]
            .iter()
            .map(|d| root.join(d).join("fhir-r4/fhir.schema.json.gz"))
            .find(|p| p.exists())
            .expect("tests/data/fhir-r4/fhir.schema.json.gz");
        let gz = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut text = String::new();
        flate2::read::GzDecoder::new(gz.as_slice())
            .read_to_string(&mut text)
            .unwrap();
        let schema: Value = serde_json::from_str(&text).unwrap();
        let any = jsonschema::draft6::new(&schema).unwrap();
        FhirR4 { any, schema }
    })
}

impl FhirR4 {
    /// Every schema violation of `resource` (any resource, a Bundle
    /// included), empty if it is valid R4. Besides the verdict of the whole
    /// schema, each resource of a Bundle is checked against its own type's
    /// definition, so the errors say which element is wrong.
    pub(crate) fn errors(&self, resource: &Value) -> Vec<String> {
        let mut resources = vec![(String::new(), resource)];
        if let Some(entries) = resource["entry"].as_array() {
            for (i, entry) in entries.iter().enumerate() {
                resources.push((format!("/entry/{i}/resource"), &entry["resource"]));
            }
        }
        let mut errors: Vec<String> = self
            .any
            .iter_errors(resource)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        for (at, r) in &resources {
            if r["resourceType"] != "ServiceRequest" {
                continue;
            }
            for (element, codes) in SHARED_REQUIRED_CODES {
                if let Some(v) = r.get(*element) {
                    if !v.as_str().is_some_and(|c| codes.contains(&c)) {
                        errors.push(format!(
                            "{at}/{element} (ServiceRequest): {v} is not in {codes:?}"
                        ));
                    }
                }
            }
        }
        if errors.is_empty() {
            return errors;
        }
        for (at, r) in resources {
            let Some(kind) = r["resourceType"].as_str() else {
                errors.push(format!("{at}: no resourceType"));
                continue;
            };
            if self.schema["definitions"].get(kind).is_none() {
                errors.push(format!("{at}: {kind} is not an R4 resource type"));
                continue;
            }
            let mut one = self.schema.clone();
            if let Some(obj) = one.as_object_mut() {
                obj.remove("oneOf");
                obj.insert("$ref".into(), json!(format!("#/definitions/{kind}")));
            }
            let v = jsonschema::draft6::new(&one).unwrap();
            errors.extend(
                v.iter_errors(r)
                    .map(|e| format!("{at}{} ({kind}): {e}", e.instance_path())),
            );
        }
        errors
    }

    /// Panics with every violation unless `resource` is valid R4.
    pub(crate) fn assert_valid(&self, resource: &Value) {
        let errors = self.errors(resource);
        assert!(
            errors.is_empty(),
            "not valid FHIR R4:\n{}\n{}",
            errors.join("\n"),
            serde_json::to_string_pretty(resource).unwrap()
        );
    }
}

/// The Bundle's references (`reference` anywhere in it) that name no
/// entry's `fullUrl`: empty when every reference resolves inside it.
pub(crate) fn unresolved_references(bundle: &Value) -> Vec<String> {
    let full_urls: Vec<&str> = bundle["entry"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["fullUrl"].as_str()).collect())
        .unwrap_or_default();
    let mut found = Vec::new();
    collect_references(bundle, &mut found);
    found
        .into_iter()
        .filter(|r| !full_urls.contains(&r.as_str()))
        .collect()
}

fn collect_references(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("reference", Value::String(r)) => out.push(r.clone()),
                    _ => collect_references(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_references(i, out)),
        _ => {}
    }
}
