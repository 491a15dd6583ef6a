//! Checking a pack received from a server and writing its `.idx` (version 2), so that
//! [`crate::repo::Repo`] can read it like any pack of a repository.
//!
//! Nothing of a pack is trusted: the trailing SHA-1 must match, every entry must inflate
//! to its declared size, every delta must apply to a base in the pack (or, for a
//! `REF_DELTA`, to an object the repository already has), and each object's id is computed
//! from its content. A truncated or corrupt pack is an error naming what is wrong.

use std::collections::HashMap;
use std::rc::Rc;

use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::inflate_flags::{
    TINFL_FLAG_PARSE_ZLIB_HEADER, TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF,
};
use miniz_oxide::inflate::core::{DecompressorOxide, decompress};
use sha1::{Digest, Sha1};

use crate::object::{Kind, ObjectId};
use crate::repo::{
    Base, MAX_DELTA_DEPTH, MAX_OBJECT_BYTES, Object, apply_delta, parse_entry_header,
};

/// Bytes of inflated objects kept while resolving deltas before the cache is emptied.
const CACHE_BYTES: usize = 64 << 20;

/// A checked pack: its index and the objects it holds.
#[derive(Debug)]
pub struct Indexed {
    /// The `.idx` file (version 2).
    pub idx: Vec<u8>,
    /// The pack's own checksum (its last 20 bytes), which names its files.
    pub checksum: ObjectId,
    /// Every object in the pack, in pack order.
    pub ids: Vec<ObjectId>,
}

/// One entry of the pack, as walked.
struct Entry {
    offset: u64,
    base: Base,
    size: usize,
    body: usize,
    crc: u32,
}

/// Inflates the zlib stream at the start of `input`, which must give exactly `size` bytes;
/// returns the bytes and how much of `input` the stream took.
fn inflate_counted(input: &[u8], size: usize) -> Option<(Vec<u8>, usize)> {
    let mut out = vec![0; size];
    let mut state = DecompressorOxide::new();
    let (status, consumed, written) = decompress(
        &mut state,
        input,
        &mut out,
        0,
        TINFL_FLAG_PARSE_ZLIB_HEADER | TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF,
    );
    (status == TINFLStatus::Done && written == size).then_some((out, consumed))
}

/// Checks `pack` and computes its index. `external` gives objects the pack's `REF_DELTA`
/// entries may use as bases without carrying them (a thin pack); `Ok(None)` when there is
/// no such object.
pub fn index_pack(
    pack: &[u8],
    mut external: impl FnMut(ObjectId) -> Result<Option<Rc<Object>>, String>,
) -> Result<Indexed, String> {
    if pack.len() < 32 || &pack[..4] != b"PACK" {
        return Err(format!(
            "not a pack ({} bytes, no `PACK` header)",
            pack.len()
        ));
    }
    let version = u32::from_be_bytes(pack[4..8].try_into().unwrap());
    if !matches!(version, 2 | 3) {
        return Err(format!("pack version {version} is not supported"));
    }
    let count = u32::from_be_bytes(pack[8..12].try_into().unwrap()) as usize;
    let end = pack.len() - 20;
    let checksum = ObjectId::from_bytes(&pack[end..]).expect("20 bytes");
    let actual = Sha1::digest(&pack[..end]);
    if actual[..] != checksum.0[..] {
        return Err(format!(
            "the pack's checksum does not match its content ({} bytes for {count} objects): it is truncated or corrupt",
            pack.len()
        ));
    }
    // Walk the entries: where each starts, its header, and the CRC-32 of its bytes.
    let mut entries = Vec::with_capacity(count.min(1 << 20));
    let mut by_offset = HashMap::with_capacity(count.min(1 << 20));
    let mut at = 12u64;
    for i in 0..count {
        let bad = |what: &str| format!("entry {i} of {count} at offset {at}: {what}");
        if at as usize >= end {
            return Err(bad("the pack ends before it (truncated)"));
        }
        let header = parse_entry_header(&pack[..end], at).ok_or_else(|| bad("bad header"))?;
        if header.size > MAX_OBJECT_BYTES {
            return Err(bad("object larger than 128 MiB"));
        }
        let (_, consumed) = inflate_counted(&pack[header.body..end], header.size)
            .ok_or_else(|| bad("broken zlib stream"))?;
        let next = header.body + consumed;
        let crc = crc32fast::hash(&pack[at as usize..next]);
        by_offset.insert(at, i);
        entries.push(Entry {
            offset: at,
            base: header.base,
            size: header.size,
            body: header.body,
            crc,
        });
        at = next as u64;
    }
    if at as usize != end {
        return Err(format!(
            "{} bytes after the last of the {count} objects",
            end - at as usize
        ));
    }
    let mut resolver = Resolver {
        pack,
        entries: &entries,
        by_offset: &by_offset,
        by_id: HashMap::new(),
        cache: HashMap::new(),
        cached: 0,
    };
    let mut ids: Vec<Option<ObjectId>> = vec![None; count];
    let mut externals: HashMap<ObjectId, Rc<Object>> = HashMap::new();
    // Resolve in passes: a `REF_DELTA` may name a base that comes later in the pack.
    loop {
        let mut progress = false;
        let mut missing = None;
        for i in 0..count {
            if ids[i].is_some() {
                continue;
            }
            match resolver.object(i, 0, &externals) {
                Ok(object) => {
                    let id = ObjectId::hash(object.kind, &object.data);
                    resolver.by_id.entry(id).or_insert(i);
                    ids[i] = Some(id);
                    progress = true;
                }
                Err(Unresolved::Base(base)) => missing = Some((i, base)),
                Err(Unresolved::Bad(why)) => {
                    return Err(format!(
                        "entry {i} of {count} at offset {}: {why}",
                        entries[i].offset
                    ));
                }
            }
        }
        let Some((i, base)) = missing else { break };
        if !progress {
            match external(base)? {
                Some(object) => {
                    externals.insert(base, object);
                }
                None => {
                    return Err(format!(
                        "entry {i} at offset {} is a delta of {base}, which is neither in the pack nor in the repository",
                        entries[i].offset
                    ));
                }
            }
        }
    }
    let ids: Vec<ObjectId> = ids.into_iter().map(|id| id.expect("resolved")).collect();
    let idx = write_idx(&entries, &ids, checksum);
    Ok(Indexed { idx, checksum, ids })
}

/// Why an entry could not be resolved yet.
enum Unresolved {
    /// Its `REF_DELTA` base (or its base's) is not known yet.
    Base(ObjectId),
    /// It is corrupt.
    Bad(String),
}

struct Resolver<'a> {
    pack: &'a [u8],
    entries: &'a [Entry],
    by_offset: &'a HashMap<u64, usize>,
    by_id: HashMap<ObjectId, usize>,
    cache: HashMap<usize, Rc<Object>>,
    cached: usize,
}

impl Resolver<'_> {
    /// The object of entry `i`, its deltas applied.
    fn object(
        &mut self,
        i: usize,
        depth: usize,
        externals: &HashMap<ObjectId, Rc<Object>>,
    ) -> Result<Rc<Object>, Unresolved> {
        if let Some(object) = self.cache.get(&i) {
            return Ok(object.clone());
        }
        if depth > MAX_DELTA_DEPTH {
            return Err(Unresolved::Bad(format!(
                "delta chain longer than {MAX_DELTA_DEPTH}"
            )));
        }
        let entry = &self.entries[i];
        let (body, _) = inflate_counted(&self.pack[entry.body..], entry.size)
            .ok_or_else(|| Unresolved::Bad("broken zlib stream".into()))?;
        let object = match entry.base {
            Base::None(kind) => Object { kind, data: body },
            Base::Offset(base) => {
                let b = *self.by_offset.get(&base).ok_or_else(|| {
                    Unresolved::Bad(format!("its delta base at offset {base} is not an entry"))
                })?;
                let base = self.object(b, depth + 1, externals)?;
                delta(&base, &body)?
            }
            Base::Id(id) => {
                let base = match self.by_id.get(&id) {
                    Some(&b) => self.object(b, depth + 1, externals)?,
                    None => externals.get(&id).cloned().ok_or(Unresolved::Base(id))?,
                };
                delta(&base, &body)?
            }
        };
        let object = Rc::new(object);
        if object.kind != Kind::Blob || matches!(entry.base, Base::None(_)) {
            if self.cached + object.data.len() > CACHE_BYTES {
                self.cache.clear();
                self.cached = 0;
            }
            self.cached += object.data.len();
            self.cache.insert(i, object.clone());
        }
        Ok(object)
    }
}

fn delta(base: &Object, body: &[u8]) -> Result<Object, Unresolved> {
    Ok(Object {
        kind: base.kind,
        data: apply_delta(&base.data, body).map_err(Unresolved::Bad)?,
    })
}

/// The `.idx` version 2 of a pack whose entries are `entries` with ids `ids`.
fn write_idx(entries: &[Entry], ids: &[ObjectId], checksum: ObjectId) -> Vec<u8> {
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by_key(|&i| ids[i]);
    order.dedup_by_key(|i| ids[*i]);
    let mut idx = Vec::with_capacity(8 + 1024 + order.len() * 28 + 40);
    idx.extend_from_slice(&[0xff, b't', b'O', b'c', 0, 0, 0, 2]);
    let mut fanout = [0u32; 256];
    for &i in &order {
        fanout[usize::from(ids[i].0[0])] += 1;
    }
    let mut total = 0;
    for n in fanout {
        total += n;
        idx.extend_from_slice(&total.to_be_bytes());
    }
    for &i in &order {
        idx.extend_from_slice(&ids[i].0);
    }
    for &i in &order {
        idx.extend_from_slice(&entries[i].crc.to_be_bytes());
    }
    let mut large = Vec::new();
    for &i in &order {
        let offset = entries[i].offset;
        if offset < 0x8000_0000 {
            idx.extend_from_slice(&(offset as u32).to_be_bytes());
        } else {
            idx.extend_from_slice(&(0x8000_0000 | large.len() as u32).to_be_bytes());
            large.push(offset);
        }
    }
    for offset in large {
        idx.extend_from_slice(&offset.to_be_bytes());
    }
    idx.extend_from_slice(&checksum.0);
    let own = Sha1::digest(&idx);
    idx.extend_from_slice(&own[..]);
    idx
}

#[cfg(test)]
mod tests {
    use super::*;
    use miniz_oxide::deflate::compress_to_vec_zlib;

    /// A pack of `entries` (type number, header extra bytes, inflated body).
    fn pack(entries: &[(u8, Vec<u8>, Vec<u8>)]) -> Vec<u8> {
        let mut out = b"PACK\0\0\0\x02".to_vec();
        out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
        for (kind, extra, body) in entries {
            let mut size = body.len();
            let mut byte = (kind << 4) | (size & 15) as u8;
            size >>= 4;
            while size > 0 {
                out.push(byte | 0x80);
                byte = (size & 0x7f) as u8;
                size >>= 7;
            }
            out.push(byte);
            out.extend_from_slice(extra);
            out.extend_from_slice(&compress_to_vec_zlib(body, 6));
        }
        let sum = Sha1::digest(&out);
        out.extend_from_slice(&sum[..]);
        out
    }

    fn no_external(_: ObjectId) -> Result<Option<Rc<Object>>, String> {
        Ok(None)
    }

    #[test]
    fn a_ref_delta_before_its_base_is_resolved_in_a_later_pass() {
        let base = b"the quick brown fox".to_vec();
        let base_id = ObjectId::hash(Kind::Blob, &base);
        // sizes 19 -> 9: copy offset 4 size 5 ("quick"), insert " cat".
        let delta = vec![19, 9, 0x91, 4, 5, 4, b' ', b'c', b'a', b't'];
        let p = pack(&[(7, base_id.0.to_vec(), delta), (3, vec![], base)]);
        let indexed = index_pack(&p, no_external).unwrap();
        assert_eq!(indexed.ids[1], base_id);
        assert_eq!(indexed.ids[0], ObjectId::hash(Kind::Blob, b"quick cat"));
        assert_eq!(&indexed.checksum.0[..], &p[p.len() - 20..]);
        assert_eq!(indexed.idx.len(), 8 + 1024 + 2 * 28 + 40);
    }

    #[test]
    fn truncated_and_corrupt_packs_are_refused() {
        let p = pack(&[(3, vec![], b"hello".to_vec())]);
        assert!(index_pack(&p, no_external).is_ok());
        let cut = &p[..p.len() - 7];
        assert!(
            index_pack(cut, no_external)
                .unwrap_err()
                .contains("truncated or corrupt")
        );
        let mut flipped = p.clone();
        flipped[14] ^= 1;
        assert!(
            index_pack(&flipped, no_external)
                .unwrap_err()
                .contains("checksum")
        );
        assert!(
            index_pack(b"nonsense", no_external)
                .unwrap_err()
                .contains("not a pack")
        );
        // A count larger than the entries, checksum right: truncated inside.
        let mut lying = p[..p.len() - 20].to_vec();
        lying[11] = 2;
        let sum = Sha1::digest(&lying);
        lying.extend_from_slice(&sum[..]);
        assert!(
            index_pack(&lying, no_external)
                .unwrap_err()
                .contains("ends before it")
        );
    }

    #[test]
    fn a_thin_delta_uses_an_external_base_or_says_it_is_missing() {
        let base = b"the quick brown fox".to_vec();
        let base_id = ObjectId::hash(Kind::Blob, &base);
        let delta = vec![19, 9, 0x91, 4, 5, 4, b' ', b'c', b'a', b't'];
        let p = pack(&[(7, base_id.0.to_vec(), delta)]);
        let err = index_pack(&p, no_external).unwrap_err();
        assert!(
            err.contains("neither in the pack nor in the repository"),
            "{err}"
        );
        let indexed = index_pack(&p, |id| {
            Ok((id == base_id).then(|| {
                Rc::new(Object {
                    kind: Kind::Blob,
                    data: base.clone(),
                })
            }))
        })
        .unwrap();
        assert_eq!(indexed.ids, vec![ObjectId::hash(Kind::Blob, b"quick cat")]);
    }
}
