//! The content digest is the workspace's one [`provenant_digest::Digest`];
//! a string that fails to parse is the store's `InvalidDigest` error.

pub use provenant_digest::Digest;

use crate::StoreError;

impl From<provenant_digest::DigestParseError> for StoreError {
    fn from(e: provenant_digest::DigestParseError) -> Self {
        StoreError::InvalidDigest {
            value: e.value,
            reason: e.reason,
        }
    }
}
