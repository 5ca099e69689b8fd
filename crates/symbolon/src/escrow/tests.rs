//! Escrow and recovery end to end in memory: every refusal the enclave must
//! make, and property tests over random nested policies.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use age::secrecy::ExposeSecret;
use proptest::prelude::*;
use zeroize::Zeroizing;

use super::*;
use crate::keys::hpke::{self, Kem};
use crate::keys::{
    EcCurve, EcPrivateKey, IdentityKeyPair, KeyError, PublicKey, RsaAlgorithm, RsaPrivateKey,
};
use crate::token::{SlotName, TokenSerial};

struct Arb {
    public: ArbitratorPublic,
    signing: IdentityKeyPair,
    age: age::x25519::Identity,
}

fn arbitrator(name: &str) -> Arb {
    let age = age::x25519::Identity::generate();
    let signing = IdentityKeyPair::generate().unwrap();
    Arb {
        public: ArbitratorPublic {
            id: ArbitratorId::new(name).unwrap(),
            share_recipient: age.to_public().to_string(),
            approval_key: signing.public_key().clone(),
        },
        signing,
        age,
    }
}

fn escrowed_key() -> &'static RsaPrivateKey {
    static K: OnceLock<RsaPrivateKey> = OnceLock::new();
    K.get_or_init(|| RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap())
}

fn enclave() -> &'static EcPrivateKey {
    static K: OnceLock<EcPrivateKey> = OnceLock::new();
    K.get_or_init(|| EcPrivateKey::generate(EcCurve::P256).unwrap())
}

/// An arbitrator's share sealed to the enclave key for `request`.
fn seal(request: &RecoveryRequest, arbitrator: &ArbitratorId, file: &[u8]) -> Vec<u8> {
    let key = PublicKey::Ec(enclave().public_key().clone());
    enclave_share::seal_share(&key, &request.id, arbitrator, file).unwrap()
}

/// The enclave's side of a share: what the server's token does.
fn enclave_open(info: &[u8], share: &[u8]) -> Result<Zeroizing<Vec<u8>>, EscrowError> {
    let part = enclave_share::hpke_part(share, Kem::P256)
        .ok_or_else(|| EscrowError::InvalidInput("not an HPKE share".into()))?;
    hpke::open::<KeyError>(enclave().public_key(), info, part, |e| enclave().agree(e))
        .map_err(|e| EscrowError::InvalidInput(e.to_string()))
}

struct World {
    arbs: BTreeMap<ArbitratorId, Arb>,
    deposit: EscrowDeposit,
    envelopes: BTreeMap<ArbitratorId, Vec<u8>>,
    bound_device: Fingerprint,
}

use crate::keys::Fingerprint;

fn world(policy: &str) -> World {
    let policy = Policy::parse(policy).unwrap();
    let arbs: BTreeMap<_, _> = policy
        .arbitrators()
        .into_iter()
        .map(|a| (a.clone(), arbitrator(a.as_str())))
        .collect();
    let publics: Vec<_> = arbs.values().map(|a| a.public.clone()).collect();
    let bound_device = Fingerprint::from_bytes([7; 32]);
    let (deposit, envelopes) = EscrowDeposit::create(
        escrowed_key(),
        &policy,
        &publics,
        TokenSerial::from_bytes([1; 16]),
        bound_device,
    )
    .unwrap();
    World {
        arbs,
        deposit,
        envelopes: envelopes
            .into_iter()
            .map(|e| (e.arbitrator, e.envelope))
            .collect(),
        bound_device,
    }
}

impl World {
    fn request(&self, target_device: Fingerprint) -> RecoveryRequest {
        RecoveryRequest {
            id: RecoveryId::random().unwrap(),
            escrow: self.deposit.id,
            key: self.deposit.fingerprint(),
            reason: "token lost".into(),
            target: TokenSerial::from_bytes([2; 16]),
            target_device,
            slot: SlotName::new("k").unwrap(),
            rebind: target_device != self.bound_device,
            created_at: 0,
            requester: "st".into(),
        }
    }

    /// The arbitrator's side: open the envelope, check the share, re-encrypt
    /// it to the enclave, sign the next link.
    fn approve(&self, request: &RecoveryRequest, chain: &mut Vec<Approval>, name: &str) {
        let enclave = PublicKey::Ec(enclave().public_key().clone());
        self.approve_to(&enclave, request, chain, name);
    }

    /// [`World::approve`] with the share sealed to `enclave`.
    fn approve_to(
        &self,
        enclave: &PublicKey,
        request: &RecoveryRequest,
        chain: &mut Vec<Approval>,
        name: &str,
    ) {
        let id = ArbitratorId::new(name).unwrap();
        let a = &self.arbs[&id];
        let file = Zeroizing::new(age::decrypt(&a.age, &self.envelopes[&id]).unwrap());
        self.deposit.check_share(&id, &file).unwrap();
        let share = enclave_share::seal_share(enclave, &request.id, &id, &file).unwrap();
        let previous = chain
            .last()
            .map(Approval::hash)
            .unwrap_or_else(|| request.hash());
        chain.push(
            Approval::sign(
                &a.signing,
                request,
                id,
                previous,
                Decision::Approve { share },
            )
            .unwrap(),
        );
    }

    fn keys(&self) -> BTreeMap<ArbitratorId, crate::keys::IdentityPublicKey> {
        self.arbs
            .iter()
            .map(|(k, a)| (k.clone(), a.public.approval_key.clone()))
            .collect()
    }

    /// The recovered key's fingerprint (a private key has no `Debug`).
    fn recover(
        &self,
        request: &RecoveryRequest,
        chain: &[Approval],
    ) -> Result<Fingerprint, EscrowError> {
        recover(request, chain, &self.deposit, &self.keys(), enclave_open)
            .map(|k| k.public_key().fingerprint())
    }
}

const FIG9: &str = "seq(user, all(card-company, any(1, provider-a, provider-b, provider-c), any(2, manager-a, manager-b, manager-c)), recorder)";

#[test]
fn fig9_recovers_and_refuses_what_it_must() {
    let w = world(FIG9);
    // An order FIG. 9 accepts.
    let order: Vec<&str> = "user provider-b manager-c card-company manager-a recorder"
        .split(' ')
        .collect();
    let request = w.request(w.bound_device);
    let mut chain = Vec::new();
    for n in &order {
        w.approve(&request, &mut chain, n);
    }
    assert_eq!(
        w.recover(&request, &chain).unwrap(),
        escrowed_key().public_key().fingerprint()
    );

    // One short: refused, saying what is missing.
    let e = w.recover(&request, &chain[..5]).unwrap_err();
    assert_eq!(e.code(), "policy_not_satisfied", "{e}");
    // Reordered links: the chain breaks.
    let mut swapped = chain.clone();
    swapped.swap(1, 2);
    assert!(matches!(
        w.recover(&request, &swapped),
        Err(EscrowError::BrokenChain { position: 2 })
    ));
    // Out of order (recorder before the managers), properly chained: the policy refuses.
    let mut early = Vec::new();
    for n in [
        "user",
        "provider-b",
        "recorder",
        "card-company",
        "manager-a",
        "manager-c",
    ] {
        w.approve(&request, &mut early, n);
    }
    assert_eq!(
        w.recover(&request, &early).unwrap_err().code(),
        "policy_not_satisfied"
    );
    // A forged link.
    let mut forged = chain.clone();
    forged[3].signature = w.arbs[&ArbitratorId::new("user").unwrap()]
        .signing
        .sign(&forged[3].to_be_signed())
        .unwrap();
    assert!(matches!(
        w.recover(&request, &forged),
        Err(EscrowError::ForgedApproval { position: 4, .. })
    ));
    // Approvals replayed from another request.
    let other = w.request(w.bound_device);
    assert!(matches!(
        w.recover(&other, &chain),
        Err(EscrowError::ReplayedApproval { .. })
    ));
    // A new token without an approved rebinding; a rebinding request is fine.
    let mut wrong = request.clone();
    wrong.target_device = Fingerprint::from_bytes([9; 32]);
    let mut c2 = Vec::new();
    for n in &order {
        w.approve(&wrong, &mut c2, n);
    }
    assert!(matches!(
        w.recover(&wrong, &c2),
        Err(EscrowError::WrongTarget { .. })
    ));
    let rebind = w.request(Fingerprint::from_bytes([9; 32]));
    let mut c3 = Vec::new();
    for n in &order {
        w.approve(&rebind, &mut c3, n);
    }
    assert!(w.recover(&rebind, &c3).is_ok());
}

#[test]
fn bad_shares_are_blamed_on_their_sender() {
    let w = world("any(2, a, b, c)");
    let request = w.request(w.bound_device);
    // b sends a's share (for this key) re-encrypted: another arbitrator's share.
    let a_file = age::decrypt(
        &w.arbs[&ArbitratorId::new("a").unwrap()].age,
        &w.envelopes[&ArbitratorId::new("a").unwrap()],
    )
    .unwrap();
    let mut chain = Vec::new();
    w.approve(&request, &mut chain, "a");
    let b = ArbitratorId::new("b").unwrap();
    let share = seal(&request, &b, &a_file);
    chain.push(
        Approval::sign(
            &w.arbs[&b].signing,
            &request,
            b.clone(),
            chain[0].hash(),
            Decision::Approve { share },
        )
        .unwrap(),
    );
    match w.recover(&request, &chain) {
        Err(EscrowError::BadShare { arbitrator, .. }) => assert_eq!(arbitrator, "b"),
        other => panic!("{other:?}"),
    }
    // b's own share with its secret altered (the last bytes of the file),
    // or not a scalar at all: the batched check fails, the one-by-one pass
    // names b.
    let b_file = age::decrypt(&w.arbs[&b].age, &w.envelopes[&b]).unwrap();
    for alter in [
        &(|f: &mut Vec<u8>| *f.last_mut().unwrap() ^= 1) as &dyn Fn(&mut Vec<u8>),
        &|f: &mut Vec<u8>| {
            let n = f.len();
            f[n - 32..].fill(0xff);
        },
    ] {
        let mut file = b_file.clone();
        alter(&mut file);
        let share = seal(&request, &b, &file);
        let mut chain = Vec::new();
        w.approve(&request, &mut chain, "a");
        chain.push(
            Approval::sign(
                &w.arbs[&b].signing,
                &request,
                b.clone(),
                chain[0].hash(),
                Decision::Approve { share },
            )
            .unwrap(),
        );
        match w.recover(&request, &chain) {
            Err(EscrowError::BadShare { arbitrator, reason }) => {
                assert_eq!(arbitrator, "b");
                assert!(reason.contains("commitments"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
    // A share of another escrow of the same key.
    let w2 = world("any(2, a, b, c)");
    let foreign = age::decrypt(&w2.arbs[&b].age, &w2.envelopes[&b]).unwrap();
    assert!(matches!(
        w.deposit.check_share(&b, &foreign),
        Err(EscrowError::BadShare { .. })
    ));
    // An altered commitment: every share under that node fails.
    let mut altered = EscrowDeposit::decode(&w.deposit.encode()).unwrap();
    assert_eq!(altered, w.deposit);
    let mut enc = altered.encode();
    let at = enc.len() - altered.blob.len() - 10;
    enc[at] ^= 1;
    if let Ok(d) = EscrowDeposit::decode(&enc) {
        altered = d;
        let file = age::decrypt(&w.arbs[&b].age, &w.envelopes[&b]).unwrap();
        assert!(altered.check_share(&b, &file).is_err());
    }
    // A tampered blob.
    let mut tampered = w.deposit.clone();
    let n = tampered.blob.len();
    tampered.blob[n - 1] ^= 1;
    let mut chain = Vec::new();
    w.approve(&request, &mut chain, "a");
    w.approve(&request, &mut chain, "c");
    let Err(e) = recover(&request, &chain, &tampered, &w.keys(), enclave_open) else {
        panic!("a tampered blob was recovered");
    };
    assert_eq!(e.code(), "escrow_damaged");
    assert!(w.recover(&request, &chain).is_ok());
}

#[test]
fn a_refusal_is_signed_and_counts_for_nothing() {
    let w = world("all(a, b)");
    let request = w.request(w.bound_device);
    let mut chain = Vec::new();
    w.approve(&request, &mut chain, "a");
    let b = ArbitratorId::new("b").unwrap();
    chain.push(
        Approval::sign(
            &w.arbs[&b].signing,
            &request,
            b.clone(),
            chain[0].hash(),
            Decision::Refuse {
                reason: "no".into(),
            },
        )
        .unwrap(),
    );
    let decoded: Vec<Approval> = chain
        .iter()
        .map(|a| Approval::decode(&a.encode()).unwrap())
        .collect();
    assert_eq!(decoded, chain);
    assert_eq!(
        w.recover(&request, &chain).unwrap_err().code(),
        "policy_not_satisfied"
    );
    // And b cannot approve after refusing.
    w.approve(&request, &mut chain, "b");
    assert_eq!(
        w.recover(&request, &chain).unwrap_err().code(),
        "already_decided"
    );
}

/// Random nested policies over up to 6 arbitrators, built from a seed.
fn policy_strategy() -> impl Strategy<Value = String> {
    any::<u64>().prop_map(|seed| build(&mut Rng(seed), 0, &mut 0))
}

struct Rng(u64);
impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn build(r: &mut Rng, depth: usize, names: &mut usize) -> String {
    if depth >= 2 || *names >= 5 || r.next(3) == 0 {
        *names += 1;
        return format!("p{names}");
    }
    let n = 1 + r.next(3) as usize;
    let children: Vec<String> = (0..n).map(|_| build(r, depth + 1, names)).collect();
    match r.next(3) {
        0 => format!("all({})", children.join(", ")),
        1 => format!("seq({})", children.join(", ")),
        _ => format!("any({}, {})", 1 + r.next(n as u64), children.join(", ")),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Any ordered subset of arbitrators recovers the key exactly when the
    /// policy holds over it in that order.
    #[test]
    fn recovery_iff_the_policy_holds(policy in policy_strategy(), order_seed in any::<u64>(), keep in 0u64..64) {
        let w = world(&policy);
        let mut names: Vec<String> = w.arbs.keys().map(|a| a.to_string()).collect();
        let mut r = Rng(order_seed);
        for i in (1..names.len()).rev() {
            names.swap(i, r.next(i as u64 + 1) as usize);
        }
        let chosen: Vec<String> = names.into_iter().enumerate().filter(|(i, _)| keep & (1 << i) != 0 || keep == 63).map(|(_, n)| n).collect();
        let request = w.request(w.bound_device);
        let mut chain = Vec::new();
        for n in &chosen {
            w.approve(&request, &mut chain, n);
        }
        let ids: Vec<ArbitratorId> = chosen.iter().map(|n| ArbitratorId::new(n).unwrap()).collect();
        let holds = w.deposit.policy().unwrap().evaluate(&ids).satisfied();
        let got = w.recover(&request, &chain);
        prop_assert_eq!(got.is_ok(), holds, "policy {} order {:?}: {:?}", policy, chosen, got.err());
    }
}

#[test]
fn identities_keep_their_secret() {
    // The age identity is what an arbitrator's directory seals; its public
    // half is all the registry sees.
    let a = arbitrator("x");
    assert!(a
        .age
        .to_string()
        .expose_secret()
        .starts_with("AGE-SECRET-KEY-1"));
    assert!(a.public.share_recipient.starts_with("age1"));
}

#[test]
fn fig9_turns_open_one_step_at_a_time() {
    let p = Policy::parse(
        "seq(user, all(card-company, any(1, provider-a, provider-b), any(2, manager-a, manager-b, manager-c)), recorder)",
    )
    .unwrap();
    let names = |v: Vec<ArbitratorId>| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let ids = |v: &[&str]| -> Vec<ArbitratorId> {
        v.iter().map(|n| ArbitratorId::new(n).unwrap()).collect()
    };
    assert_eq!(names(p.may_act(&[])), ["user"]);
    assert_eq!(
        names(p.may_act(&ids(&["user"]))),
        [
            "card-company",
            "provider-a",
            "provider-b",
            "manager-a",
            "manager-b",
            "manager-c"
        ]
    );
    // One provider is enough: the other is no longer asked for.
    assert_eq!(
        names(p.may_act(&ids(&["user", "provider-b", "manager-c"]))),
        ["card-company", "manager-a", "manager-b"]
    );
    let middle = ids(&[
        "user",
        "provider-b",
        "manager-c",
        "card-company",
        "manager-a",
    ]);
    assert_eq!(names(p.may_act(&middle)), ["recorder"]);
    let mut done = middle.clone();
    done.push(ArbitratorId::new("recorder").unwrap());
    assert!(p.evaluate(&done).satisfied());
    assert!(p.may_act(&done).is_empty());
    // An approval given too early is shown as not counting.
    let early = p.status_tree(&ids(&["recorder", "user"]));
    let recorder = early.children.last().unwrap();
    assert_eq!(recorder.node, "recorder");
    assert!(!recorder.holds && recorder.approved_at.is_none());
    assert!(early.children[0].holds);
}

/// Orders of arbitrators, from a seed: every arbitrator once, in a random order.
fn shuffled(policy: &Policy, seed: u64) -> Vec<ArbitratorId> {
    let mut names: Vec<ArbitratorId> = policy.arbitrators().into_iter().cloned().collect();
    let mut r = Rng(seed);
    for i in (1..names.len()).rev() {
        names.swap(i, r.next(i as u64 + 1) as usize);
    }
    names
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Taking turns as `may_act` opens them always reaches a policy that
    /// holds, and the set is empty exactly when the policy holds.
    #[test]
    fn taking_turns_always_completes(policy in policy_strategy(), seed in any::<u64>()) {
        let p = Policy::parse(&policy).unwrap();
        let mut approvals = Vec::new();
        let mut r = Rng(seed);
        loop {
            let open = p.may_act(&approvals);
            prop_assert_eq!(open.is_empty(), p.evaluate(&approvals).satisfied(), "{} {:?}", policy, approvals);
            if open.is_empty() {
                break;
            }
            approvals.push(open[r.next(open.len() as u64) as usize].clone());
            prop_assert!(approvals.len() <= p.arbitrators().len());
        }
    }

    /// An approval from someone `may_act` does not name counts for nothing:
    /// whatever follows, the policy decides the same without it. (This is
    /// why the service refuses it: it would only use up a decision.)
    #[test]
    fn an_approval_out_of_turn_never_counts(policy in policy_strategy(), seed in any::<u64>(), cut in 0usize..6) {
        let p = Policy::parse(&policy).unwrap();
        let order = shuffled(&p, seed);
        let cut = cut.min(order.len());
        let (before, after) = order.split_at(cut);
        let open = p.may_act(before);
        for (i, x) in after.iter().enumerate() {
            if open.contains(x) {
                continue;
            }
            let rest: Vec<ArbitratorId> = after.iter().enumerate().filter(|&(j, _)| j != i).map(|(_, a)| a.clone()).collect();
            let with: Vec<ArbitratorId> = before.iter().chain([x]).chain(&rest).cloned().collect();
            let without: Vec<ArbitratorId> = before.iter().chain(&rest).cloned().collect();
            prop_assert_eq!(
                p.evaluate(&with).satisfied(),
                p.evaluate(&without).satisfied(),
                "{} before {:?} early {} rest {:?}", policy, before, x, rest
            );
        }
    }
}

#[test]
fn a_share_sealed_for_one_request_does_not_open_in_another() {
    let w = world("any(2, a, b, c)");
    let first = w.request(w.bound_device);
    let second = w.request(w.bound_device);
    let mut earlier = Vec::new();
    w.approve(&first, &mut earlier, "a");
    let Decision::Approve { share } = &earlier[0].decision else {
        unreachable!()
    };
    // a's sealed share from the first request, signed into the second by a
    // itself (the worst case: the approval is genuine, the share is not
    // this request's).
    let a = ArbitratorId::new("a").unwrap();
    let mut chain = vec![Approval::sign(
        &w.arbs[&a].signing,
        &second,
        a.clone(),
        second.hash(),
        Decision::Approve {
            share: share.clone(),
        },
    )
    .unwrap()];
    w.approve(&second, &mut chain, "b");
    match w.recover(&second, &chain) {
        Err(EscrowError::BadShare { arbitrator, reason }) => {
            assert_eq!(arbitrator, "a");
            assert!(reason.contains("does not decrypt"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn shares_sealed_to_an_earlier_rsa_enclave_key_still_recover() {
    // Approvals made before an upgrade carry RSA-OAEP shares to the
    // enclave's RSA key; the enclave opens them with that key.
    let rsa = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
    let w = world("any(2, a, b, c)");
    let request = w.request(w.bound_device);
    let mut chain = Vec::new();
    let enclave = PublicKey::Rsa(rsa.public_key().clone());
    for name in ["a", "c"] {
        w.approve_to(&enclave, &request, &mut chain, name);
    }
    let key = recover(&request, &chain, &w.deposit, &w.keys(), |_, ct| {
        rsa.decrypt_oaep(ct)
            .map_err(|e| EscrowError::InvalidInput(e.to_string()))
    })
    .unwrap();
    assert_eq!(key.public_key().fingerprint(), w.deposit.fingerprint());
}

#[test]
fn an_enclave_failure_is_not_blamed_on_an_arbitrator() {
    let w = world("any(2, a, b, c)");
    let request = w.request(w.bound_device);
    let mut chain = Vec::new();
    w.approve(&request, &mut chain, "a");
    w.approve(&request, &mut chain, "b");
    // The enclave's token failed (a device gone, an agent down): the
    // error is its own, with no arbitrator named.
    let Err(e) = recover(&request, &chain, &w.deposit, &w.keys(), |_, _| {
        Err(EscrowError::Internal(
            "the CA token failed: device removed".into(),
        ))
    }) else {
        panic!("recovered without the enclave")
    };
    assert!(matches!(e, EscrowError::Internal(_)), "{e:?}");
}
