//! OCI image layouts: `oci-layout`, `index.json`, `blobs/sha256/<hex>`. A blob enters
//! `blobs/` only whole and verified: it is received into a temporary file beside `blobs/`,
//! checked, then renamed into place.

use std::fs::{self, File};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use lockgate_sdk::{Error, IoResultExt};
use serde_json::{Value, json};

use crate::client::{BlobReader, CHUNK, Fetched, read_verified};
use crate::manifest::{Descriptor, OCI_INDEX, sha256};
use crate::reference::sha256_hex;

/// The content of `oci-layout`.
const LAYOUT_VERSION: &str = "1.0.0";
/// The annotation naming a manifest's tag in `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// An OCI image layout rooted at a directory.
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// Starts a layout in `root` (which exists): writes `oci-layout`, creates `blobs/sha256`.
    pub fn create(root: &Path) -> Result<Self, Error> {
        let blobs = root.join("blobs").join("sha256");
        fs::create_dir_all(&blobs).with_path(&blobs)?;
        let marker = root.join("oci-layout");
        let text = json!({ "imageLayoutVersion": LAYOUT_VERSION }).to_string();
        fs::write(&marker, text).with_path(&marker)?;
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    /// Opens the layout in `root`, which must hold an `oci-layout` file.
    pub fn open(root: &Path) -> Result<Self, Error> {
        let marker = root.join("oci-layout");
        let text = match fs::read_to_string(&marker) {
            Ok(text) => text,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(Error::failed(format!(
                    "{} is not an OCI image layout (no `oci-layout` file); is it the output of a registry-image get?",
                    root.display()
                )));
            }
            Err(e) => return Err(Error::io(&marker, e)),
        };
        let version = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v.get("imageLayoutVersion")?.as_str().map(str::to_string));
        if version.as_deref() != Some(LAYOUT_VERSION) {
            return Err(Error::failed(format!(
                "{}: `imageLayoutVersion` {version:?} is not {LAYOUT_VERSION:?}",
                marker.display()
            )));
        }
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `blobs/sha256/<hex>`.
    pub fn blob_path(&self, digest: &str) -> Result<PathBuf, Error> {
        let hex = sha256_hex(digest).map_err(Error::failed)?;
        Ok(self.root.join("blobs").join("sha256").join(hex))
    }

    /// Whether the layout has the blob (a file of that name; its content is checked when
    /// read).
    pub fn has_blob(&self, digest: &str) -> bool {
        self.blob_path(digest).is_ok_and(|p| p.is_file())
    }

    /// Stores bytes already received whole as the blob `digest`, after checking them.
    pub fn store(&self, digest: &str, bytes: &[u8]) -> Result<(), Error> {
        let got = sha256(bytes);
        if got != digest {
            return Err(Error::failed(format!(
                "blob {digest}: digest mismatch: expected {digest}, the content has {got}; refusing it"
            )));
        }
        let temp = self.temp_path(digest)?;
        let result = fs::write(&temp, bytes)
            .with_path(&temp)
            .and_then(|()| self.commit(&temp, digest));
        if result.is_err() {
            let _ = fs::remove_file(&temp);
        }
        result
    }

    /// Receives the blob `blob` from `reader` into a temporary file, checks its size and
    /// digest, and renames it into `blobs/`; on any failure the temporary file is removed.
    pub fn receive(&self, blob: &Descriptor, reader: &mut dyn BlobReader) -> Result<(), Error> {
        let temp = self.temp_path(&blob.digest)?;
        let result = (|| {
            let mut file = File::create(&temp).with_path(&temp)?;
            read_verified(reader, blob, &mut |bytes| {
                file.write_all(bytes).with_path(&temp)
            })?;
            file.flush().with_path(&temp)?;
            drop(file);
            self.commit(&temp, &blob.digest)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&temp);
        }
        result
    }

    /// Where a blob is received before it is verified: beside `blobs/`, never in it.
    fn temp_path(&self, digest: &str) -> Result<PathBuf, Error> {
        let hex = sha256_hex(digest).map_err(Error::failed)?;
        Ok(self.root.join(format!(".partial-{hex}")))
    }

    fn commit(&self, temp: &Path, digest: &str) -> Result<(), Error> {
        let path = self.blob_path(digest)?;
        fs::rename(temp, &path).with_path(&path)
    }

    /// Writes `index.json` listing `manifests`.
    pub fn write_index(&self, manifests: &[Descriptor]) -> Result<(), Error> {
        let index = json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": manifests,
        });
        let path = self.root.join("index.json");
        let text = serde_json::to_string_pretty(&index)?;
        fs::write(&path, text).with_path(&path)
    }

    /// The manifests `index.json` lists.
    pub fn index(&self) -> Result<Vec<Descriptor>, Error> {
        #[derive(serde::Deserialize)]
        struct Index {
            manifests: Vec<Descriptor>,
        }
        let path = self.root.join("index.json");
        let text = fs::read_to_string(&path).with_path(&path)?;
        let index: Index = serde_json::from_str(&text).map_err(|e| {
            Error::failed(format!("{}: not an OCI image index: {e}", path.display()))
        })?;
        Ok(index.manifests)
    }

    /// The manifest `descriptor` names, read from `blobs/` and verified.
    pub fn manifest(&self, descriptor: &Descriptor) -> Result<Fetched, Error> {
        let path = self.blob_path(&descriptor.digest)?;
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(Error::failed(format!(
                    "the layout in {} does not hold manifest {}",
                    self.root.display(),
                    descriptor.digest
                )));
            }
            Err(e) => return Err(Error::io(&path, e)),
        };
        let media_type =
            (!descriptor.media_type.is_empty()).then_some(descriptor.media_type.as_str());
        Fetched::verify(
            bytes,
            media_type,
            Some(&descriptor.digest),
            &format!("manifest {} in {}", descriptor.digest, self.root.display()),
        )
    }
}

impl BlobReader for Layout {
    fn read_blob(
        &mut self,
        blob: &Descriptor,
        consume: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let path = self.blob_path(&blob.digest)?;
        let mut file = File::open(&path).with_path(&path)?;
        let mut buffer = vec![0u8; usize::try_from(CHUNK.min(blob.size.max(1))).unwrap_or(1)];
        loop {
            let mut filled = 0;
            while filled < buffer.len() {
                match file.read(&mut buffer[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => return Err(Error::io(&path, e)),
                }
            }
            if filled == 0 {
                return Ok(());
            }
            consume(&buffer[..filled])?;
            if filled < buffer.len() {
                return Ok(());
            }
        }
    }

    fn origin(&self) -> String {
        format!("the layout in {}", self.root.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{OCI_MANIFEST, Platform};

    fn descriptor(bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: "application/octet-stream".into(),
            digest: sha256(bytes),
            size: bytes.len() as u64,
            platform: None,
            annotations: None,
        }
    }

    /// Serves fixed bytes (or other bytes than the descriptor's).
    struct Bytes(Vec<u8>);

    impl BlobReader for Bytes {
        fn read_blob(
            &mut self,
            _: &Descriptor,
            consume: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
        ) -> Result<(), Error> {
            for piece in self.0.chunks(4) {
                consume(piece)?;
            }
            Ok(())
        }

        fn origin(&self) -> String {
            "the test".into()
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_layout_round_trip() {
        let dir = lockgate_sdk::testing::temp_dir("registry-image-layout");
        let layout = Layout::create(&dir).unwrap();
        let config = b"{\"os\":\"linux\"}".to_vec();
        let layer = vec![7u8; 10];
        layout.store(&sha256(&config), &config).unwrap();
        layout
            .receive(&descriptor(&layer), &mut Bytes(layer.clone()))
            .unwrap();
        let manifest = Descriptor {
            media_type: OCI_MANIFEST.into(),
            platform: Some(Platform::linux_amd64()),
            annotations: Some([(REF_NAME.to_string(), "1.0.0".to_string())].into()),
            ..descriptor(b"m")
        };
        layout.write_index(std::slice::from_ref(&manifest)).unwrap();

        assert_eq!(names(&dir), ["blobs", "index.json", "oci-layout"]);
        let mut blobs = names(&dir.join("blobs/sha256"));
        let mut expected = vec![
            sha256(&config)[7..].to_string(),
            sha256(&layer)[7..].to_string(),
        ];
        blobs.sort();
        expected.sort();
        assert_eq!(blobs, expected);

        let opened = Layout::open(&dir).unwrap();
        assert_eq!(opened.index().unwrap(), [manifest]);
        assert!(opened.has_blob(&sha256(&layer)));
        assert!(!opened.has_blob(&sha256(b"other")));
        let mut read = Vec::new();
        let mut reader = Layout::open(&dir).unwrap();
        read_verified(&mut reader, &descriptor(&layer), &mut |b| {
            read.extend_from_slice(b);
            Ok(())
        })
        .unwrap();
        assert_eq!(read, layer);
        let index: Value =
            serde_json::from_str(&fs::read_to_string(dir.join("index.json")).unwrap()).unwrap();
        assert_eq!(index["mediaType"], OCI_INDEX);
        assert_eq!(index["manifests"][0]["annotations"][REF_NAME], "1.0.0");
        assert_eq!(index["manifests"][0]["platform"]["os"], "linux");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_blob_that_does_not_verify_leaves_nothing() {
        let dir = lockgate_sdk::testing::temp_dir("registry-image-liar");
        let layout = Layout::create(&dir).unwrap();
        let expected = descriptor(b"the real layer");
        let e = layout
            .receive(&expected, &mut Bytes(b"a forged layer".to_vec()))
            .unwrap_err();
        assert!(
            e.message().starts_with(&format!(
                "blob {0}: digest mismatch: expected {0}, the content the test sent has {1}",
                expected.digest,
                sha256(b"a forged layer")
            )),
            "{e}"
        );
        let e = layout.store(&expected.digest, b"forged").unwrap_err();
        assert!(e.message().contains("digest mismatch"), "{e}");
        assert_eq!(names(&dir), ["blobs", "oci-layout"]);
        assert!(names(&dir.join("blobs/sha256")).is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn what_is_not_a_layout() {
        let dir = lockgate_sdk::testing::temp_dir("registry-image-nolayout");
        let e = Layout::open(&dir).err().unwrap();
        assert!(e.message().contains("is not an OCI image layout"), "{e}");
        fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion": "2.0.0"}"#).unwrap();
        let e = Layout::open(&dir).err().unwrap();
        assert!(e.message().contains("is not \"1.0.0\""), "{e}");
        fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion": "1.0.0"}"#).unwrap();
        let layout = Layout::open(&dir).unwrap();
        let e = layout.manifest(&descriptor(b"x")).unwrap_err();
        assert!(e.message().contains("does not hold manifest"), "{e}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
