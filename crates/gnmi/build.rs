//! Compiles proto/gnmi.proto and proto/gnmi_ext.proto (repository root) when
//! the `proto` feature is on. protoc comes from protoc-bin-vendored so the
//! build needs no system protoc and no environment variable; output goes to
//! OUT_DIR only.

fn main() {
    // Without this line (feature off), cargo would rerun the script on any
    // change in the package.
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "proto")]
    if let Err(e) = compile() {
        // A build script reports failure by exiting non-zero; the message is
        // what the developer sees.
        eprintln!("fabric-gnmi build.rs: {e}");
        std::process::exit(1);
    }
}

#[cfg(feature = "proto")]
fn compile() -> Result<(), Box<dyn std::error::Error>> {
    use std::path::PathBuf;

    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let proto_dir = manifest.join("../../proto");
    let protos = [
        proto_dir.join("gnmi.proto"),
        proto_dir.join("gnmi_ext.proto"),
    ];
    for p in &protos {
        println!("cargo:rerun-if-changed={}", p.display());
    }
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let well_known = protoc_bin_vendored::include_path()?;
    // SAFETY: build scripts are single-threaded; prost-build reads PROTOC
    // from the environment of this process only.
    unsafe {
        std::env::set_var("PROTOC", protoc);
    }
    tonic_prost_build::configure()
        .build_client(cfg!(feature = "client"))
        .build_server(cfg!(feature = "server"))
        .compile_protos(&protos, &[proto_dir, well_known])?;
    Ok(())
}
