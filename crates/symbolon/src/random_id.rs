//! Random identities: 16 bytes from the system's generator, shown and
//! parsed as 32 hex digits (escrows, recovery requests, registrations).

/// A 16-byte random identity, shown and parsed as 32 hex digits.
macro_rules! random_id {
    ($(#[$doc:meta])* $name:ident, $what:literal, $err:ty, invalid: $invalid:path, internal: $internal:path $(,)?) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub(crate) [u8; 16]);

        impl $name {
            /// A fresh random id.
            pub fn random() -> Result<Self, $err> {
                let mut b = [0u8; 16];
                $crate::keys::random_bytes(&mut b).map_err(|e| $internal(e.to_string()))?;
                Ok(Self(b))
            }

            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8; 16] {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({self})", stringify!($name))
            }
        }

        impl std::str::FromStr for $name {
            type Err = $err;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                hex::decode(s)
                    .ok()
                    .and_then(|v| v.try_into().ok())
                    .map(Self)
                    .ok_or_else(|| {
                        $invalid(format!(
                            "{s:?} is not {} (32 hex digits)",
                            $what
                        ))
                    })
            }
        }
    };
}
