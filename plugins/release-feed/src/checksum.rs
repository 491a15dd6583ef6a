//! Checksums: the ones a feed announces and the ones of what was downloaded.

use std::fmt;

use sha1::Sha1;
use sha2::{Digest as _, Sha256};

/// A checksum algorithm a feed uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Algorithm {
    /// SHA-1 (older bosh.io entries carry only this).
    Sha1,
    /// SHA-256.
    Sha256,
}

impl Algorithm {
    /// `sha1` or `sha256`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "sha1",
            Algorithm::Sha256 => "sha256",
        }
    }

    /// Hex digits of a digest.
    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha1 => 40,
            Algorithm::Sha256 => 64,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An expected checksum: an algorithm and its digest in lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// Lowercase hex.
    pub hex: String,
}

impl Checksum {
    /// A checksum of `algorithm` from `text`: bare hex, or prefixed with the algorithm's name
    /// (`sha256:…`, as GitHub's `digest` and BOSH's multi-digests write it). The error says
    /// what is wrong with the text.
    pub fn new(algorithm: Algorithm, text: &str) -> Result<Self, String> {
        let text = text.trim();
        let hex = match text.split_once(':') {
            Some((name, hex)) if name.eq_ignore_ascii_case(algorithm.name()) => hex,
            Some((name, _)) => {
                return Err(format!(
                    "`{text}` is a {name} digest, not a {algorithm} digest"
                ));
            }
            None => text,
        };
        if hex.len() != algorithm.hex_len() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "`{text}` is not a {algorithm} digest ({} hex digits)",
                algorithm.hex_len()
            ));
        }
        Ok(Self {
            algorithm,
            hex: hex.to_ascii_lowercase(),
        })
    }

    /// Parses a digest of any known algorithm: `sha256:<hex>`, `sha1:<hex>`, or bare hex
    /// told by its length (40: sha1, 64: sha256). BOSH's multi-digests (`sha1:…;sha256:…`)
    /// give several.
    pub fn parse_any(text: &str) -> Result<Vec<Self>, String> {
        let mut found = Vec::new();
        for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let algorithm = match part.split_once(':') {
                Some((name, _)) if name.eq_ignore_ascii_case("sha256") => Algorithm::Sha256,
                Some((name, _)) if name.eq_ignore_ascii_case("sha1") => Algorithm::Sha1,
                Some((name, _)) => {
                    return Err(format!("`{part}`: unknown digest algorithm `{name}`"));
                }
                None if part.len() == Algorithm::Sha1.hex_len() => Algorithm::Sha1,
                None => Algorithm::Sha256,
            };
            found.push(Self::new(algorithm, part)?);
        }
        if found.is_empty() {
            return Err("an empty digest".to_string());
        }
        Ok(found)
    }

    /// The strongest of `checksums` (sha256 before sha1).
    pub fn strongest(checksums: &[Checksum]) -> Option<&Checksum> {
        checksums.iter().max_by_key(|c| c.algorithm)
    }
}

impl fmt::Display for Checksum {
    /// `sha256:<hex>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.hex)
    }
}

/// The sha1 and sha256 of a stream of bytes, and its size.
#[derive(Clone, Default)]
pub struct Hasher {
    sha1: Sha1,
    sha256: Sha256,
    size: u64,
}

impl Hasher {
    /// A hasher that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        sha1::Digest::update(&mut self.sha1, bytes);
        self.sha256.update(bytes);
        self.size += bytes.len() as u64;
    }

    /// Bytes seen so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The digests of everything fed.
    pub fn finish(self) -> Digests {
        Digests {
            size: self.size,
            sha1: crate::hex(&sha1::Digest::finalize(self.sha1)),
            sha256: crate::hex(&self.sha256.finalize()),
        }
    }
}

/// The size and digests of downloaded bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    /// Bytes.
    pub size: u64,
    /// SHA-1, lowercase hex.
    pub sha1: String,
    /// SHA-256, lowercase hex.
    pub sha256: String,
}

impl Digests {
    /// The digests of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        let mut h = Hasher::new();
        h.update(bytes);
        h.finish()
    }

    /// The digest of `algorithm`, lowercase hex.
    pub fn get(&self, algorithm: Algorithm) -> &str {
        match algorithm {
            Algorithm::Sha1 => &self.sha1,
            Algorithm::Sha256 => &self.sha256,
        }
    }

    /// Whether the bytes have the `expected` checksum.
    pub fn matches(&self, expected: &Checksum) -> bool {
        self.get(expected.algorithm) == expected.hex
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_SHA1: &str = "da39a3ee5e6b4b0d3255bfef95601890afd80709";
    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn digests_of_known_inputs() {
        let d = Digests::of(b"");
        assert_eq!(
            (d.size, d.sha1.as_str(), d.sha256.as_str()),
            (0, EMPTY_SHA1, EMPTY_SHA256)
        );
        let d = Digests::of(b"abc");
        assert_eq!(d.sha1, "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            d.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // Fed in pieces, the same.
        let mut h = Hasher::new();
        h.update(b"a");
        h.update(b"bc");
        assert_eq!(h.size(), 3);
        assert_eq!(h.finish(), d);
    }

    #[test]
    fn parsing_checksums() {
        let c = Checksum::new(
            Algorithm::Sha256,
            &format!("sha256:{}", EMPTY_SHA256.to_uppercase()),
        )
        .unwrap();
        assert_eq!(c.hex, EMPTY_SHA256);
        assert_eq!(c.to_string(), format!("sha256:{EMPTY_SHA256}"));
        assert!(Digests::of(b"").matches(&c));
        assert!(Checksum::new(Algorithm::Sha1, EMPTY_SHA1).is_ok());
        let e = Checksum::new(Algorithm::Sha1, EMPTY_SHA256).unwrap_err();
        assert!(e.contains("not a sha1 digest (40 hex digits)"), "{e}");
        let e = Checksum::new(Algorithm::Sha1, &format!("sha256:{EMPTY_SHA256}")).unwrap_err();
        assert!(e.contains("is a sha256 digest, not a sha1 digest"), "{e}");

        let all = Checksum::parse_any(&format!("sha1:{EMPTY_SHA1};sha256:{EMPTY_SHA256}")).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(
            Checksum::strongest(&all).unwrap().algorithm,
            Algorithm::Sha256
        );
        assert_eq!(
            Checksum::parse_any(EMPTY_SHA1).unwrap()[0].algorithm,
            Algorithm::Sha1
        );
        assert_eq!(
            Checksum::parse_any(EMPTY_SHA256).unwrap()[0].algorithm,
            Algorithm::Sha256
        );
        assert!(
            Checksum::parse_any("md5:abc")
                .unwrap_err()
                .contains("unknown digest algorithm")
        );
        assert!(Checksum::parse_any(" ").is_err());
        assert!(Checksum::parse_any("xyz").is_err());
    }
}
