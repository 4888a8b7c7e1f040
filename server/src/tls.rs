//! TLS: rustls with the `ring` provider, TLS 1.2 and 1.3 only.
//!
//! Without a configured certificate, the server generates a self-signed
//! certificate for `server_name` (and localhost, 127.0.0.1, ::1) on first
//! start and keeps it in `data_dir/tls/`, so clients can pin it. It is
//! valid for [`DEFAULT_VALIDITY_DAYS`] (about a year) and renewed at start
//! once it expires within [`RENEW_WITHIN_DAYS`], **with the same key and
//! name**: a Curbside client trusts the pinned certificate as its own
//! authority (its name and key), so it accepts the renewed certificate
//! without a new pin (README.md, "TLS certificate"). Both files are
//! written durably (temporary name, fsync, rename, directory fsync:
//! `durable`); what start-up does with a damaged one is described at
//! [`ensure_certificate`]. A configured certificate is never replaced: one
//! that expires soon, or has expired, is warned about.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use zeroize::Zeroizing;

use crate::durable::{FileError, FileProblem};
use crate::error::ServerError;

/// How long the default self-signed certificate is valid: 397 days, the
/// most that browsers accept of a publicly trusted certificate.
pub const DEFAULT_VALIDITY_DAYS: u64 = 397;

/// At start, the default certificate is renewed once it expires within
/// this many days (or has expired), and a configured one is warned about.
pub const RENEW_WITHIN_DAYS: u64 = 30;

/// The subject (and, self-signed, the issuer) of the default certificate.
/// It never changes: a renewed certificate must name the same issuer as
/// the one clients pinned.
const DEFAULT_SUBJECT: &str = "Curbside server (self-signed)";

const DAY: Duration = Duration::from_secs(24 * 3600);

/// Paths of the certificate and key in use.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
    /// What the operator must be told, found at start: the default
    /// certificate was damaged and replaced (clients' pins must be
    /// renewed), or renewed because it was close to expiry, or a configured
    /// certificate expires soon. Each is also logged as a warning.
    pub warnings: Vec<String>,
}

/// What to do about a configured certificate or key that cannot be used.
const CONFIGURED_REMEDY: &str = "This is a configured certificate (--tls-cert/--tls-key), so the server \
     will not replace it: restore the file from its source or your backup and start again";

/// What to do about a default certificate or key that cannot be read.
const UNREADABLE_REMEDY: &str = "Give the user the server runs as permission to read it, \
     or restore it from backup, and start again";

/// Returns the configured certificate, or generates (once) a self-signed one in `data_dir/tls`.
///
/// Every file is checked before use. A configured certificate or key that is
/// empty or damaged stops the start with a [`FileError`] naming it: the
/// server never replaces what an operator configured; one that expires
/// within [`RENEW_WITHIN_DAYS`] (or has expired) is warned about. The
/// default self-signed pair is the server's own:
/// - found empty or damaged (a power loss during its first write, before
///   writes were made durable), it is generated again, with a warning
///   (logged, and returned in [`TlsFiles::warnings`]) that clients pinning
///   the old certificate must be given the new one;
/// - found expiring within [`RENEW_WITHIN_DAYS`] (or expired), the
///   certificate is renewed for [`DEFAULT_VALIDITY_DAYS`] with the same key
///   and name, with a warning: Curbside clients that pinned the old one
///   keep connecting, other clients pinning the certificate's hash need the
///   new one;
/// - a file that exists but cannot be read at all (permissions) stops the
///   start instead: that is an operator's mistake to fix, not damage, and
///   replacing it would break every pin for nothing.
pub fn ensure_certificate(
    data_dir: &Path,
    server_name: &str,
    cert: Option<&Path>,
    key: Option<&Path>,
) -> Result<TlsFiles, ServerError> {
    let now = SystemTime::now();
    if let (Some(cert), Some(key)) = (cert, key) {
        let mut files = TlsFiles {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            warnings: Vec::new(),
        };
        load(&files).map_err(|(path, problem)| FileError::new(&path, problem, CONFIGURED_REMEDY))?;
        if let Some(warning) = configured_expiry_warning(&files.cert, now) {
            tracing::warn!(file = %files.cert.display(), "{warning}");
            files.warnings.push(warning);
        }
        return Ok(files);
    }
    let dir = data_dir.join("tls");
    let mut files = TlsFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
        warnings: Vec::new(),
    };
    let first_start = !files.cert.exists() && !files.key.exists();
    let mut keep_key = None;
    if !first_start {
        match load(&files) {
            Ok(_) => match renewal_due(&files, now)? {
                None => return Ok(files),
                Some((expires, key_pem)) => {
                    keep_key = Some((expires, key_pem));
                }
            },
            Err((path, FileProblem::Unreadable(e))) => {
                return Err(FileError::new(&path, FileProblem::Unreadable(e), UNREADABLE_REMEDY).into())
            }
            Err((path, problem)) => {
                let warning = format!(
                    "{}: {problem}. The server's self-signed TLS certificate has been replaced by a \
                     new one in {}: clients that pinned the old certificate will refuse to connect \
                     until their pin is renewed with the new certificate (its SHA-256 is printed at \
                     start). Tell your users before they report it as an attack.",
                    path.display(),
                    dir.display()
                );
                tracing::warn!(file = %path.display(), "{warning}");
                files.warnings.push(warning);
            }
        }
    }
    let unwritable = |path: &Path, e: std::io::Error| {
        FileError::new(
            path,
            FileProblem::Unwritable(e),
            "Check that the data directory is writable by the server and has free space",
        )
    };
    crate::durable::create_dir_all(&dir).map_err(|e| unwritable(&dir, e))?;
    // Whatever a crash left under a temporary name is incomplete.
    crate::durable::remove_temporaries(&dir).map_err(|e| unwritable(&dir, e))?;
    let mut names = vec![server_name.to_owned()];
    for extra in ["localhost", "127.0.0.1", "::1"] {
        if !names.iter().any(|n| n == extra) {
            names.push(extra.to_owned());
        }
    }
    let until = now + DAY * u32::try_from(DEFAULT_VALIDITY_DAYS).unwrap_or(u32::MAX);
    if let Some((expired_at, key_pem)) = keep_key {
        // The key stays: only the certificate is written again.
        let (cert_pem, _) = self_signed(&names, Some(&key_pem), now - DAY, until)?;
        crate::durable::write_atomic(&files.cert, cert_pem.as_bytes())
            .map_err(|e| unwritable(&files.cert, e))?;
        let when = if expired_at <= now {
            "expired on"
        } else {
            "was to expire on"
        };
        let warning = format!(
            "{}: the server's self-signed TLS certificate {when} {} and has been renewed (valid until \
             {}), with the same key and name. Curbside clients that pinned the old certificate keep \
             connecting (they trust its key and name, and both are unchanged). Any other client \
             that pins the certificate's SHA-256 (printed at start) must be given the new one \
             before it reconnects.",
            files.cert.display(),
            date(expired_at),
            date(until),
        );
        tracing::warn!(file = %files.cert.display(), "{warning}");
        files.warnings.push(warning);
        return Ok(files);
    }
    let (cert_pem, key_pem) = self_signed(&names, None, now - DAY, until)?;
    // The key first: a crash between the two leaves a certificate that does
    // not match it (or none), which the next start detects and repairs.
    crate::durable::write_atomic(&files.key, key_pem.as_bytes()).map_err(|e| unwritable(&files.key, e))?;
    crate::durable::write_atomic(&files.cert, cert_pem.as_bytes()).map_err(|e| unwritable(&files.cert, e))?;
    if first_start {
        tracing::info!(cert = %files.cert.display(), valid_until = %date(until), "self-signed TLS certificate created");
    }
    Ok(files)
}

/// The default certificate's expiry and its key's PEM, if it expires
/// within [`RENEW_WITHIN_DAYS`] of `now` (or has expired); `None` if it is
/// good for longer, or its expiry cannot be read (then it is kept: only a
/// certificate that fails to load is replaced).
fn renewal_due(
    files: &TlsFiles,
    now: SystemTime,
) -> Result<Option<(SystemTime, Zeroizing<String>)>, ServerError> {
    let Some(expires) = read_expiry(&files.cert) else {
        tracing::warn!(file = %files.cert.display(), "the certificate's expiry date cannot be read; it is kept as it is");
        return Ok(None);
    };
    if expires > now + DAY * u32::try_from(RENEW_WITHIN_DAYS).unwrap_or(u32::MAX) {
        return Ok(None);
    }
    let key = crate::durable::read(&files.key)
        .ok()
        .flatten()
        .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok())
        .map(Zeroizing::new)
        .ok_or_else(|| {
            FileError::new(
                &files.key,
                FileProblem::Invalid("it cannot be read again to renew the certificate".into()),
                UNREADABLE_REMEDY,
            )
        })?;
    Ok(Some((expires, key)))
}

/// The warning for a configured certificate that expires within
/// [`RENEW_WITHIN_DAYS`] of `now`, or has expired.
fn configured_expiry_warning(cert: &Path, now: SystemTime) -> Option<String> {
    let expires = read_expiry(cert)?;
    if expires > now + DAY * u32::try_from(RENEW_WITHIN_DAYS).unwrap_or(u32::MAX) {
        return None;
    }
    let state = if expires <= now {
        format!("expired on {}: clients refuse to connect", date(expires))
    } else {
        let days = expires.duration_since(now).unwrap_or_default().as_secs() / DAY.as_secs();
        format!(
            "expires on {} (in {days} days): clients will refuse to connect from then on",
            date(expires)
        )
    };
    Some(format!(
        "{}: the configured TLS certificate (--tls-cert) {state}. The server never replaces a \
         configured certificate: obtain a new one from its issuer, put it (and its key) in place \
         and restart the server.",
        cert.display()
    ))
}

/// When the first certificate of the PEM file at `path` expires.
fn read_expiry(path: &Path) -> Option<SystemTime> {
    let pem = crate::durable::read(path).ok()??;
    expires_at(std::str::from_utf8(&pem).ok()?)
}

/// When the first certificate in `pem` (the server's own, in a chain)
/// expires (its `notAfter`), or `None` if there is no certificate whose
/// validity can be read.
#[must_use]
pub fn expires_at(pem: &str) -> Option<SystemTime> {
    let cert = CertificateDer::pem_slice_iter(pem.as_bytes()).next()?.ok()?;
    der::not_after(&cert)
}

/// Generates a self-signed certificate for `names` valid from `not_before`
/// to `not_after`, with the key in `key_pem` (PKCS#8 PEM) or a new one;
/// returns the certificate's and the key's PEM. The subject, and so the
/// issuer, is always the same ([`DEFAULT_SUBJECT`]) and the serial number
/// random, so a renewal is a new certificate that a pin of the earlier
/// one (same key, same name) accepts.
pub fn self_signed(
    names: &[String],
    key_pem: Option<&str>,
    not_before: SystemTime,
    not_after: SystemTime,
) -> Result<(String, Zeroizing<String>), ServerError> {
    let tls = |e: rcgen::Error| ServerError::Tls(format!("generating the self-signed certificate: {e}"));
    let key = match key_pem {
        Some(pem) => rcgen::KeyPair::from_pem(pem).map_err(tls)?,
        None => rcgen::KeyPair::generate().map_err(tls)?,
    };
    let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(tls)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, DEFAULT_SUBJECT);
    params.not_before = not_before.into();
    params.not_after = not_after.into();
    let mut serial = [0u8; 16];
    serial.copy_from_slice(crate::auth::random32().get(..16).unwrap_or(&[1; 16]));
    // Positive, and 16 bytes in DER.
    serial[0] = (serial[0] & 0x7f) | 0x01;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    let cert = params.self_signed(&key).map_err(tls)?;
    Ok((cert.pem(), Zeroizing::new(key.serialize_pem())))
}

/// A date as `YYYY-MM-DD` (UTC).
fn date(t: SystemTime) -> String {
    let t: time::OffsetDateTime = t.into();
    t.date().to_string()
}

/// Just enough DER to read a certificate's validity (RFC 5280, 4.1):
/// bounds-checked, refusing what it does not understand rather than
/// guessing.
mod der {
    use std::time::{Duration, SystemTime};

    /// One element: its tag, its content and what follows it.
    fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = input.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 {
                return None;
            }
            let bytes = rest.get(..count)?;
            let len = bytes.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            (len, rest.get(count..)?)
        };
        Some((tag, rest.get(..len)?, rest.get(len..)?))
    }

    const SEQUENCE: u8 = 0x30;
    const VERSION: u8 = 0xa0;
    const UTC_TIME: u8 = 0x17;
    const GENERALIZED_TIME: u8 = 0x18;

    /// The certificate's `notAfter`.
    pub(super) fn not_after(cert: &[u8]) -> Option<SystemTime> {
        let (SEQUENCE, certificate, _) = element(cert)? else {
            return None;
        };
        let (SEQUENCE, tbs, _) = element(certificate)? else {
            return None;
        };
        let (tag, _, mut rest) = element(tbs)?;
        if tag == VERSION {
            rest = element(rest)?.2; // serialNumber
        }
        let rest = element(rest)?.2; // signature
        let rest = element(rest)?.2; // issuer
        let (SEQUENCE, validity, _) = element(rest)? else {
            return None;
        };
        let (_, _, after) = element(validity)?; // notBefore
        let (tag, time, _) = element(after)?;
        parse_time(tag, time)
    }

    /// A UTCTime (`YYMMDDHHMMSSZ`, years 1950 to 2049) or a
    /// GeneralizedTime (`YYYYMMDDHHMMSSZ`), as RFC 5280 allows them.
    fn parse_time(tag: u8, text: &[u8]) -> Option<SystemTime> {
        let digits = text.strip_suffix(b"Z")?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let number = |range: std::ops::Range<usize>| {
            digits
                .get(range)?
                .iter()
                .try_fold(0i32, |acc, &d| Some(acc * 10 + i32::from(d - b'0')))
        };
        let (year, rest) = match (tag, digits.len()) {
            (UTC_TIME, 12) => {
                let yy = number(0..2)?;
                (if yy >= 50 { 1900 + yy } else { 2000 + yy }, 2)
            }
            (GENERALIZED_TIME, 14) => (number(0..4)?, 4),
            _ => return None,
        };
        let field = |i: usize| number(rest + 2 * i..rest + 2 * i + 2).and_then(|n| u8::try_from(n).ok());
        let month = time::Month::try_from(field(0)?).ok()?;
        let date = time::Date::from_calendar_date(year, month, field(1)?).ok()?;
        let at = date.with_hms(field(2)?, field(3)?, field(4)?).ok()?.assume_utc();
        let secs = at.unix_timestamp();
        match u64::try_from(secs) {
            Ok(secs) => SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs)),
            Err(_) => SystemTime::UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs())),
        }
    }
}

/// Reads and parses both files and checks that they make a usable
/// configuration; on failure, which file and what is wrong with it.
fn load(files: &TlsFiles) -> Result<Arc<ServerConfig>, (PathBuf, FileProblem)> {
    let read = |path: &Path| match crate::durable::read(path) {
        Ok(Some(bytes)) => Ok(bytes),
        Ok(None) => Err((
            path.to_path_buf(),
            FileProblem::Invalid("the file is missing".into()),
        )),
        Err(problem) => Err((path.to_path_buf(), problem)),
    };
    let invalid = |path: &Path, what: String| (path.to_path_buf(), FileProblem::Invalid(what));
    let cert_pem = read(&files.cert)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| invalid(&files.cert, format!("it is not a PEM certificate chain ({e})")))?;
    if certs.is_empty() {
        return Err(invalid(&files.cert, "it holds no PEM certificate".into()));
    }
    let key_pem = read(&files.key)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| invalid(&files.key, format!("it holds no PEM private key ({e})")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| invalid(&files.key, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            invalid(
                &files.key,
                format!(
                    "it does not go with the certificate {} ({e})",
                    files.cert.display()
                ),
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Builds the rustls server configuration (TLS 1.2 and 1.3, ring provider).
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, ServerError> {
    load(files).map_err(|(path, problem)| {
        FileError::new(
            &path,
            problem,
            "Restore it from its source or your backup and start again",
        )
        .into()
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn names() -> Vec<String> {
        vec!["localhost".into()]
    }

    #[test]
    fn the_default_certificate_is_valid_for_about_a_year() {
        let dir = tempfile::tempdir().unwrap();
        let files = ensure_certificate(dir.path(), "localhost", None, None).unwrap();
        assert!(files.warnings.is_empty());
        let pem = std::fs::read_to_string(&files.cert).unwrap();
        let left = expires_at(&pem)
            .unwrap()
            .duration_since(SystemTime::now())
            .unwrap();
        let days = left.as_secs() / DAY.as_secs();
        assert!((396..=397).contains(&days), "{days} days");
    }

    #[test]
    fn validity_is_read_from_utc_and_generalized_times() {
        let now = SystemTime::now();
        for (from, until) in [
            (now - DAY, now + DAY * 10),
            // rcgen writes GeneralizedTime from 2050 on.
            (
                now - DAY,
                SystemTime::UNIX_EPOCH + Duration::from_secs(2_556_144_000),
            ),
        ] {
            let (pem, _) = self_signed(&names(), None, from, until).unwrap();
            let read = expires_at(&pem).unwrap();
            let secs = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
            assert_eq!(secs(read), secs(until));
        }
        assert_eq!(expires_at("not a certificate"), None);
    }

    #[test]
    fn a_truncated_or_altered_certificate_has_no_expiry_and_no_panic() {
        let now = SystemTime::now();
        let (pem, _) = self_signed(&names(), None, now - DAY, now + DAY).unwrap();
        let der = CertificateDer::pem_slice_iter(pem.as_bytes())
            .next()
            .unwrap()
            .unwrap();
        let der = der.as_ref();
        for len in 0..der.len() {
            let _ = der::not_after(&der[..len]);
        }
        for i in 0..der.len().min(200) {
            let mut altered = der.to_vec();
            altered[i] ^= 0xff;
            let _ = der::not_after(&altered);
        }
        assert_eq!(der::not_after(&[]), None);
        assert_eq!(der::not_after(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
    }

    #[test]
    fn a_configured_certificate_close_to_expiry_is_warned_about_and_never_touched() {
        let dir = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        for (until, expect) in [
            (now + DAY * 10, Some("expires on")),
            (now - DAY, Some("expired on")),
            (now + DAY * 90, None),
        ] {
            let (pem, key_pem) = self_signed(&names(), None, now - DAY * 2, until).unwrap();
            std::fs::write(&cert, &pem).unwrap();
            std::fs::write(&key, key_pem.as_bytes()).unwrap();
            let files = ensure_certificate(dir.path(), "localhost", Some(&cert), Some(&key)).unwrap();
            match expect {
                Some(text) => {
                    assert_eq!(files.warnings.len(), 1);
                    assert!(files.warnings[0].contains(text), "{}", files.warnings[0]);
                    assert!(files.warnings[0].contains("c.pem"), "names the file");
                }
                None => assert!(files.warnings.is_empty(), "{:?}", files.warnings),
            }
            assert_eq!(std::fs::read_to_string(&cert).unwrap(), pem, "never replaced");
        }
        assert!(!dir.path().join("tls").exists());
    }
}
