//! Provenant streaming file I/O, shared by the blob store (`provenant-store`)
//! and the CLI's push and pull.
//!
//! - [`file_chunks`]: a local file read out as a stream of large chunks, each
//!   read on a blocking thread straight into a reused buffer.
//! - [`preallocate`]: reserve a file's disk space before writing it.
//! - [`Writeback`]: flush a file to disk while it is still being written.
//! - [`write_all_vectored`]: write a batch of received chunks in a few calls.
//!
//! Nothing here knows about digests, blobs or HTTP.

mod chunks;
mod writeback;

pub use chunks::{READ_CHUNK, file_chunks};
pub use writeback::{WRITEBACK_EVERY, Writeback, preallocate, write_all_vectored};
