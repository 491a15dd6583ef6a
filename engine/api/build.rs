//! Rebuilds when the dashboard's assets change (`include_dir!` does not tell Cargo which files
//! it read).

fn main() {
    println!("cargo:rerun-if-changed=web");
}
