//! `tls_server_config` turned into a rustls server configuration.
//!
//! exporter-toolkit's settings map onto rustls as follows: client-auth modes onto client
//! certificate verifiers, Go's cipher-suite and curve names onto the `ring` provider's suites
//! and key-exchange groups, and `min_version`/`max_version` onto the protocol versions. rustls
//! implements TLS 1.2 and 1.3 only, so a minimum of TLS 1.0 or 1.1 means 1.2 (what such a
//! server would also accept) and a maximum below 1.2 is an error. Suites and curves Go has
//! and rustls lacks (CBC, RSA key exchange, P-521) are left out with a warning, as long as
//! something usable remains. A verifying client-auth mode without a client CA checks client
//! certificates against the system's CA bundle, as Go does.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{ring, CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CipherSuite, DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig,
    SignatureScheme, SupportedCipherSuite, SupportedProtocolVersion,
};
use rustls_pki_types::pem::PemObject;

use super::file::TlsSection;

/// How client certificates are handled, by exporter-toolkit's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    NoClientCert,
    RequestClientCert,
    RequireAnyClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

impl ClientAuth {
    fn parse(name: &str) -> Result<ClientAuth, String> {
        Ok(match name {
            "" | "NoClientCert" => ClientAuth::NoClientCert,
            "RequestClientCert" => ClientAuth::RequestClientCert,
            // exporter-toolkit keeps the older name as an alias.
            "RequireAnyClientCert" | "RequireClientCert" => ClientAuth::RequireAnyClientCert,
            "VerifyClientCertIfGiven" => ClientAuth::VerifyClientCertIfGiven,
            "RequireAndVerifyClientCert" => ClientAuth::RequireAndVerifyClientCert,
            other => {
                return Err(format!(
                    "invalid client_auth_type {other:?} (use NoClientCert, RequestClientCert, \
                     RequireAnyClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert)"
                ))
            }
        })
    }
}

/// TLS protocol versions by exporter-toolkit's names, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TlsVersion {
    Tls10,
    Tls11,
    Tls12,
    Tls13,
}

impl TlsVersion {
    fn parse(key: &str, name: Option<&str>, default: TlsVersion) -> Result<TlsVersion, String> {
        match name {
            None => Ok(default),
            Some("TLS10") => Ok(TlsVersion::Tls10),
            Some("TLS11") => Ok(TlsVersion::Tls11),
            Some("TLS12") => Ok(TlsVersion::Tls12),
            Some("TLS13") => Ok(TlsVersion::Tls13),
            Some(other) => Err(format!(
                "{key}: unknown TLS version {other:?} (use TLS10, TLS11, TLS12 or TLS13)"
            )),
        }
    }
}

/// The rustls configuration, or `None` when the section configures no TLS (plain HTTP).
pub fn server_config(s: &TlsSection, http2: bool) -> Result<Option<ServerConfig>, String> {
    if !s.is_enabled() {
        return Ok(None);
    }
    if s.cert.is_empty() && s.cert_file.is_empty() {
        return Err("tls_server_config: missing one of cert or cert_file".into());
    }
    if s.key.is_empty() && s.key_file.is_empty() {
        return Err("tls_server_config: missing one of key or key_file".into());
    }
    if s.client_allowed_sans.is_some() {
        return Err(
            "tls_server_config: client_allowed_sans is not supported by this gateway".into(),
        );
    }
    if !http2 {
        return Err(
            "http_server_config: http2: false is not supported with TLS \
                    (HTTP/2 is always offered over TLS)"
                .into(),
        );
    }
    let certs = load_certs(&s.cert_file, &s.cert, "cert")?;
    let key = load_key(&s.key_file, &s.key)?;
    let versions = protocol_versions(s.min_version.as_deref(), s.max_version.as_deref())?;
    let suites = cipher_suites(&s.cipher_suites)?;
    let versions = versions_with_suites(versions, &suites)?;
    let provider = Arc::new(CryptoProvider {
        cipher_suites: suites,
        kx_groups: kx_groups(&s.curve_preferences)?,
        ..ring::default_provider()
    });
    let client_auth = ClientAuth::parse(&s.client_auth_type)?;
    let verifier = client_verifier(client_auth, client_roots(s)?, &provider)?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| format!("tls_server_config: {e}"))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| format!("tls_server_config: certificate and key do not fit: {e}"))?;
    config.ignore_client_order = s.prefer_server_cipher_suites.unwrap_or(true);
    Ok(Some(config))
}

/// The client-auth mode named in the section (for the start-up log line).
pub fn client_auth_name(s: &TlsSection) -> &str {
    if s.client_auth_type.is_empty() {
        "NoClientCert"
    } else {
        &s.client_auth_type
    }
}

fn load_certs(file: &str, inline: &str, key: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Result<Vec<_>, _> = if file.is_empty() {
        CertificateDer::pem_slice_iter(inline.as_bytes()).collect()
    } else {
        CertificateDer::pem_file_iter(file)
            .map_err(|e| format!("failed to read {key}_file ({file}): {e}"))?
            .collect()
    };
    let what = if file.is_empty() {
        key.to_string()
    } else {
        format!("{key}_file ({file})")
    };
    let certs = certs.map_err(|e| format!("{what}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{what}: no PEM certificate found"));
    }
    Ok(certs)
}

fn load_key(file: &str, inline: &str) -> Result<PrivateKeyDer<'static>, String> {
    if file.is_empty() {
        PrivateKeyDer::from_pem_slice(inline.as_bytes()).map_err(|e| format!("key: {e}"))
    } else {
        PrivateKeyDer::from_pem_file(file).map_err(|e| format!("key_file ({file}): {e}"))
    }
}

/// The configured client CA certificates (file or inline), possibly none.
fn client_roots(s: &TlsSection) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    if s.client_ca_file.is_empty() && s.client_ca.is_empty() {
        return Ok(roots);
    }
    for cert in load_certs(&s.client_ca_file, &s.client_ca, "client_ca")? {
        roots
            .add(cert)
            .map_err(|e| format!("client CA certificate: {e}"))?;
    }
    Ok(roots)
}

/// The files Go's crypto/x509 reads the system's CA bundle from on Linux, in its order.
const SYSTEM_CA_FILES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The system's CA bundle (`SSL_CERT_FILE` first, as Go), for verifying modes without a
/// configured client CA. Certificates in it that rustls cannot use are skipped.
fn system_roots() -> Result<RootCertStore, String> {
    let from_env = std::env::var("SSL_CERT_FILE").ok();
    let candidates = from_env
        .iter()
        .map(String::as_str)
        .chain(SYSTEM_CA_FILES.iter().copied());
    for file in candidates {
        let Ok(certs) = CertificateDer::pem_file_iter(file) else {
            continue;
        };
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(certs.filter_map(Result::ok));
        if !roots.is_empty() {
            return Ok(roots);
        }
    }
    Err("no client_ca_file (or client_ca) and no system CA bundle found".into())
}

fn client_verifier(
    mode: ClientAuth,
    roots: RootCertStore,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, String> {
    let has_roots = !roots.is_empty();
    let verified = |optional: bool| -> Result<Arc<dyn ClientCertVerifier>, String> {
        let roots = if has_roots {
            roots
        } else {
            system_roots().map_err(|e| format!("client_auth_type {mode:?}: {e}"))?
        };
        let builder =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
        let builder = if optional {
            builder.allow_unauthenticated()
        } else {
            builder
        };
        builder
            .build()
            .map_err(|e| format!("client certificate verifier: {e}"))
    };
    match mode {
        ClientAuth::NoClientCert if has_roots => {
            Err("client CA certificates are configured but client_auth_type is NoClientCert".into())
        }
        ClientAuth::NoClientCert => Ok(WebPkiClientVerifier::no_client_auth()),
        ClientAuth::RequestClientCert | ClientAuth::RequireAnyClientCert => {
            Ok(Arc::new(AnyClientCert {
                mandatory: mode == ClientAuth::RequireAnyClientCert,
                algorithms: provider.signature_verification_algorithms,
            }))
        }
        ClientAuth::VerifyClientCertIfGiven => verified(true),
        ClientAuth::RequireAndVerifyClientCert => verified(false),
    }
}

/// `RequestClientCert` / `RequireAnyClientCert`: any certificate is taken without checking
/// who issued it, as Go does; the client must still prove it holds the certificate's key.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

fn protocol_versions(
    min: Option<&str>,
    max: Option<&str>,
) -> Result<Vec<&'static SupportedProtocolVersion>, String> {
    let min = TlsVersion::parse("min_version", min, TlsVersion::Tls12)?;
    let max = TlsVersion::parse("max_version", max, TlsVersion::Tls13)?;
    if max < TlsVersion::Tls12 {
        return Err(format!(
            "max_version {max:?}: this gateway supports TLS 1.2 and 1.3 only"
        ));
    }
    if min > max {
        return Err(format!("min_version {min:?} is above max_version {max:?}"));
    }
    if min < TlsVersion::Tls12 {
        log::warn!(
            "min_version {min:?}: TLS 1.0 and 1.1 are not available, TLS 1.2 is the minimum"
        );
    }
    let mut versions = Vec::new();
    if min <= TlsVersion::Tls12 {
        versions.push(&rustls::version::TLS12);
    }
    if max == TlsVersion::Tls13 {
        versions.push(&rustls::version::TLS13);
    }
    Ok(versions)
}

/// Go's names of the TLS 1.2 suites rustls implements.
const TLS12_SUITES: &[(&str, CipherSuite)] = &[
    (
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
];

/// TLS 1.3 suites: Go does not let them be configured, so naming them changes nothing.
const TLS13_SUITE_NAMES: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
];

/// Suites Go knows that rustls does not implement (CBC modes, RSA key exchange).
const GO_ONLY_SUITES: &[&str] = &[
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
];

/// Every TLS 1.3 suite, then the listed TLS 1.2 suites in the listed order (all when none).
fn cipher_suites(names: &[String]) -> Result<Vec<SupportedCipherSuite>, String> {
    let all = ring::ALL_CIPHER_SUITES;
    if names.is_empty() {
        return Ok(all.to_vec());
    }
    let mut suites: Vec<SupportedCipherSuite> = all
        .iter()
        .filter(|s| matches!(s, SupportedCipherSuite::Tls13(_)))
        .copied()
        .collect();
    for name in names {
        if TLS13_SUITE_NAMES.contains(&name.as_str()) {
            continue;
        }
        if GO_ONLY_SUITES.contains(&name.as_str()) {
            log::warn!(
                "cipher_suites: {name} is left out: only ECDHE suites with AES-GCM or \
                 ChaCha20-Poly1305 are available"
            );
            continue;
        }
        let id = TLS12_SUITES
            .iter()
            .find(|(go, _)| go == name)
            .map(|(_, id)| *id)
            .ok_or_else(|| format!("cipher_suites: unknown cipher {name:?}"))?;
        if let Some(suite) = all.iter().find(|s| s.suite() == id) {
            if !suites.contains(suite) {
                suites.push(*suite);
            }
        }
    }
    Ok(suites)
}

/// Drops TLS 1.2 when the cipher list leaves it no suite; no version left is an error.
fn versions_with_suites(
    versions: Vec<&'static SupportedProtocolVersion>,
    suites: &[SupportedCipherSuite],
) -> Result<Vec<&'static SupportedProtocolVersion>, String> {
    let has_tls12 = suites
        .iter()
        .any(|s| matches!(s, SupportedCipherSuite::Tls12(_)));
    let left: Vec<_> = versions
        .into_iter()
        .filter(|v| v.version != rustls::ProtocolVersion::TLSv1_2 || has_tls12)
        .collect();
    if left.is_empty() {
        return Err("cipher_suites: no cipher suite left for the allowed TLS versions".into());
    }
    Ok(left)
}

fn kx_groups(
    names: &[String],
) -> Result<Vec<&'static dyn rustls::crypto::SupportedKxGroup>, String> {
    if names.is_empty() {
        return Ok(ring::ALL_KX_GROUPS.to_vec());
    }
    let mut groups = Vec::new();
    for name in names {
        match name.as_str() {
            "X25519" => groups.push(ring::kx_group::X25519),
            "CurveP256" => groups.push(ring::kx_group::SECP256R1),
            "CurveP384" => groups.push(ring::kx_group::SECP384R1),
            "CurveP521" => log::warn!("curve_preferences: CurveP521 is left out: not available"),
            other => return Err(format!("curve_preferences: unknown curve {other:?}")),
        }
    }
    if groups.is_empty() {
        return Err(
            "curve_preferences: none of the curves is available (use X25519, CurveP256 or \
             CurveP384)"
                .into(),
        );
    }
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn versions_default_to_tls12_and_tls13() {
        let v = protocol_versions(None, None).unwrap();
        assert_eq!(v.len(), 2);
        let v = protocol_versions(Some("TLS13"), None).unwrap();
        assert_eq!(v, vec![&rustls::version::TLS13]);
        let v = protocol_versions(None, Some("TLS12")).unwrap();
        assert_eq!(v, vec![&rustls::version::TLS12]);
    }

    #[test]
    fn old_minimum_versions_mean_tls12() {
        let v = protocol_versions(Some("TLS10"), None).unwrap();
        assert_eq!(v.len(), 2);
    }

    #[test]
    fn impossible_versions_are_errors() {
        let e = protocol_versions(None, Some("TLS11")).unwrap_err();
        assert!(e.contains("TLS 1.2 and 1.3 only"), "{e}");
        assert!(protocol_versions(Some("TLS13"), Some("TLS12")).is_err());
        let e = protocol_versions(Some("SSL3"), None).unwrap_err();
        assert!(e.contains("unknown TLS version"), "{e}");
    }

    #[test]
    fn go_cipher_names_select_tls12_suites_and_keep_tls13() {
        let s = cipher_suites(&names(&["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"])).unwrap();
        let tls12: Vec<_> = s
            .iter()
            .filter(|s| matches!(s, SupportedCipherSuite::Tls12(_)))
            .map(|s| s.suite())
            .collect();
        assert_eq!(
            tls12,
            vec![CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]
        );
        assert!(s
            .iter()
            .any(|s| matches!(s, SupportedCipherSuite::Tls13(_))));
    }

    #[test]
    fn every_go_suite_name_of_the_table_exists_in_the_provider() {
        for (name, _) in TLS12_SUITES {
            let s = cipher_suites(&names(&[name])).unwrap();
            assert!(
                s.iter()
                    .any(|s| matches!(s, SupportedCipherSuite::Tls12(_))),
                "{name}"
            );
        }
    }

    #[test]
    fn unavailable_cipher_names_are_left_out_and_unknown_ones_are_errors() {
        let s = cipher_suites(&names(&[
            "TLS_RSA_WITH_AES_128_CBC_SHA",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        ]))
        .unwrap();
        let tls12: Vec<_> = s
            .iter()
            .filter(|s| matches!(s, SupportedCipherSuite::Tls12(_)))
            .map(|s| s.suite())
            .collect();
        assert_eq!(
            tls12,
            vec![CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]
        );
        let e = cipher_suites(&names(&["NOPE"])).unwrap_err();
        assert!(e.contains("unknown cipher"), "{e}");
    }

    #[test]
    fn only_tls13_suite_names_leave_tls12_without_suites() {
        let suites = cipher_suites(&names(&["TLS_AES_128_GCM_SHA256"])).unwrap();
        let v = versions_with_suites(protocol_versions(None, None).unwrap(), &suites).unwrap();
        assert_eq!(v, vec![&rustls::version::TLS13]);
        let only12 = protocol_versions(None, Some("TLS12")).unwrap();
        assert!(versions_with_suites(only12, &suites).is_err());
    }

    #[test]
    fn client_auth_names_follow_exporter_toolkit() {
        assert_eq!(ClientAuth::parse("").unwrap(), ClientAuth::NoClientCert);
        assert_eq!(
            ClientAuth::parse("RequireClientCert").unwrap(),
            ClientAuth::RequireAnyClientCert
        );
        assert!(ClientAuth::parse("Always").is_err());
    }

    #[test]
    fn verifying_modes_without_a_client_ca_use_the_system_bundle_if_any() {
        let provider = Arc::new(ring::default_provider());
        let result = client_verifier(
            ClientAuth::RequireAndVerifyClientCert,
            RootCertStore::empty(),
            &provider,
        );
        match system_roots() {
            Ok(_) => assert!(result.is_ok()),
            Err(_) => assert!(result.err().unwrap().contains("client_ca_file")),
        }
        assert!(client_verifier(
            ClientAuth::RequestClientCert,
            RootCertStore::empty(),
            &provider
        )
        .is_ok());
    }

    #[test]
    fn curves_map_to_kx_groups() {
        assert_eq!(
            kx_groups(&names(&["X25519", "CurveP256"])).unwrap().len(),
            2
        );
        assert_eq!(
            kx_groups(&names(&["CurveP521", "X25519"])).unwrap().len(),
            1
        );
        assert!(kx_groups(&names(&["CurveP521"])).is_err());
        assert!(kx_groups(&names(&["P999"])).is_err());
    }

    #[test]
    fn a_section_without_certificates_is_plain_http() {
        assert!(server_config(&TlsSection::default(), true)
            .unwrap()
            .is_none());
        let s = TlsSection {
            cert_file: "x.crt".into(),
            ..TlsSection::default()
        };
        let e = server_config(&s, true).unwrap_err();
        assert!(e.contains("missing one of key or key_file"), "{e}");
    }

    #[test]
    fn a_missing_certificate_file_is_named() {
        let s = TlsSection {
            cert_file: "/nonexistent/server.crt".into(),
            key_file: "/nonexistent/server.key".into(),
            ..TlsSection::default()
        };
        let e = server_config(&s, true).unwrap_err();
        assert!(e.contains("/nonexistent/server.crt"), "{e}");
    }
}
