//! Vetting inputs from arbitrary bytes: identities (RFC 4514), tagged
//! alternative names, name-policy rules, and the policy's judgement of the
//! names that parse (docs/vetting.md).
#![no_main]
use libfuzzer_sys::fuzz_target;
use symbolon::vetting::{CertName, NamePolicy, NamePolicyText, NameRule};
use symbolon::x509::{parse_identity, AltNames};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // First line: rules (`;`-separated); the rest: names to judge.
    let (rules, names) = text.split_once('\n').unwrap_or((text, ""));
    let rules: Vec<String> = rules.split(';').map(str::to_string).collect();
    for r in &rules {
        if let Ok(rule) = r.parse::<NameRule>() {
            // What parses prints back to a rule that prints the same.
            let again: NameRule = rule.to_string().parse().expect("canonical rule parses");
            assert_eq!(again.to_string(), rule.to_string());
        }
    }
    let Ok(policy) = NamePolicy::parse(&NamePolicyText {
        allow: rules.clone(),
        deny: rules.iter().rev().take(1).cloned().collect(),
    }) else {
        return;
    };
    let _ = parse_identity(names).map(|n| policy.judge_certificate(&n, &AltNames::default()));
    if let Ok(alt) = AltNames::parse_tagged(names.split(',')) {
        for d in &alt.dns {
            let _ = policy.judge(&CertName::Dns(d.clone()));
        }
        for e in &alt.emails {
            let _ = policy.judge(&CertName::Email(e.clone()));
        }
    }
});
