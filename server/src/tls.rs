//! TLS: rustls with the `ring` provider, TLS 1.2 and 1.3 only.
//!
//! Without a configured certificate, the server generates a self-signed
//! certificate for `server_name` (and localhost, 127.0.0.1, ::1) on first
//! start and keeps it in `data_dir/tls/`, so clients can pin it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::ServerError;

/// Paths of the certificate and key in use.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// Returns the configured certificate, or generates (once) a self-signed one in `data_dir/tls`.
pub fn ensure_certificate(
    data_dir: &Path,
    server_name: &str,
    cert: Option<&Path>,
    key: Option<&Path>,
) -> Result<TlsFiles, ServerError> {
    if let (Some(cert), Some(key)) = (cert, key) {
        return Ok(TlsFiles {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
        });
    }
    let dir = data_dir.join("tls");
    let files = TlsFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    if files.cert.exists() && files.key.exists() {
        return Ok(files);
    }
    std::fs::create_dir_all(&dir).map_err(|e| ServerError::io("creating the TLS directory", e))?;
    let mut names = vec![server_name.to_owned()];
    for extra in ["localhost", "127.0.0.1", "::1"] {
        if !names.iter().any(|n| n == extra) {
            names.push(extra.to_owned());
        }
    }
    let generated = rcgen::generate_simple_self_signed(names).map_err(|e| ServerError::Tls(e.to_string()))?;
    write_private(&files.key, generated.key_pair.serialize_pem().as_bytes())?;
    std::fs::write(&files.cert, generated.cert.pem())
        .map_err(|e| ServerError::io("writing the certificate", e))?;
    Ok(files)
}

fn write_private(path: &Path, contents: &[u8]) -> Result<(), ServerError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| ServerError::io("writing the TLS key", e))?;
    file.write_all(contents)
        .map_err(|e| ServerError::io("writing the TLS key", e))
}

/// Builds the rustls server configuration (TLS 1.2 and 1.3, ring provider).
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, ServerError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .and_then(Iterator::collect)
        .map_err(|e| ServerError::Tls(format!("{}: {e}", files.cert.display())))?;
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| ServerError::Tls(format!("{}: {e}", files.key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| ServerError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServerError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
