//! The files a `get` writes: all kept when it succeeds, all removed when it fails (no
//! partial download, no metadata file of a version that did not arrive).

use std::fs;
use std::path::{Path, PathBuf};

use lockgate_sdk::{Error, IoResultExt, OUTPUT_DIR};

/// Prefix of the temporary file a download is written to before it is verified.
pub const PARTIAL_PREFIX: &str = ".lockgate-partial-";

/// Files written into one directory (`/output`); removed on drop unless [`Output::keep`]
/// was called.
#[derive(Debug)]
pub struct Output {
    dir: PathBuf,
    written: Vec<PathBuf>,
    kept: bool,
}

impl Output {
    /// Files of `/output`.
    pub fn new() -> Self {
        Self::in_dir(OUTPUT_DIR)
    }

    /// Files of `dir` (unit tests).
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            written: Vec::new(),
            kept: false,
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of file `name` in the directory. `name` must be a plain file name (a
    /// release asset's name comes from the feed): no `/`, not `.` or `..`, not empty, not a
    /// temporary name.
    pub fn path(&self, name: &str) -> Result<PathBuf, Error> {
        if !is_plain_name(name) {
            return Err(Error::failed(format!(
                "`{name}` cannot be written into the output: a file name without `/`, `\\`, control characters, `.` or `..` is needed"
            )));
        }
        Ok(self.dir.join(name))
    }

    /// Writes `contents` to file `name` (a small file: `version`, `url`, `sha1`…).
    pub fn write(&mut self, name: &str, contents: impl AsRef<[u8]>) -> Result<(), Error> {
        let path = self.path(name)?;
        self.written.push(path.clone());
        fs::write(&path, contents).with_path(&path)
    }

    /// Records `path` (a file written otherwise, such as a download) as written.
    pub fn adopt(&mut self, path: PathBuf) {
        self.written.push(path);
    }

    /// The files written so far.
    pub fn written(&self) -> &[PathBuf] {
        &self.written
    }

    /// Keeps every file written: the `get` succeeded.
    pub fn keep(mut self) {
        self.kept = true;
    }
}

impl Default for Output {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        for path in &self.written {
            if fs::remove_file(path).is_ok() {
                lockgate_sdk::debug!("removed {} (the get failed)", path.display());
            }
        }
    }
}

/// A file name a feed may give: not empty, not `.`/`..`, no separators or control
/// characters, not one of this crate's temporary names.
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.starts_with(PARTIAL_PREFIX)
        && !name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for good in [
            "release.tgz",
            "cli_1.2.0_linux-amd64.tar.gz",
            ".hidden",
            "a b",
        ] {
            assert!(is_plain_name(good), "{good}");
        }
        for bad in ["", ".", "..", "a/b", "a\\b", "x\ny", ".lockgate-partial-x"] {
            assert!(!is_plain_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn files_are_removed_unless_kept() {
        let dir = lockgate_sdk::testing::temp_dir("release-feed-output");
        {
            let mut out = Output::in_dir(&dir);
            out.write("version", "1.2.0").unwrap();
            fs::write(dir.join("asset"), "x").unwrap();
            out.adopt(dir.join("asset"));
            assert_eq!(out.written().len(), 2);
            assert!(out.write("../escape", "x").is_err());
        }
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            0,
            "a failed get leaves nothing"
        );
        let mut out = Output::in_dir(&dir);
        out.write("version", "1.2.0").unwrap();
        out.keep();
        assert_eq!(fs::read_to_string(dir.join("version")).unwrap(), "1.2.0");
        fs::remove_dir_all(&dir).unwrap();
    }
}
