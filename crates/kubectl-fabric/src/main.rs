//! `kubectl-fabric`: on PATH, `kubectl fabric ...` runs it (kubectl's plugin convention).

use std::{io::IsTerminal, io::Read, io::Write, path::PathBuf, time::Duration};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use fabric_api::kube::{self, config::KubeConfigOptions};
use fabric_gnmi::client::Credentials;
use kubectl_fabric::{Context, Format, Scope, decide, diff, history, plan, status};

#[derive(Parser)]
#[command(
    name = "kubectl fabric",
    bin_name = "kubectl fabric",
    version,
    about = "fabric-operator from kubectl: device status, drift history and diffs, approvals, \
             manual remediation, and plans against live devices"
)]
struct Cli {
    /// Namespace (default: the kubeconfig context's, else `default`).
    #[arg(short, long, global = true)]
    namespace: Option<String>,
    /// Every namespace (status and history).
    #[arg(short = 'A', long, global = true, conflicts_with = "namespace")]
    all_namespaces: bool,
    /// Output format.
    #[arg(short, long, global = true, value_enum, default_value_t = Format::Table)]
    output: Format,
    /// kubeconfig context to use instead of the current one.
    #[arg(long, global = true)]
    context: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Every device: reachable, sync, drifts, policy and mode, active event, last drift.
    Status,
    /// Drift events with phase, decision and remediation duration, oldest first.
    History {
        /// Only this FabricDevice's events.
        #[arg(long)]
        device: Option<String>,
    },
    /// Expected against actual, path by path, for one DriftEvent.
    Diff { event: String },
    /// Approve a Pending DriftEvent: the operator applies its plan if the drift is unchanged.
    Approve { event: String },
    /// Reject a Pending DriftEvent: the operator leaves the device as it is.
    Reject { event: String },
    /// Repair a device's current drift once, whatever its policy's mode.
    Remediate {
        #[arg(long)]
        device: String,
    },
    /// Lift the flap guard of a Contested device: auto-remediation of its paths resumes.
    ClearContested {
        #[arg(long)]
        device: String,
    },
    /// Read a device by gNMI and print what remediation would change. No cluster needed.
    Plan {
        /// Manifests: the FabricDevice, and its Secrets and DriftPolicies if wanted (`-` = stdin).
        #[arg(short = 'f', long = "filename", required = true)]
        files: Vec<PathBuf>,
        /// Which FabricDevice, when the files hold several.
        #[arg(long)]
        device: Option<String>,
        /// Connect here instead of spec.target.address (e.g. through a port-forward).
        #[arg(long)]
        address: Option<String>,
        /// gNMI username, when the credentials Secret is not among the files.
        #[arg(long, env = "FABRIC_GNMI_USERNAME", requires = "password")]
        username: Option<String>,
        #[arg(
            long,
            env = "FABRIC_GNMI_PASSWORD",
            requires = "username",
            hide_env_values = true
        )]
        password: Option<String>,
        /// Seconds to connect and to read the device's state.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
}

async fn client(context: Option<String>) -> anyhow::Result<kube::Client> {
    let options = KubeConfigOptions {
        context,
        ..KubeConfigOptions::default()
    };
    let config = match kube::Config::from_kubeconfig(&options).await {
        Ok(config) => config,
        // In a pod (a debug container, a CI job): the service account.
        Err(kubeconfig_error) => kube::Config::incluster().map_err(|_| kubeconfig_error)?,
    };
    Ok(kube::Client::try_from(config)?)
}

fn read_files(files: &[PathBuf]) -> anyhow::Result<Vec<(String, String)>> {
    files
        .iter()
        .map(|path| {
            let name = path.display().to_string();
            let mut text = String::new();
            if name == "-" {
                std::io::stdin().read_to_string(&mut text)?;
            } else {
                text = std::fs::read_to_string(path).with_context(|| name.clone())?;
            }
            Ok((name, text))
        })
        .collect()
}

async fn run(cli: Cli) -> anyhow::Result<String> {
    let format = cli.output;
    if let Command::Plan {
        files,
        device,
        address,
        username,
        password,
        timeout,
    } = cli.command
    {
        let args = plan::PlanArgs {
            files,
            device,
            address,
            credentials: username
                .zip(password)
                .map(|(username, password)| Credentials { username, password }),
            timeout: Duration::from_secs(timeout),
        };
        let inputs = plan::load(&read_files(&args.files)?, args.device.as_deref())?;
        let config = plan::device_config(&inputs, &args)?;
        let outcome = plan::plan(&config, args.timeout).await?;
        return Ok(match format {
            Format::Table => plan::render(&outcome, &config),
            format => kubectl_fabric::serialized(&outcome, format)?,
        });
    }
    let client = client(cli.context).await.context(
        "no Kubernetes configuration: set KUBECONFIG or ~/.kube/config (plan needs none)",
    )?;
    let scope = if cli.all_namespaces {
        Scope::AllNamespaces
    } else {
        let namespace = cli
            .namespace
            .unwrap_or_else(|| client.default_namespace().to_owned());
        Scope::Namespace(namespace)
    };
    let ctx = Context {
        client,
        scope,
        now: jiff::Timestamp::now(),
        format,
        color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let out = match cli.command {
        Command::Status => status::run(&ctx).await?,
        Command::History { device } => history::run(&ctx, device.as_deref()).await?,
        Command::Diff { event } => diff::run(&ctx, &event).await?,
        Command::Approve { event } => {
            decide::decide(&ctx, &event, decide::Verdict::Approve).await?
        }
        Command::Reject { event } => decide::decide(&ctx, &event, decide::Verdict::Reject).await?,
        Command::Remediate { device } => decide::remediate(&ctx, &device).await?,
        Command::ClearContested { device } => decide::clear_contested(&ctx, &device).await?,
        Command::Plan { .. } => unreachable!("handled above"),
    };
    Ok(out)
}

fn main() -> std::process::ExitCode {
    // One TLS crypto provider for gNMI and the Kubernetes client (see fabric-operator's main).
    fabric_gnmi::install_crypto_provider();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(out) => {
            let _ = std::io::stdout().write_all(out.as_bytes());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("kubectl-fabric").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    fn refused(args: &[&str]) -> String {
        match Cli::try_parse_from(std::iter::once("kubectl-fabric").chain(args.iter().copied())) {
            Ok(_) => panic!("{args:?} must be refused"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        // clap's own checks (conflicting names, bad `requires`), which otherwise fire only on use.
        <Cli as clap::CommandFactory>::command().debug_assert();
    }

    #[test]
    fn global_flags_default_to_the_current_namespace_and_a_table() {
        let cli = parse(&["status"]);
        assert_eq!(cli.namespace, None);
        assert!(!cli.all_namespaces);
        assert_eq!(cli.output, Format::Table);
        assert_eq!(cli.context, None);
        assert!(matches!(cli.command, Command::Status));
    }

    #[test]
    fn global_flags_go_before_or_after_the_subcommand() {
        let cli = parse(&["-n", "lab", "status", "-o", "json", "--context", "kind-dc1"]);
        assert_eq!(cli.namespace.as_deref(), Some("lab"));
        assert_eq!(cli.output, Format::Json);
        assert_eq!(cli.context.as_deref(), Some("kind-dc1"));

        let cli = parse(&["history", "--namespace=lab", "--output", "yaml"]);
        assert_eq!(cli.namespace.as_deref(), Some("lab"));
        assert_eq!(cli.output, Format::Yaml);

        let cli = parse(&["-A", "history", "-o", "table"]);
        assert!(cli.all_namespaces);
        assert_eq!(cli.output, Format::Table);
        let cli = parse(&["status", "--all-namespaces"]);
        assert!(cli.all_namespaces);
    }

    #[test]
    fn bad_global_flags_are_refused_with_the_reason() {
        let e = refused(&["-n", "lab", "-A", "status"]);
        assert!(e.contains("cannot be used with"), "{e}");
        let e = refused(&["status", "-o", "wide"]);
        assert!(e.contains("invalid value 'wide'"), "{e}");
        assert!(e.contains("table, json, yaml"), "{e}");
        let e = refused(&["-n", "lab"]);
        assert!(e.contains("Usage"), "{e}");
        let e = refused(&["destroy"]);
        assert!(e.contains("unrecognized subcommand 'destroy'"), "{e}");
    }

    #[test]
    fn history_takes_an_optional_device() {
        assert!(matches!(
            parse(&["history"]).command,
            Command::History { device: None }
        ));
        match parse(&["history", "--device", "leaf1"]).command {
            Command::History { device } => assert_eq!(device.as_deref(), Some("leaf1")),
            _ => panic!("history"),
        }
        let e = refused(&["history", "leaf1"]);
        assert!(e.contains("unexpected argument 'leaf1'"), "{e}");
    }

    #[test]
    fn diff_approve_and_reject_take_one_event() {
        match parse(&["diff", "leaf2-6f2a9c1e-1"]).command {
            Command::Diff { event } => assert_eq!(event, "leaf2-6f2a9c1e-1"),
            _ => panic!("diff"),
        }
        match parse(&["approve", "leaf2-6f2a9c1e-1"]).command {
            Command::Approve { event } => assert_eq!(event, "leaf2-6f2a9c1e-1"),
            _ => panic!("approve"),
        }
        match parse(&["reject", "leaf2-6f2a9c1e-1"]).command {
            Command::Reject { event } => assert_eq!(event, "leaf2-6f2a9c1e-1"),
            _ => panic!("reject"),
        }
        for verb in ["diff", "approve", "reject"] {
            let e = refused(&[verb]);
            assert!(e.contains("<EVENT>"), "{verb}: {e}");
        }
        let e = refused(&["approve", "a", "b"]);
        assert!(e.contains("unexpected argument 'b'"), "{e}");
    }

    #[test]
    fn remediate_and_clear_contested_need_a_device() {
        match parse(&["remediate", "--device", "leaf1"]).command {
            Command::Remediate { device } => assert_eq!(device, "leaf1"),
            _ => panic!("remediate"),
        }
        match parse(&["clear-contested", "--device=leaf5"]).command {
            Command::ClearContested { device } => assert_eq!(device, "leaf5"),
            _ => panic!("clear-contested"),
        }
        for verb in ["remediate", "clear-contested"] {
            let e = refused(&[verb]);
            assert!(e.contains("--device <DEVICE>"), "{verb}: {e}");
        }
    }

    /// `plan`'s arguments: files, device, address, username, password, timeout.
    type PlanArgs = (
        Vec<PathBuf>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        u64,
    );

    fn plan(args: &[&str]) -> PlanArgs {
        match parse(args).command {
            Command::Plan {
                files,
                device,
                address,
                username,
                password,
                timeout,
            } => (files, device, address, username, password, timeout),
            _ => panic!("{args:?} is not plan"),
        }
    }

    #[test]
    fn plan_takes_files_a_device_an_address_credentials_and_a_timeout() {
        let (files, device, address, username, password, timeout) =
            plan(&["plan", "-f", "leaf1.yaml"]);
        assert_eq!(files, [PathBuf::from("leaf1.yaml")]);
        assert_eq!((device, address), (None, None));
        // Unless FABRIC_GNMI_USERNAME/PASSWORD are set in the test's environment.
        if std::env::var_os("FABRIC_GNMI_USERNAME").is_none() {
            assert_eq!((username, password), (None, None));
        }
        assert_eq!(timeout, 30);

        let (files, device, address, username, password, timeout) = plan(&[
            "plan",
            "-f",
            "leaf1.yaml",
            "--filename",
            "-",
            "--device",
            "leaf1",
            "--address",
            "127.0.0.1:6030",
            "--username",
            "admin",
            "--password",
            "secret",
            "--timeout",
            "5",
        ]);
        assert_eq!(files, [PathBuf::from("leaf1.yaml"), PathBuf::from("-")]);
        assert_eq!(device.as_deref(), Some("leaf1"));
        assert_eq!(address.as_deref(), Some("127.0.0.1:6030"));
        assert_eq!(username.as_deref(), Some("admin"));
        assert_eq!(password.as_deref(), Some("secret"));
        assert_eq!(timeout, 5);
        let e = refused(&["plan"]);
        assert!(e.contains("--filename <FILES>"), "{e}");
        let e = refused(&["plan", "-f", "x.yaml", "--timeout", "soon"]);
        assert!(e.contains("invalid value 'soon'"), "{e}");
        if std::env::var_os("FABRIC_GNMI_PASSWORD").is_none() {
            let e = refused(&["plan", "-f", "x.yaml", "--username", "admin"]);
            assert!(e.contains("--password <PASSWORD>"), "{e}");
        }
    }
}
