//! `auditgraph export`: the arguments and a progress bar over [`crate::export`].

use super::progress::Progress;
use crate::config::ExportArgs;
use crate::domain::Ticks;
use crate::export::{self, Sink, Target};

pub(super) async fn run(args: ExportArgs) -> anyhow::Result<()> {
    let store = super::open_for_command(&args.store).await?;
    let filter = export::filter(args.filter.as_deref(), args.from, args.to)
        .map_err(|e| anyhow::anyhow!("--filter: {e}"))?;
    // Export is an archive tool: the serving retention window does not apply.
    let not_before = Ticks(i64::MIN);
    let total = store.count(filter.as_ref(), not_before).await?;
    let sink = Sink::open(&Target {
        format: args.format,
        version: args.version,
        output: args.output,
        tenant_id: args.tenant_id,
        resource_id: args.resource_id,
    })?;
    let progress = Progress::events(total);
    let pages = export::pages(store, filter, not_before, args.page_size);
    let exported = export::write_all(pages, sink, |n| progress.advance(n)).await?;
    progress.finish();
    eprintln!("exported {exported} events");
    Ok(())
}
