//! Durations as people write them on command lines and in requests:
//! a whole number and one unit, `s`, `m`, `h` or `d` (`30d`, `12h`, `90m`,
//! `3600s`).

/// The seconds `text` names, or None when it is not such a duration (or
/// overflows).
pub fn parse(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = t.split_at(split);
    let n: u64 = n.parse().ok()?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(unit)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn units_and_refusals() {
        assert_eq!(parse("30d"), Some(30 * 86_400));
        assert_eq!(parse(" 90m "), Some(5400));
        assert_eq!(parse("400d"), Some(400 * 86_400));
        for bad in [
            "",
            "d",
            "30",
            "30 d",
            "30w",
            "-1d",
            "1.5h",
            "99999999999999999999d",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
