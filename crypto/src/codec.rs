//! Bounded binary encoding used by every serialized structure in this crate.
//!
//! Integers are big-endian. A [`Reader`] never reads past its input, and
//! [`Reader::finish`] rejects trailing bytes, so every decoder either consumes
//! its input exactly or returns a [`DecodeError`].

use crate::error::DecodeError;

/// A cursor over untrusted bytes.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    pub(crate) fn take(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        if self.rest.len() < len {
            return Err(DecodeError::UnexpectedEnd);
        }
        let (head, tail) = self.rest.split_at(len);
        self.rest = tail;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// A presence flag: 0 = absent, 1 = present, anything else is an error.
    pub(crate) fn flag(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(DecodeError::InvalidTag(other)),
        }
    }

    /// Everything that is left.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.rest)
    }

    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes)
        }
    }
}

/// Appends big-endian fields to a buffer.
pub(crate) trait Writer {
    fn put(&mut self, bytes: &[u8]);
    fn put_u8(&mut self, v: u8) {
        self.put(&[v]);
    }
    fn put_u32(&mut self, v: u32) {
        self.put(&v.to_be_bytes());
    }
    fn put_u64(&mut self, v: u64) {
        self.put(&v.to_be_bytes());
    }
    fn put_flag(&mut self, present: bool) {
        self.put_u8(u8::from(present));
    }
}

impl Writer for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_is_bounded_and_rejects_trailing() {
        let mut r = Reader::new(&[0, 0, 0, 7, 1, 9]);
        assert_eq!(r.u32(), Ok(7));
        assert_eq!(r.flag(), Ok(true));
        assert_eq!(Reader::new(&[2]).flag(), Err(DecodeError::InvalidTag(2)));
        assert_eq!(r.u32(), Err(DecodeError::UnexpectedEnd));
        assert_eq!(r.finish(), Err(DecodeError::TrailingBytes));
        assert_eq!(Reader::new(&[1, 2]).take(3), Err(DecodeError::UnexpectedEnd));
    }
}
