//! Bounding tar extension headers before the `tar` crate reads them whole.

use std::io;

use super::layer::LimitHit;

/// Tar block size.
const BLOCK: u64 = 512;

/// Follows the block structure of a tar stream as it is read, the way the `tar` crate walks
/// it, to refuse a GNU long name or long link or a PAX record set larger than
/// [`ImageLimits::max_extension_header_bytes`] *before* the `tar` crate reads it whole into
/// memory (it has no bound of its own: a layer could hold a name of gigabytes).
///
/// It stops following (and lets the `tar` crate report the error) at anything the crate
/// rejects or stops at: a bad checksum, an unreadable size, the first all-zero block.
pub(super) struct TarGuard {
    /// Stream offset of the next byte fed.
    pos: u64,
    /// Stream offset of the next header (or GNU sparse extension) block.
    next: u64,
    /// The block being assembled at `next`.
    block: Box<tar::Header>,
    filled: usize,
    /// GNU sparse extension blocks follow; then the entry's data of this size.
    sparse_data: Option<u64>,
    /// A PAX local header's records being collected (start offset, length, bytes so far):
    /// they can set the next entry's size.
    pax: Option<(u64, usize, Vec<u8>)>,
    /// Size set by the last PAX local header, for the next entry that is not itself an
    /// extension header.
    pax_size: Option<u64>,
    pub(super) done: bool,
    max_ext: u64,
}

impl TarGuard {
    pub(super) fn new(max_ext: u64) -> Self {
        Self {
            pos: 0,
            next: 0,
            block: Box::new(tar::Header::new_old()),
            filled: 0,
            sparse_data: None,
            pax: None,
            pax_size: None,
            done: false,
            max_ext,
        }
    }

    pub(super) fn feed(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() && !self.done {
            if self.pos < self.next {
                // Entry data (or padding) up to the next block.
                let n = usize::try_from(self.next - self.pos)
                    .unwrap_or(usize::MAX)
                    .min(buf.len());
                if let Some((start, len, data)) = &mut self.pax {
                    // The records start at `start` and are `len` bytes long.
                    let skip = usize::try_from(start.saturating_sub(self.pos)).unwrap_or(n);
                    let take = n.saturating_sub(skip).min(*len - data.len());
                    data.extend_from_slice(&buf[skip.min(n)..skip.min(n) + take]);
                    if data.len() == *len {
                        self.pax_size = pax_size(data);
                        self.pax = None;
                    }
                }
                self.pos += n as u64;
                buf = &buf[n..];
                continue;
            }
            let n = (BLOCK as usize - self.filled).min(buf.len());
            self.block.as_mut_bytes()[self.filled..self.filled + n].copy_from_slice(&buf[..n]);
            self.filled += n;
            self.pos += n as u64;
            buf = &buf[n..];
            if self.filled == BLOCK as usize {
                self.filled = 0;
                self.next += BLOCK;
                self.on_block()?;
            }
        }
        Ok(())
    }

    /// A whole block at `next - BLOCK` has arrived.
    fn on_block(&mut self) -> io::Result<()> {
        if let Some(size) = self.sparse_data {
            // A GNU sparse extension block: `isextended` is its last used byte.
            if self.block.as_bytes()[504] != 1 {
                self.sparse_data = None;
                self.skip_data(size);
            }
            return Ok(());
        }
        let h = &*self.block;
        if h.as_bytes().iter().all(|&b| b == 0) {
            self.done = true;
            return Ok(());
        }
        let sum = h.as_bytes()[..148]
            .iter()
            .chain(&h.as_bytes()[156..])
            .map(|&b| u32::from(b))
            .sum::<u32>()
            + 8 * 32;
        let Ok(mut size) = h.entry_size() else {
            self.done = true;
            return Ok(());
        };
        if h.cksum().ok() != Some(sum) {
            self.done = true;
            return Ok(());
        }
        let ty = h.entry_type();
        let extension = ty.is_gnu_longname()
            || ty.is_gnu_longlink()
            || ty.is_pax_local_extensions()
            || ty.is_pax_global_extensions();
        if !extension && let Some(s) = self.pax_size.take() {
            size = s;
        }
        let recognized = h.as_gnu().is_some() || h.as_ustar().is_some();
        if recognized
            && (ty.is_gnu_longname() || ty.is_gnu_longlink() || ty.is_pax_local_extensions())
        {
            if size > self.max_ext {
                return Err(io::Error::other(LimitHit {
                    what: "tar extension header (long name, long link or PAX records)",
                    limit: self.max_ext,
                }));
            }
            if ty.is_pax_local_extensions() {
                // Bounded by `max_ext` just above.
                let len = usize::try_from(size).unwrap_or(0);
                self.pax = (len > 0).then(|| (self.next, len, Vec::with_capacity(len)));
            }
        }
        if !extension {
            self.pax_size = None;
        }
        if ty.is_gnu_sparse() && h.as_gnu().is_some_and(tar::GnuHeader::is_extended) {
            self.sparse_data = Some(size);
        } else {
            self.skip_data(size);
        }
        Ok(())
    }

    /// The next block follows `size` bytes of data, padded to whole blocks. A size
    /// past the end of any stream stops the guard (the tar reader refuses it).
    fn skip_data(&mut self, size: u64) {
        match size
            .div_ceil(BLOCK)
            .checked_mul(BLOCK)
            .and_then(|s| self.next.checked_add(s))
        {
            Some(next) => self.next = next,
            None => self.done = true,
        }
    }
}

/// The `size` record of a PAX record set, read as the `tar` crate reads it.
fn pax_size(records: &[u8]) -> Option<u64> {
    for r in tar::PaxExtensions::new(records) {
        let r = r.ok()?;
        if r.key() == Ok("size") {
            return r.value().ok()?.parse().ok();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_guard_survives_absurd_sizes() {
        // A header claiming u64::MAX bytes (base-256 size field): no overflow, the
        // guard stops and leaves the error to the tar reader.
        let mut h = tar::Header::new_gnu();
        h.set_path("f").unwrap();
        h.set_size(u64::MAX);
        h.set_cksum();
        let mut g = TarGuard::new(1 << 20);
        g.feed(h.as_bytes()).unwrap();
        assert!(g.done);
        // A GNU long name over the bound is refused as soon as its header is seen.
        let mut h = tar::Header::new_gnu();
        h.set_path("././@LongLink").unwrap();
        h.set_entry_type(tar::EntryType::GNULongName);
        h.set_size(2 << 20);
        h.set_cksum();
        let e = TarGuard::new(1 << 20).feed(h.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("extension header"), "{e}");
    }
}
