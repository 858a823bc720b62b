//! Prints the operator's RBAC grants as the Markdown table of charts/fabric-operator/README.md
//! (a test in tests/chart.rs keeps the README equal to it).

fn main() {
    print!("{}", fabric_operator::rbac::markdown());
}
