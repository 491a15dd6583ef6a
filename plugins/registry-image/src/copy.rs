//! Copying an image (a manifest, or an index with its manifests) into a repository: for each
//! blob, nothing when the target has it, else a cross-repository mount, else an upload; then
//! the manifests, the index last, under the tags.

use std::collections::BTreeSet;

use lockgate_sdk::Error;

use crate::client::{BlobReader, Fetched, Registry};
use crate::layout::Layout;
use crate::manifest::{Descriptor, Manifest};

/// Where an image comes from: manifests and blobs.
pub trait ImageSource: BlobReader {
    /// The manifest `descriptor` names, verified.
    fn manifest(&mut self, descriptor: &Descriptor) -> Result<Fetched, Error>;
    /// Whether the blob can be read from here (a layout fetched with `skip_download` has no
    /// blobs).
    fn has_blob(&self, digest: &str) -> bool;
}

impl ImageSource for Layout {
    fn manifest(&mut self, descriptor: &Descriptor) -> Result<Fetched, Error> {
        Layout::manifest(self, descriptor)
    }

    fn has_blob(&self, digest: &str) -> bool {
        Layout::has_blob(self, digest)
    }
}

impl ImageSource for Registry {
    fn manifest(&mut self, descriptor: &Descriptor) -> Result<Fetched, Error> {
        Registry::manifest(self, &descriptor.digest, descriptor.size)?.ok_or_else(|| {
            Error::failed(format!(
                "manifest {}@{} is not in the registry",
                self.repo, descriptor.digest
            ))
        })
    }

    fn has_blob(&self, _: &str) -> bool {
        true
    }
}

/// What a copy did.
#[derive(Debug, Default)]
pub struct Copied {
    /// Blobs the target already had.
    pub existing: usize,
    /// Blobs mounted from another repository of the target's registry.
    pub mounted: usize,
    /// Blobs uploaded.
    pub uploaded: usize,
    /// Bytes uploaded.
    pub uploaded_bytes: u64,
    /// Manifests pushed (children of an index and the root, once per tag).
    pub manifests: usize,
}

/// Copies the image `root` from `source` into `target`, under each of `tags` (by its digest
/// when there is none); `mount_from` names the source repository when it is on the target's
/// registry.
pub fn copy(
    source: &mut dyn ImageSource,
    target: &mut Registry,
    root: &Fetched,
    mount_from: Option<&str>,
    tags: &[String],
) -> Result<Copied, Error> {
    let mut copier = Copier {
        source,
        target,
        mount_from,
        done: BTreeSet::new(),
        copied: Copied::default(),
    };
    copier.contents(root, 0)?;
    if tags.is_empty() {
        copier.target.put_manifest(&root.digest, root)?;
        copier.copied.manifests += 1;
    }
    for tag in tags {
        copier.target.put_manifest(tag, root)?;
        copier.copied.manifests += 1;
    }
    Ok(copier.copied)
}

struct Copier<'a> {
    source: &'a mut dyn ImageSource,
    target: &'a mut Registry,
    mount_from: Option<&'a str>,
    /// Blobs and manifests already in the target.
    done: BTreeSet<String>,
    copied: Copied,
}

impl Copier<'_> {
    /// Everything `manifest` refers to: the blobs of an image; the manifests of an index
    /// (each with its own contents, pushed by digest).
    fn contents(&mut self, manifest: &Fetched, depth: usize) -> Result<(), Error> {
        match &manifest.manifest {
            Manifest::Index { manifests } => {
                if depth > 2 {
                    return Err(Error::failed(format!(
                        "index {} nests indexes too deep",
                        manifest.digest
                    )));
                }
                for child in manifests {
                    if self.done.contains(&child.digest) {
                        continue;
                    }
                    let fetched = self.source.manifest(child)?;
                    self.contents(&fetched, depth + 1)?;
                    self.target.put_manifest(&child.digest, &fetched)?;
                    self.copied.manifests += 1;
                    self.done.insert(child.digest.clone());
                }
            }
            image => {
                for blob in image.blobs() {
                    if self.done.insert(blob.digest.clone()) {
                        self.blob(blob)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn blob(&mut self, blob: &Descriptor) -> Result<(), Error> {
        if self.target.blob_exists(&blob.digest)? {
            self.copied.existing += 1;
            return Ok(());
        }
        let missing = Error::failed(format!(
            "blob {} is neither in {} nor in {} (was the image fetched with `skip_download: true`?)",
            blob.digest,
            self.target.repo,
            self.source.origin()
        ));
        if self.mount_from.is_none() && !self.source.has_blob(&blob.digest) {
            return Err(missing);
        }
        let Some(location) = self.target.start_upload(&blob.digest, self.mount_from)? else {
            lockgate_sdk::debug!(
                "blob {} mounted from {}",
                blob.digest,
                self.mount_from.unwrap_or_default()
            );
            self.copied.mounted += 1;
            return Ok(());
        };
        if !self.source.has_blob(&blob.digest) {
            self.target.cancel(&location);
            return Err(missing);
        }
        self.target.upload(location, blob, self.source)?;
        self.copied.uploaded += 1;
        self.copied.uploaded_bytes += blob.size;
        Ok(())
    }
}
