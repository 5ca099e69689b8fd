//! Rebuild when a migration is added: `sqlx::migrate!` embeds the
//! directory's files at compile time.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
