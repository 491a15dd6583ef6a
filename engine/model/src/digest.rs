//! SHA-256 digests as lowercase hex: component files, registry entries, version and
//! configuration identity.

use sha2::{Digest, Sha256};

/// Hex SHA-256 of the concatenation of `parts` (one part: the digest of those bytes).
pub fn sha256_hex<B: AsRef<[u8]>>(parts: impl IntoIterator<Item = B>) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_ref());
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_hash_as_their_concatenation() {
        assert_eq!(
            sha256_hex([b"ab".as_slice()]),
            sha256_hex([b"a".as_slice(), b"b"])
        );
        assert_eq!(
            sha256_hex([b"".as_slice()]),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
