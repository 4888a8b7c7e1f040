//! TLS: rustls with the `ring` provider, TLS 1.2 and 1.3 only.
//!
//! Without a configured certificate, the server generates a self-signed
//! certificate for `server_name` (and localhost, 127.0.0.1, ::1) on first
//! start and keeps it in `data_dir/tls/`, so clients can pin it. Both files
//! are written durably (temporary name, fsync, rename, directory fsync:
//! `durable`); what start-up does with a damaged one is described
//! at [`ensure_certificate`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use zeroize::Zeroizing;

use crate::durable::{FileError, FileProblem};
use crate::error::ServerError;

/// Paths of the certificate and key in use.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
    /// Set when the default certificate was found damaged at start and
    /// replaced: what the operator must be told (clients' pins must be
    /// renewed). Also logged as a warning.
    pub replaced: Option<String>,
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
/// server never replaces what an operator configured. The default
/// self-signed pair is the server's own: found empty or damaged (a power
/// loss during its first write, before writes were made durable), it is
/// generated again, with a warning (logged, and returned in
/// [`TlsFiles::replaced`]) that clients pinning the old certificate must be
/// given the new one. A default file that exists but cannot be read at all
/// (permissions) stops the start instead: that is an operator's mistake to
/// fix, not damage, and replacing it would break every pin for nothing.
pub fn ensure_certificate(
    data_dir: &Path,
    server_name: &str,
    cert: Option<&Path>,
    key: Option<&Path>,
) -> Result<TlsFiles, ServerError> {
    if let (Some(cert), Some(key)) = (cert, key) {
        let files = TlsFiles {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            replaced: None,
        };
        load(&files).map_err(|(path, problem)| FileError::new(&path, problem, CONFIGURED_REMEDY))?;
        return Ok(files);
    }
    let dir = data_dir.join("tls");
    let mut files = TlsFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
        replaced: None,
    };
    let first_start = !files.cert.exists() && !files.key.exists();
    if !first_start {
        match load(&files) {
            Ok(_) => return Ok(files),
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
                files.replaced = Some(warning);
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
    let generated = rcgen::generate_simple_self_signed(names).map_err(|e| ServerError::Tls(e.to_string()))?;
    // The key first: a crash between the two leaves a certificate that does
    // not match it (or none), which the next start detects and repairs.
    let key_pem = Zeroizing::new(generated.key_pair.serialize_pem());
    crate::durable::write_atomic(&files.key, key_pem.as_bytes())
        .map_err(|e| unwritable(&files.key, e))?;
    crate::durable::write_atomic(&files.cert, generated.cert.pem().as_bytes())
        .map_err(|e| unwritable(&files.cert, e))?;
    if first_start {
        tracing::info!(cert = %files.cert.display(), "self-signed TLS certificate created");
    }
    Ok(files)
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
