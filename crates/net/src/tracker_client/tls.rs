//! Which certificates an `https://` tracker may present: the Mozilla root
//! store (`webpki-roots`, built in, so the result does not depend on the
//! machine) plus any extra certificate authorities the user trusts (a
//! private tracker's own CA). rustls with the `ring` provider; TLS 1.2 and
//! 1.3; no OpenSSL.

use std::path::Path;
use std::sync::{Arc, LazyLock};

/// Why an extra CA cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsSetupError {
    /// The file could not be read or holds no PEM certificate.
    #[error("cannot read certificates from {path}: {why}")]
    Pem {
        /// The file.
        path: String,
        /// What went wrong.
        why: String,
    },
    /// A certificate is not one rustls accepts as a trust anchor.
    #[error("{path}: not a usable CA certificate: {why}")]
    Anchor {
        /// The file.
        path: String,
        /// What went wrong.
        why: String,
    },
    /// rustls refused the configuration.
    #[error("TLS setup failed: {0}")]
    Rustls(String),
}

/// The TLS client configuration for HTTPS trackers. Cheap to clone.
#[derive(Clone)]
pub struct TrackerTls {
    /// The configuration, or why it could not be built (HTTPS announces
    /// then fail with that reason).
    config: Result<Arc<rustls::ClientConfig>, Arc<str>>,
}

impl std::fmt::Debug for TrackerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TrackerTls")
    }
}

static DEFAULT: LazyLock<TrackerTls> = LazyLock::new(|| {
    TrackerTls::build(Vec::new()).unwrap_or_else(|e| TrackerTls {
        config: Err(e.to_string().into()),
    })
});

impl Default for TrackerTls {
    /// The Mozilla roots only.
    fn default() -> Self {
        DEFAULT.clone()
    }
}

impl TrackerTls {
    /// The Mozilla roots plus every certificate in the PEM file at `path`
    /// (e.g. `--tracker-ca`).
    pub fn with_extra_ca(path: &Path) -> Result<TrackerTls, TlsSetupError> {
        use rustls_pki_types::pem::PemObject;
        let shown = path.display().to_string();
        let pem = |e: rustls_pki_types::pem::Error| TlsSetupError::Pem {
            path: shown.clone(),
            why: e.to_string(),
        };
        let certs: Vec<_> = rustls_pki_types::CertificateDer::pem_file_iter(path)
            .map_err(pem)?
            .collect::<Result<_, _>>()
            .map_err(pem)?;
        if certs.is_empty() {
            return Err(TlsSetupError::Pem {
                path: shown,
                why: "no CERTIFICATE block".into(),
            });
        }
        Self::build(certs).map_err(|e| match e {
            TlsSetupError::Rustls(why) => TlsSetupError::Anchor { path: shown, why },
            other => other,
        })
    }

    fn build(
        extra: Vec<rustls_pki_types::CertificateDer<'static>>,
    ) -> Result<TrackerTls, TlsSetupError> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for c in extra {
            roots
                .add(c)
                .map_err(|e| TlsSetupError::Rustls(e.to_string()))?;
        }
        let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError::Rustls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TrackerTls {
            config: Ok(Arc::new(config)),
        })
    }

    /// The configuration, or why there is none.
    pub(crate) fn config(&self) -> Result<Arc<rustls::ClientConfig>, Arc<str>> {
        self.config.clone()
    }
}
