//! Verification against a real public-good bundle (the `sigstore` npm package's provenance)
//! and the production trusted root, offline; negative paths with a made-up CA and log key.

use super::*;
use std::collections::BTreeMap;

const TARBALL: &[u8] = include_bytes!("../../tests/fixtures/sigstore/sigstore-5.0.0.tgz");
const BUNDLE: &[u8] =
    include_bytes!("../../tests/fixtures/sigstore/sigstore-5.0.0.tgz.sigstore.json");
const IDENTITY: &str =
    "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

fn keyless(issuer: &str, identity: Identity) -> Policy {
    Policy::Keyless {
        issuer: issuer.into(),
        identity,
    }
}

#[test]
fn an_attestation_requirement_takes_only_an_attestation_of_its_predicate_type() {
    let policy = keyless(ISSUER, Identity::Exact(IDENTITY.into()));
    let root = TrustedRoot::production();
    let artifact = ArtifactDigest::of(TARBALL);
    let signer = verify_bundle_attestation(
        BUNDLE,
        &artifact,
        "https://slsa.dev/provenance/v1",
        &policy,
        &root,
    )
    .unwrap();
    assert_eq!(signer.log_index, Some(1697019812));
    let err = verify_bundle_attestation(
        BUNDLE,
        &artifact,
        "https://spdx.dev/Document",
        &policy,
        &root,
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "the attestation's predicate type is `https://slsa.dev/provenance/v1`, but `https://spdx.dev/Document` is required");
    // A message signature is no attestation, whatever it signs.
    let mut message: serde_json::Value = serde_json::from_slice(BUNDLE).unwrap();
    let object = message.as_object_mut().unwrap();
    object.remove("dsseEnvelope");
    object.insert(
        "messageSignature".into(),
        serde_json::json!({"messageDigest": {"algorithm": "SHA2_256", "digest": ""}, "signature": ""}),
    );
    let bytes = serde_json::to_vec(&message).unwrap();
    let err = verify_bundle_attestation(
        &bytes,
        &artifact,
        "https://slsa.dev/provenance/v1",
        &policy,
        &root,
    )
    .unwrap_err();
    assert!(matches!(err, TrustError::NotAnAttestation { .. }), "{err}");
}

#[test]
fn a_keyless_signature_without_its_log_entry_is_refused() {
    let err = verify_detached(
        b"MEUCIQ==",
        &ArtifactDigest::of(TARBALL),
        &keyless(ISSUER, Identity::Exact(IDENTITY.into())),
    )
    .unwrap_err();
    assert!(matches!(err, TrustError::NoLogEntry), "{err}");
}

#[test]
fn a_real_npm_provenance_bundle_verifies_offline() {
    let signer = verify_bundle(
        BUNDLE,
        &ArtifactDigest::of(TARBALL),
        &keyless(ISSUER, Identity::Exact(IDENTITY.into())),
        &TrustedRoot::production(),
    )
    .unwrap();
    assert_eq!(
        signer,
        Signer {
            method: SignerMethod::Keyless {
                identity: IDENTITY.into(),
                issuer: ISSUER.into()
            },
            log_index: Some(1697019812),
            integrated_time: Some(1780347770),
        }
    );
    let by_regexp = keyless(
        ISSUER,
        Identity::Regexp("https://github.com/sigstore/sigstore-js/.*".into()),
    );
    verify_bundle(
        BUNDLE,
        &ArtifactDigest::of(TARBALL),
        &by_regexp,
        &TrustedRoot::production(),
    )
    .unwrap();
}

#[test]
fn one_byte_of_the_artifact_changed_fails() {
    let mut tarball = TARBALL.to_vec();
    tarball[100] ^= 1;
    let err = verify_bundle(
        BUNDLE,
        &ArtifactDigest::of(&tarball),
        &keyless(ISSUER, Identity::Exact(IDENTITY.into())),
        &TrustedRoot::production(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "no subject of the attestation has the artifact's digest"
    );
}

#[test]
fn another_identity_or_issuer_fails_naming_both() {
    let root = TrustedRoot::production();
    let artifact = ArtifactDigest::of(TARBALL);
    let other = "https://github.com/acme/x/.github/workflows/release.yml@refs/heads/main";
    let err = verify_bundle(
        BUNDLE,
        &artifact,
        &keyless(ISSUER, Identity::Exact(other.into())),
        &root,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "the signing certificate was issued to `{IDENTITY}`, but the policy expects `{other}`"
        )
    );
    let err = verify_bundle(
        BUNDLE,
        &artifact,
        &keyless(
            "https://accounts.google.com",
            Identity::Exact(IDENTITY.into()),
        ),
        &root,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("the signing certificate was issued for issuer `{ISSUER}`, but the policy expects issuer `https://accounts.google.com`")
    );
}

#[test]
fn a_tampered_signed_entry_timestamp_fails() {
    let mut bundle: serde_json::Value = serde_json::from_slice(BUNDLE).unwrap();
    let set = bundle
        .pointer_mut("/verificationMaterial/tlogEntries/0/inclusionPromise/signedEntryTimestamp")
        .unwrap();
    let forged = set.as_str().unwrap().replacen("MEQCIBZG", "MEQCIBZH", 1);
    *set = serde_json::Value::String(forged);
    let err = verify_bundle(
        &serde_json::to_vec(&bundle).unwrap(),
        &ArtifactDigest::of(TARBALL),
        &keyless(ISSUER, Identity::Exact(IDENTITY.into())),
        &TrustedRoot::production(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            TrustError::SignedEntryTimestamp {
                log_index: 1697019812,
                ..
            }
        ),
        "{err}"
    );
}

mod own_ca {
    //! A made-up Fulcio CA and Rekor key, for the paths no real bundle shows.
    use super::*;
    use base64::Engine as _;
    use p256::ecdsa::signature::Signer as _;
    use p256::pkcs8::{DecodePrivateKey as _, EncodePublicKey as _};
    use rcgen::{
        BasicConstraints, CertificateParams, CustomExtension, ExtendedKeyUsagePurpose, IsCa,
        Issuer, KeyPair, KeyUsagePurpose, SanType, PKCS_ECDSA_P256_SHA256,
    };

    const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
    const ID: &str = "https://ci.example/release@refs/heads/main";
    const ISS: &str = "https://issuer.example";

    struct Ca {
        params: CertificateParams,
        key: KeyPair,
        der: Vec<u8>,
    }

    fn ca() -> Ca {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        let der = params.self_signed(&key).unwrap().der().to_vec();
        Ca { params, key, der }
    }

    /// A leaf for `ID`/`ISS` valid from `not_before` to `not_after` (unix seconds), and its
    /// signing key.
    fn leaf(ca: &Ca, not_before: i64, not_after: i64) -> (Vec<u8>, p256::ecdsa::SigningKey) {
        leaf_logged(ca, not_before, not_after, None)
    }

    /// Like [`leaf`]; with `ct`, the certificate embeds the SCT that CT log key signs over its
    /// precertificate (RFC 6962 3.2), as Fulcio's do.
    fn leaf_logged(
        ca: &Ca,
        not_before: i64,
        not_after: i64,
        ct: Option<&p256::ecdsa::SigningKey>,
    ) -> (Vec<u8>, p256::ecdsa::SigningKey) {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = vec![SanType::URI(ID.try_into().unwrap())];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
        let mut issuer_der = vec![0x0c, ISS.len() as u8];
        issuer_der.extend_from_slice(ISS.as_bytes());
        params.custom_extensions = vec![CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 4, 1, 57264, 1, 8],
            issuer_der,
        )];
        params.not_before = time_of(not_before);
        params.not_after = time_of(not_after);
        params.serial_number = Some(rcgen::SerialNumber::from(vec![7u8, 1, 2, 3]));
        let issuer = Issuer::new(ca.params.clone(), &ca.key);
        if let Some(ct) = ct {
            // The precertificate is this certificate without the SCT list extension.
            use x509_cert::der::{asn1::OctetString, Any, Decode as _, Encode as _};
            let precert = params.signed_by(&key, &issuer).unwrap().der().to_vec();
            let tbs = Vec::<Any>::from_der(&precert).unwrap()[0].to_der().unwrap();
            let ca_cert = x509_cert::Certificate::from_der(&ca.der).unwrap();
            let ca_spki = ca_cert
                .tbs_certificate()
                .subject_public_key_info()
                .to_der()
                .unwrap();
            let timestamp = (T as u64 * 1000).to_be_bytes();
            let mut signed = vec![0u8, 0]; // v1, certificate_timestamp
            signed.extend_from_slice(&timestamp);
            signed.extend_from_slice(&[0, 1]); // precert_entry
            signed.extend_from_slice(&rekor::sha256(&ca_spki));
            signed.extend_from_slice(&(tbs.len() as u32).to_be_bytes()[1..]);
            signed.extend_from_slice(&tbs);
            signed.extend_from_slice(&[0, 0]); // no extensions
            let signature: p256::ecdsa::DerSignature = ct.sign(&signed);
            let ct_spki = ct.verifying_key().to_public_key_der().unwrap();
            let mut sct = vec![0u8];
            sct.extend_from_slice(&rekor::sha256(ct_spki.as_bytes()));
            sct.extend_from_slice(&timestamp);
            sct.extend_from_slice(&[0, 0, 4, 3]); // no extensions; sha256, ecdsa
            sct.extend_from_slice(&(signature.as_bytes().len() as u16).to_be_bytes());
            sct.extend_from_slice(signature.as_bytes());
            let mut list = ((sct.len() + 2) as u16).to_be_bytes().to_vec();
            list.extend_from_slice(&(sct.len() as u16).to_be_bytes());
            list.extend_from_slice(&sct);
            params
                .custom_extensions
                .push(CustomExtension::from_oid_content(
                    &[1, 3, 6, 1, 4, 1, 11129, 2, 4, 2],
                    OctetString::new(list).unwrap().to_der().unwrap(),
                ));
        }
        let der = params.signed_by(&key, &issuer).unwrap().der().to_vec();
        let signing = p256::ecdsa::SigningKey::from_pkcs8_der(&key.serialize_der()).unwrap();
        (der, signing)
    }

    fn time_of(unix: i64) -> time::OffsetDateTime {
        time::OffsetDateTime::from_unix_timestamp(unix).unwrap()
    }

    fn root_json(ca_der: &[u8], rekor: &p256::ecdsa::SigningKey) -> (TrustedRoot, String) {
        root_with_ct(ca_der, rekor, None)
    }

    /// [`root_json`], with `ct` as its one CT log when given.
    fn root_with_ct(
        ca_der: &[u8],
        rekor: &p256::ecdsa::SigningKey,
        ct: Option<&p256::ecdsa::SigningKey>,
    ) -> (TrustedRoot, String) {
        let spki = rekor.verifying_key().to_public_key_der().unwrap().to_vec();
        let log_id = rekor::sha256(&spki);
        let ctlogs: Vec<serde_json::Value> = ct
            .map(|ct| {
                let spki = ct.verifying_key().to_public_key_der().unwrap().to_vec();
                serde_json::json!({"baseUrl": "https://ct.example", "hashAlgorithm": "SHA2_256",
                    "publicKey": {"rawBytes": B64.encode(&spki), "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                        "validFor": {"start": "2020-01-01T00:00:00Z"}},
                    "logId": {"keyId": B64.encode(rekor::sha256(&spki))}})
            })
            .into_iter()
            .collect();
        let json = serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [{"baseUrl": "https://rekor.example", "hashAlgorithm": "SHA2_256",
                "publicKey": {"rawBytes": B64.encode(&spki), "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": {"start": "2020-01-01T00:00:00Z"}},
                "logId": {"keyId": B64.encode(log_id)}}],
            "certificateAuthorities": [{"certChain": {"certificates": [{"rawBytes": B64.encode(ca_der)}]},
                "validFor": {"start": "2020-01-01T00:00:00Z"}}],
            "ctlogs": ctlogs,
        });
        let root = TrustedRoot::from_json(&serde_json::to_vec(&json).unwrap()).unwrap();
        (root, hex::encode(log_id))
    }

    const T: i64 = 1_750_000_000;

    fn new_key() -> p256::ecdsa::SigningKey {
        let pair = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        p256::ecdsa::SigningKey::from_pkcs8_der(&pair.serialize_der()).unwrap()
    }

    /// A keyless `.sig` layer over `payload`: annotations with the signature, the leaf and a
    /// Rekor bundle whose SET `rekor` signs.
    fn layer(
        payload: &[u8],
        leaf_der: &[u8],
        leaf_key: &p256::ecdsa::SigningKey,
        rekor: &p256::ecdsa::SigningKey,
        log_id: &str,
    ) -> BTreeMap<String, String> {
        let signature: p256::ecdsa::DerSignature = leaf_key.sign(payload);
        let signature = signature.as_bytes().to_vec();
        let leaf_pem = pem::encode("CERTIFICATE", leaf_der);
        let body = serde_json::json!({"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hex::encode(rekor::sha256(payload))}},
            "signature": {"content": B64.encode(&signature),
                "publicKey": {"content": B64.encode(leaf_pem.as_bytes())}}}});
        let body_b64 = B64.encode(serde_json_canonicalizer::to_vec(&body).unwrap());
        let set_payload = serde_json::json!({"body": body_b64, "integratedTime": T, "logIndex": 1, "logID": log_id});
        let set: p256::ecdsa::DerSignature =
            rekor.sign(&serde_json_canonicalizer::to_vec(&set_payload).unwrap());
        let bundle = serde_json::json!({"SignedEntryTimestamp": B64.encode(set.as_bytes()),
            "Payload": {"body": body_b64, "integratedTime": T, "logIndex": 1, "logID": log_id}});
        BTreeMap::from([
            (
                cosign::SIGNATURE_ANNOTATION.to_string(),
                B64.encode(&signature),
            ),
            (cosign::CERTIFICATE_ANNOTATION.to_string(), leaf_pem),
            (cosign::BUNDLE_ANNOTATION.to_string(), bundle.to_string()),
        ])
    }

    fn payload(digest: &crate::digest::Digest) -> Vec<u8> {
        format!(r#"{{"critical":{{"identity":{{"docker-reference":"r.test/app"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"cosign container image signature"}},"optional":null}}"#).into_bytes()
    }

    fn policy() -> Policy {
        keyless(ISS, Identity::Exact(ID.into()))
    }

    #[test]
    fn keyless_negative_paths_each_fail_clearly() {
        let ca = self::ca();
        let rekor = new_key();
        let (root, log_id) = root_json(&ca.der, &rekor);
        let subject = crate::digest::Digest::of(b"image manifest");
        let (leaf_der, leaf_key) = leaf(&ca, T - 60, T + 540);
        let payload = payload(&subject);

        // A forged SET: signed by another log key.
        let forger = new_key();
        let forged = layer(&payload, &leaf_der, &leaf_key, &forger, &log_id);
        let err = verify_simple_signing(&payload, &forged, &subject, &policy(), &root).unwrap_err();
        assert!(
            matches!(err, TrustError::SignedEntryTimestamp { log_index: 1, .. }),
            "{err}"
        );

        // A certificate from another CA.
        let other = self::ca();
        let (other_leaf, other_key) = leaf(&other, T - 60, T + 540);
        let annotations = layer(&payload, &other_leaf, &other_key, &rekor, &log_id);
        let err =
            verify_simple_signing(&payload, &annotations, &subject, &policy(), &root).unwrap_err();
        assert!(matches!(err, TrustError::Chain { .. }), "{err}");
        assert!(err.to_string().starts_with("the signing certificate does not chain to a Fulcio certificate authority of the trusted root"), "{err}");

        // A certificate that had expired when the entry was integrated.
        let (old_leaf, old_key) = leaf(&ca, T - 1200, T - 600);
        let annotations = layer(&payload, &old_leaf, &old_key, &rekor, &log_id);
        let err =
            verify_simple_signing(&payload, &annotations, &subject, &policy(), &root).unwrap_err();
        assert_eq!(err.to_string(), format!("the signing certificate was not valid when Rekor logged the signature (integrated at {T}; valid from {} to {})", T - 1200, T - 600));

        // A payload naming another digest.
        let annotations = layer(&payload, &leaf_der, &leaf_key, &rekor, &log_id);
        let other_subject = crate::digest::Digest::of(b"another manifest");
        let err = verify_simple_signing(&payload, &annotations, &other_subject, &policy(), &root)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("the signature is for {subject}, but the artifact is {other_subject}")
        );

        // With everything right, only the SCT (none: this CA is no CT-logged Fulcio) fails.
        let err =
            verify_simple_signing(&payload, &annotations, &subject, &policy(), &root).unwrap_err();
        assert!(matches!(err, TrustError::Sct { .. }), "{err}");
    }

    #[test]
    fn a_keyless_cosign_signature_with_every_part_right_verifies() {
        let (ca, rekor, ct) = (self::ca(), new_key(), new_key());
        let (root, log_id) = root_with_ct(&ca.der, &rekor, Some(&ct));
        let subject = crate::digest::Digest::of(b"image manifest");
        let (leaf_der, leaf_key) = leaf_logged(&ca, T - 60, T + 540, Some(&ct));
        let payload = payload(&subject);
        let annotations = layer(&payload, &leaf_der, &leaf_key, &rekor, &log_id);
        let signer =
            verify_simple_signing(&payload, &annotations, &subject, &policy(), &root).unwrap();
        assert_eq!(
            signer,
            Signer {
                method: SignerMethod::Keyless {
                    identity: ID.into(),
                    issuer: ISS.into()
                },
                log_index: Some(1),
                integrated_time: Some(T),
            }
        );
        // The same certificate with an SCT from a log the root does not name fails.
        let (leaf_der, leaf_key) = leaf_logged(&ca, T - 60, T + 540, Some(&new_key()));
        let annotations = layer(&payload, &leaf_der, &leaf_key, &rekor, &log_id);
        let err =
            verify_simple_signing(&payload, &annotations, &subject, &policy(), &root).unwrap_err();
        assert!(matches!(err, TrustError::Sct { .. }), "{err}");
    }

    #[test]
    fn key_signed_simple_signing_passes_with_the_right_key_only() {
        let key = new_key();
        let pem_text = key
            .verifying_key()
            .to_public_key_pem(p256::pkcs8::LineEnding::LF)
            .unwrap();
        let subject = crate::digest::Digest::of(b"image manifest");
        let payload = payload(&subject);
        let signature: p256::ecdsa::DerSignature = key.sign(&payload);
        let annotations = BTreeMap::from([(
            cosign::SIGNATURE_ANNOTATION.to_string(),
            B64.encode(signature.as_bytes()),
        )]);
        let root = TrustedRoot::production();
        let policy = Policy::Key {
            pem: pem_text.clone(),
        };
        let signer =
            verify_simple_signing(&payload, &annotations, &subject, &policy, &root).unwrap();
        let SignerMethod::Key { fingerprint } = &signer.method else {
            panic!("{signer:?}")
        };
        assert_eq!(fingerprint.len(), 64);
        assert_eq!(signer.log_index, None);

        let wrong = new_key();
        let wrong_pem = wrong
            .verifying_key()
            .to_public_key_pem(p256::pkcs8::LineEnding::LF)
            .unwrap();
        let err = verify_simple_signing(
            &payload,
            &annotations,
            &subject,
            &Policy::Key { pem: wrong_pem },
            &root,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the signature over the simple-signing payload does not verify with the expected key (another key made it, or what it signs changed)"
        );

        let other = crate::digest::Digest::of(b"other");
        let err =
            verify_simple_signing(&payload, &annotations, &other, &policy, &root).unwrap_err();
        assert!(matches!(err, TrustError::OtherDigest { .. }), "{err}");

        // A detached signature over a file, as `openssl dgst -sha256 -sign` makes it.
        let file = b"a file";
        let sig: p256::ecdsa::DerSignature = key.sign(file);
        verify_detached(sig.as_bytes(), &ArtifactDigest::of(file), &policy).unwrap();
        let err =
            verify_detached(sig.as_bytes(), &ArtifactDigest::of(b"b file"), &policy).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the signature over the file does not verify with the expected key (another key made it, or what it signs changed)"
        );
    }
}
