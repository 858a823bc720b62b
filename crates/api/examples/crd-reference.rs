//! Prints docs/crd-reference.md: `cargo run -p fabric-api --example crd-reference > docs/crd-reference.md`.

fn main() {
    print!("{}", fabric_api::reference::markdown());
}
