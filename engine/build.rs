//! Rebuilds the engine when the embedded plugin templates, the dashboard's assets or the WIT
//! contract change
//! (`include_dir!` does not tell Cargo which files it read).

fn main() {
    println!("cargo:rerun-if-changed=templates");
    println!("cargo:rerun-if-changed=web");
    println!("cargo:rerun-if-changed=../wit/plugin");
}
