//! Reading a local file out as a stream of large chunks.

use std::sync::Arc;

use bytes::Bytes;

/// Bytes read per chunk by [`file_chunks`].
pub const READ_CHUNK: usize = 1 << 20;

/// Read buffers a [`file_chunks`] stream keeps for reuse.
const POOLED_BUFFERS: usize = 4;

type BufferPool = Arc<std::sync::Mutex<Vec<Vec<u8>>>>;

/// A chunk's buffer: goes back to its stream's pool when the last [`Bytes`]
/// viewing it is dropped (after the socket took it), so that a long stream
/// reuses a few buffers instead of faulting in fresh memory for every chunk.
/// Pooled buffers keep their full length (zeroed once, when allocated);
/// `filled` says how much of it is the chunk.
struct Pooled {
    buf: Vec<u8>,
    filled: usize,
    pool: BufferPool,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.filled]
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        if let Ok(mut pool) = self.pool.lock()
            && pool.len() < POOLED_BUFFERS
        {
            pool.push(buf);
        }
    }
}

/// Fill `buf` from `file`, one read per call for a file in the page cache;
/// returns how much was read (less than `buf.len()` only at the end).
fn read_full(mut file: &std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    use std::io::Read as _;
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Up to `len` bytes of a file, from its current position, as a stream of
/// [`READ_CHUNK`]-byte chunks. Each chunk is read on a blocking thread
/// straight into the buffer that the consumer takes (`tokio::fs::File` reads
/// into its own buffer and copies), and buffers are reused once the consumer
/// drops them.
pub fn file_chunks(
    file: std::fs::File,
    len: u64,
) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    let pool = BufferPool::default();
    futures::stream::try_unfold((file, len, pool), |(file, left, pool)| async move {
        if left == 0 {
            return Ok(None);
        }
        let (file, pool, buf, filled) = tokio::task::spawn_blocking(move || {
            let want = usize::try_from(left.min(READ_CHUNK as u64)).unwrap_or(READ_CHUNK);
            let mut buf = pool
                .lock()
                .ok()
                .and_then(|mut p| p.pop())
                .unwrap_or_else(|| vec![0; READ_CHUNK]);
            read_full(&file, &mut buf[..want]).map(|filled| (file, pool, buf, filled))
        })
        .await
        .map_err(std::io::Error::other)??;
        if filled == 0 {
            return Ok(None);
        }
        let left = left - filled as u64;
        let bytes = Bytes::from_owner(Pooled {
            buf,
            filled,
            pool: Arc::clone(&pool),
        });
        Ok(Some((bytes, (file, left, pool))))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt as _;
    use std::io::{Seek as _, SeekFrom, Write as _};

    #[tokio::test]
    async fn streams_up_to_len_from_the_current_position() {
        let mut file = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..(READ_CHUNK * 2 + 17))
            .map(|i| (i % 251) as u8)
            .collect();
        file.write_all(&data).unwrap();
        file.seek(SeekFrom::Start(5)).unwrap();
        let want = &data[5..5 + READ_CHUNK + 3];
        let chunks: Vec<Bytes> = file_chunks(file, want.len() as u64)
            .try_collect()
            .await
            .unwrap();
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks.concat(), want);
    }

    #[tokio::test]
    async fn a_short_file_ends_the_stream_early() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"abc").unwrap();
        file.seek(SeekFrom::Start(0)).unwrap();
        let chunks: Vec<Bytes> = file_chunks(file, 100).try_collect().await.unwrap();
        assert_eq!(chunks.concat(), b"abc");
    }
}
