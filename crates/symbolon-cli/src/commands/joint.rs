//! `symbolon joint …`: joint keys (fifth embodiment, FIG. 17–21). The token
//! side (init, contribute, finish, d0's one release) runs in the token; the
//! parties' side (their partials, partial signatures, verification) runs
//! here with constant-time arithmetic. Partials come from files, never the
//! command line.

use std::path::Path;
use symbolon::Code;

use serde_json::json;
use symbolon::joint::arith::{emsa_pkcs1_sha256, from_be, to_be_len};
use symbolon::joint::ChainMessage;
use symbolon::joint::{chained, corrected_partial, verify_chained};
use symbolon::keys::RsaPublicKey;
use symbolon::token::{joint_of_mut, SlotName};
use symbolon_token::file::create_new_private;
use zeroize::Zeroizing;

use super::open_token;
use crate::cli::{
    JointCommand, JointContributeArgs, JointEncodeArgs, JointFinishArgs, JointInitArgs,
    JointNewPartialArgs, JointOutputD0Args, JointPartialSignArgs, JointReissueBeginArgs,
    JointReissueEnterArgs, JointReissueFinishArgs, JointRevealD0Args, JointVerifyArgs,
};
use crate::error::CliError;
use crate::files::{read_input, read_secret, write_output};
use crate::output::print_json;

impl From<symbolon::joint::JointError> for CliError {
    fn from(e: symbolon::joint::JointError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

/// A partial from its file (hex, whitespace ignored) or stdin.
pub(crate) fn read_partial(path: &Path) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let text = if path == Path::new("-") {
        Zeroizing::new(read_input(None)?)
    } else {
        read_secret(path)?
    };
    // Bytes, not a lossy string: no unzeroised copy of the secret is made.
    let hex_text: Zeroizing<Vec<u8>> = Zeroizing::new(
        text.iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect(),
    );
    let bytes = Zeroizing::new(hex::decode(hex_text.as_slice()).map_err(|_| {
        CliError::new(
            Code::InvalidInput,
            format!("{} does not hold a hex partial exponent", path.display()),
        )
    })?);
    if bytes.is_empty() {
        return Err(CliError::new(
            Code::InvalidInput,
            format!("{} is empty: it holds no partial exponent", path.display()),
        ));
    }
    Ok(bytes)
}

fn read_hex(path: &Path) -> Result<Vec<u8>, CliError> {
    let text = read_input(Some(path))?;
    let t: String = String::from_utf8_lossy(&text)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    hex::decode(t).map_err(|_| {
        CliError::new(
            Code::InvalidInput,
            format!("{} does not hold hex", path.display()),
        )
    })
}

fn write_hex(out: Option<&Path>, v: &[u8]) -> Result<(), CliError> {
    write_output(out, format!("{}\n", hex::encode(v)).as_bytes(), false)
}

pub(crate) fn run(cmd: JointCommand, json: bool) -> Result<(), CliError> {
    match cmd {
        JointCommand::NewPartial(args) => new_partial(args),
        JointCommand::Init(args) => init(args, json),
        JointCommand::Contribute(args) => contribute(args, json),
        JointCommand::Finish(args) => finish(args, json),
        JointCommand::ReissueBegin(args) => reissue_begin(args, json),
        JointCommand::Protocol(cmd) => super::joint_protocol::run(cmd, json),
        JointCommand::ReissueEnter(args) => reissue_enter(args, json),
        JointCommand::ReissueFinish(args) => reissue_finish(args, json),
        JointCommand::OutputD0(args) => output_d0(args, json),
        JointCommand::RevealD0(args) => reveal_d0(args, json),
        JointCommand::Encode(args) => encode(args),
        JointCommand::PartialSign(args) => partial_sign(args),
        JointCommand::Verify(args) => verify(args, json),
    }
}

/// The party's corrected partial d′ + δ (what it signs with), beside its
/// partial file as `<file>.corrected` (mode 0600); nothing for stdin. A
/// `<file>.corrected` that holds another value (the same partial entered
/// into another joint key) is never overwritten: the new value goes to the
/// first free `<file>.corrected.N`, and a warning says so.
pub(crate) fn write_corrected(
    path: &Path,
    partial: &[u8],
    offset: u64,
) -> Result<Option<std::path::PathBuf>, CliError> {
    if path == Path::new("-") {
        return Ok(None);
    }
    let bytes = corrected_partial(partial, offset)?;
    let digits = Zeroizing::new(hex::encode(&*bytes));
    let line = Zeroizing::new(format!("{}\n", digits.as_str()));
    let base = {
        let mut name = path.as_os_str().to_owned();
        name.push(".corrected");
        std::path::PathBuf::from(name)
    };
    for n in 1..1000u32 {
        let out = if n == 1 {
            base.clone()
        } else {
            let mut name = base.clone().into_os_string();
            name.push(format!(".{n}"));
            std::path::PathBuf::from(name)
        };
        match std::fs::read(&out).map(Zeroizing::new) {
            Ok(existing) if existing.as_slice() == line.as_bytes() => return Ok(Some(out)),
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                create_new_private(&out, line.as_bytes())?;
                if n > 1 {
                    tracing::warn!(
                        kept = %base.display(),
                        "the corrected partial file beside this partial belongs to another joint key; it is kept, and this key's is {}",
                        out.display()
                    );
                }
                return Ok(Some(out));
            }
            Err(e) => return Err(CliError::io("cannot read", &out, e)),
        }
    }
    Err(CliError::new(
        Code::Io,
        format!(
            "{} and 999 numbered files beside it are taken",
            base.display()
        ),
    ))
}

pub(crate) fn done(json: bool, value: serde_json::Value, text: &str) -> Result<(), CliError> {
    if json {
        print_json(&value)
    } else {
        println!("{text}");
        Ok(())
    }
}

fn new_partial(JointNewPartialArgs { bits, out }: JointNewPartialArgs) -> Result<(), CliError> {
    let p = chained::new_partial(bits)?;
    let digits = Zeroizing::new(hex::encode(&*p));
    let line = Zeroizing::new(format!("{}\n", digits.as_str()));
    create_new_private(&out, line.as_bytes())?;
    println!(
        "a {bits}-bit partial exponent written to {} (mode 0600)",
        out.display()
    );
    Ok(())
}

fn init(
    JointInitArgs {
        token,
        slot,
        algorithm,
        e,
        partial,
    }: JointInitArgs,
    json: bool,
) -> Result<(), CliError> {
    let slot = SlotName::new(&slot.slot)?;
    let alg = super::rsa_algorithm(
                &algorithm,
                "joint keys are RSA keys. The fifth embodiment's partial exponents multiply modulo λ(n), which only RSA has; use rsa-2048, rsa-3072 or rsa-4096",
            )?;
    let d = read_partial(&partial.partial_file)?;
    let offset = joint_of_mut(&mut *open_token(&token)?)?.joint_init(&slot, alg, e, &d)?;
    let corrected = write_corrected(&partial.partial_file, &d, offset)?;
    done(
                json,
                json!({ "slot": slot.as_str(), "stage": "collecting", "offset": offset, "corrected": corrected }),
                &format!("joint key begun in slot {slot}: primes and e made, the issuer's partial entered (corrected by +{offset}{})", corrected.map(|p| format!("; sign with {}", p.display())).unwrap_or_default()),
            )
}

fn contribute(
    JointContributeArgs {
        token,
        slot,
        partial,
    }: JointContributeArgs,
    json: bool,
) -> Result<(), CliError> {
    let slot = SlotName::new(&slot.slot)?;
    let d = read_partial(&partial.partial_file)?;
    let offset = joint_of_mut(&mut *open_token(&token)?)?.joint_contribute(&slot, &d)?;
    let corrected = write_corrected(&partial.partial_file, &d, offset)?;
    done(
        json,
        json!({ "slot": slot.as_str(), "stage": "collecting", "offset": offset, "corrected": corrected }),
        &format!(
            "partial entered into slot {slot} (corrected by +{offset}{})",
            corrected
                .map(|p| format!("; sign with {}", p.display()))
                .unwrap_or_default()
        ),
    )
}

fn finish(
    JointFinishArgs { token, slot, out }: JointFinishArgs,
    json: bool,
) -> Result<(), CliError> {
    let slot = SlotName::new(&slot.slot)?;
    let public = joint_of_mut(&mut *open_token(&token)?)?.joint_finish(&slot)?;
    if out.is_some() {
        write_output(out.as_deref(), public.to_pem().as_bytes(), false)?;
    }
    done(
        json,
        json!({ "slot": slot.as_str(), "fingerprint": public.fingerprint(), "public_key": public.to_pem() }),
        &format!(
            "joint key {} complete in slot {slot}; d0 awaits its one release (`joint output-d0`)",
            public.fingerprint()
        ),
    )
}

fn reissue_begin(
    JointReissueBeginArgs {
        token,
        slot,
        permission,
    }: JointReissueBeginArgs,
    json: bool,
) -> Result<(), CliError> {
    let slot = SlotName::new(&slot.slot)?;
    let form = ChainMessage::parse(&read_input(Some(&permission))?)?;
    let key = form.key();
    joint_of_mut(&mut *open_token(&token)?)?.joint_reissue_begin(&slot, &form)?;
    done(
        json,
        json!({ "slot": slot.as_str(), "key": key.fingerprint(), "stage": "reissuing", "parties": form.parties() }),
        &format!(
            "the request form permits it: slot {slot} awaits the partials of key {} from {}",
            key.fingerprint(),
            form.parties()
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
}

fn reissue_enter(
    JointReissueEnterArgs {
        token,
        slot,
        partial,
    }: JointReissueEnterArgs,
    json: bool,
) -> Result<(), CliError> {
    let slot = SlotName::new(&slot.slot)?;
    let d = read_partial(&partial.partial_file)?;
    joint_of_mut(&mut *open_token(&token)?)?.joint_reissue_enter(&slot, &d)?;
    done(
        json,
        json!({ "slot": slot.as_str(), "stage": "reissuing" }),
        &format!("partial re-entered into slot {slot}"),
    )
}

fn reissue_finish(
    JointReissueFinishArgs { token, slot }: JointReissueFinishArgs,
    json: bool,
) -> Result<(), CliError> {
    let slot = SlotName::new(&slot.slot)?;
    let public = joint_of_mut(&mut *open_token(&token)?)?.joint_reissue_finish(&slot)?;
    done(
        json,
        json!({ "slot": slot.as_str(), "fingerprint": public.fingerprint() }),
        &format!(
            "key {} reissued into slot {slot}: the token recovered its primes itself",
            public.fingerprint()
        ),
    )
}

fn output_d0(
    JointOutputD0Args {
        token,
        slot,
        to,
        out,
    }: JointOutputD0Args,
    json: bool,
) -> Result<(), CliError> {
    let slot = SlotName::new(&slot.slot)?;
    let sealed = joint_of_mut(&mut *open_token(&token)?)?.joint_output_d0(&slot, &to)?;
    write_output(Some(&out), &sealed, true)?;
    done(
        json,
        json!({ "slot": slot.as_str(), "recipient": to, "out": out }),
        &format!(
            "d0 of slot {slot} released, sealed to {to}, in {}",
            out.display()
        ),
    )
}

fn reveal_d0(
    JointRevealD0Args {
        identity,
        input,
        out,
    }: JointRevealD0Args,
    json: bool,
) -> Result<(), CliError> {
    let text = read_secret(&identity)?;
    let line = Zeroizing::new(
        String::from_utf8_lossy(&text)
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
            .ok_or_else(|| {
                CliError::new(
                    Code::InvalidInput,
                    format!("{}: no AGE-SECRET-KEY-1 line", identity.display()),
                )
            })?
            .to_string(),
    );
    let id: age::x25519::Identity = line.parse().map_err(|e| {
        CliError::new(
            Code::InvalidInput,
            format!("{}: not an age identity: {e}", identity.display()),
        )
    })?;
    let sealed = std::fs::read(&input).map_err(|e| CliError::io("cannot read", &input, e))?;
    let (serial, slot, d0) = symbolon::joint::open_d0(&id, &sealed)?;
    let digits = Zeroizing::new(hex::encode(&*d0));
    let line = Zeroizing::new(format!("{}\n", digits.as_str()));
    create_new_private(&out, line.as_bytes())?;
    done(
        json,
        json!({ "token": serial, "slot": slot.as_str(), "out": out }),
        &format!(
            "d0 of token {serial} slot {slot} written to {} (mode 0600)",
            out.display()
        ),
    )
}

fn encode(JointEncodeArgs { key, input, out }: JointEncodeArgs) -> Result<(), CliError> {
    let key = RsaPublicKey::from_pem_or_der(&read_input(Some(&key))?)?;
    let message = std::fs::read(&input).map_err(|e| CliError::io("cannot read", &input, e))?;
    write_hex(
        out.as_deref(),
        &emsa_pkcs1_sha256(&message, key.modulus().len())?,
    )
}

fn partial_sign(
    JointPartialSignArgs {
        key,
        partial,
        input,
        out,
    }: JointPartialSignArgs,
) -> Result<(), CliError> {
    let key = RsaPublicKey::from_pem_or_der(&read_input(Some(&key))?)?;
    let d = read_partial(&partial.partial_file)?;
    let s = chained::partial_sign(&key, &read_hex(&input)?, &d)?;
    write_hex(out.as_deref(), &s)
}

fn verify(
    JointVerifyArgs {
        key,
        input,
        message,
        expect,
        signature_out,
    }: JointVerifyArgs,
    json: bool,
) -> Result<(), CliError> {
    let key = RsaPublicKey::from_pem_or_der(&read_input(Some(&key))?)?;
    let k = key.modulus().len();
    let signature = read_hex(&input)?;
    let expected = match (message, expect) {
        (Some(m), _) => emsa_pkcs1_sha256(
            &std::fs::read(&m).map_err(|e| CliError::io("cannot read", &m, e))?,
            k,
        )?,
        (None, Some(x)) => read_hex(&x)?,
        (None, None) => {
            return Err(CliError::new(
                Code::InvalidInput,
                "give --message or --expect",
            ))
        }
    };
    if !verify_chained(&key, &signature, &expected)? {
        return Err(CliError::new(
            Code::BadSignature,
            "s^e mod n is not the expected value: a partial in the chain is wrong or out of order",
        ));
    }
    if let Some(out) = signature_out {
        // As long as n, whatever leading zeros the input had.
        let s = from_be(&signature, key.bits() as u32)?;
        write_output(Some(&out), &to_be_len(&s, k), false)?;
    }
    done(
        json,
        json!({ "valid": true }),
        "the chained signature verifies with e",
    )
}
