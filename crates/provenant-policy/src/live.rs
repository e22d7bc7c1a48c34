//! A policy set that can be reloaded while it serves: readers take an
//! `Arc` snapshot; a reload swaps it only when the new set compiles.

use std::sync::{Arc, Mutex, PoisonError, RwLock};

use crate::{PolicyConfig, PolicyError, PolicySet, SignatureCheck, SourceFingerprint};

/// The outcome of a successful reload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reloaded {
    /// The digest of the set served before.
    pub previous: String,
    /// The digest of the set served now.
    pub digest: String,
}

impl Reloaded {
    /// Whether the set digest changed (a touched file with the same content
    /// reloads to the same digest).
    pub fn changed(&self) -> bool {
        self.previous != self.digest
    }
}

/// The live policy set of a server: [`LivePolicies::current`] for each
/// decision, [`LivePolicies::reload_if_changed`] from a periodic task.
///
/// No thread of its own: the caller drives polling. Reloading reads files
/// and compiles, so an async caller runs it on a blocking thread.
#[derive(Debug)]
pub struct LivePolicies {
    config: PolicyConfig,
    /// The signature every load must carry, if any.
    signature: Option<SignatureCheck>,
    current: RwLock<Arc<PolicySet>>,
    /// The fingerprint of the sources the current set was compiled from (or
    /// of the last sources that failed to compile, so a broken edit is
    /// reported once, not at every poll).
    seen: Mutex<SourceFingerprint>,
}

impl LivePolicies {
    /// Loads the set `config` describes.
    ///
    /// # Errors
    /// As [`PolicySet::load`].
    pub fn load(config: PolicyConfig) -> Result<Self, PolicyError> {
        Self::load_signed(config, None)
    }

    /// Loads the set `config` describes; with `signature`, this load and
    /// every reload must verify (see [`PolicySet::load_signed`]), and the
    /// signature file is watched with the sources.
    ///
    /// # Errors
    /// As [`PolicySet::load_signed`].
    pub fn load_signed(
        config: PolicyConfig,
        signature: Option<SignatureCheck>,
    ) -> Result<Self, PolicyError> {
        let fingerprint = SourceFingerprint::of_config(&config, signature.as_ref())?;
        let set = PolicySet::load_signed(&config, signature.as_ref())?;
        Ok(Self {
            config,
            signature,
            current: RwLock::new(Arc::new(set)),
            seen: Mutex::new(fingerprint),
        })
    }

    /// The configuration the set is loaded from.
    pub fn config(&self) -> &PolicyConfig {
        &self.config
    }

    /// The signature every load must carry, if any.
    pub fn signature(&self) -> Option<&SignatureCheck> {
        self.signature.as_ref()
    }

    /// The set in force now (a cheap `Arc` clone; hold it for one decision).
    pub fn current(&self) -> Arc<PolicySet> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The fingerprint of the sources as they are on disk now.
    ///
    /// # Errors
    /// As [`SourceFingerprint::of`].
    pub fn fingerprint(&self) -> Result<SourceFingerprint, PolicyError> {
        SourceFingerprint::of_config(&self.config, self.signature.as_ref())
    }

    /// Recompiles from the same sources and swaps the set in only when that
    /// succeeds; on error the previous set stays in force.
    ///
    /// # Errors
    /// As [`PolicySet::load_signed`].
    pub fn reload(&self) -> Result<Reloaded, PolicyError> {
        let fingerprint = self.fingerprint()?;
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = fingerprint;
        let set = Arc::new(PolicySet::load_signed(
            &self.config,
            self.signature.as_ref(),
        )?);
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        let previous = current.digest().to_owned();
        let digest = set.digest().to_owned();
        *current = set;
        Ok(Reloaded { previous, digest })
    }

    /// Reloads when the sources' fingerprint differs from the last one
    /// seen: `Ok(None)` when nothing changed. A failed reload is reported
    /// once per change of the sources.
    ///
    /// # Errors
    /// As [`LivePolicies::reload`].
    pub fn reload_if_changed(&self) -> Result<Option<Reloaded>, PolicyError> {
        let now = self.fingerprint()?;
        if *self.seen.lock().unwrap_or_else(PoisonError::into_inner) == now {
            return Ok(None);
        }
        self.reload().map(Some)
    }
}
