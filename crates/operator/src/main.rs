//! `fabric-operator`: keeps network fabrics in line with their intent.

mod lab;

use std::{io::Write, path::PathBuf};

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    version,
    about = "Keeps EVPN-VXLAN fabrics in line with their intent over gNMI"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The lab fabric (2 spines, 8 leaves), no cluster needed.
    Lab {
        /// A directory of manifests to use instead of the built-in lab (examples/fabric/manifests).
        #[arg(long)]
        manifests: Option<PathBuf>,
    },
    /// Print the CustomResourceDefinitions as one YAML stream (for `kubectl apply -f -`).
    Crds,
}

fn main() -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match Cli::parse().command {
        Command::Crds => stdout.write_all(fabric_api::crds::yaml().as_bytes())?,
        Command::Lab { manifests } => {
            let lab = match &manifests {
                Some(dir) => lab::Lab::from_dir(dir)?,
                None => lab::Lab::embedded()?,
            };
            writeln!(
                stdout,
                "lab fabric: {} devices, {} policies, {} secrets; every manifest passed the CRD schemas and rules\n",
                lab.devices.len(),
                lab.policies.len(),
                lab.secrets
            )?;
            stdout.write_all(lab.render().as_bytes())?;
            writeln!(
                stdout,
                "\nNot yet live: gNMI sessions to fabric-sim, drift detection and drift events arrive with \
                 the engine; until then the lab shows the intent and the policy in force for each device."
            )?;
        }
    }
    Ok(())
}
