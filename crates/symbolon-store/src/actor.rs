//! Who is acting: the authenticated caller whose request a write serves.
//!
//! The service runs each request's handler inside [`acting_as`]; every
//! write submitted from it carries the caller, every audit entry it appends
//! names the caller (`"by"`), and the objects it creates record their owner.
//! A write outside any request (the CA's own start-up work) has no actor.

use serde_json::Value;
use symbolon::access::{PartyName, Role};

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The credential's role.
    pub role: Role,
    /// The party it is bound to.
    pub name: PartyName,
    /// The credential's certificate serial.
    pub credential: crate::CertificateSerial,
}

tokio::task_local! {
    static ACTOR: Actor;
}

impl Actor {
    /// What an object's owner column holds: the party's name (a party keeps
    /// its objects across credential renewals).
    pub fn owner(&self) -> String {
        self.name.to_string()
    }

    /// `detail` (a JSON object) with `"by"` naming this actor.
    pub(crate) fn stamp(&self, detail: &str) -> String {
        let by = serde_json::json!({
            "role": self.role, "name": self.name, "credential": self.credential,
        });
        match serde_json::from_str::<Value>(detail) {
            Ok(Value::Object(mut m)) => {
                m.insert("by".into(), by);
                Value::Object(m).to_string()
            }
            // Details are always objects; anything else is kept whole beside.
            _ => serde_json::json!({ "by": by, "detail": detail }).to_string(),
        }
    }
}

/// Runs `f` as `actor`'s request.
pub async fn acting_as<F: std::future::Future>(actor: Actor, f: F) -> F::Output {
    ACTOR.scope(actor, f).await
}

/// The actor of the request running now, if any.
pub fn current() -> Option<Actor> {
    ACTOR.try_with(Clone::clone).ok()
}
