//! `symbolon token backup|restore` (patent steps S10–S12): the token's data
//! objects, never its keys, sealed (docs/content-format.md) to the public
//! half of one of its own keys. Sealed to an escrowed key, the backup opens
//! again in the token the key is recovered into.
//!
//! Payload: canonical("symbolon token backup v1", source serial, count,
//! (name, data)…).

use symbolon::content::{self, ContentHeader, ContentId, DEFAULT_CHUNK_LOG2};
use symbolon::encoding::{Reader, Writer};
use symbolon::token::{SlotName, Token, TokenSerial, MAX_OBJECT, MAX_OBJECTS};
use symbolon::Code;

use crate::error::CliError;

const DOMAIN: &str = "symbolon token backup v1";

/// Seals every data object of `token` to `slot`'s public key; returns the
/// backup file and how many objects it holds.
pub(crate) fn backup(token: &dyn Token, slot: &SlotName) -> Result<(Vec<u8>, usize), CliError> {
    let recipient = token.slot_public_key(slot)?;
    let names = token.objects()?;
    let mut w = Writer::with_domain(DOMAIN);
    w.bytes(token.info()?.serial.as_bytes());
    w.u32(names.len() as u32);
    for n in &names {
        w.str(n.as_str());
        w.bytes(&token.object(n)?);
    }
    let payload = w.into_bytes();
    let mut out = Vec::new();
    content::seal(
        &mut payload.as_slice(),
        &mut out,
        &recipient,
        ContentId::random()?,
        DEFAULT_CHUNK_LOG2,
    )?;
    Ok((out, names.len()))
}

/// Opens a backup with `slot` of `token` and writes its objects back.
/// Returns the source token's serial and the names restored.
pub(crate) fn restore(
    token: &mut dyn Token,
    slot: &SlotName,
    file: &[u8],
) -> Result<(TokenSerial, Vec<SlotName>), CliError> {
    let mut input = file;
    let header = ContentHeader::read_from(&mut input)?;
    let mut opener = token.open_content(slot, &header, header.wrapped_key())?;
    let mut payload = Vec::new();
    content::unseal(&mut input, &header, opener.as_mut(), &mut payload)?;
    let bad = |e: symbolon::encoding::DecodeError| {
        CliError::new(Code::InvalidInput, format!("not a token backup: {e}"))
    };
    let mut r = Reader::new(&payload);
    r.domain(DOMAIN).map_err(bad)?;
    let serial = TokenSerial::from_bytes(
        r.bytes("serial")
            .map_err(bad)?
            .try_into()
            .map_err(|_| CliError::new(Code::InvalidInput, "not a token backup: bad serial"))?,
    );
    let n = r.u32("count").map_err(bad)? as usize;
    if n > MAX_OBJECTS {
        return Err(CliError::new(
            Code::InvalidInput,
            "the backup holds more objects than a token keeps",
        ));
    }
    let mut objects = Vec::new();
    for _ in 0..n {
        let name = SlotName::new(r.str("name").map_err(bad)?)?;
        let data = r.bytes("data").map_err(bad)?.to_vec();
        if data.len() > MAX_OBJECT {
            return Err(CliError::new(
                Code::InvalidInput,
                "a backed-up object is larger than a token keeps",
            ));
        }
        objects.push((name, data));
    }
    r.finish().map_err(bad)?;
    // Everything was read and authenticated before the first write.
    let mut names = Vec::new();
    for (name, data) in objects {
        token.put_object(&name, &data)?;
        names.push(name);
    }
    Ok((serial, names))
}
