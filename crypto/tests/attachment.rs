//! Streaming attachment encryption: round trips of many sizes, and every
//! form of truncation, reordering and tampering is detected.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod common;

use std::io::{Cursor, Read, Write};

use common::rng;
use curbside_crypto::attachment::{
    self, crypto_error, AttachmentKey, Decryptor, Encryptor, CHUNK_SIZE, HEADER_LEN,
};
use curbside_crypto::Error;
use proptest::prelude::*;

fn encrypt(plaintext: &[u8], seed: u64) -> (Vec<u8>, attachment::AttachmentInfo) {
    let mut out = Vec::new();
    let info = attachment::encrypt(plaintext, &mut out, &mut rng(seed)).unwrap();
    (out, info)
}

fn decrypt(blob: &[u8], info: &attachment::AttachmentInfo) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    attachment::decrypt(blob, &mut out, &info.key, &info.digest)
        .map(|_| out)
        .map_err(|e| crypto_error(&e).unwrap_or_else(|| panic!("non-crypto error {e}")))
}

fn sample(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

#[test]
fn round_trips_at_chunk_boundaries() {
    for len in [
        0,
        1,
        CHUNK_SIZE - 1,
        CHUNK_SIZE,
        CHUNK_SIZE + 1,
        3 * CHUNK_SIZE,
        3 * CHUNK_SIZE + 17,
    ] {
        let plaintext = sample(len);
        let (blob, info) = encrypt(&plaintext, len as u64);
        let chunks = len / CHUNK_SIZE + 1;
        assert_eq!(blob.len(), HEADER_LEN + len + 16 * chunks, "len {len}");
        assert_eq!(info.ciphertext_len, blob.len() as u64);
        assert_eq!(info.plaintext_len, len as u64);
        assert_eq!(decrypt(&blob, &info).unwrap(), plaintext, "len {len}");
    }
}

#[test]
fn truncation_at_every_chunk_boundary_and_inside_is_detected() {
    let plaintext = sample(2 * CHUNK_SIZE + 100);
    let (blob, info) = encrypt(&plaintext, 1);
    let sealed_chunk = CHUNK_SIZE + 16;
    let boundaries = [
        HEADER_LEN,
        HEADER_LEN + sealed_chunk,
        HEADER_LEN + 2 * sealed_chunk,
    ];
    for cut in boundaries
        .into_iter()
        .chain([0, 5, HEADER_LEN + 10, blob.len() - 1])
    {
        let err = decrypt(&blob[..cut], &info).unwrap_err();
        assert!(
            matches!(err, Error::Truncated | Error::Decode(_)),
            "cut at {cut}: {err:?}"
        );
    }
    // Without a digest check, the chunk construction alone still catches a
    // truncation exactly at a chunk boundary.
    let mut reader = Decryptor::new(&blob[..HEADER_LEN + sealed_chunk], &info.key, None).unwrap();
    let err = reader.read_to_end(&mut Vec::new()).unwrap_err();
    assert_eq!(crypto_error(&err), Some(Error::Truncated));
}

#[test]
fn reordered_or_duplicated_chunks_are_detected() {
    let plaintext = sample(3 * CHUNK_SIZE + 5);
    let (blob, info) = encrypt(&plaintext, 2);
    let c = CHUNK_SIZE + 16;
    let chunk = |i: usize| &blob[HEADER_LEN + i * c..HEADER_LEN + (i + 1) * c];
    let swapped = [
        &blob[..HEADER_LEN],
        chunk(1),
        chunk(0),
        chunk(2),
        &blob[HEADER_LEN + 3 * c..],
    ]
    .concat();
    let duplicated = [
        &blob[..HEADER_LEN],
        chunk(0),
        chunk(0),
        chunk(1),
        chunk(2),
        &blob[HEADER_LEN + 3 * c..],
    ]
    .concat();
    let dropped = [
        &blob[..HEADER_LEN],
        chunk(0),
        chunk(2),
        &blob[HEADER_LEN + 3 * c..],
    ]
    .concat();
    for (name, forged) in [
        ("swapped", swapped),
        ("duplicated", duplicated),
        ("dropped", dropped),
    ] {
        let mut reader = Decryptor::new(forged.as_slice(), &info.key, None).unwrap();
        assert!(
            reader.read_to_end(&mut Vec::new()).is_err(),
            "{name} chunks accepted"
        );
    }
}

#[test]
fn wrong_key_wrong_digest_and_header_tampering_are_detected() {
    let plaintext = sample(1000);
    let (blob, info) = encrypt(&plaintext, 3);
    let mut wrong = info.clone();
    wrong.key = AttachmentKey::from_bytes([7; 32]);
    assert!(decrypt(&blob, &wrong).is_err());
    let mut wrong = info.clone();
    wrong.digest[0] ^= 1;
    assert_eq!(decrypt(&blob, &wrong), Err(Error::DigestMismatch));
    // The chunk-size field is authenticated (it is the AD).
    let mut forged = blob.clone();
    forged[8] ^= 0x04;
    assert!(decrypt(&forged, &info).is_err());
    let mut forged = blob.clone();
    forged[4] = 2;
    assert_eq!(decrypt(&forged, &info), Err(Error::UnsupportedVersion(2)));
}

/// A deterministic plaintext of `len` bytes, produced block by block.
struct Pattern {
    block: Vec<u8>,
    produced: u64,
    len: u64,
}

impl Pattern {
    fn new(len: u64) -> Self {
        Self {
            block: sample(4093),
            produced: 0,
            len,
        }
    }
}

impl Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let offset = (self.produced % self.block.len() as u64) as usize;
        let n = buf
            .len()
            .min((self.len - self.produced) as usize)
            .min(self.block.len() - offset);
        buf[..n].copy_from_slice(&self.block[offset..offset + n]);
        self.produced += n as u64;
        Ok(n)
    }
}

/// Hashes what it is given, keeping nothing else.
struct HashingSink(u64, curbside_crypto::primitives::hash::Sha256);

impl Write for HashingSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        self.1.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn streams_a_large_file_through_disk_in_bounded_memory() {
    // 64 MiB from a generator, through a real file on disk, into a hashing
    // sink: neither the encryptor nor the decryptor holds more than a chunk.
    const SIZE: u64 = 64 << 20;
    let mut file = tempfile::tempfile().unwrap();
    let info = attachment::encrypt(
        Pattern::new(SIZE),
        std::io::BufWriter::new(&mut file),
        &mut rng(4),
    )
    .unwrap();
    assert_eq!(file.metadata().unwrap().len(), info.ciphertext_len);
    std::io::Seek::rewind(&mut file).unwrap();

    let mut sink = HashingSink(0, Default::default());
    let n = attachment::decrypt(
        std::io::BufReader::new(&mut file),
        &mut sink,
        &info.key,
        &info.digest,
    )
    .unwrap();
    assert_eq!((n, sink.0), (SIZE, SIZE));
    let mut expected = HashingSink(0, Default::default());
    std::io::copy(&mut Pattern::new(SIZE), &mut expected).unwrap();
    assert_eq!(sink.1.finish(), expected.1.finish());
}

#[test]
fn encryptor_used_as_a_writer_with_odd_write_sizes() {
    let plaintext = sample(CHUNK_SIZE * 2 + 333);
    let mut enc = Encryptor::new(Vec::new(), &mut rng(5)).unwrap();
    for piece in plaintext.chunks(7919) {
        enc.write_all(piece).unwrap();
    }
    let (blob, info) = enc.finish().unwrap();
    let mut reader = Decryptor::new(Cursor::new(blob), &info.key, Some(info.digest)).unwrap();
    let mut out = Vec::new();
    let mut small = [0u8; 1000];
    loop {
        let n = reader.read(&mut small).unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&small[..n]);
    }
    assert_eq!(out, plaintext);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn any_flipped_bit_in_a_blob_is_detected(len in 0usize..5000, bit in any::<prop::sample::Index>()) {
        let plaintext = sample(len);
        let (blob, info) = encrypt(&plaintext, len as u64);
        let mut forged = blob.clone();
        let b = bit.index(blob.len() * 8);
        forged[b / 8] ^= 1 << (b % 8);
        let mut reader = match Decryptor::new(forged.as_slice(), &info.key, None) {
            Ok(r) => r,
            Err(_) => return Ok(()),
        };
        prop_assert!(reader.read_to_end(&mut Vec::new()).is_err());
    }

    #[test]
    fn arbitrary_blobs_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..3000)) {
        let key = AttachmentKey::from_bytes([1; 32]);
        if let Ok(mut reader) = Decryptor::new(bytes.as_slice(), &key, Some([0; 32])) {
            prop_assert!(reader.read_to_end(&mut Vec::new()).is_err());
        }
    }
}
