//! HTTPS on the server loop: rustls (with `ring`, no C build of its own)
//! from a PEM certificate chain and key. The files are read again on
//! [`Tls::reload`] (`outreach serve` calls it on SIGHUP), so a renewed
//! certificate takes effect without a restart; a connection keeps the
//! configuration it started with.

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// The server's certificate and key, reloadable.
#[derive(Debug)]
pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    config: RwLock<Arc<ServerConfig>>,
}

impl Tls {
    /// Reads `cert` (PEM, the chain from the server's certificate on) and
    /// `key` (PEM, PKCS#8, PKCS#1 or SEC1); a German message says which file
    /// is wrong and how.
    pub fn load(cert: &Path, key: &Path) -> Result<Tls, String> {
        let config = server_config(cert, key)?;
        Ok(Tls {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            config: RwLock::new(Arc::new(config)),
        })
    }

    /// Reads both files again; on an error the configuration in use stays.
    pub fn reload(&self) -> Result<(), String> {
        let config = server_config(&self.cert, &self.key)?;
        if let Ok(mut current) = self.config.write() {
            *current = Arc::new(config);
        }
        Ok(())
    }

    /// An acceptor with the current configuration.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        let config = match self.config.read() {
            Ok(config) => config.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        tokio_rustls::TlsAcceptor::from(config)
    }
}

fn server_config(cert: &Path, key: &Path) -> Result<ServerConfig, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| {
            format!(
                "TLS-Zertifikat {} kann nicht gelesen werden: {e}",
                cert.display()
            )
        })?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("TLS-Zertifikat {} ist keine PEM-Datei: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "TLS-Zertifikat {} enthält kein Zertifikat (erwartet: -----BEGIN CERTIFICATE-----)",
            cert.display()
        ));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        format!(
            "TLS-Schlüssel {} kann nicht gelesen werden oder enthält keinen privaten Schlüssel im PEM-Format: {e}",
            key.display()
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| {
            format!(
                "TLS-Zertifikat {} und Schlüssel {} passen nicht zusammen oder werden nicht unterstützt: {e}",
                cert.display(),
                key.display()
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
