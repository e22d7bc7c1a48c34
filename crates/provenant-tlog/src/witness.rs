//! Witness core per C2SP tlog-witness (<https://c2sp.org/tlog-witness>):
//! parse an `add-checkpoint` request, check it against the last cosigned
//! tree head for the origin, and cosign. HTTP and persistence live outside:
//! map errors with [`Error::witness_http_status`], persist via [`WitnessStore`].

use std::collections::HashMap;
use std::sync::Mutex;

use crate::checkpoint::Checkpoint;
use crate::cosignature::CosignatureSigner;
use crate::error::Error;
use crate::hash::Hash;
use crate::note::{NoteVerifier, Verifiers, open_note, parse_note};
use crate::proof::verify_consistency;
use crate::tile::parse_decimal;

/// Most consistency proof lines a request may carry.
pub const MAX_PROOF_LINES: usize = 63;

/// A tree head a witness has cosigned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeHead {
    pub size: u64,
    pub root: Hash,
}

/// Result of [`WitnessStore::compare_and_swap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwapOutcome {
    /// The record was updated.
    Swapped,
    /// The record's size was not the expected one; nothing changed.
    Conflict { current_size: u64 },
}

/// Persistent per-origin state of a witness. `compare_and_swap` must be
/// atomic (a row lock or a conditional UPDATE), or concurrent requests could
/// roll the recorded size back.
pub trait WitnessStore: Send + Sync {
    /// The latest cosigned tree head for `origin`, if any.
    fn latest(&self, origin: &str) -> Result<Option<TreeHead>, Error>;
    /// Records `new` for `origin` if the recorded size is still
    /// `expected_size` (0 = no record yet).
    fn compare_and_swap(
        &self,
        origin: &str,
        expected_size: u64,
        new: TreeHead,
    ) -> Result<SwapOutcome, Error>;
}

/// An in-memory [`WitnessStore`] (tests, and a model for the SQL one).
#[derive(Default)]
pub struct MemoryWitnessStore {
    heads: Mutex<HashMap<String, TreeHead>>,
}

impl WitnessStore for MemoryWitnessStore {
    fn latest(&self, origin: &str) -> Result<Option<TreeHead>, Error> {
        let heads = self
            .heads
            .lock()
            .map_err(|_| Error::storage("reading witness state", "lock poisoned"))?;
        Ok(heads.get(origin).copied())
    }

    fn compare_and_swap(
        &self,
        origin: &str,
        expected_size: u64,
        new: TreeHead,
    ) -> Result<SwapOutcome, Error> {
        let mut heads = self
            .heads
            .lock()
            .map_err(|_| Error::storage("updating witness state", "lock poisoned"))?;
        let current_size = heads.get(origin).map_or(0, |h| h.size);
        if current_size != expected_size {
            return Ok(SwapOutcome::Conflict { current_size });
        }
        heads.insert(origin.to_owned(), new);
        Ok(SwapOutcome::Swapped)
    }
}

/// A parsed `add-checkpoint` request body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpointRequest {
    /// Size of the previous checkpoint the client assumes the witness has.
    pub old_size: u64,
    /// Consistency proof from `old_size` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note.
    pub checkpoint: Vec<u8>,
}

impl AddCheckpointRequest {
    /// Parses `old <N>\n`, proof lines, an empty line, then the checkpoint.
    pub fn parse(body: &[u8]) -> Result<AddCheckpointRequest, Error> {
        let bad = |line: usize, reason: &str| Error::WitnessRequest {
            line,
            reason: reason.to_owned(),
        };
        let mut rest = body;
        let mut next_line = |line: usize| -> Result<&[u8], Error> {
            let nl = rest
                .iter()
                .position(|&b| b == b'\n')
                .ok_or_else(|| bad(line, "line does not end in a newline"))?;
            let (l, r) = rest.split_at(nl);
            rest = &r[1..];
            Ok(l)
        };
        let first = next_line(1)?;
        let old_size = std::str::from_utf8(first)
            .ok()
            .and_then(|l| l.strip_prefix("old "))
            .and_then(parse_decimal)
            .ok_or_else(|| bad(1, "expected \"old <size>\""))?;
        let mut proof = Vec::new();
        let mut line_no = 1;
        loop {
            line_no += 1;
            let l = next_line(line_no)?;
            if l.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(bad(line_no, "more than 63 consistency proof lines"));
            }
            let h = std::str::from_utf8(l)
                .ok()
                .and_then(Hash::from_base64)
                .ok_or_else(|| bad(line_no, "proof line is not a base64 hash"))?;
            proof.push(h);
        }
        Ok(AddCheckpointRequest {
            old_size,
            proof,
            checkpoint: rest.to_vec(),
        })
    }

    /// Encodes the request body (what a log sends to a witness).
    pub fn to_body(&self) -> Vec<u8> {
        let mut out = format!("old {}\n", self.old_size).into_bytes();
        for h in &self.proof {
            out.extend_from_slice(h.to_base64().as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
        out.extend_from_slice(&self.checkpoint);
        out
    }
}

/// A witness: its cosigning key, the logs it watches (origin → the log's
/// verifier keys) and its state store.
pub struct Witness<S> {
    signer: CosignatureSigner,
    logs: HashMap<String, Verifiers>,
    store: S,
}

impl<S: WitnessStore> Witness<S> {
    /// A witness with no logs configured.
    pub fn new(signer: CosignatureSigner, store: S) -> Witness<S> {
        Witness {
            signer,
            logs: HashMap::new(),
            store,
        }
    }

    /// Trusts `verifier` for checkpoints whose origin is `origin`.
    pub fn add_log(&mut self, origin: &str, verifier: Box<dyn NoteVerifier>) {
        self.logs
            .entry(origin.to_owned())
            .or_default()
            .push_boxed(verifier);
    }

    /// The witness's verifier key string (`name+id+base64(0x04||key)`).
    pub fn vkey(&self) -> String {
        self.signer.vkey()
    }

    /// The state store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Handles an `add-checkpoint` body at time `now` (Unix seconds).
    /// Returns the response body (cosignature lines) for a 200; errors map
    /// to HTTP statuses with [`Error::witness_http_status`]; for
    /// [`Error::WitnessConflict`] answer 409 with body `"{current_size}\n"`
    /// and `Content-Type: text/x.tlog.size`.
    pub fn add_checkpoint(&self, body: &[u8], now: u64) -> Result<String, Error> {
        let req = AddCheckpointRequest::parse(body)?;
        let (text, _) = parse_note(&req.checkpoint)?;
        let origin = text.split('\n').next().unwrap_or_default().to_owned();
        let verifiers = self
            .logs
            .get(&origin)
            .ok_or_else(|| Error::WitnessUnknownOrigin {
                origin: origin.clone(),
            })?;
        let note = open_note(&req.checkpoint, verifiers).map_err(|e| match e {
            Error::UnverifiedNote { .. } | Error::InvalidSignature { .. } => {
                Error::WitnessUnsigned {
                    origin: origin.clone(),
                    source: Box::new(e),
                }
            }
            other => other,
        })?;
        let checkpoint = Checkpoint::parse(&note.text)?;
        if req.old_size > checkpoint.size {
            return Err(Error::WitnessOldSize {
                old_size: req.old_size,
                new_size: checkpoint.size,
            });
        }
        let latest = self.store.latest(&origin)?;
        let current_size = latest.map_or(0, |h| h.size);
        if current_size != req.old_size {
            return Err(Error::WitnessConflict {
                origin,
                old_size: req.old_size,
                current_size,
            });
        }
        if let Some(latest) = latest {
            if latest.size == checkpoint.size && latest.root != checkpoint.root {
                return Err(Error::WitnessRootMismatch {
                    origin,
                    size: latest.size,
                });
            }
            verify_consistency(
                latest.size,
                checkpoint.size,
                &req.proof,
                &latest.root,
                &checkpoint.root,
            )
            .map_err(|e| Error::WitnessProof {
                origin: origin.clone(),
                source: Box::new(e),
            })?;
        } else if !req.proof.is_empty() {
            return Err(Error::WitnessProof {
                origin,
                source: Box::new(Error::ProofLength {
                    kind: "consistency",
                    at: format!("tree sizes 0 to {}", checkpoint.size),
                    expected: 0,
                    got: req.proof.len(),
                }),
            });
        }
        let head = TreeHead {
            size: checkpoint.size,
            root: checkpoint.root,
        };
        match self.store.compare_and_swap(&origin, req.old_size, head)? {
            SwapOutcome::Swapped => {}
            SwapOutcome::Conflict { current_size } => {
                return Err(Error::WitnessConflict {
                    origin,
                    old_size: req.old_size,
                    current_size,
                });
            }
        }
        Ok(self.signer.cosign(&note.text, now)?.line())
    }
}
