//! `symbolon joint check-begin | form-new | chain-* | rotate-* | mailbox-*`:
//! the fifth embodiment's protocols. The honest-generation check (FIG. 19)
//! and the reissue request form (FIG. 20) are chain files the parties sign
//! in turn ([`symbolon::joint::chain`]); rotation (FIG. 21) runs in the
//! token; the mailbox is the service's store-and-forward for chain files.

use std::io::Read;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};
use symbolon::Code;

use serde_json::json;
use symbolon::content::ContentHeader;
use symbolon::joint::{
    ChainId, ChainMessage, ChainStatus, PartyName, Purpose, ReissueForm, RotateOutcome, RotateStep,
};
use symbolon::keys::RsaPublicKey;
use symbolon::token::{joint_of, joint_of_mut, SlotName, TokenSerial};

use super::joint::{done, read_partial, write_corrected};
use super::{ca_client, open_token};
use crate::cli::{
    JointProtocolChainRefuseArgs, JointProtocolChainShowArgs, JointProtocolChainSignArgs,
    JointProtocolChainVerifyArgs, JointProtocolCheckBeginArgs, JointProtocolCommand,
    JointProtocolFormNewArgs, JointProtocolMailboxGetArgs, JointProtocolMailboxPostArgs,
    JointProtocolMailboxPutArgs, JointProtocolRotateBeginArgs, JointProtocolRotateCommitArgs,
    JointProtocolRotateEnterArgs, JointProtocolRotateResealArgs,
};
use crate::error::CliError;
use crate::files::{read_input, write_output};
use crate::output::print_json;

fn roster(list: &str) -> Result<Vec<PartyName>, CliError> {
    Ok(list
        .split(',')
        .map(|p| PartyName::new(p.trim()))
        .collect::<Result<_, _>>()?)
}

fn read_chain(path: &Path) -> Result<ChainMessage, CliError> {
    Ok(ChainMessage::parse(&read_input(Some(path))?)?)
}

/// Writes a chain file whole or not at all (a crash mid-write leaves the
/// previous file).
fn write_chain(path: &Path, message: &ChainMessage) -> Result<(), CliError> {
    let text = message.to_json()?;
    symbolon_token::file::write_atomic(path, text.as_bytes())
        .map_err(|e| CliError::new(Code::Io, format!("cannot write {}: {e}", path.display())))
}

/// The file as the JSON body the mailbox takes.
fn chain_body(message: &ChainMessage) -> Result<serde_json::Value, CliError> {
    serde_json::to_value(message).map_err(|e| CliError::new(Code::Internal, e.to_string()))
}

fn mailbox_path(id: &str) -> Result<String, CliError> {
    Ok(format!("/v1/joint/messages/{}", id.parse::<ChainId>()?))
}

fn status_json(message: &ChainMessage, status: &ChainStatus) -> serde_json::Value {
    let next = match status {
        ChainStatus::Awaiting(i) => Some(message.parties()[*i].as_str()),
        _ => None,
    };
    json!({
        "id": message.id(),
        "purpose": message.purpose(),
        "key": message.key().fingerprint().to_string(),
        "parties": message.parties(),
        "signed_by": message.links().iter().map(|l| l.party.as_str()).collect::<Vec<_>>(),
        "state": status.name(),
        "next": next,
        "form": message.form(),
        "refusal": message.refusal(),
    })
}

fn status_text(message: &ChainMessage, status: &ChainStatus) -> String {
    let what = match message.purpose() {
        Purpose::Check => "honest-generation check".to_string(),
        Purpose::Reissue => match message.form() {
            Some(f) => format!(
                "request to reissue into token {} slot {} (reason: {})",
                f.token, f.slot, f.reason
            ),
            None => "request to reissue".to_string(),
        },
    };
    let signed: Vec<&str> = message.links().iter().map(|l| l.party.as_str()).collect();
    let state = match status {
        ChainStatus::Awaiting(i) => format!("{} signs next", message.parties()[*i]),
        ChainStatus::Complete => "complete: the chain verifies with e".into(),
        ChainStatus::Refused(r) => format!("refused by {}: {}", r.party, r.reason),
    };
    format!(
        "{what}\n  key {}\n  roster {}\n  signed by {}\n  {state}",
        message.key().fingerprint(),
        message.roster_text(),
        if signed.is_empty() {
            "nobody yet".to_string()
        } else {
            signed.join(", ")
        }
    )
}

pub(crate) fn run(cmd: JointProtocolCommand, json: bool) -> Result<(), CliError> {
    match cmd {
        JointProtocolCommand::CheckBegin(args) => check_begin(args, json),
        JointProtocolCommand::FormNew(args) => form_new(args, json),
        JointProtocolCommand::ChainShow(args) => chain_show(args, json),
        JointProtocolCommand::ChainSign(args) => chain_sign(args, json),
        JointProtocolCommand::ChainRefuse(args) => chain_refuse(args, json),
        JointProtocolCommand::ChainVerify(args) => chain_verify(args, json),
        JointProtocolCommand::RotateBegin(args) => rotate_begin(args, json),
        JointProtocolCommand::RotateEnter(args) => rotate_enter(args, json),
        JointProtocolCommand::RotateReseal(args) => rotate_reseal(args, json),
        JointProtocolCommand::RotateCommit(args) => rotate_commit(args, json),
        JointProtocolCommand::MailboxPost(args) => mailbox_post(args, json),
        JointProtocolCommand::MailboxGet(args) => mailbox_get(args, json),
        JointProtocolCommand::MailboxPut(args) => mailbox_put(args, json),
    }
}

fn check_begin(
    JointProtocolCheckBeginArgs {
        token,
        slot,
        parties,
        out,
    }: JointProtocolCheckBeginArgs,
    json: bool,
) -> Result<(), CliError> {
    let slot = SlotName::new(&slot.slot)?;
    let token = open_token(&token)?;
    let key = token.public_key(&slot)?;
    let message = joint_of(&*token)?
        .joint_check(&slot, &ChainMessage::new_check(&key, roster(&parties)?)?)?;
    let status = message.status()?;
    write_chain(&out, &message)?;
    done(
        json,
        status_json(&message, &status),
        &format!(
            "check {} written to {}: D(r) verifies with e; {} signs first",
            message.id(),
            out.display(),
            message.parties()[0]
        ),
    )
}

fn form_new(
    JointProtocolFormNewArgs {
        key,
        parties,
        new_token,
        new_slot,
        reason,
        out,
    }: JointProtocolFormNewArgs,
    json: bool,
) -> Result<(), CliError> {
    let key = RsaPublicKey::from_pem_or_der(&read_input(Some(&key))?)?;
    let serial: TokenSerial = new_token.trim().parse().map_err(|_| {
        CliError::new(
            Code::InvalidInput,
            format!("{new_token:?} is not a token serial (see `symbolon token info`)"),
        )
    })?;
    let form = ReissueForm {
        reason,
        token: serial,
        slot: SlotName::new(&new_slot)?,
        requested_at: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .map_err(|_| CliError::new(Code::Internal, "the system clock is before 1970"))?,
    };
    let message = ChainMessage::new_reissue(&key, roster(&parties)?, form)?;
    let status = message.status()?;
    write_chain(&out, &message)?;
    done(
        json,
        status_json(&message, &status),
        &format!(
            "request form {} written to {}; {} signs first with d0",
            message.id(),
            out.display(),
            message.parties()[0]
        ),
    )
}

fn chain_show(
    JointProtocolChainShowArgs { input }: JointProtocolChainShowArgs,
    json: bool,
) -> Result<(), CliError> {
    let message = read_chain(&input)?;
    let status = message.status()?;
    done(
        json,
        status_json(&message, &status),
        &status_text(&message, &status),
    )
}

fn chain_sign(
    JointProtocolChainSignArgs {
        file,
        party,
        partial,
    }: JointProtocolChainSignArgs,
    json: bool,
) -> Result<(), CliError> {
    let mut message = read_chain(&file.input)?;
    let party = PartyName::new(&party)?;
    let d = read_partial(&partial.partial_file)?;
    let status = message.sign(&party, &d)?;
    write_chain(file.out.as_deref().unwrap_or(&file.input), &message)?;
    done(
        json,
        status_json(&message, &status),
        &format!("{party} signed.\n{}", status_text(&message, &status)),
    )
}

fn chain_refuse(
    JointProtocolChainRefuseArgs {
        file,
        party,
        reason,
    }: JointProtocolChainRefuseArgs,
    json: bool,
) -> Result<(), CliError> {
    let mut message = read_chain(&file.input)?;
    let party = PartyName::new(&party)?;
    let status = message.refuse(&party, &reason)?;
    write_chain(file.out.as_deref().unwrap_or(&file.input), &message)?;
    done(
        json,
        status_json(&message, &status),
        &status_text(&message, &status),
    )
}

fn chain_verify(
    JointProtocolChainVerifyArgs {
        input,
        message_out,
        signature_out,
    }: JointProtocolChainVerifyArgs,
    json: bool,
) -> Result<(), CliError> {
    let message = read_chain(&input)?;
    let status = message.status()?;
    match &status {
        ChainStatus::Complete => {}
        ChainStatus::Awaiting(i) => {
            return Err(CliError::new(
                Code::NotComplete,
                format!(
                    "the chain is not complete: {} signs next",
                    message.parties()[*i]
                ),
            ))
        }
        ChainStatus::Refused(r) => {
            return Err(CliError::new(
                Code::Refused,
                format!("{} refused: {}", r.party, r.reason),
            ))
        }
    }
    if let Some(path) = message_out {
        write_output(Some(&path), &message.signed_message(), false)?;
    }
    if let Some(path) = signature_out {
        let last = &message.links()[message.links().len() - 1];
        write_output(Some(&path), &last.value.0, false)?;
    }
    done(
                json,
                status_json(&message, &status),
                &match message.purpose() {
                    Purpose::Check => format!(
                        "honest generation verified: the partials of {}, applied in turn by their holders, make the token's key (E(D(r)) = r)",
                        message.parties().iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                    Purpose::Reissue => "permission: every party signed the request form (E(D_{k−1}(…D_0(Form))) = Form)".to_string(),
                },
            )
}

fn rotate_begin(
    JointProtocolRotateBeginArgs { token, slot, e }: JointProtocolRotateBeginArgs,
    json: bool,
) -> Result<(), CliError> {
    let slot = SlotName::new(&slot.slot)?;
    let outcome = joint_of_mut(&mut *open_token(&token)?)?
        .joint_rotate(&slot, RotateStep::Begin { e_start: e })?;
    let RotateOutcome::Begun { public } = outcome else {
        return Err(CliError::new(Code::Internal, "unexpected rotation outcome"));
    };
    done(
                json,
                json!({ "slot": slot.as_str(), "stage": "rotating", "new_key": public.fingerprint() }),
                &format!(
                    "rotation of slot {slot} begun: the new key will be {}; every party now re-enters its partials (`joint rotate-enter`)",
                    public.fingerprint()
                ),
            )
}

fn rotate_enter(
    JointProtocolRotateEnterArgs {
        token,
        slot,
        party_index,
        partial,
        new_partial_file,
    }: JointProtocolRotateEnterArgs,
    json: bool,
) -> Result<(), CliError> {
    let slot = SlotName::new(&slot.slot)?;
    let old = read_partial(&partial.partial_file)?;
    let new = new_partial_file.as_deref().map(read_partial).transpose()?;
    let outcome = joint_of_mut(&mut *open_token(&token)?)?.joint_rotate(
        &slot,
        RotateStep::Enter {
            party: party_index,
            old,
            new: new.clone(),
        },
    )?;
    let RotateOutcome::Entered { offset, waiting } = outcome else {
        return Err(CliError::new(Code::Internal, "unexpected rotation outcome"));
    };
    let corrected = match (new_partial_file, new, offset) {
        (Some(path), Some(d), Some(offset)) => write_corrected(&path, &d, offset)?,
        _ => None,
    };
    done(
        json,
        json!({ "slot": slot.as_str(), "party": party_index, "offset": offset, "corrected": corrected, "waiting": waiting }),
        &format!(
            "party {party_index}'s old partial checks out{}; {}",
            corrected
                .map(|p| format!("; its new partial is in (sign with {})", p.display()))
                .unwrap_or_default(),
            if waiting.is_empty() {
                "every party is in: reseal stored data (`joint rotate-reseal`), then `joint rotate-commit`".to_string()
            } else {
                format!("still waiting for parties {waiting:?}")
            }
        ),
    )
}

fn rotate_reseal(
    JointProtocolRotateResealArgs {
        token,
        slot,
        input,
        out,
    }: JointProtocolRotateResealArgs,
    json: bool,
) -> Result<(), CliError> {
    let slot = SlotName::new(&slot.slot)?;
    let mut file =
        std::fs::File::open(&input).map_err(|e| CliError::io("cannot read", &input, e))?;
    let header = ContentHeader::read_from(&mut file)?;
    let rewrapped = joint_of(&*open_token(&token)?)?.joint_rewrap(&slot, &header)?;
    let mut rest = Vec::new();
    file.read_to_end(&mut rest)
        .map_err(|e| CliError::io("cannot read", &input, e))?;
    let mut data = rewrapped.to_bytes();
    data.extend_from_slice(&rest);
    symbolon_token::file::write_atomic(&out, &data)
        .map_err(|e| CliError::new(Code::Io, format!("cannot write {}: {e}", out.display())))?;
    done(
        json,
        json!({ "slot": slot.as_str(), "content": rewrapped.content_id(), "recipient": rewrapped.recipient(), "out": out }),
        &format!(
            "{} re-sealed to the new key {} in {}",
            input.display(),
            rewrapped.recipient(),
            out.display()
        ),
    )
}

fn rotate_commit(
    JointProtocolRotateCommitArgs { token, slot, out }: JointProtocolRotateCommitArgs,
    json: bool,
) -> Result<(), CliError> {
    let slot = SlotName::new(&slot.slot)?;
    let outcome =
        joint_of_mut(&mut *open_token(&token)?)?.joint_rotate(&slot, RotateStep::Commit)?;
    let RotateOutcome::Committed { public } = outcome else {
        return Err(CliError::new(Code::Internal, "unexpected rotation outcome"));
    };
    if out.is_some() {
        write_output(out.as_deref(), public.to_pem().as_bytes(), false)?;
    }
    done(
                json,
                json!({ "slot": slot.as_str(), "fingerprint": public.fingerprint(), "public_key": public.to_pem() }),
                &format!(
                    "slot {slot} now holds the new key {}; the old key and partials are gone; d0_NEW awaits its one release (`joint output-d0`)",
                    public.fingerprint()
                ),
            )
}

fn mailbox_post(
    JointProtocolMailboxPostArgs { ca, input }: JointProtocolMailboxPostArgs,
    json: bool,
) -> Result<(), CliError> {
    let message = read_chain(&input)?;
    let v = ca_client(&ca)?.post("/v1/joint/messages", &chain_body(&message)?)?;
    if json {
        print_json(&v)
    } else {
        println!("{}", message.id());
        Ok(())
    }
}

fn mailbox_get(
    JointProtocolMailboxGetArgs { ca, id, out }: JointProtocolMailboxGetArgs,
    json: bool,
) -> Result<(), CliError> {
    let v = ca_client(&ca)?.get(&mailbox_path(&id)?)?;
    let message = ChainMessage::parse(v.to_string().as_bytes())?;
    let status = message.status()?;
    write_chain(&out, &message)?;
    done(
        json,
        status_json(&message, &status),
        &status_text(&message, &status),
    )
}

fn mailbox_put(
    JointProtocolMailboxPutArgs { ca, id, input }: JointProtocolMailboxPutArgs,
    json: bool,
) -> Result<(), CliError> {
    let message = read_chain(&input)?;
    let v = ca_client(&ca)?.put(&mailbox_path(&id)?, &chain_body(&message)?)?;
    if json {
        print_json(&v)
    } else {
        println!("mailbox {} updated", message.id());
        Ok(())
    }
}
