//! Prints what a sync fetches from NetBox for some sites, as JSON: the recorded input of the
//! mapping's offline tests.
//!
//!     cargo run -p fabric-netbox --example snapshot -- lab > crates/netbox/tests/data/lab-snapshot.json
//!
//! Needs scripts/netbox.sh (reads target/netbox.env).

use fabric_api::netbox::Filters;
use fabric_netbox::{Client, Token, fetch_snapshot};

/// The test NetBox (target/netbox.env from scripts/netbox.sh), shared with the integration tests.
#[path = "../tests/common/mod.rs"]
mod common;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (url, token) = common::netbox_env();
    let client = Client::new(&url, Token::parse(&token)?)?;
    let filters = Filters {
        site: std::env::args().skip(1).collect(),
        ..Filters::default()
    };
    let snapshot = fetch_snapshot(&client, &filters).await?;
    println!("{}", serde_json::to_string_pretty(&snapshot)?);
    Ok(())
}
