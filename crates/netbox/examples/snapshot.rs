//! Prints what a sync fetches from NetBox for some sites, as JSON: the recorded input of the
//! mapping's offline tests.
//!
//!     cargo run -p fabric-netbox --example snapshot -- lab > crates/netbox/tests/data/lab-snapshot.json
//!
//! Needs scripts/netbox.sh (reads target/netbox.env).

use anyhow::Context;
use fabric_api::netbox::Filters;
use fabric_netbox::{Client, Token, fetch_snapshot};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/netbox.env");
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("{file}: run scripts/netbox.sh first"))?;
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k).map(|v| v.trim().to_owned()))
            .with_context(|| format!("{k} missing in {file}"))
    };
    let client = Client::new(&get("NETBOX_URL=")?, Token::parse(&get("NETBOX_TOKEN=")?)?)?;
    let filters = Filters {
        site: std::env::args().skip(1).collect(),
        ..Filters::default()
    };
    let snapshot = fetch_snapshot(&client, &filters).await?;
    println!("{}", serde_json::to_string_pretty(&snapshot)?);
    Ok(())
}
