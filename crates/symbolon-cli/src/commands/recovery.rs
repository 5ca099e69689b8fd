//! `symbolon recovery …`: the requester's, the arbitrators' and the
//! enclave's sides of recovering an escrowed key (FIG. 8–12), over the CA
//! service's `/v1/recovery` endpoints.

use std::time::SystemTime;
use symbolon::Code;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use symbolon::escrow::{EnclaveStatement, RecoveryRequest};
use symbolon::keys::{Fingerprint, IdentityPublicKey, PublicKey};
use symbolon::pem;
use symbolon::token::{SignedCommand, SlotName, TokenInfo};

use super::arbitrator::{fetch_envelope, fetch_escrow, load};
use super::ca_client::{field, CaClient};
use super::open_token;
use crate::cli::{
    RecoveryApproveArgs, RecoveryCommand, RecoveryCompleteArgs, RecoveryEnclaveArgs,
    RecoveryRefuseArgs, RecoveryRequestArgs, RecoveryStatusArgs,
};
use crate::error::CliError;
use crate::files::{read_input, write_output};
use crate::output::print_json;

fn bad(what: &str, e: impl std::fmt::Display) -> CliError {
    CliError::new(
        Code::BadResponse,
        format!("the CA's {what} is malformed: {e}"),
    )
}

/// The enclave's keys, checked against the pinned root.
fn enclave(ca: &CaClient, root_pem: &std::path::Path) -> Result<EnclaveStatement, CliError> {
    let (_, root) = pem::decode(&read_input(Some(root_pem))?, &["CERTIFICATE"])
        .map_err(|e| CliError::new(Code::InvalidInput, format!("--ca-cert: {e}")))?;
    let v = ca.get("/v1/recovery/enclave")?;
    let chain = v["chain"]
        .as_array()
        .ok_or_else(|| bad("enclave statement", "no chain"))?
        .iter()
        .map(|c| {
            let text = c.as_str().ok_or_else(|| bad("enclave chain", "not text"))?;
            pem::decode(text.as_bytes(), &["CERTIFICATE"])
                .map(|(_, d)| d)
                .map_err(|e| bad("enclave chain", e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let st = EnclaveStatement {
        enclave_key: PublicKey::from_pem_or_der(field(&v, "enclave_key")?.as_bytes())?,
        issuer_key: IdentityPublicKey::from_pem_or_der(field(&v, "issuer_key")?.as_bytes())?,
        chain,
        signature: B64
            .decode(field(&v, "signature")?)
            .map_err(|e| bad("enclave signature", e))?,
    };
    st.verify(&root, SystemTime::now())
        .map_err(|e| CliError::new(Code::BadResponseSignature, e.to_string()))?;
    Ok(st)
}

/// Whether the token can take the recovered key into `slot`: the slot is
/// free, and the token trusts the recovery enclave's issuer key (it signs
/// the key command). Checked before a request is filed and before it is
/// completed, since completing spends it; the token checks the command
/// itself all the same.
fn can_receive(ca: &CaClient, info: &TokenInfo, slot: &SlotName) -> Result<(), CliError> {
    if info.slots.iter().any(|s| &s.name == slot) {
        return Err(CliError::new(
            Code::SlotOccupied,
            format!(
                "slot {slot:?} of token {} already holds a key, and keys are never replaced: recover into a free slot",
                info.serial
            ),
        ));
    }
    let issuer = IdentityPublicKey::from_pem_or_der(
        field(&ca.get("/v1/recovery/enclave")?, "issuer_key")?.as_bytes(),
    )?;
    if !info.trusted_issuers.contains(&issuer.fingerprint()) {
        return Err(CliError::new(
            Code::UntrustedIssuer,
            format!(
                "token {} does not trust the recovery enclave's issuer key {}, so it would refuse the key; a new token trusts it before its first key (`symbolon recovery enclave --out enclave.pem`, `symbolon token trust-issuer --issuer-key enclave.pem`)",
                info.serial,
                issuer.fingerprint()
            ),
        ));
    }
    Ok(())
}

/// The request and the head of its chain, from the status.
fn request_and_head(
    ca: &CaClient,
    id: &str,
) -> Result<(RecoveryRequest, [u8; 32], Value), CliError> {
    let v = ca.get(&format!("/v1/recovery/{id}"))?;
    let record = B64
        .decode(field(&v, "record")?)
        .map_err(|e| bad("request", e))?;
    let request = RecoveryRequest::decode(&record)?;
    if request.id.to_string() != id {
        return Err(bad("request", "it is another request"));
    }
    let head: [u8; 32] = hex::decode(field(&v, "head")?)
        .ok()
        .and_then(|h| h.try_into().ok())
        .ok_or_else(|| bad("status", "no chain head"))?;
    Ok((request, head, v))
}

/// Signs a decision on the current head and sends it; if another decision
/// lands first, signs again on the new head.
fn decide(
    ca: &CaClient,
    id: &str,
    sign: impl Fn(&RecoveryRequest, [u8; 32]) -> Result<symbolon::escrow::Approval, CliError>,
) -> Result<(RecoveryRequest, u64), CliError> {
    let mut last = None;
    for _ in 0..8 {
        let (request, head, _) = request_and_head(ca, id)?;
        let approval = sign(&request, head)?;
        match ca.post(
            &format!("/v1/recovery/{id}/approvals"),
            &json!({ "approval": B64.encode(approval.encode()) }),
        ) {
            Ok(v) => return Ok((request, v["position"].as_u64().unwrap_or(0))),
            Err(e) if e.code == Code::ChainMoved => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| CliError::new(Code::ChainMoved, "the approval chain kept moving")))
}

fn describe(r: &RecoveryRequest) -> String {
    format!(
        "key {} into token {} slot {}{}, requested by {} (reason: {})",
        r.key,
        r.target,
        r.slot,
        if r.rebind {
            ", a NEW token (rebinding)"
        } else {
            ""
        },
        if r.requester.is_empty() {
            "an unauthenticated caller"
        } else {
            r.requester.as_str()
        },
        r.reason
    )
}

pub(crate) fn run(cmd: RecoveryCommand, json: bool) -> Result<(), CliError> {
    match cmd {
        RecoveryCommand::Request(args) => request(args, json),
        RecoveryCommand::Enclave(args) => enclave_command(args, json),
        RecoveryCommand::Approve(args) => approve(args, json),
        RecoveryCommand::Refuse(args) => refuse(args, json),
        RecoveryCommand::Status(args) => status(args, json),
        RecoveryCommand::Complete(args) => complete(args, json),
    }
}

/// The CA certificate the caller pins: the enclave's keys must chain to it.
fn pinned(ca: &crate::cli::CaArgs) -> Result<std::path::PathBuf, CliError> {
    ca.ca_cert.clone().ok_or_else(|| {
        CliError::new(
            Code::InvalidInput,
            "--ca-cert is needed: the enclave's keys are checked against the CA you trust",
        )
        .hint("pass --ca-cert root.pem (or set SYMBOLON_CA_CERT)")
    })
}

fn request(
    RecoveryRequestArgs {
        ca,
        key,
        reason,
        token,
        slot,
    }: RecoveryRequestArgs,
    json: bool,
) -> Result<(), CliError> {
    let key: Fingerprint = key.parse()?;
    let slot = SlotName::new(&slot.slot)?;
    let info = open_token(&token)?.info()?;
    let serial = info.serial;
    let client = super::ca_client(&ca)?;
    // Arbitrators approve only what can be delivered.
    can_receive(&client, &info, &slot)?;
    let v = client.post(
        "/v1/recovery",
        &json!({ "key": key, "reason": reason, "target": serial, "slot": slot.as_str() }),
    )?;
    let id = field(&v, "request")?;
    if json {
        print_json(&v)
    } else {
        println!("recovery request {id} filed for key {key} into token {serial} slot {slot}");
        if v["rebind"].as_bool() == Some(true) {
            println!("the token is not the one the key was bound to: the arbitrators approve the rebinding too");
        }
        Ok(())
    }
}

fn enclave_command(
    RecoveryEnclaveArgs { ca, out }: RecoveryEnclaveArgs,
    json: bool,
) -> Result<(), CliError> {
    let ca_cert = pinned(&ca)?;
    let st = enclave(&super::ca_client(&ca)?, &ca_cert)?;
    if out.is_some() {
        write_output(out.as_deref(), st.issuer_key.to_pem().as_bytes(), false)?;
    }
    if json {
        print_json(&json!({
            "enclave_key": st.enclave_key.fingerprint(),
            "enclave_algorithm": st.enclave_key.algorithm().name(),
            "issuer_key": st.issuer_key.fingerprint(),
            "issuer_key_pem": st.issuer_key.to_pem(), "verified": true,
        }))
    } else {
        println!(
            "enclave key {} ({}) and issuer key {}, vouched for by the CA you pinned",
            st.enclave_key.fingerprint(),
            st.enclave_key.algorithm().name(),
            st.issuer_key.fingerprint()
        );
        Ok(())
    }
}

fn approve(
    RecoveryApproveArgs { dir, ca, request }: RecoveryApproveArgs,
    json: bool,
) -> Result<(), CliError> {
    let me = load(&dir)?;
    let ca_cert = pinned(&ca)?;
    let client = super::arbitrator::client(&dir, &ca)?;
    let st = enclave(&client, &ca_cert)?;
    let (r, _, _) = request_and_head(&client, &request)?;
    let deposit = fetch_escrow(&client, &r.escrow.to_string())?;
    let envelope = fetch_envelope(&client, &r.escrow.to_string(), me.id())?;
    let (r, position) = decide(&client, &request, |req, head| {
        Ok(me.approve(req, &deposit, &envelope, &st.enclave_key, head)?)
    })?;
    if json {
        print_json(
            &json!({ "request": request, "arbitrator": me.id(), "decision": "approve", "position": position }),
        )
    } else {
        println!(
            "{} approved request {request} at position {position}: {}",
            me.id(),
            describe(&r)
        );
        Ok(())
    }
}

fn refuse(
    RecoveryRefuseArgs {
        decision: RecoveryApproveArgs { dir, ca, request },
        reason,
    }: RecoveryRefuseArgs,
    json: bool,
) -> Result<(), CliError> {
    let me = load(&dir)?;
    let client = super::arbitrator::client(&dir, &ca)?;
    let (r, position) = decide(&client, &request, |req, head| {
        Ok(me.refuse(req, &reason, head)?)
    })?;
    if json {
        print_json(
            &json!({ "request": request, "arbitrator": me.id(), "decision": "refuse", "position": position }),
        )
    } else {
        println!(
            "{} refused request {request} at position {position}: {}",
            me.id(),
            describe(&r)
        );
        Ok(())
    }
}

fn status(
    RecoveryStatusArgs { ca, request }: RecoveryStatusArgs,
    json: bool,
) -> Result<(), CliError> {
    let client = super::ca_client(&ca)?;
    let (r, _, v) = request_and_head(&client, &request)?;
    if json {
        return print_json(&v);
    }
    println!("request {request}: {}", describe(&r));
    if let Some(depositor) = v["depositor"].as_str() {
        if depositor != r.requester {
            println!(
                        "warning: requested by {}, not by {depositor}, the station that deposited the escrow",
                        r.requester
                    );
        }
    }
    println!("policy:  {}", v["policy"].as_str().unwrap_or_default());
    for d in v["decisions"].as_array().into_iter().flatten() {
        println!(
            "  #{} {} {}",
            d["position"],
            d["arbitrator"].as_str().unwrap_or_default(),
            d["decision"].as_str().unwrap_or_default()
        );
    }
    let tree: symbolon::escrow::StatusNode =
        serde_json::from_value(v["tree"].clone()).map_err(|e| bad("status tree", e))?;
    print!("{}", tree.render());
    println!(
        "{}",
        match (v["completed"].as_bool(), v["satisfied"].as_bool()) {
            (Some(true), _) => "completed",
            (_, Some(true)) => "the policy holds: the enclave can complete it",
            _ => "the policy does not hold yet (· = missing)",
        }
    );
    let may_act: Vec<&str> = v["may_act"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if !may_act.is_empty() {
        println!("may approve now: {}", may_act.join(", "));
    }
    Ok(())
}

fn complete(
    RecoveryCompleteArgs { ca, request, token }: RecoveryCompleteArgs,
    json: bool,
) -> Result<(), CliError> {
    let mut t = open_token(&token)?;
    let info = t.info()?;
    let client = super::ca_client(&ca)?;
    // Before the enclave spends the request: is this its target?
    let (r, _, _) = request_and_head(&client, &request)?;
    if r.target != info.serial {
        return Err(CliError::new(
            Code::WrongToken,
            format!(
                "request {request} recovers into token {}, not this token ({})",
                r.target, info.serial
            ),
        ));
    }
    // A token that would refuse the key must not spend the request.
    can_receive(&client, &info, &r.slot)?;
    let v = client.post(
        &format!("/v1/recovery/{request}/complete"),
        &json!({ "sequence": info.command_sequence }),
    )?;
    let accept = SignedCommand::from_json(field(&v, "accept_key")?)?;
    if accept.command.token != info.serial {
        return Err(CliError::new(
            Code::WrongToken,
            "the enclave's command is for another token",
        ));
    }
    let public = t.accept_key(&accept)?;
    let with_certificate = match v["write_certificate"].as_str() {
        Some(c) => {
            t.write_certificate(&SignedCommand::from_json(c)?)?;
            true
        }
        None => false,
    };
    let replaced = &v["replaced"];
    if json {
        print_json(&json!({
            "request": request, "key": public.fingerprint(), "token": info.serial,
            "slot": accept.command.slot.as_str(), "certificate": with_certificate,
            "replaced": replaced,
        }))
    } else {
        if let Some(old) = replaced["token"].as_str() {
            let certs: Vec<&str> = replaced["certificates"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            println!(
                "token {old} is marked replaced; its certificates, to revoke: {}",
                if certs.is_empty() {
                    "none".to_string()
                } else {
                    certs.join(", ")
                }
            );
        }
        println!(
            "key {} recovered into token {} slot {}{}",
            public.fingerprint(),
            info.serial,
            accept.command.slot,
            if with_certificate {
                ", with its certificate"
            } else {
                ""
            }
        );
        Ok(())
    }
}
