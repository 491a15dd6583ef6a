//! The sandbox a plugin runs in: fixed paths and the granted inputs.
//!
//! A plugin sees only what the pipeline granted:
//! - [`INPUTS_DIR`]`/<name>`: read-only artifacts of earlier steps (`put`, `run`);
//! - [`OUTPUT_DIR`]: read-write, where `get` writes the fetched artifact;
//! - [`CACHE_DIR`]: read-write, private to one resource, kept between invocations
//!   (`check`, `get`, `put`); it may be emptied at any time;
//! - [`DIRS_DIR`]`/<name>`: host directories granted by name, read-only unless granted `rw`.
//!
//! Only granted environment variables are set (read them with [`std::env::var`]) and only
//! granted `host:port` pairs can be reached (with [`std::net::TcpStream`]). stdout and
//! stderr go to the build log, capped in size per invocation.

use std::path::{Component, Path, PathBuf};

use crate::Error;
use crate::bindings::host;

/// Where the granted inputs are mounted, read-only: `/inputs/<name>`.
pub const INPUTS_DIR: &str = "/inputs";
/// Where `get` writes the fetched artifact (read-write).
pub const OUTPUT_DIR: &str = "/output";
/// The resource's private cache (read-write); may be emptied at any time.
pub const CACHE_DIR: &str = "/cache";
/// Where granted host directories are mounted: `/dirs/<name>`.
pub const DIRS_DIR: &str = "/dirs";

/// Names of the input directories granted to this invocation, each readable at
/// [`input_path`]`(name)`, in the order the pipeline lists them.
pub fn inputs() -> Vec<String> {
    host::inputs()
}

/// `/inputs/<name>`: the directory of the input `name`.
pub fn input_path(name: &str) -> PathBuf {
    Path::new(INPUTS_DIR).join(name)
}

/// `/output/<relative>`: a path inside the output directory.
pub fn output_path(relative: impl AsRef<Path>) -> PathBuf {
    Path::new(OUTPUT_DIR).join(relative)
}

/// `/cache/<relative>`: a path inside the cache directory.
pub fn cache_path(relative: impl AsRef<Path>) -> PathBuf {
    Path::new(CACHE_DIR).join(relative)
}

/// `/dirs/<name>`: the granted host directory `name`.
pub fn dir_path(name: &str) -> PathBuf {
    Path::new(DIRS_DIR).join(name)
}

/// Resolves a reference `"<input>/<relative path>"`, as plugins take it in `params` or
/// `config`, to its path under [`INPUTS_DIR`].
///
/// The reference must be relative and must not contain `..` (or `.`): anything else is
/// [`Error::InvalidConfig`] (add the field name with [`Error::context`]). A bare
/// `"<input>"` designates the input directory itself. The file need not exist.
///
/// ```
/// use lockgate_sdk::input_file;
///
/// assert_eq!(input_file("build/out/version.txt").unwrap().to_str(), Some("/inputs/build/out/version.txt"));
/// assert!(input_file("../etc/passwd").is_err());
/// assert!(input_file("/etc/passwd").is_err());
/// ```
pub fn input_file(reference: &str) -> Result<PathBuf, Error> {
    let mut path = PathBuf::from(INPUTS_DIR);
    let mut parts = 0;
    for component in Path::new(reference).components() {
        match component {
            Component::Normal(part) => {
                path.push(part);
                parts += 1;
            }
            _ => {
                return Err(Error::invalid_config(format!(
                    "`{reference}` must be a relative path `<input>/<file>` without `.` or `..`"
                )));
            }
        }
    }
    if parts == 0 {
        return Err(Error::invalid_config(
            "an empty path; expected `<input>/<file>`",
        ));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_references() {
        assert_eq!(
            input_file("a/b/c.txt").unwrap(),
            PathBuf::from("/inputs/a/b/c.txt")
        );
        assert_eq!(input_file("a//b/").unwrap(), PathBuf::from("/inputs/a/b"));
        assert_eq!(input_file("a").unwrap(), PathBuf::from("/inputs/a"));
        for bad in ["", "/a/b", "a/../b", "./a", ".."] {
            assert!(
                matches!(input_file(bad), Err(Error::InvalidConfig(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn paths() {
        assert_eq!(input_path("src"), PathBuf::from("/inputs/src"));
        assert_eq!(output_path("number"), PathBuf::from("/output/number"));
        assert_eq!(cache_path("x/y"), PathBuf::from("/cache/x/y"));
        assert_eq!(dir_path("state"), PathBuf::from("/dirs/state"));
    }
}
