//! The registry's writes, one type each (docs/architecture.md): what a
//! write holds and how it applies inside the writer's transaction and its
//! own savepoint (`writer`). Each write commits whole with its audit entry.

use sqlx::AnyConnection;
use sqlx::Row;
use symbolon::keys::Fingerprint;
use symbolon::token::TokenSerial;

use crate::actor::Actor;
use crate::writer::{
    append_in, certify_in, is_unique_violation, record_certificate_in, unique_or, WriteOut,
};
use crate::{AuditKind, CertificateRecord, ClaimScope, ReservationId, SharedKey, StoreError};

/// A station reserves a public key before the CA sees it (FIG. 6 step 421): a key is reserved, certified or abandoned once, ever.
pub(crate) struct Reserve {
    pub(crate) fingerprint: Fingerprint,
    pub(crate) spki: Vec<u8>,
    pub(crate) id: ReservationId,
}

impl Reserve {
    pub(crate) async fn apply(
        &self,
        conn: &mut AnyConnection,
        actor: Option<&Actor>,
    ) -> Result<WriteOut, StoreError> {
        let Self {
            fingerprint,
            spki,
            id,
        } = self;

        let t = crate::registry::now();
        sqlx::query(
                "INSERT INTO public_keys (fingerprint, spki, state, reservation, registered_at, updated_at, owner) \
                 VALUES ($1, $2, 'reserved', $3, $4, $4, $5)",
            )
            .bind(fingerprint.to_string())
            .bind(spki)
            .bind(id.as_str())
            .bind(t)
            .bind(actor.map(Actor::owner))
            .execute(&mut *conn)
            .await
            .map_err(unique_or("reserve key", || StoreError::DuplicateKey(*fingerprint)))?;
        let detail = serde_json::json!({ "key": fingerprint, "reservation": id });
        append_in(conn, actor, AuditKind::KeyReserved, &detail.to_string()).await?;
        Ok(WriteOut::Done)
    }
}

/// A key certified without a certificate record of its own (the registry's uniqueness only).
pub(crate) struct Certify {
    pub(crate) fingerprint: Fingerprint,
    pub(crate) spki: Vec<u8>,
    pub(crate) reservation: Option<ReservationId>,
}

impl Certify {
    pub(crate) async fn apply(
        &self,
        conn: &mut AnyConnection,
        _actor: Option<&Actor>,
    ) -> Result<WriteOut, StoreError> {
        let Self {
            fingerprint,
            spki,
            reservation,
        } = self;

        certify_in(conn, *fingerprint, spki, reservation.as_ref()).await?;
        Ok(WriteOut::Done)
    }
}

/// A reservation given up: the key can never be used.
pub(crate) struct Abandon {
    pub(crate) id: ReservationId,
    pub(crate) reason: String,
}

impl Abandon {
    pub(crate) async fn apply(
        &self,
        conn: &mut AnyConnection,
        actor: Option<&Actor>,
    ) -> Result<WriteOut, StoreError> {
        let Self { id, reason } = self;

        let row = sqlx::query(
            "UPDATE public_keys SET state = 'abandoned', updated_at = $1 \
                 WHERE reservation = $2 AND state = 'reserved' RETURNING fingerprint",
        )
        .bind(crate::registry::now())
        .bind(id.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(StoreError::db("abandon reservation"))?;
        let Some(row) = row else {
            return Err(closed_or_unknown(conn, id).await);
        };
        let fp: Fingerprint = row
            .get::<String, _>(0)
            .parse()
            .map_err(|e: symbolon::keys::KeyError| StoreError::Corrupt(e.to_string()))?;
        let detail = serde_json::json!({ "key": fp, "reservation": id, "reason": reason });
        append_in(
            conn,
            actor,
            AuditKind::ReservationAbandoned,
            &detail.to_string(),
        )
        .await?;
        Ok(WriteOut::Key(fp))
    }
}

/// A certificate recorded with its key, the registration it consumed, and its audit entry.
pub(crate) struct Issuance {
    pub(crate) record: Box<CertificateRecord>,
    pub(crate) spki: Vec<u8>,
    pub(crate) reservation: Option<ReservationId>,
    pub(crate) registration: Option<symbolon::vetting::RegistrationId>,
    pub(crate) detail: String,
}

impl Issuance {
    pub(crate) async fn apply(
        &self,
        conn: &mut AnyConnection,
        actor: Option<&Actor>,
    ) -> Result<WriteOut, StoreError> {
        let Self {
            record: c,
            spki,
            reservation,
            registration,
            detail,
        } = self;

        if crate::tx_cache::defers_rows() && reservation.is_none() && registration.is_none() {
            // The same rows, written with the batch's others (`deferred`).
            crate::tx_cache::pend(|p| {
                p.issued.push(crate::deferred::IssuedRow {
                    record: (**c).clone(),
                    spki: spki.clone(),
                    at: crate::registry::now(),
                    requester: actor.map(Actor::owner),
                })
            });
        } else {
            record_certificate_in(conn, actor, c, spki, reservation.as_ref()).await?;
            if let Some(id) = registration {
                crate::vetting::consume_in(conn, id, &c.serial).await?;
            }
        }
        Ok(WriteOut::Seq(
            append_in(conn, actor, AuditKind::CertificateIssued, detail).await?,
        ))
    }
}

/// A token's device key registered under its serial, with who vouched for it.
pub(crate) struct RegisterToken {
    pub(crate) serial: TokenSerial,
    pub(crate) device_key: Vec<u8>,
    pub(crate) transport_key: Option<Vec<u8>>,
    pub(crate) vouch: crate::vetting::Vouch,
}

impl RegisterToken {
    pub(crate) async fn apply(
        &self,
        conn: &mut AnyConnection,
        actor: Option<&Actor>,
    ) -> Result<WriteOut, StoreError> {
        let Self {
            serial,
            device_key,
            transport_key,
            vouch,
        } = self;

        let fp = Fingerprint::of_spki(device_key);
        // A device key belongs to one device: named with the serial it
        // is registered under, before anything is written.
        let existing: Option<(String, Option<String>)> =
            sqlx::query("SELECT serial, vouched_by FROM tokens WHERE device_fingerprint = $1")
                .bind(fp.to_string())
                .fetch_optional(&mut *conn)
                .await
                .map_err(StoreError::db("register token"))?
                .map(|row| (row.get(0), row.get(1)));
        match existing {
            // Registered before devices were vouched for: this caller
            // vouches for it now (same serial, same device key).
            Some((existing, None)) if existing == serial.to_string() => {
                sqlx::query(
                        "UPDATE tokens SET vouched_by = $1, vouched_role = $2, manufacturer_root = $3, \
                         transport_key = COALESCE($4, transport_key) WHERE serial = $5",
                    )
                    .bind(&vouch.by)
                    .bind(&vouch.role)
                    .bind(vouch.manufacturer_root.map(|f| f.to_string()))
                    .bind(transport_key.clone())
                    .bind(existing)
                    .execute(&mut *conn)
                    .await
                    .map_err(StoreError::db("vouch for a token"))?;
                let detail = serde_json::json!({
                    "token": serial, "device_key": fp, "vouched_by": vouch.by, "vouched_later": true,
                    "evidence": if vouch.manufacturer_root.is_some() { "manufacturer" } else { "vouched" },
                    "manufacturer_root": vouch.manufacturer_root,
                });
                append_in(conn, actor, AuditKind::TokenRegistered, &detail.to_string()).await?;
                return Ok(WriteOut::Done);
            }
            Some((existing, _)) if existing == serial.to_string() => {
                return Err(StoreError::AlreadyExists(format!(
                    "token {serial} with this device key (registered and vouched for already)"
                )));
            }
            Some((existing, _)) => {
                return Err(StoreError::AlreadyExists(format!(
                        "device key {fp} (registered as token {existing}; a device key is registered under one serial)"
                    )));
            }
            None => {}
        }
        sqlx::query(
                "INSERT INTO tokens (serial, device_key, device_fingerprint, registered_at, transport_key, \
                 vouched_by, vouched_role, manufacturer_root) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(serial.to_string())
            .bind(device_key)
            .bind(fp.to_string())
            .bind(crate::registry::now())
            .bind(transport_key.clone())
            .bind(&vouch.by)
            .bind(&vouch.role)
            .bind(vouch.manufacturer_root.map(|f| f.to_string()))
            .execute(&mut *conn)
            .await
            .map_err(unique_or("register token", || StoreError::AlreadyExists(format!(
                    "token {serial} (a serial is registered once, with one device key)"
                ))))?;
        let detail = serde_json::json!({
            "token": serial, "device_key": fp, "vouched_by": vouch.by,
            "evidence": if vouch.manufacturer_root.is_some() { "manufacturer" } else { "vouched" },
            "manufacturer_root": vouch.manufacturer_root,
        });
        append_in(conn, actor, AuditKind::TokenRegistered, &detail.to_string()).await?;
        Ok(WriteOut::Done)
    }
}

/// An arbitrator's share recipient and approval key registered.
pub(crate) struct RegisterArbitrator {
    pub(crate) id: String,
    pub(crate) share_recipient: String,
    pub(crate) approval_key: Vec<u8>,
}

impl RegisterArbitrator {
    pub(crate) async fn apply(
        &self,
        conn: &mut AnyConnection,
        actor: Option<&Actor>,
    ) -> Result<WriteOut, StoreError> {
        let Self {
            id,
            share_recipient,
            approval_key,
        } = self;

        sqlx::query(
                "INSERT INTO arbitrators (id, share_recipient, approval_key, registered_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(id.as_str())
            .bind(share_recipient.as_str())
            .bind(approval_key.as_slice())
            .bind(crate::registry::now())
            .execute(&mut *conn)
            .await
            .map_err(unique_or("register arbitrator", || StoreError::AlreadyExists(format!(
                    "arbitrator {id}, or its share recipient or approval key under another name,"
                ))))?;
        let detail = serde_json::json!({
            "arbitrator": id,
            "approval_key": Fingerprint::of_spki(approval_key),
            "share_recipient": share_recipient,
        });
        append_in(
            conn,
            actor,
            AuditKind::ArbitratorRegistered,
            &detail.to_string(),
        )
        .await?;
        Ok(WriteOut::Done)
    }
}

/// An escrow deposit and each arbitrator's share envelope (FIG. 13).
pub(crate) struct Escrow {
    pub(crate) id: Vec<u8>,
    pub(crate) fingerprint: Fingerprint,
    pub(crate) record: Vec<u8>,
    pub(crate) envelopes: Vec<(String, Vec<u8>)>,
    pub(crate) detail: String,
}

impl Escrow {
    pub(crate) async fn apply(
        &self,
        conn: &mut AnyConnection,
        actor: Option<&Actor>,
    ) -> Result<WriteOut, StoreError> {
        let Self {
            id,
            fingerprint,
            record,
            envelopes,
            detail,
        } = self;

        let t = crate::registry::now();
        sqlx::query(
                "INSERT INTO escrows (id, fingerprint, record, created_at, depositor) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id.as_slice())
            .bind(fingerprint.to_string())
            .bind(record.as_slice())
            .bind(t)
            .bind(actor.map(Actor::owner))
            .execute(&mut *conn)
            .await
            .map_err(StoreError::db("record escrow"))?;
        for (arbitrator, envelope) in envelopes {
            sqlx::query(
                "INSERT INTO escrow_shares (escrow_id, arbitrator, envelope) VALUES ($1, $2, $3)",
            )
            .bind(id.as_slice())
            .bind(arbitrator.as_str())
            .bind(envelope.as_slice())
            .execute(&mut *conn)
            .await
            .map_err(StoreError::db("record escrow share"))?;
        }
        append_in(conn, actor, AuditKind::KeyEscrowed, detail).await?;
        Ok(WriteOut::Done)
    }
}

/// A recovery request filed (FIG. 14).
pub(crate) struct RecoveryRequest {
    pub(crate) id: String,
    pub(crate) escrow_id: Vec<u8>,
    pub(crate) record: Vec<u8>,
    pub(crate) detail: String,
}

impl RecoveryRequest {
    pub(crate) async fn apply(
        &self,
        conn: &mut AnyConnection,
        actor: Option<&Actor>,
    ) -> Result<WriteOut, StoreError> {
        let Self {
            id,
            escrow_id,
            record,
            detail,
        } = self;

        sqlx::query("INSERT INTO recovery_requests (id, escrow_id, record, created_at, requester) VALUES ($1, $2, $3, $4, $5)")
                .bind(id.as_str())
                .bind(escrow_id.as_slice())
                .bind(record.as_slice())
                .bind(crate::registry::now())
                .bind(actor.map(Actor::owner))
                .execute(&mut *conn)
                .await
                .map_err(StoreError::db("record recovery request"))?;
        append_in(conn, actor, AuditKind::RecoveryRequested, detail).await?;
        Ok(WriteOut::Done)
    }
}

/// An arbitrator's decision at its place in the approval chain (FIG. 14, 15).
pub(crate) struct Approval {
    pub(crate) request_id: String,
    pub(crate) position: i64,
    pub(crate) arbitrator: String,
    pub(crate) record: Vec<u8>,
    pub(crate) approve: bool,
    pub(crate) detail: String,
}

impl Approval {
    pub(crate) async fn apply(
        &self,
        conn: &mut AnyConnection,
        actor: Option<&Actor>,
    ) -> Result<WriteOut, StoreError> {
        let Self {
            request_id,
            position,
            arbitrator,
            record,
            approve,
            detail,
        } = self;

        // The arbitrator's own decision first: after a failed insert,
        // PostgreSQL answers nothing more in the transaction, so the
        // insert's refusal cannot be asked which constraint it was. No
        // other writer can decide in between (the writer's transaction
        // holds the database's write lock, or the audit head's row).
        let decided: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM recovery_approvals WHERE request_id = $1 AND arbitrator = $2",
        )
        .bind(request_id.as_str())
        .bind(arbitrator.as_str())
        .fetch_one(&mut *conn)
        .await
        .map_err(StoreError::db("record approval"))?;
        if decided > 0 {
            return Err(StoreError::AlreadyExists(format!(
                "a decision by {arbitrator} on request {request_id}"
            )));
        }
        let r = sqlx::query(
                "INSERT INTO recovery_approvals (request_id, position, arbitrator, record, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(request_id.as_str())
            .bind(*position)
            .bind(arbitrator.as_str())
            .bind(record.as_slice())
            .bind(crate::registry::now())
            .execute(&mut *conn)
            .await;
        match r {
            Ok(_) => {}
            // The arbitrator had not decided: the position was taken.
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::ChainMoved(request_id.clone()))
            }
            Err(e) => return Err(StoreError::db("record approval")(e)),
        }
        let kind = if *approve {
            AuditKind::RecoveryApproved
        } else {
            AuditKind::RecoveryDeclined
        };
        append_in(conn, actor, kind, detail).await?;
        Ok(WriteOut::Done)
    }
}

/// An audit entry and nothing else.
pub(crate) struct Audit {
    pub(crate) kind: AuditKind,
    pub(crate) detail: String,
}

impl Audit {
    pub(crate) async fn apply(
        &self,
        conn: &mut AnyConnection,
        actor: Option<&Actor>,
    ) -> Result<WriteOut, StoreError> {
        let Self { kind, detail } = self;

        Ok(WriteOut::Seq(append_in(conn, actor, *kind, detail).await?))
    }
}

/// A one-shot event claimed once, with its audit entry.
pub(crate) struct Claim {
    pub(crate) scope: ClaimScope,
    pub(crate) id: Vec<u8>,
    pub(crate) kind: AuditKind,
    pub(crate) detail: String,
}

impl Claim {
    pub(crate) async fn apply(
        &self,
        conn: &mut AnyConnection,
        actor: Option<&Actor>,
    ) -> Result<WriteOut, StoreError> {
        let Self {
            scope,
            id,
            kind,
            detail,
        } = self;

        sqlx::query("INSERT INTO claims (scope, id, claimed_at) VALUES ($1, $2, $3)")
            .bind(scope.as_str())
            .bind(id.as_slice())
            .bind(crate::registry::now())
            .execute(&mut *conn)
            .await
            .map_err(unique_or("claim", || StoreError::AlreadyClaimed {
                scope: scope.as_str(),
                id: hex::encode(id),
            }))?;
        Ok(WriteOut::Seq(append_in(conn, actor, *kind, detail).await?))
    }
}

/// A joint-key chain file entering the mailbox (FIG. 19, 20).
pub(crate) struct JointPost {
    pub(crate) id: String,
    pub(crate) version: i64,
    pub(crate) body: String,
    pub(crate) detail: String,
}

impl JointPost {
    pub(crate) async fn apply(
        &self,
        conn: &mut AnyConnection,
        actor: Option<&Actor>,
    ) -> Result<WriteOut, StoreError> {
        let Self {
            id,
            version,
            body,
            detail,
        } = self;

        sqlx::query(
            "INSERT INTO joint_messages (id, version, body, updated_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id.as_str())
        .bind(*version)
        .bind(body.as_str())
        .bind(crate::registry::now())
        .execute(&mut *conn)
        .await
        .map_err(unique_or("post joint chain", || {
            StoreError::AlreadyExists(format!("joint chain {id}"))
        }))?;
        Ok(WriteOut::Seq(
            append_in(conn, actor, AuditKind::JointChainPosted, detail).await?,
        ))
    }
}

/// A joint-key chain file extended by compare-and-swap on its version.
pub(crate) struct JointExtend {
    pub(crate) id: String,
    pub(crate) expected: i64,
    pub(crate) version: i64,
    pub(crate) body: String,
    pub(crate) detail: String,
}

impl JointExtend {
    pub(crate) async fn apply(
        &self,
        conn: &mut AnyConnection,
        actor: Option<&Actor>,
    ) -> Result<WriteOut, StoreError> {
        let Self {
            id,
            expected,
            version,
            body,
            detail,
        } = self;

        let done = sqlx::query(
                "UPDATE joint_messages SET version = $1, body = $2, updated_at = $3 WHERE id = $4 AND version = $5",
            )
            .bind(*version)
            .bind(body.as_str())
            .bind(crate::registry::now())
            .bind(id.as_str())
            .bind(*expected)
            .execute(&mut *conn)
            .await
            .map_err(StoreError::db("extend joint chain"))?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Stale(format!("joint chain {id}")));
        }
        Ok(WriteOut::Seq(
            append_in(conn, actor, AuditKind::JointChainExtended, detail).await?,
        ))
    }
}

/// An RSA modulus recorded for the shared-prime checks.
pub(crate) struct SeeModulus {
    pub(crate) fingerprint: Fingerprint,
    pub(crate) modulus: Vec<u8>,
    pub(crate) origin: String,
    pub(crate) since: i64,
    pub(crate) known: Vec<SharedKey>,
}

impl SeeModulus {
    pub(crate) async fn apply(
        &self,
        conn: &mut AnyConnection,
        actor: Option<&Actor>,
    ) -> Result<WriteOut, StoreError> {
        let Self {
            fingerprint,
            modulus,
            origin,
            since,
            known,
        } = self;

        Ok(WriteOut::Modulus(
            see_modulus_in(conn, actor, fingerprint, modulus, origin, *since, known).await?,
        ))
    }
}

/// Records a modulus and completes its shared-prime check: the caller
/// checked it against every modulus up to `since` (its in-memory index);
/// this transaction, serialised with every other writer (SQLite's immediate
/// transaction, PostgreSQL's audit-head lock), checks the rows above that,
/// so of two keys sharing a prime that race from two processes, the later
/// writer always sees the earlier. A key shares a prime: both rows are
/// flagged and one audit entry names them.
async fn see_modulus_in(
    conn: &mut AnyConnection,
    actor: Option<&Actor>,
    fingerprint: &Fingerprint,
    modulus: &[u8],
    origin: &str,
    since: i64,
    known: &[SharedKey],
) -> Result<Vec<SharedKey>, StoreError> {
    let own = fingerprint.to_string();
    let rows = sqlx::query("SELECT fingerprint, modulus FROM moduli WHERE id > $1")
        .bind(since)
        .fetch_all(&mut *conn)
        .await
        .map_err(StoreError::db("read recent moduli"))?;
    let mut shared: Vec<SharedKey> = known.to_vec();
    for row in rows {
        let other: String = row.get(0);
        let m: Vec<u8> = row.get(1);
        if other == own || shared.iter().any(|s| s.key.to_string() == other) {
            continue;
        }
        if let Some(bits) = symbolon::keys::shared_primes::common_factor_bits(&m, modulus) {
            let key = other
                .parse()
                .map_err(|e: symbolon::keys::KeyError| StoreError::Corrupt(e.to_string()))?;
            shared.push(SharedKey {
                key,
                factor_bits: bits,
            });
        }
    }
    sqlx::query(
        "INSERT INTO moduli (fingerprint, modulus, origin, seen_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (fingerprint) DO NOTHING",
    )
    .bind(own.as_str())
    .bind(modulus)
    .bind(origin)
    .bind(crate::registry::now())
    .execute(&mut *conn)
    .await
    .map_err(StoreError::db("record modulus"))?;
    if let Some(first) = shared.first() {
        flag_shared(conn, &own, &first.key.to_string()).await?;
        for s in &shared {
            flag_shared(conn, &s.key.to_string(), &own).await?;
        }
        // Bounded: a key can share a factor with many (a broken generator);
        // the entry names the first few and counts the rest.
        let detail = serde_json::json!({
            "key": own,
            "origin": origin,
            "shares_with": shared.iter().take(16).map(|s| serde_json::json!({ "key": s.key, "factor_bits": s.factor_bits })).collect::<Vec<_>>(),
            "shares_with_count": shared.len(),
        });
        append_in(
            conn,
            actor,
            AuditKind::SharedPrimeFound,
            &detail.to_string(),
        )
        .await?;
        // Every key in the group can be factored: their certificates are
        // revoked in this transaction (keyCompromise).
        let mut keys = vec![own.clone()];
        keys.extend(shared.iter().map(|s| s.key.to_string()));
        crate::revocation::revoke_factorable_in(conn, actor, &keys).await?;
    }
    Ok(shared)
}

/// Why a reservation cannot be used: it was (it stays on its key's row once
/// used or abandoned, so a closed one is told apart from one never made).
async fn closed_or_unknown(conn: &mut AnyConnection, id: &ReservationId) -> StoreError {
    let known = sqlx::query("SELECT state FROM public_keys WHERE reservation = $1")
        .bind(id.as_str())
        .fetch_optional(&mut *conn)
        .await;
    match known {
        Ok(Some(_)) => StoreError::ReservationClosed(id.to_string()),
        Ok(None) => StoreError::NotFound(format!("reservation {id}")),
        Err(e) => StoreError::db("look up reservation")(e),
    }
}

/// Marks a modulus as sharing a factor with `with`, unless it was already.
async fn flag_shared(conn: &mut AnyConnection, key: &str, with: &str) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE moduli SET shared_with = $1 WHERE fingerprint = $2 AND shared_with IS NULL",
    )
    .bind(with)
    .bind(key)
    .execute(&mut *conn)
    .await
    .map_err(StoreError::db("flag modulus"))?;
    Ok(())
}
