//! Streaming encryption of attachments (images, documents) of any size.
//!
//! A random 256-bit key per file; the plaintext is cut into chunks of
//! [`CHUNK_SIZE`] bytes, each sealed with ChaCha20-Poly1305 (a STREAM
//! construction, Hoang–Reyhanitabar–Rogaway–Vizár 2015):
//!
//! ```text
//! blob   = "CBAT" ‖ version(1)=1 ‖ chunk_size(u32) ‖ chunk_0 ‖ … ‖ chunk_n
//! chunk  = ChaCha20-Poly1305(key, nonce_i, AD = the 9 header bytes, plaintext_i) (plaintext_i ‖ tag)
//! nonce_i = 0x00 0x00 0x00 ‖ u64(i) ‖ last(1)    last = 1 for the final chunk, else 0
//! ```
//!
//! Every chunk but the last holds exactly `chunk_size` plaintext bytes; the
//! last holds fewer (possibly zero). So a reader knows which chunk is last
//! from the length alone, and:
//! - truncation at a chunk boundary fails (the new "last" chunk was sealed with last = 0),
//! - reordering or dropping chunks fails (the index is in the nonce),
//! - any flipped bit fails (the tag), including in the header (it is the AD).
//!
//! The SHA-256 of the whole blob is sent with the key inside the ratchet
//! message; [`Decryptor`] checks it when the final chunk is read. Only one
//! chunk is ever held in memory.

use std::io::{self, Read, Write};

use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::codec::{Reader, Writer as _};
use crate::error::Error;
use crate::labels;
use crate::primitives::aead::{self, AeadKey, NONCE_LEN, TAG_LEN};
use crate::primitives::constant_time_eq;
use crate::primitives::hash::Sha256;

/// Plaintext bytes per chunk written by this version (64 KiB).
pub const CHUNK_SIZE: usize = 64 * 1024;
const MIN_CHUNK: u32 = 1024;
const MAX_CHUNK: u32 = 1 << 20;
const VERSION: u8 = 1;
/// Length of the blob header.
pub const HEADER_LEN: usize = 9;

/// The per-file key. Zeroized on drop; never printed.
#[derive(Clone)]
pub struct AttachmentKey(Zeroizing<[u8; 32]>);

impl AttachmentKey {
    /// Draws a fresh key (32 bytes) from `rng`.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(key.as_mut());
        Self(key)
    }

    /// Wraps key bytes received inside a ratchet message.
    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The key bytes, to be sent inside a ratchet message only.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl core::fmt::Debug for AttachmentKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("AttachmentKey([redacted])")
    }
}

/// What the sender puts in the ratchet message so the receiver can fetch,
/// verify and decrypt the blob.
#[derive(Clone, Debug)]
pub struct AttachmentInfo {
    /// The per-file key.
    pub key: AttachmentKey,
    /// SHA-256 of the whole encrypted blob.
    pub digest: [u8; 32],
    /// Length of the encrypted blob.
    pub ciphertext_len: u64,
    /// Length of the plaintext.
    pub plaintext_len: u64,
}

fn header_bytes(chunk_size: u32) -> [u8; HEADER_LEN] {
    let mut h = Vec::with_capacity(HEADER_LEN);
    h.put(labels::ATTACHMENT_MAGIC);
    h.put_u8(VERSION);
    h.put_u32(chunk_size);
    let mut out = [0u8; HEADER_LEN];
    out.copy_from_slice(&h);
    out
}

fn chunk_nonce(index: u64, last: bool) -> [u8; NONCE_LEN] {
    let mut nonce = [0u8; NONCE_LEN];
    nonce[3..11].copy_from_slice(&index.to_be_bytes());
    nonce[11] = u8::from(last);
    nonce
}

fn to_io(e: Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// Encrypts a stream: write plaintext into it, then call [`Encryptor::finish`].
/// Dropping it without `finish` leaves a blob that fails to decrypt (truncated).
pub struct Encryptor<W: Write> {
    inner: W,
    key: AttachmentKey,
    aead_key: AeadKey,
    header: [u8; HEADER_LEN],
    buffer: Zeroizing<Vec<u8>>,
    index: u64,
    hasher: Sha256,
    ciphertext_len: u64,
    plaintext_len: u64,
}

impl<W: Write> Encryptor<W> {
    /// Starts a blob with a fresh key drawn from `rng`, writing the header to `inner`.
    pub fn new(inner: W, rng: &mut impl CryptoRngCore) -> io::Result<Self> {
        Self::with_key(inner, AttachmentKey::generate(rng))
    }

    fn with_key(mut inner: W, key: AttachmentKey) -> io::Result<Self> {
        let chunk = u32::try_from(CHUNK_SIZE).map_err(|_| io::ErrorKind::InvalidInput)?;
        let header = header_bytes(chunk);
        inner.write_all(&header)?;
        let mut hasher = Sha256::new();
        hasher.update(&header);
        Ok(Self {
            aead_key: AeadKey::from_bytes(*key.as_bytes()),
            key,
            inner,
            header,
            buffer: Zeroizing::new(Vec::with_capacity(CHUNK_SIZE)),
            index: 0,
            hasher,
            ciphertext_len: HEADER_LEN as u64,
            plaintext_len: 0,
        })
    }

    fn seal_chunk(&mut self, last: bool) -> io::Result<()> {
        let sealed = aead::seal(
            &self.aead_key,
            &chunk_nonce(self.index, last),
            &self.header,
            &self.buffer,
        )
        .map_err(to_io)?;
        self.inner.write_all(&sealed)?;
        self.hasher.update(&sealed);
        self.ciphertext_len = self.ciphertext_len.saturating_add(sealed.len() as u64);
        self.index = self
            .index
            .checked_add(1)
            .ok_or_else(|| to_io(Error::CounterExhausted))?;
        self.buffer.clear();
        Ok(())
    }

    /// Seals the final chunk, flushes, and returns the inner writer with
    /// what the receiver needs.
    pub fn finish(mut self) -> io::Result<(W, AttachmentInfo)> {
        self.seal_chunk(true)?;
        self.inner.flush()?;
        let Self {
            inner,
            key,
            hasher,
            ciphertext_len,
            plaintext_len,
            ..
        } = self;
        Ok((
            inner,
            AttachmentInfo {
                key,
                digest: hasher.finish(),
                ciphertext_len,
                plaintext_len,
            },
        ))
    }
}

impl<W: Write> Write for Encryptor<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = CHUNK_SIZE.saturating_sub(self.buffer.len());
        let n = room.min(data.len());
        self.buffer.extend_from_slice(&data[..n]);
        self.plaintext_len = self.plaintext_len.saturating_add(n as u64);
        // A full chunk is never the last one (the last holds fewer bytes), so seal it now.
        if self.buffer.len() == CHUNK_SIZE {
            self.seal_chunk(false)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Decrypts a stream: read plaintext from it. Any tampering, truncation,
/// reordering or digest mismatch is an [`io::ErrorKind::InvalidData`] error
/// wrapping an [`Error`]; a caller writing to a file must then discard it.
pub struct Decryptor<R: Read> {
    inner: R,
    aead_key: AeadKey,
    expected_digest: Option<[u8; 32]>,
    header: [u8; HEADER_LEN],
    chunk_size: usize,
    index: u64,
    hasher: Sha256,
    chunk: Vec<u8>,
    plaintext: Zeroizing<Vec<u8>>,
    position: usize,
    finished: bool,
}

impl<R: Read> Decryptor<R> {
    /// Reads and checks the header. `expected_digest` (from the ratchet
    /// message) is verified when the final chunk is read.
    pub fn new(mut inner: R, key: &AttachmentKey, expected_digest: Option<[u8; 32]>) -> io::Result<Self> {
        let mut header = [0u8; HEADER_LEN];
        inner.read_exact(&mut header).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => to_io(Error::Truncated),
            _ => e,
        })?;
        let mut r = Reader::new(&header);
        let magic: [u8; 4] = r.array().map_err(|e| to_io(e.into()))?;
        if &magic != labels::ATTACHMENT_MAGIC {
            return Err(to_io(crate::error::DecodeError::InvalidTag(magic[0]).into()));
        }
        let version = r.u8().map_err(|e| to_io(e.into()))?;
        if version != VERSION {
            return Err(to_io(Error::UnsupportedVersion(version)));
        }
        let chunk_size = r.u32().map_err(|e| to_io(e.into()))?;
        if !(MIN_CHUNK..=MAX_CHUNK).contains(&chunk_size) {
            return Err(to_io(crate::error::DecodeError::OutOfRange.into()));
        }
        let chunk_size = chunk_size as usize;
        let mut hasher = Sha256::new();
        hasher.update(&header);
        Ok(Self {
            inner,
            aead_key: AeadKey::from_bytes(*key.as_bytes()),
            expected_digest,
            header,
            chunk_size,
            index: 0,
            hasher,
            chunk: Vec::with_capacity(chunk_size + TAG_LEN),
            plaintext: Zeroizing::new(Vec::new()),
            position: 0,
            finished: false,
        })
    }

    /// Reads up to one sealed chunk; a short read means the stream ended.
    fn fill_chunk(&mut self) -> io::Result<()> {
        let want = self.chunk_size + TAG_LEN;
        self.chunk.clear();
        let mut limited = (&mut self.inner).take(want as u64);
        limited.read_to_end(&mut self.chunk)?;
        Ok(())
    }

    fn next_chunk(&mut self) -> io::Result<()> {
        self.fill_chunk()?;
        let last = self.chunk.len() < self.chunk_size + TAG_LEN;
        if last && self.chunk.len() < TAG_LEN {
            return Err(to_io(Error::Truncated));
        }
        let opened = aead::open(
            &self.aead_key,
            &chunk_nonce(self.index, last),
            &self.header,
            &self.chunk,
        )
        .map_err(|_| {
            to_io(if last {
                Error::Truncated
            } else {
                Error::DecryptionFailed
            })
        })?;
        self.hasher.update(&self.chunk);
        self.index = self
            .index
            .checked_add(1)
            .ok_or_else(|| to_io(Error::CounterExhausted))?;
        if last {
            if let Some(expected) = self.expected_digest {
                let actual = self.hasher.clone().finish();
                if !constant_time_eq(&actual, &expected) {
                    return Err(to_io(Error::DigestMismatch));
                }
            }
            self.finished = true;
        }
        self.plaintext = Zeroizing::new(opened);
        self.position = 0;
        Ok(())
    }
}

impl<R: Read> Read for Decryptor<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.position >= self.plaintext.len() {
            if self.finished {
                return Ok(0);
            }
            self.next_chunk()?;
        }
        let available = &self.plaintext[self.position..];
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.position += n;
        Ok(n)
    }
}

/// Encrypts everything from `plaintext` into `out` with a fresh key.
pub fn encrypt<R: Read, W: Write>(
    mut plaintext: R,
    out: W,
    rng: &mut impl CryptoRngCore,
) -> io::Result<AttachmentInfo> {
    let mut encryptor = Encryptor::new(out, rng)?;
    io::copy(&mut plaintext, &mut encryptor)?;
    encryptor.finish().map(|(_, info)| info)
}

/// Decrypts a whole blob from `ciphertext` into `out`, checking the digest.
/// Returns the plaintext length. On error, what was written to `out` must be discarded.
pub fn decrypt<R: Read, W: Write>(
    ciphertext: R,
    mut out: W,
    key: &AttachmentKey,
    digest: &[u8; 32],
) -> io::Result<u64> {
    let mut decryptor = Decryptor::new(ciphertext, key, Some(*digest))?;
    let n = io::copy(&mut decryptor, &mut out)?;
    out.flush()?;
    Ok(n)
}

/// The `curbside-crypto` error inside an I/O error from this module, if any.
#[must_use]
pub fn crypto_error(e: &io::Error) -> Option<Error> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<Error>())
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_layout() {
        assert_eq!(chunk_nonce(1, true), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
        assert_eq!(chunk_nonce(0x0102, false)[9..], [1, 2, 0]);
    }
}
