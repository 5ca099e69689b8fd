//! `symbolon audit verify`.

use serde_json::json;
use symbolon::Code;
use symbolon_store::Registry;

use crate::cli::{AuditCommand, DataArgs};
use crate::error::CliError;
use crate::output::print_json;

/// Opens the registry the flags name; never creates one.
pub(crate) async fn open_existing(args: &DataArgs) -> Result<Registry, CliError> {
    let url = match &args.database {
        Some(url) => url.clone(),
        None => {
            let path = args.data.join("registry.db");
            if !path.exists() {
                return Err(CliError::new(
                    Code::NotFound,
                    format!("no registry at {}", path.display()),
                )
                .hint("pass --data DIR or --database URL"));
            }
            format!("sqlite://{}", path.display())
        }
    };
    Registry::open(&url)
        .await
        .map_err(|e| CliError::new(e.code(), e.to_string()))
}

pub(crate) fn run(cmd: AuditCommand, json: bool) -> Result<(), CliError> {
    let AuditCommand::Verify(args) = cmd;
    super::runtime()?.block_on(async {
        let registry = open_existing(&args).await?;
        let verdict = registry
            .verify_audit()
            .await
            .map_err(|e| CliError::new(e.code(), e.to_string()))?;
        registry.close().await;
        match verdict {
            Ok(v) => {
                if json {
                    print_json(&json!({ "intact": true, "entries": v.entries, "head": v.head }))
                } else {
                    println!("audit log intact: {} entries, head {}", v.entries, v.head);
                    Ok(())
                }
            }
            Err(broken) => {
                let mut e = CliError::new(Code::AuditBroken, broken.to_string());
                e.hint = Some(format!(
                    "entries from {} on cannot be trusted; compare with a backup",
                    broken.seq
                ));
                Err(e)
            }
        }
    })
}
