//! The joint-key mailbox (fifth embodiment, FIG. 19 and 20): chain files the
//! parties exchange through the service. The mailbox trusts nothing in them
//! — every party checks the whole file again before signing — but it keeps
//! the exchange orderly: a file enters only if it checks out as far as it
//! goes, and an update only if it extends the stored file by links or a
//! refusal in roster order and still checks out, by compare-and-swap, so
//! two parties cannot both take one place in the chain.

use serde_json::json;
use symbolon::joint::{ChainId, ChainMessage, ChainStatus, JointError};
use symbolon_store::Actor;

use crate::service::{CaService, ServiceError};

/// A file's version: its links, and one more for a refusal.
fn version(message: &ChainMessage) -> i64 {
    message.links().len() as i64 + i64::from(message.refusal().is_some())
}

impl CaService {
    /// Stores a new chain file; returns its id.
    pub async fn post_joint_chain(&self, message: &ChainMessage) -> Result<ChainId, ServiceError> {
        let status = message.status().map_err(ServiceError::Joint)?;
        let id = message.id();
        let key = message.key();
        self.registry
            .post_joint_message(
                &id.to_string(),
                version(message),
                &message.to_json().map_err(ServiceError::Joint)?,
                &json!({
                    "id": id,
                    "purpose": message.purpose(),
                    "key": key.fingerprint(),
                    "parties": message.parties(),
                    "signed_by": message.links().iter().map(|l| l.party.as_str()).collect::<Vec<_>>(),
                    "state": status.name(),
                }),
            )
            .await?;
        Ok(id)
    }

    /// A stored chain file.
    pub async fn joint_chain(&self, id: &ChainId) -> Result<ChainMessage, ServiceError> {
        let (_, body) = self.registry.joint_message(&id.to_string()).await?;
        ChainMessage::parse(body.as_bytes()).map_err(ServiceError::Joint)
    }

    /// Replaces the stored file by `later` if it extends it and checks out.
    ///
    /// A refusal carries no signature, so the mailbox takes one only from
    /// the refusing party itself: a credential whose name is that party's
    /// roster name. (New links are signatures and check out by themselves.)
    pub async fn extend_joint_chain(
        &self,
        id: &ChainId,
        later: &ChainMessage,
        by: &Actor,
    ) -> Result<ChainStatus, ServiceError> {
        if later.id() != *id {
            return Err(ServiceError::Joint(JointError::Chain(format!(
                "the file is chain {}, not {id}",
                later.id()
            ))));
        }
        let key = id.to_string();
        let (stored_version, body) = self.registry.joint_message(&key).await?;
        let stored = ChainMessage::parse(body.as_bytes()).map_err(ServiceError::Joint)?;
        if !stored.is_extended_by(later) {
            return Err(ServiceError::Joint(JointError::Chain(
                "the update does not extend the stored file (only new links or a refusal may be added; nothing else may change)".into(),
            )));
        }
        if let Some(r) = later.refusal() {
            if r.party.as_str() != by.name.as_str() {
                return Err(ServiceError::forbidden(format!(
                    "a refusal is added by the refusing party itself; this credential is {}, the refusal is {}'s",
                    by.name, r.party
                )));
            }
        }
        let status = later.status().map_err(ServiceError::Joint)?;
        let added: Vec<&str> = later.links()[stored.links().len()..]
            .iter()
            .map(|l| l.party.as_str())
            .collect();
        self.registry
            .extend_joint_message(
                &key,
                stored_version,
                version(later),
                &later.to_json().map_err(ServiceError::Joint)?,
                &json!({
                    "id": id,
                    "signed_by": added,
                    "refused_by": later.refusal().map(|r| r.party.as_str()),
                    "state": status.name(),
                }),
            )
            .await?;
        Ok(status)
    }
}
