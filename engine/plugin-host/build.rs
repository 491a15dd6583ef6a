//! Regenerates the bindings when the WIT contract changes.

fn main() {
    println!("cargo:rerun-if-changed=../../wit/plugin");
}
