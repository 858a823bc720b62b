//! `fabric-operator lab`: the lab fabric, with no cluster.
//!
//! Today it loads the lab's manifests (embedded from examples/fabric/manifests, or a directory),
//! refuses what an API server would refuse, resolves each device's DriftPolicy, and prints the
//! fabric. Live gNMI sessions against fabric-sim and drift events join it with the engine.

use std::{fmt::Write as _, fs, path::Path};

use anyhow::Context;
use fabric_api::{
    DriftPolicy, FabricDevice,
    kube::ResourceExt,
    manifest::{self, Manifest},
    selection::policy_for,
    validation::Validator,
};

include!(concat!(env!("OUT_DIR"), "/lab_manifests.rs"));

/// The objects of a lab, as `kubectl apply` would have created them in one namespace.
#[derive(Debug, Default)]
pub struct Lab {
    pub devices: Vec<FabricDevice>,
    pub policies: Vec<DriftPolicy>,
    pub secrets: usize,
}

/// Namespace the lab's objects live in (they carry none, like manifests applied to a context).
const LAB_NAMESPACE: &str = "lab";

impl Lab {
    /// The lab fabric built into the binary.
    pub fn embedded() -> anyhow::Result<Lab> {
        Lab::from_sources(
            LAB_MANIFESTS
                .iter()
                .map(|(name, text)| (name.to_string(), text.to_string())),
        )
    }

    /// Every YAML file under `dir`, recursively (what `kubectl apply -R -f DIR` reads).
    pub fn from_dir(dir: &Path) -> anyhow::Result<Lab> {
        let mut files = vec![];
        collect_yaml(dir, &mut files).with_context(|| format!("reading {}", dir.display()))?;
        anyhow::ensure!(
            !files.is_empty(),
            "{} holds no YAML manifests",
            dir.display()
        );
        let sources = files
            .into_iter()
            .map(|f| {
                let text =
                    fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
                Ok((f.display().to_string(), text))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Lab::from_sources(sources)
    }

    fn from_sources(sources: impl IntoIterator<Item = (String, String)>) -> anyhow::Result<Lab> {
        let validator = Validator::new();
        let mut lab = Lab::default();
        for (name, text) in sources {
            for object in manifest::parse(&name, &text, &validator)? {
                match object {
                    Manifest::FabricDevice(mut d) => {
                        d.metadata.namespace = Some(LAB_NAMESPACE.into());
                        lab.devices.push(*d);
                    }
                    Manifest::DriftPolicy(mut p) => {
                        p.metadata.namespace = Some(LAB_NAMESPACE.into());
                        lab.policies.push(*p);
                    }
                    Manifest::Secret(_) => lab.secrets += 1,
                    Manifest::DriftEvent(_) | Manifest::NetBoxSource(_) => {}
                }
            }
        }
        lab.devices.sort_by_key(|d| d.name_any());
        Ok(lab)
    }

    /// The fabric as a table, one device a line, with the policy in force for each.
    pub fn render(&self) -> String {
        let mut rows = vec![[
            "DEVICE".to_owned(),
            "ADDRESS".to_owned(),
            "PLATFORM".to_owned(),
            "ASN".to_owned(),
            "INTERFACES".to_owned(),
            "VLANS".to_owned(),
            "NEIGHBORS".to_owned(),
            "POLICY".to_owned(),
            "MODE".to_owned(),
        ]];
        for d in &self.devices {
            let intent = &d.spec.intent;
            let policy = policy_for(d, &self.policies);
            rows.push([
                d.name_any(),
                d.spec.target.address.clone(),
                format!("{:?}", d.spec.platform).to_lowercase(),
                intent
                    .bgp
                    .as_ref()
                    .map(|b| b.asn.to_string())
                    .unwrap_or_else(|| "-".into()),
                intent.interfaces.len().to_string(),
                intent.vlans.len().to_string(),
                intent
                    .bgp
                    .as_ref()
                    .map(|b| b.neighbors.len())
                    .unwrap_or(0)
                    .to_string(),
                policy
                    .map(|p| p.name_any())
                    .unwrap_or_else(|| "<none>".into()),
                // A device no policy selects is treated as alert.
                policy
                    .map(|p| p.spec.rules.mode)
                    .unwrap_or_default()
                    .as_str()
                    .to_owned(),
            ]);
        }
        let widths: Vec<usize> = (0..rows[0].len())
            .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for row in &rows {
            let line: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect();
            let _ = writeln!(out, "{}", line.join("  ").trim_end());
        }
        out
    }
}

fn collect_yaml(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    let mut entries = fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_yaml(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_lab_is_the_example_fabric() {
        let lab = Lab::embedded().unwrap();
        assert_eq!(lab.devices.len(), 10);
        assert_eq!(lab.policies.len(), 3);
        assert_eq!(lab.secrets, 1);
        let from_disk = Lab::from_dir(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/fabric/manifests"),
        )
        .unwrap();
        let specs = |l: &Lab| {
            l.devices
                .iter()
                .map(|d| (d.name_any(), d.spec.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            specs(&lab),
            specs(&from_disk),
            "the binary embeds the current examples"
        );
    }

    #[test]
    fn the_table_shows_each_device_with_its_policy() {
        let table = Lab::embedded().unwrap().render();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 11, "{table}");
        assert!(lines[0].starts_with("DEVICE"));
        let row = |name: &str| {
            *lines
                .iter()
                .find(|l| l.starts_with(&format!("{name} ")))
                .unwrap()
        };
        assert!(row("spine1").contains("127.0.0.1:16001"), "{table}");
        assert!(row("spine1").ends_with("spines-alert    alert"), "{table}");
        assert!(row("leaf3").ends_with("leaves-approve  approve"), "{table}");
        assert!(row("leaf8").ends_with("leaves-auto     auto"), "{table}");
        assert!(row("leaf8").contains("65004"), "{table}");
    }

    #[test]
    fn a_bad_manifest_is_refused_with_its_file_and_reason() {
        let dir = std::env::temp_dir().join(format!("fabric-lab-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join("policy.yaml"),
            "apiVersion: fabric.netops.dev/v1alpha1\nkind: DriftPolicy\nmetadata: {name: p}\nspec: {mode: sometimes}\n",
        )
        .unwrap();
        let err = format!("{:#}", Lab::from_dir(&dir).unwrap_err());
        fs::remove_dir_all(&dir).unwrap();
        assert!(err.contains("policy.yaml: document 0: DriftPolicy \"p\" is invalid: spec.mode: Unsupported value"), "{err}");
    }
}
