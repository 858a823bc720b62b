//! Embeds the lab fabric's manifests (examples/fabric/manifests) into the binary, so that
//! `fabric-operator lab` runs from any directory. Writes only into OUT_DIR.

use std::{env, fs, path::Path};

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

fn main() {
    let root = Path::new(&env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"))
        .join("../../examples/fabric/manifests");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = vec![];
    collect(&root, &mut files);
    let mut code = String::from(
        "/// (path under examples/fabric/manifests, contents)\npub const LAB_MANIFESTS: &[(&str, &str)] = &[\n",
    );
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        let name = file
            .strip_prefix(&root)
            .expect("under root")
            .display()
            .to_string();
        code.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            file.canonicalize().expect("file exists")
        ));
    }
    code.push_str("];\n");
    let topology = root.join("../topology.yaml");
    println!("cargo:rerun-if-changed={}", topology.display());
    code.push_str(&format!(
        "/// examples/fabric/topology.yaml: fabric-sim's lab topology.\npub const LAB_TOPOLOGY: &str = include_str!({:?});\n",
        topology.canonicalize().expect("examples/fabric/topology.yaml exists")
    ));
    fs::write(
        Path::new(&env::var("OUT_DIR").expect("cargo sets it")).join("lab_manifests.rs"),
        code,
    )
    .expect("OUT_DIR is writable");
}
