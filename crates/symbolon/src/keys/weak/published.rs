//! Keys published as test keys (RFC 9500's, every RSA key in Project
//! Wycheproof's vectors): their private halves are printed for anyone to
//! read. The moduli's SHA-256 digests are in `data/published-moduli.txt`,
//! written by `scripts/published-moduli.py`.

use std::sync::OnceLock;

use aws_lc_rs::digest::{digest, SHA256};

use super::{WeakClass, WeakKey};

const LIST: &str = include_str!("data/published-moduli.txt");

/// (digest, source), sorted by digest.
fn list() -> &'static [([u8; 32], &'static str)] {
    static PARSED: OnceLock<Vec<([u8; 32], &'static str)>> = OnceLock::new();
    PARSED.get_or_init(|| {
        let mut out: Vec<([u8; 32], &'static str)> = LIST
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let (hex_digest, source) = l.split_once(' ')?;
                let bytes: [u8; 32] = hex::decode(hex_digest).ok()?.try_into().ok()?;
                Some((bytes, source))
            })
            .collect();
        out.sort();
        out
    })
}

/// The minimal big-endian bytes of a modulus given with or without leading zeros.
fn minimal(modulus: &[u8]) -> &[u8] {
    let start = modulus
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(modulus.len());
    &modulus[start..]
}

pub(super) fn check(modulus: &[u8]) -> Result<(), WeakKey> {
    let d = digest(&SHA256, minimal(modulus));
    let list = list();
    match list.binary_search_by(|(k, _)| k.as_slice().cmp(d.as_ref())) {
        Ok(i) => Err(WeakKey::new(
            WeakClass::Published,
            format!(
                "the modulus is that of a published test key ({}): its private key is public",
                list[i].1
            ),
        )),
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_parses_whole_and_finds_rfc_9500() {
        let non_comment = LIST.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(list().len(), non_comment);
        assert!(list().len() > 40);
        // RFC 9500 §2.1 testRSA2048's modulus.
        let n = hex::decode(concat!(
            "B0F9E81943A7AE9892AADE17CA7C40F8744FED2F8148E6C8EAA27B7D001548FB",
            "5192AB28B56C5060B118CCD131E594874C6CA989B56C27296F09FB93A034DF32",
            "E97C6FF0998CFD8E6F42DDA58ACD1FA97986F144F3D154D67650175E6854B3A9",
            "52003BC06887B8455AC2B19F7B2F76504EBC98EC945571B07892150DDC6A74CA",
            "0FBCD35497CE81534DAF9418844B13AEA31F9D5A6B9557BBDF619EFD4E887F2D",
            "42B8DD8BC987EAE1BF89CAB85EE21E356305DF6C07A8838E3EF41C595DCCE43D",
            "AFC49123EF4D8ABBA93D3905E4028D7BA91484A27596E07B4B6ED992F077B524",
            "D3DCFE7DDD5549BE7CCE8DA035CFA0B3FB8F9E46F732B2A86B460165C08F5313",
        ))
        .unwrap();
        let e = check(&n).unwrap_err();
        assert_eq!(e.class, WeakClass::Published);
        assert!(e.detail.contains("RFC 9500"), "{e}");
        let mut padded = vec![0u8];
        padded.extend_from_slice(&n);
        assert!(check(&padded).is_err());
        let mut other = n.clone();
        other[255] ^= 2;
        assert!(check(&other).is_ok());
    }
}
