//! Registry operations over the metadata and blob stores.

use std::collections::BTreeMap;

use futures::{StreamExt, TryStreamExt};
use provenant_store::{
    AliasEvent, BlobStore, Digest, FileRow, ModelKey, ModelRow, NewVersion, Page, Store, VersionRow,
};
use serde_json::Value;

use crate::manifest::build_manifest;
use crate::{
    ManifestFile, ModelName, Reference, RegistryError, Selector, validate_alias,
    validate_file_path, validate_label_key, validate_label_value, validate_metadata,
};

/// What a client asks to publish.
#[derive(Clone, Debug)]
pub struct PublishRequest {
    pub model: String,
    pub files: Vec<provenant_api::PublishFile>,
    pub metadata: Value,
    pub labels: BTreeMap<String, String>,
    pub created_by: String,
    /// Signatures, SBOM attestations and provenance to publish the version
    /// with: each is checked before anything is written, then stored in the
    /// version's transaction (all or nothing).
    pub attachments: Vec<crate::AttachmentInput>,
    /// Refuse the publish unless the namespace trusts every attachment's signer.
    pub require_trusted: bool,
    /// The policy gate at ingestion, when the server has one: asked (for
    /// the namespaces it gates) after every check passed and before
    /// anything is written; a deny publishes nothing.
    pub gate: Option<crate::GateHandle>,
}

pub use provenant_api::{Published, VersionState, VersionView};
pub use provenant_store::LabelFilter;

/// Which versions a listing returns, newest first.
#[derive(Clone, Debug)]
pub struct VersionQuery {
    /// One model's versions; every model's when `None`.
    pub model: Option<ModelName>,
    /// Labels every version listed carries (`key=value`, all must match).
    pub labels: Vec<LabelFilter>,
    pub state: Option<VersionState>,
    /// Full-text query: every word must match (as a prefix).
    pub text: Option<String>,
    /// The row id after which the page starts (`next_cursor` of the last page).
    pub cursor: Option<i64>,
    /// Most versions in the page, clamped to 1 to 1000.
    pub limit: i64,
    /// Only versions in these namespaces (what the caller may read); all
    /// when `None`.
    pub only: Option<Vec<String>>,
}

impl Default for VersionQuery {
    fn default() -> Self {
        Self {
            model: None,
            labels: Vec::new(),
            state: None,
            text: None,
            only: None,
            cursor: None,
            limit: 50,
        }
    }
}

/// A version state named in a query (`?state=`); any other word is an
/// invalid name.
pub fn parse_state(s: &str) -> Result<VersionState, RegistryError> {
    VersionState::parse(s).ok_or_else(|| RegistryError::InvalidName {
        what: "state",
        value: s.to_owned(),
        reason: "expected active, deprecated or archived".into(),
    })
}

/// Most labels one version may carry (a key is at most 63 bytes, a value 256
/// characters: about 64 KiB of labels at most per version).
pub const MAX_LABELS: usize = 64;

fn check_label_count(n: usize) -> Result<(), RegistryError> {
    if n > MAX_LABELS {
        return Err(RegistryError::InvalidInput {
            value: "labels".into(),
            reason: format!("{n} labels on one version; at most {MAX_LABELS}"),
        });
    }
    Ok(())
}

/// The state of a stored version; a word that is no state is a corrupt
/// record, a server fault.
pub(crate) fn stored_state(
    state: &str,
    digest: &Digest,
) -> Result<VersionState, provenant_store::StoreError> {
    VersionState::parse(state)
        .ok_or_else(|| provenant_store::StoreError::Corrupt(format!("state {state:?} of {digest}")))
}

/// RFC 3339 UTC timestamp from Unix milliseconds.
pub fn rfc3339(millis: i64) -> String {
    let nanos = i128::from(millis) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// The registry: domain rules over the stores.
#[derive(Clone)]
pub struct Registry {
    pub(crate) store: Store,
    pub(crate) blobs: BlobStore,
    /// The OSV index at the database's current generation.
    pub(crate) vuln: std::sync::Arc<crate::vulnscan::VulnCache>,
    /// Serialises imports into the vulnerability database (one process).
    pub(crate) vuln_import: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Trust verdicts about stored attachments (see `trust.rs`).
    pub(crate) verdicts: crate::trust::VerdictCache,
    /// Inputs provenance must name (the registry's policy; all by default).
    pub provenance_requirements: provenant_provenance::Requirements,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("store", &self.store)
            .field("blobs", &self.blobs)
            .finish_non_exhaustive()
    }
}

impl Registry {
    pub fn new(store: Store, blobs: BlobStore) -> Self {
        // The store writes log entries in the registry's schema.
        store.set_entry_encoder(std::sync::Arc::new(crate::LogEntries));
        Self {
            store,
            blobs,
            vuln: Default::default(),
            vuln_import: Default::default(),
            verdicts: Default::default(),
            provenance_requirements: Default::default(),
        }
    }

    /// Publish a version. Every file must name an uploaded blob of the declared
    /// size; the manifest, metadata and file list are then committed in one
    /// transaction. Identical content returns the existing version.
    pub async fn publish(&self, req: PublishRequest) -> Result<Published, RegistryError> {
        let model = ModelName::parse(&req.model)?;
        if req.files.is_empty() {
            return Err(RegistryError::NoFiles);
        }
        check_label_count(req.labels.len())?;
        if req.attachments.len() > crate::attach::MAX_ATTACHMENTS_PER_REQUEST {
            return Err(RegistryError::InvalidInput {
                value: "attachments".into(),
                reason: format!(
                    "{} attachments in one publish; at most {}",
                    req.attachments.len(),
                    crate::attach::MAX_ATTACHMENTS_PER_REQUEST
                ),
            });
        }
        for (k, v) in &req.labels {
            validate_label_key(k)?;
            validate_label_value(k, v)?;
        }
        // Each file's digest is parsed here, once, as its path is checked.
        let mut files = Vec::with_capacity(req.files.len());
        for f in req.files {
            validate_file_path(&f.path)?;
            let digest = f
                .digest
                .parse::<Digest>()
                .map_err(|e| RegistryError::InvalidDigest {
                    path: f.path.clone(),
                    reason: e.to_string(),
                })?;
            files.push(ManifestFile {
                path: f.path,
                digest,
                size: f.size,
            });
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        // No repeats, no case or Unicode-normalisation collisions, no file
        // that is also a directory of another ("a" and "a/b", however far
        // apart they sort).
        crate::names::validate_file_set(
            &files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
        )?;
        let metadata = validate_metadata(req.metadata)?;

        // Every blob must be present with the declared size.
        let checks: Vec<(String, Digest, u64)> = files
            .iter()
            .map(|f| (f.path.clone(), f.digest, f.size))
            .collect();
        let blobs = self.blobs.clone();
        futures::stream::iter(checks)
            .map(move |(path, digest, size)| {
                let blobs = blobs.clone();
                async move {
                    match blobs.size(&digest).await? {
                        None => Err(RegistryError::BlobMissing { path, digest }),
                        Some(stored) if stored != size => Err(RegistryError::BlobSizeMismatch {
                            path,
                            digest,
                            declared: size,
                            stored,
                        }),
                        Some(_) => Ok(()),
                    }
                }
            })
            .buffer_unordered(16)
            .try_collect::<Vec<()>>()
            .await?;

        let built = build_manifest(&model, &files, &metadata);
        let description = metadata
            .value
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let new = NewVersion {
            namespace: model.namespace.clone(),
            model_name: model.name.clone(),
            description,
            digest: built.digest,
            manifest: built.manifest,
            config: built.config,
            config_digest: built.config_digest,
            metadata_digest: Digest::sha256(metadata.canonical.as_bytes()),
            search_text: search_text(&model, &metadata.value),
            metadata: metadata.canonical,
            files: files
                .iter()
                .map(|f| FileRow {
                    path: f.path.clone(),
                    digest: f.digest,
                    size: f.size as i64,
                })
                .collect(),
            labels: req.labels,
            created_by: req.created_by,
        };
        let prepared = self
            .prepare_publish_attachments(
                &model,
                &new,
                (built.digest, &files),
                &req.attachments,
                req.require_trusted,
            )
            .await?;
        if let Some(gate) = &req.gate
            && gate.0.gates(&model.namespace)
        {
            self.gate_ingest(&gate.0, &model, &new, built.digest, &prepared)
                .await?;
        }
        let (row, created, attached) = self
            .store
            .version_publish_with_attachments(&new, &prepared)
            .await
            .map_err(|e| crate::attach::lineage_error(e, &model.full()))?;
        if created {
            tracing::info!(model = %model, number = row.number, digest = %row.digest, attachments = attached.len(), "version published");
        }
        if attached
            .iter()
            .any(|(a, created)| *created && a.kind == crate::AttachmentKind::Sbom.as_str())
        {
            self.scan_version_logged(&row).await;
        }
        if !created && !new.labels.is_empty() {
            // Identical content pushed again with labels: apply them (a
            // label change, logged) rather than drop them.
            let current = self.store.version_labels(row.id).await?;
            if new.labels.iter().any(|(k, v)| current.get(k) != Some(v)) {
                self.store
                    .version_labels_update(row.id, &new.labels, &[], &new.created_by)
                    .await?;
            }
        }
        let version = if created && attached.is_empty() {
            // A new version: its files and labels are what was just written,
            // and it has no aliases or signatures yet.
            let mut v = make_view(row, new.labels, Vec::new(), Some(new.files))?;
            v.signatures = Some(Vec::new());
            v.attestations = Some(Vec::new());
            v
        } else {
            self.view(&row, true).await?
        };
        Ok(Published {
            created,
            version,
            attached: attached.iter().map(|(a, _)| a.digest).collect(),
        })
    }

    /// Checks the attachments of a publish request against the version about
    /// to be written; nothing is stored. Errors name the attachment
    /// (`attachments[1]`).
    async fn prepare_publish_attachments(
        &self,
        model: &ModelName,
        new: &NewVersion,
        (manifest_digest, files): (Digest, &[ManifestFile]),
        inputs: &[crate::AttachmentInput],
        require_trusted: bool,
    ) -> Result<
        Vec<(
            provenant_store::NewAttachment,
            Vec<provenant_store::NewLineageEdge>,
        )>,
        RegistryError,
    > {
        if inputs.is_empty() {
            return Ok(Vec::new());
        }
        let trust = self.namespace_trust(&model.namespace).await?;
        let target = crate::attach::Target {
            label: model.full(),
            manifest_digest,
            files,
        };
        let mut out = Vec::with_capacity(inputs.len());
        for (i, input) in inputs.iter().enumerate() {
            let at = |e: RegistryError| match e {
                RegistryError::InvalidSignature { reason } => RegistryError::InvalidSignature {
                    reason: format!("attachments[{i}]: {reason}"),
                },
                RegistryError::InvalidBundle { field, reason } => RegistryError::InvalidBundle {
                    field: format!("attachments[{i}].{field}"),
                    reason,
                },
                RegistryError::InvalidAttestation { field, reason } => {
                    RegistryError::InvalidAttestation {
                        field: format!("attachments[{i}].{field}"),
                        reason,
                    }
                }
                RegistryError::InvalidProvenance { field, reason } => {
                    RegistryError::InvalidProvenance {
                        field: format!("attachments[{i}].{field}"),
                        reason,
                    }
                }
                RegistryError::SignatureMismatch { problems } => RegistryError::SignatureMismatch {
                    problems: problems
                        .into_iter()
                        .map(|p| format!("attachments[{i}]: {p}"))
                        .collect(),
                },
                RegistryError::SubjectMismatch {
                    version,
                    expected,
                    got,
                } => RegistryError::SubjectMismatch {
                    version: format!("{version} (attachments[{i}])"),
                    expected,
                    got,
                },
                other => other,
            };
            let p = self
                .prepare_attachment(
                    &target,
                    input,
                    crate::attach::Expect::Any,
                    &trust,
                    &new.created_by,
                )
                .await
                .map_err(at)?;
            if require_trusted
                && !trust.vouches_for(
                    &p.new.fingerprint,
                    &p.new.body,
                    std::time::SystemTime::now(),
                )
            {
                return Err(RegistryError::Untrusted {
                    what: format!(
                        "attachments[{i}] ({}, signed by {})",
                        p.new.kind, p.new.signer
                    ),
                    namespace: trust.namespace().to_owned(),
                    reason: format!(
                        "no trusted key or root certificate of fingerprint {} verifies it (see `provenant keys add`)",
                        p.new.fingerprint
                    ),
                });
            }
            out.push((p.new, p.edges));
        }
        Ok(out)
    }

    pub async fn model(&self, model: &ModelName) -> Result<ModelRow, RegistryError> {
        self.store
            .model_get(&model.full())
            .await?
            .ok_or_else(|| RegistryError::ModelNotFound(model.full()))
    }

    /// Resolve any reference form to its version.
    pub async fn resolve(&self, r: &Reference) -> Result<VersionRow, RegistryError> {
        let model = self
            .store
            .model_get(&r.model.full())
            .await?
            .ok_or_else(|| RegistryError::ModelNotFound(r.model.full()))?;
        let found = match &r.selector {
            Selector::Number(n) => self.store.version_by_number(model.id, *n).await?,
            Selector::Digest(d) => self.store.version_by_digest(model.id, d).await?,
            Selector::DigestPrefix(p) => {
                // Enough rows to show the ambiguity without listing a whole model.
                let mut rows = self
                    .store
                    .versions_by_digest_prefix(model.id, p, 10)
                    .await?;
                if rows.len() > 1 {
                    let candidates: Vec<String> = rows
                        .iter()
                        .map(|v| format!("{}:{} ({})", v.model, v.number, v.digest))
                        .collect();
                    return Err(RegistryError::InvalidReference {
                        value: r.to_string(),
                        reason: format!(
                            "the digest prefix matches {}{}: give more digits",
                            candidates.join(", "),
                            if rows.len() == 10 {
                                " and maybe more"
                            } else {
                                ""
                            }
                        ),
                    });
                }
                rows.pop()
            }
            Selector::Alias(a) => self.store.version_by_alias(model.id, a).await?,
            Selector::Latest => self.store.version_latest(model.id).await?,
        };
        found.ok_or_else(|| RegistryError::VersionNotFound(r.to_string()))
    }

    pub async fn view(
        &self,
        row: &VersionRow,
        with_files: bool,
    ) -> Result<VersionView, RegistryError> {
        let labels = self.store.version_labels(row.id).await?;
        let aliases = self.store.aliases_of_version(row.id).await?;
        let (files, signatures, attestations) = if with_files {
            (
                Some(self.store.version_files(row.id).await?),
                Some(self.signatures(row).await?),
                Some(self.attestations(row).await?),
            )
        } else {
            (None, None, None)
        };
        let mut view = make_view(row.clone(), labels, aliases, files)?;
        view.signatures = signatures;
        view.attestations = attestations;
        Ok(view)
    }

    /// Views of a page of versions, with labels and aliases fetched in two queries.
    pub async fn views(&self, rows: Vec<VersionRow>) -> Result<Vec<VersionView>, RegistryError> {
        // Listings carry labels and aliases with each row; fetch them only for rows without.
        let missing: Vec<i64> = rows
            .iter()
            .filter(|r| r.annotations.is_none())
            .map(|r| r.id)
            .collect();
        let mut ann = if missing.is_empty() {
            BTreeMap::new()
        } else {
            self.store.version_annotations(&missing).await?
        };
        rows.into_iter()
            .map(|mut r| {
                let (labels, aliases) = match r.annotations.take() {
                    Some(a) => (a.labels, a.aliases),
                    None => ann.remove(&r.id).unwrap_or_default(),
                };
                make_view(r, labels, aliases, None)
            })
            .collect()
    }

    /// List or search versions, newest first.
    pub async fn versions(&self, q: &VersionQuery) -> Result<Page<VersionRow>, RegistryError> {
        for l in &q.labels {
            validate_label_key(&l.key)?;
        }
        // The model is resolved inside the listing query; only an empty page
        // needs to tell a missing model from one without matching versions.
        let full = q.model.as_ref().map(ModelName::full);
        let page = self
            .store
            .version_list(
                full.as_deref().map(ModelKey::Name),
                &q.labels,
                q.state.map(VersionState::as_str),
                q.text.as_deref(),
                q.cursor,
                q.limit.clamp(1, 1000),
                q.only.as_deref(),
            )
            .await?;
        if page.items.is_empty()
            && let Some(m) = &q.model
        {
            self.model(m).await?;
        }
        Ok(page)
    }

    pub async fn set_labels(
        &self,
        reference: &Reference,
        set: &BTreeMap<String, String>,
        remove: &[String],
        by: &str,
    ) -> Result<VersionView, RegistryError> {
        for (k, v) in set {
            validate_label_key(k)?;
            validate_label_value(k, v)?;
        }
        for k in remove {
            validate_label_key(k)?;
        }
        let row = self.resolve(reference).await?;
        let mut after = self.store.version_labels(row.id).await?;
        after.extend(set.iter().map(|(k, v)| (k.clone(), v.clone())));
        for k in remove {
            after.remove(k);
        }
        check_label_count(after.len())?;
        self.store
            .version_labels_update(row.id, set, remove, by)
            .await?;
        self.view(&row, false).await
    }

    /// Move a version to a later lifecycle state with a reason.
    pub async fn change_state(
        &self,
        reference: &Reference,
        to: VersionState,
        reason: &str,
        by: &str,
    ) -> Result<VersionView, RegistryError> {
        let (from, action): (&[VersionState], _) = match to {
            VersionState::Deprecated => (&[VersionState::Active], "deprecate"),
            VersionState::Archived => {
                (&[VersionState::Active, VersionState::Deprecated], "archive")
            }
            VersionState::Active => (&[], "reactivate"),
        };
        let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
        if reason.trim().is_empty() {
            return Err(RegistryError::ReasonRequired(action));
        }
        let row = self.resolve(reference).await?;
        let aliased = |aliases: Vec<String>| RegistryError::AliasedVersion {
            version: format!("{}:{}", row.model, row.number),
            aliases,
        };
        // An alias never points at an archived version: refuse rather than
        // leave `#production` resolving to it (the store re-checks in the update).
        if to == VersionState::Archived {
            let aliases = self.store.aliases_of_version(row.id).await?;
            if !aliases.is_empty() {
                return Err(aliased(aliases));
            }
        }
        if !self
            .store
            .version_state_set(row.id, &from, to.as_str(), reason.trim(), by)
            .await?
        {
            if to == VersionState::Archived {
                let aliases = self.store.aliases_of_version(row.id).await?;
                if !aliases.is_empty() {
                    return Err(aliased(aliases));
                }
            }
            let current = self
                .store
                .version_by_id(row.id)
                .await?
                .ok_or_else(|| RegistryError::VersionNotFound(reference.to_string()))?;
            return Err(RegistryError::InvalidState {
                version: format!("{}:{}", row.model, row.number),
                state: stored_state(&current.state, &current.digest)?,
                action,
            });
        }
        let row = self
            .store
            .version_by_id(row.id)
            .await?
            .ok_or_else(|| RegistryError::VersionNotFound(reference.to_string()))?;
        tracing::info!(version = %format!("{}:{}", row.model, row.number), state = to.as_str(), reason, "version state changed");
        self.view(&row, false).await
    }

    /// Point an alias at the version `reference` resolves to.
    pub async fn alias_set(
        &self,
        reference: &Reference,
        alias: &str,
        by: &str,
    ) -> Result<AliasEvent, RegistryError> {
        validate_alias(alias)?;
        let row = self.resolve(reference).await?;
        let state = stored_state(&row.state, &row.digest)?;
        if state == VersionState::Archived {
            return Err(RegistryError::InvalidState {
                version: format!("{}:{}", row.model, row.number),
                state,
                action: "point an alias at it",
            });
        }
        let event = self
            .store
            .alias_move(row.model_id, alias, row.id, by)
            .await
            .map_err(|e| match e {
                // Archived between the check above and the move.
                provenant_store::StoreError::VersionArchived { .. } => {
                    RegistryError::InvalidState {
                        version: format!("{}:{}", row.model, row.number),
                        state: VersionState::Archived,
                        action: "point an alias at it",
                    }
                }
                other => other.into(),
            })?;
        tracing::info!(model = %row.model, alias, number = row.number, "alias moved");
        Ok(event)
    }

    pub async fn alias_history(
        &self,
        model: &ModelName,
        alias: &str,
    ) -> Result<Vec<AliasEvent>, RegistryError> {
        validate_alias(alias)?;
        let m = self.model(model).await?;
        Ok(self.store.alias_history(m.id, alias).await?)
    }
}

fn make_view(
    row: VersionRow,
    labels: BTreeMap<String, String>,
    aliases: Vec<String>,
    files: Option<Vec<FileRow>>,
) -> Result<VersionView, RegistryError> {
    Ok(VersionView {
        reference: format!("{}:{}", row.model, row.number),
        metadata: serde_json::value::RawValue::from_string(row.metadata)
            .map_err(|e| {
                provenant_store::StoreError::Corrupt(format!("metadata of {}: {e}", row.digest))
            })?
            .into(),
        model: row.model,
        number: row.number,
        state: stored_state(&row.state, &row.digest)?,
        digest: row.digest,
        state_reason: row.state_reason,
        state_changed_at: row.state_changed_at.map(rfc3339),
        state_changed_by: row.state_changed_by,
        created_at: rfc3339(row.created_at),
        created_by: row.created_by,
        size: row.size,
        file_count: row.file_count,
        labels,
        aliases,
        metadata_digest: row.metadata_digest,
        config_digest: row.config_digest,
        files: files.map(|f| f.into_iter().map(manifest_file).collect()),
        signatures: None,
        attestations: None,
    })
}

/// A stored file of a version (the store parsed its digest when it read
/// the row), as the API lists it and the publish path carries it.
pub(crate) fn manifest_file(f: FileRow) -> ManifestFile {
    ManifestFile {
        path: f.path,
        digest: f.digest,
        // Sizes are stored from `u64`s that fit in an `i64`.
        size: u64::try_from(f.size).unwrap_or_default(),
    }
}

/// Text indexed for search: the model's names and the metadata's string values.
fn search_text(model: &ModelName, metadata: &Value) -> String {
    let mut out = format!("{} {} {}", model.full(), model.namespace, model.name);
    fn walk(v: &Value, out: &mut String) {
        match v {
            Value::String(s) => {
                out.push(' ');
                out.push_str(s);
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(o) => o.iter().for_each(|(k, x)| {
                out.push(' ');
                out.push_str(k);
                walk(x, out);
            }),
            Value::Number(n) => {
                out.push(' ');
                out.push_str(&n.to_string());
            }
            _ => {}
        }
    }
    walk(metadata, &mut out);
    out.truncate(out.floor_char_boundary(64 * 1024));
    out
}
