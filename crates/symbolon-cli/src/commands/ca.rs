//! `symbolon ca …`: set up a CA, show its certificate.

use std::collections::BTreeMap;

use serde_json::json;
use symbolon::ca::CaPolicy;
use symbolon::keys::KeyAlgorithm;
use symbolon::pem;
use symbolon::x509::CertificateRole;
use symbolon::Code;
use symbolon_server::DataDir;
use symbolon_store::{AuditKind, Registry};

use crate::cli::{CaCertificateArgs, CaCommand, CaImportCertArgs, CaInitArgs, DataArgs};
use crate::error::CliError;
use crate::files::write_output;
use crate::output::print_json;

/// Creates the CA in `data` and records it in the registry; returns the root DER.
pub(crate) fn init_ca(
    data: &DataArgs,
    subject: &str,
    algorithm: KeyAlgorithm,
    policy: CaPolicy,
    device: Option<&str>,
) -> Result<Vec<u8>, CliError> {
    let root = DataDir::new(&data.data).init(subject, algorithm, policy, device)?;
    record_ca(data, &root, json!({ "subject": subject }))?;
    Ok(root)
}

/// Records in the registry that the CA's certificate `der` took effect.
fn record_ca(data: &DataArgs, der: &[u8], mut detail: serde_json::Value) -> Result<(), CliError> {
    let url = data
        .database
        .clone()
        .unwrap_or_else(|| DataDir::new(&data.data).database_url());
    // SHA-256 of the certificate's DER, as `openssl x509 -fingerprint -sha256` shows it.
    detail["certificate"] = json!(symbolon::keys::Fingerprint::of_spki(der));
    super::runtime()?.block_on(async {
        let registry = Registry::open(&url).await?;
        registry
            .append_audit(AuditKind::CaInitialised, &detail)
            .await?;
        registry.close().await;
        Ok::<_, CliError>(())
    })
}

/// `--curves ROLE=CURVE[+CURVE…]`, once per role.
fn parse_curves(
    args: &[String],
) -> Result<BTreeMap<CertificateRole, Vec<symbolon::keys::EcCurve>>, CliError> {
    let bad = |m: String| CliError::new(Code::InvalidInput, format!("--curves: {m}"));
    let mut out = BTreeMap::new();
    for arg in args {
        let (role, list) = arg.split_once('=').ok_or_else(|| {
            bad(format!(
                "{arg:?}: expected ROLE=CURVE[+CURVE…], e.g. server=p256+p384"
            ))
        })?;
        let role: CertificateRole = role.trim().parse().map_err(|e| bad(format!("{e}")))?;
        let curves = list
            .split('+')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|c| {
                let curve: symbolon::keys::EcCurve =
                    c.parse().map_err(|e| bad(format!("{role}: {e}")))?;
                // Only keys that sign can be certified.
                if curve.can_sign() {
                    Ok(curve)
                } else {
                    Err(bad(format!(
                        "{role}: {curve} keys only agree on keys and are never certified; curves: p256, p384, ed25519"
                    )))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        if out.insert(role, curves).is_some() {
            return Err(bad(format!("{role} is named twice")));
        }
    }
    Ok(out)
}

pub(crate) fn run(cmd: CaCommand, json: bool) -> Result<(), CliError> {
    match cmd {
        CaCommand::Init(args) => init(args, json),
        CaCommand::ImportCert(args) => import_cert(args, json),
        CaCommand::Certificate(args) => certificate(args),
    }
}

fn init(
    CaInitArgs {
        data,
        subject,
        algorithm,
        validity_days,
        require_attestation,
        manufacturer_evidence,
        curves,
        parent_csr,
        ca_token,
    }: CaInitArgs,
    json: bool,
) -> Result<(), CliError> {
    if validity_days == 0 {
        return Err(CliError::new(
            Code::InvalidInput,
            "--validity-days must be at least 1",
        ));
    }
    // RSA or a signing curve; an X25519 key cannot sign.
    let alg: KeyAlgorithm = algorithm.parse()?;
    if let KeyAlgorithm::Ec(curve) = alg {
        if !curve.can_sign() {
            return Err(CliError::new(
                        Code::Unsupported,
                        format!("--algorithm {curve}: a CA key must sign, and {curve} keys only agree on keys; use rsa-2048, rsa-3072, rsa-4096, p256, p384 or ed25519"),
                    ));
        }
    }
    let manufacturer_evidence = manufacturer_evidence
        .iter()
        .map(|r| r.trim().parse())
        .collect::<Result<Vec<symbolon::x509::CertificateRole>, _>>()
        .map_err(|e| CliError::new(Code::InvalidInput, format!("--manufacturer-evidence: {e}")))?;
    let policy = CaPolicy {
        validity_days,
        require_attestation,
        manufacturer_evidence,
        curves: parse_curves(&curves)?,
        ..CaPolicy::default()
    };
    if let Some(out) = parent_csr {
        let csr =
            DataDir::new(&data.data).init_for_parent(&subject, alg, policy, ca_token.as_deref())?;
        write_output(
            Some(&out),
            pem::encode("CERTIFICATE REQUEST", &csr).as_bytes(),
            false,
        )?;
        return if json {
            print_json(&json!({ "data": data.data, "request": out, "subject": subject }))
        } else {
            println!(
                "CA key for {subject} created in {}; its request for the parent: {}",
                data.data.display(),
                out.display()
            );
            println!(
                "then: symbolon ca import-cert --data {} --in CERT --chain PARENT-CHAIN",
                data.data.display()
            );
            Ok(())
        };
    }
    init_ca(&data, &subject, alg, policy, ca_token.as_deref())?;
    let dir = DataDir::new(&data.data);
    if json {
        print_json(
            &json!({ "data": dir.path(), "certificate": dir.certificate_path(), "subject": subject }),
        )
    } else {
        println!("CA {subject} created in {}", dir.path().display());
        println!("its certificate: {}", dir.certificate_path().display());
        Ok(())
    }
}

fn import_cert(
    CaImportCertArgs { data, input, chain }: CaImportCertArgs,
    json: bool,
) -> Result<(), CliError> {
    let (_, cert) = pem::decode(&crate::files::read_input(Some(&input))?, &["CERTIFICATE"])
        .map_err(|e| CliError::new(Code::InvalidCertificate, format!("--in: {e}")))?;
    let parents = symbolon_server::data_dir::read_chain(&chain)?;
    let dir = DataDir::new(&data.data);
    dir.import_certificate(&cert, &parents)?;
    record_ca(&data, &cert, json!({ "parents": parents.len() }))?;
    if json {
        print_json(
            &json!({ "data": data.data, "certificate": dir.certificate_path(), "chain": dir.chain_path() }),
        )
    } else {
        println!(
            "CA certificate installed; the chain is {}",
            dir.chain_path().display()
        );
        Ok(())
    }
}

fn certificate(
    CaCertificateArgs {
        ca,
        ca_cert,
        data,
        out,
    }: CaCertificateArgs,
) -> Result<(), CliError> {
    let root = match (ca, data) {
        (Some(url), _) => {
            let v = super::connect(&url, ca_cert.as_deref())?.get("/v1/ca/certificate")?;
            v["root"].as_str().map(str::to_string).ok_or_else(|| {
                CliError::new(Code::BadResponse, "the CA's answer has no root certificate")
            })?
        }
        (None, Some(dir)) => {
            let path = DataDir::new(dir).chain_path();
            let chain = symbolon_server::data_dir::read_chain(&path)?;
            let root = chain.last().ok_or_else(|| {
                CliError::new(
                    Code::InvalidInput,
                    format!("{}: the CA chain is empty", path.display()),
                )
            })?;
            pem::encode("CERTIFICATE", root)
        }
        (None, None) => {
            return Err(CliError::new(Code::InvalidInput, "say where the CA is")
                .hint("pass --ca URL or --data DIR"))
        }
    };
    write_output(out.as_deref(), root.as_bytes(), false)
}
