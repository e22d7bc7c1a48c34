//! A streaming zstd decoder over one or more frames.

use std::io::{self, Read};

/// A reader that can tell whether more input follows without losing the byte it peeked.
struct Peek<R> {
    peeked: Option<u8>,
    inner: R,
}

impl<R: Read> Peek<R> {
    fn at_eof(&mut self) -> io::Result<bool> {
        if self.peeked.is_some() {
            return Ok(false);
        }
        let mut b = [0u8; 1];
        loop {
            match self.inner.read(&mut b) {
                Ok(0) => return Ok(true),
                Ok(_) => {
                    self.peeked = Some(b[0]);
                    return Ok(false);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl<R: Read> Read for Peek<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if let Some(b) = self.peeked.take() {
            buf[0] = b;
            return Ok(1);
        }
        self.inner.read(buf)
    }
}

type ZstdDec<R> = ruzstd::decoding::StreamingDecoder<Peek<R>, ruzstd::decoding::FrameDecoder>;

/// A zstd stream of one or more frames (skippable frames are skipped by the frame decoder).
pub(super) struct ZstdStream<R: Read> {
    dec: Option<ZstdDec<R>>,
}

impl<R: Read> ZstdStream<R> {
    pub(super) fn new(src: R) -> io::Result<Self> {
        let dec = ruzstd::decoding::StreamingDecoder::new(Peek {
            peeked: None,
            inner: src,
        })
        .map_err(io::Error::other)?;
        Ok(Self { dec: Some(dec) })
    }
}

impl<R: Read> Read for ZstdStream<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(dec) = self.dec.as_mut() else {
                return Ok(0);
            };
            let n = dec.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            let Some(d) = self.dec.take() else {
                return Ok(0);
            };
            let (mut src, frame) = d.into_parts();
            if src.at_eof()? {
                return Ok(0);
            }
            self.dec = Some(
                ruzstd::decoding::StreamingDecoder::new_with_decoder(src, frame)
                    .map_err(io::Error::other)?,
            );
        }
    }
}
