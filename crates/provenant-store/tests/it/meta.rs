use std::collections::BTreeMap;

use provenant_store::{Digest, FileRow, LabelFilter, NewVersion, Store};
use provenant_testkit::both;

fn version(model: &str, content: &str, labels: &[(&str, &str)]) -> NewVersion {
    let (ns, name) = model.rsplit_once('/').unwrap();
    let digest = Digest::sha256(format!("{model}/{content}").as_bytes());
    NewVersion {
        namespace: ns.into(),
        model_name: name.into(),
        description: format!("{name} detector"),
        digest,
        manifest: format!("{{\"m\":\"{content}\"}}").into_bytes(),
        config: b"{}".to_vec(),
        config_digest: Digest::sha256(b"{}"),
        metadata: format!("{{\"framework\":\"pytorch\",\"task\":\"{content}\"}}"),
        metadata_digest: Digest::sha256(content.as_bytes()),
        files: vec![
            FileRow {
                path: "model.bin".into(),
                digest: Digest::sha256(content.as_bytes()),
                size: 10,
            },
            FileRow {
                path: "cfg/config.json".into(),
                digest: Digest::sha256(b"cfg"),
                size: 3,
            },
        ],
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        search_text: format!("{model} {name} pytorch {content}"),
        created_by: "tester".into(),
    }
}

both!(publish_resolve_and_idempotency, async |store: &Store| {
    crate::logged(store);
    let (v1, created) = store
        .version_publish(&version("aiops/anomaly", "a", &[]))
        .await
        .unwrap();
    assert!(created);
    assert_eq!(v1.number, 1);
    assert_eq!(v1.size, 13);
    let (v2, _) = store
        .version_publish(&version("aiops/anomaly", "b", &[]))
        .await
        .unwrap();
    assert_eq!(v2.number, 2);
    // Same digest again: same version, nothing new.
    let (again, created) = store
        .version_publish(&version("aiops/anomaly", "a", &[]))
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(again, v1);
    let m = store.model_get("aiops/anomaly").await.unwrap().unwrap();
    assert_eq!(m.version_count, 2);
    assert_eq!(
        store
            .version_by_number(m.id, 2)
            .await
            .unwrap()
            .unwrap()
            .digest,
        v2.digest
    );
    assert_eq!(
        store
            .version_by_digest(m.id, &v1.digest)
            .await
            .unwrap()
            .unwrap()
            .number,
        1
    );
    assert_eq!(store.version_latest(m.id).await.unwrap().unwrap().number, 2);
    assert!(store.version_by_number(m.id, 3).await.unwrap().is_none());
    let files = store.version_files(v1.id).await.unwrap();
    assert_eq!(
        files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
        ["cfg/config.json", "model.bin"]
    );
    // Versions of another model number from 1 again.
    let (o, _) = store
        .version_publish(&version("netops/edge/latency", "a", &[]))
        .await
        .unwrap();
    assert_eq!(o.number, 1);
});

both!(labels_filters_search_and_pages, async |store: &Store| {
    crate::logged(store);
    for i in 0..7 {
        let stage = if i % 2 == 0 { "prod" } else { "dev" };
        let model = if i < 5 {
            "aiops/anomaly"
        } else {
            "aiops/forecast"
        };
        store
            .version_publish(&version(
                model,
                &format!("v{i}"),
                &[("stage", stage), ("team", "sre")],
            ))
            .await
            .unwrap();
    }
    let prod = vec![LabelFilter {
        key: "stage".into(),
        value: "prod".into(),
    }];
    let page = store
        .version_list(None, &prod, None, None, None, 100, None)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 4);
    assert!(
        page.items.windows(2).all(|w| w[0].id > w[1].id),
        "newest first"
    );
    let m = store.model_get("aiops/anomaly").await.unwrap().unwrap();
    let page = store
        .version_list(
            Some(provenant_store::ModelKey::Id(m.id)),
            &prod,
            None,
            None,
            None,
            100,
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        page.items.iter().map(|v| v.number).collect::<Vec<_>>(),
        [5, 3, 1]
    );
    // Listings carry each version's labels (and aliases) with the row.
    let ann = page.items[0].annotations.clone().unwrap();
    assert_eq!(
        ann.labels.into_iter().collect::<Vec<_>>(),
        [
            ("stage".to_owned(), "prod".to_owned()),
            ("team".to_owned(), "sre".to_owned())
        ]
    );
    assert!(ann.aliases.is_empty());
    // By model name, resolved in the query; an unknown name lists nothing.
    let by_name = store
        .version_list(
            Some(provenant_store::ModelKey::Name("aiops/anomaly")),
            &prod,
            None,
            None,
            None,
            100,
            None,
        )
        .await
        .unwrap();
    assert_eq!(by_name.items, page.items);
    assert!(
        store
            .version_list(
                Some(provenant_store::ModelKey::Name("aiops/none")),
                &[],
                None,
                None,
                None,
                100,
                None
            )
            .await
            .unwrap()
            .items
            .is_empty()
    );
    // Two label filters.
    let both = vec![
        prod[0].clone(),
        LabelFilter {
            key: "team".into(),
            value: "sre".into(),
        },
    ];
    assert_eq!(
        store
            .version_list(None, &both, None, None, None, 100, None)
            .await
            .unwrap()
            .items
            .len(),
        4
    );
    // Cursor pagination walks everything exactly once.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .version_list(None, &[], None, None, cursor, 3, None)
            .await
            .unwrap();
        seen.extend(page.items.iter().map(|v| v.id));
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7);
    seen.dedup();
    assert_eq!(seen.len(), 7);
    // Full text: prefix match, every word must match, labels searchable after updates.
    let hits = store
        .version_list(None, &[], None, Some("forec"), None, 100, None)
        .await
        .unwrap();
    assert_eq!(hits.items.len(), 2);
    let hits = store
        .version_list(None, &[], None, Some("anomaly v3"), None, 100, None)
        .await
        .unwrap();
    assert_eq!(hits.items.len(), 1);
    assert!(
        store
            .version_list(None, &[], None, Some("nonexistent"), None, 100, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let target = hits.items[0].id;
    let mut set = BTreeMap::new();
    set.insert("owner".to_owned(), "netops".to_owned());
    let labels = store
        .version_labels_update(target, &set, &["team".to_owned()], "alice")
        .await
        .unwrap();
    assert_eq!(labels.get("owner").map(String::as_str), Some("netops"));
    assert!(!labels.contains_key("team"));
    let hits = store
        .version_list(None, &[], None, Some("netops"), None, 100, None)
        .await
        .unwrap();
    assert_eq!(
        hits.items.iter().map(|v| v.id).collect::<Vec<_>>(),
        [target]
    );
    // A label set later is found by label within the version's model too.
    let owner = [LabelFilter {
        key: "owner".into(),
        value: "netops".into(),
    }];
    let model_id = hits.items[0].model_id;
    for model in [None, Some(provenant_store::ModelKey::Id(model_id))] {
        let found = store
            .version_list(model, &owner, None, None, None, 100, None)
            .await
            .unwrap();
        assert_eq!(
            found.items.iter().map(|v| v.id).collect::<Vec<_>>(),
            [target]
        );
        assert_eq!(
            found.items[0].annotations.as_ref().map(|a| &a.labels),
            Some(&labels),
            "listings carry the labels as changed"
        );
    }
    // Model listing by prefix, paginated.
    let models = store.model_list("aiops/", None, 1, None).await.unwrap();
    assert_eq!(models[0].full_name, "aiops/anomaly");
    let models = store
        .model_list("aiops/", Some("aiops/anomaly"), 10, None)
        .await
        .unwrap();
    assert_eq!(
        models
            .iter()
            .map(|m| m.full_name.as_str())
            .collect::<Vec<_>>(),
        ["aiops/forecast"]
    );
    assert!(
        store
            .model_list("netops/", None, 10, None)
            .await
            .unwrap()
            .is_empty()
    );
    // Only the namespaces a caller reads: those a name under the prefix can
    // be in (a shorter prefix, a longer one, none).
    let names = |ms: Vec<provenant_store::ModelRow>| -> Vec<String> {
        ms.into_iter().map(|m| m.full_name).collect()
    };
    let reads = ["aiops".to_owned(), "netops".to_owned()];
    for prefix in ["", "ai", "aiops/", "aiops/fore"] {
        let got = names(
            store
                .model_list(prefix, None, 10, Some(&reads))
                .await
                .unwrap(),
        );
        let all = names(store.model_list(prefix, None, 10, None).await.unwrap());
        assert_eq!(got, all, "prefix {prefix:?}");
        assert!(!got.is_empty(), "prefix {prefix:?}");
    }
    // A namespace a caller may read before it exists: empty, then listed
    // once its first version is (names not found are asked again).
    let fresh = ["fresh".to_owned()];
    assert!(
        store
            .version_list(None, &[], None, None, None, 10, Some(&fresh))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        store
            .model_list("", None, 10, Some(&fresh))
            .await
            .unwrap()
            .is_empty()
    );
    store
        .version_publish(&version("fresh/m", "f1", &[]))
        .await
        .unwrap();
    let listed = store
        .version_list(None, &[], None, None, None, 10, Some(&fresh))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].model, "fresh/m");
    assert_eq!(
        names(store.model_list("", None, 10, Some(&fresh)).await.unwrap()),
        ["fresh/m"]
    );
    let elsewhere = ["netops".to_owned(), "aiop".to_owned()];
    for prefix in ["", "aiops/", "ai"] {
        assert!(
            store
                .model_list(prefix, None, 10, Some(&elsewhere))
                .await
                .unwrap()
                .is_empty(),
            "prefix {prefix:?}"
        );
    }
});

both!(state_and_aliases, async |store: &Store| {
    crate::logged(store);
    let (v1, _) = store
        .version_publish(&version("aiops/anomaly", "a", &[]))
        .await
        .unwrap();
    let (v2, _) = store
        .version_publish(&version("aiops/anomaly", "b", &[]))
        .await
        .unwrap();
    assert!(
        store
            .version_state_set(v1.id, &["active"], "deprecated", "drift", "alice")
            .await
            .unwrap()
    );
    assert!(
        !store
            .version_state_set(v1.id, &["active"], "deprecated", "again", "alice")
            .await
            .unwrap()
    );
    let v = store.version_by_id(v1.id).await.unwrap().unwrap();
    assert_eq!(
        (
            v.state.as_str(),
            v.state_reason.as_deref(),
            v.state_changed_by.as_deref()
        ),
        ("deprecated", Some("drift"), Some("alice"))
    );
    let deprecated = store
        .version_list(None, &[], Some("deprecated"), None, None, 10, None)
        .await
        .unwrap();
    assert_eq!(deprecated.items.len(), 1);

    let e1 = store
        .alias_move(v1.model_id, "production", v1.id, "alice")
        .await
        .unwrap();
    assert_eq!((e1.number, e1.previous_number), (1, None));
    let e2 = store
        .alias_move(v1.model_id, "production", v2.id, "bob")
        .await
        .unwrap();
    assert_eq!((e2.number, e2.previous_number), (2, Some(1)));
    assert_eq!(
        store
            .version_by_alias(v1.model_id, "production")
            .await
            .unwrap()
            .unwrap()
            .id,
        v2.id
    );
    assert_eq!(
        store.aliases_of_version(v2.id).await.unwrap(),
        ["production"]
    );
    assert!(store.aliases_of_version(v1.id).await.unwrap().is_empty());
    store
        .alias_move(v1.model_id, "canary", v2.id, "bob")
        .await
        .unwrap();
    let listed = store
        .version_list(
            Some(provenant_store::ModelKey::Id(v1.model_id)),
            &[],
            None,
            None,
            None,
            10,
            None,
        )
        .await
        .unwrap();
    let v2_listed = listed.items.iter().find(|v| v.id == v2.id).unwrap();
    assert_eq!(
        v2_listed.annotations.as_ref().unwrap().aliases,
        ["canary", "production"],
        "aliases listed with the row, by name"
    );
    store
        .alias_move(v1.model_id, "canary", v1.id, "bob")
        .await
        .unwrap();
    let history = store
        .alias_history(v1.model_id, "production")
        .await
        .unwrap();
    assert_eq!(
        history
            .iter()
            .map(|e| (e.number, e.moved_by.as_str()))
            .collect::<Vec<_>>(),
        [(1, "alice"), (2, "bob")]
    );
    let aliases = store.alias_list(v1.model_id).await.unwrap();
    assert_eq!(
        aliases
            .iter()
            .map(|a| (a.name.as_str(), a.number))
            .collect::<Vec<_>>(),
        [("canary", 1), ("production", 2)]
    );
});

both!(
    concurrent_publishes_get_distinct_numbers,
    async |store: &Store| {
        crate::logged(store);
        let mut tasks = Vec::new();
        for i in 0..24 {
            let s = store.clone();
            tasks.push(tokio::spawn(async move {
                s.version_publish(&version("aiops/race", &format!("c{i}"), &[]))
                    .await
                    .unwrap()
                    .0
                    .number
            }));
        }
        let mut numbers = Vec::new();
        for t in tasks {
            numbers.push(t.await.unwrap());
        }
        numbers.sort_unstable();
        assert_eq!(numbers, (1..=24).collect::<Vec<i64>>());
    }
);

both!(tokens, async |store: &Store| {
    crate::logged(store);
    assert_eq!(store.token_count().await.unwrap(), 0);
    let admin = store
        .principal_insert("admin", "user", true, "bootstrap")
        .await
        .unwrap()
        .unwrap();
    assert!(
        store
            .principal_insert("admin", "user", false, "again")
            .await
            .unwrap()
            .is_none(),
        "a second principal of the same name"
    );
    let scopes = [provenant_store::GrantRow {
        namespace: "ops".into(),
        role: "viewer".into(),
    }];
    let new = |name: &'static str, hash: &'static str| provenant_store::NewToken {
        name,
        hash,
        principal_id: admin.id,
        scopes: &scopes,
        expires_at: Some(42),
        created_by: "bootstrap",
    };
    let id = store
        .token_insert(&new("ci", "abc"))
        .await
        .unwrap()
        .unwrap();
    // One unrevoked token per name and owner.
    assert!(
        store
            .token_insert(&new("ci", "abd"))
            .await
            .unwrap()
            .is_none()
    );
    let t = store.token_by_hash("abc").await.unwrap().unwrap();
    assert_eq!(
        (
            t.id,
            t.name.as_str(),
            t.owner.as_str(),
            t.expires_at,
            t.revoked_at
        ),
        (id, "ci", "admin", Some(42), None)
    );
    assert_eq!(store.token_scopes(id).await.unwrap(), scopes.to_vec());
    assert!(store.token_by_hash("abd").await.unwrap().is_none());
    assert!(store.token_revoke(id).await.unwrap());
    assert!(!store.token_revoke(id).await.unwrap(), "revoked twice");
    assert!(
        store
            .token_by_hash("abc")
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
    // Revoked, the name is free again.
    assert!(
        store
            .token_insert(&new("ci", "abe"))
            .await
            .unwrap()
            .is_some()
    );

    // Roles: one per principal and namespace, replaced by a new grant.
    assert_eq!(
        store
            .role_set("ops", admin.id, "viewer", "t")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .role_set("ops", admin.id, "publisher", "t")
            .await
            .unwrap(),
        Some("viewer".into())
    );
    let b = store.role_bindings("ops").await.unwrap();
    assert_eq!(
        (b.len(), b[0].role.as_str(), b[0].principal.as_str()),
        (1, "publisher", "admin")
    );
    assert_eq!(
        store.role_remove("ops", admin.id).await.unwrap(),
        Some("publisher".into())
    );
    assert_eq!(store.role_remove("ops", admin.id).await.unwrap(), None);
    assert!(store.principal_grants(admin.id).await.unwrap().is_empty());

    // Namespaces: created once, the owner made maintainer.
    let ns = store
        .namespace_create("team", Some(admin.id), "maintainer", "admin")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ns.owner.as_deref(), Some("admin"));
    assert!(
        store
            .namespace_create("team", None, "maintainer", "admin")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.principal_grants(admin.id).await.unwrap(),
        vec![provenant_store::GrantRow {
            namespace: "team".into(),
            role: "maintainer".into()
        }]
    );
    assert_eq!(
        store
            .namespaces(Some(&["team".to_owned()]))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(store.namespaces(Some(&[])).await.unwrap().is_empty());

    // The access trail keeps what it is given, in order.
    for kind in ["authentication_failed", "permission_denied"] {
        store
            .access_event_insert(&provenant_store::AccessEventRow {
                kind: kind.into(),
                peer: "127.0.0.1".into(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let events = store.access_events(0, 0, 10).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ["authentication_failed", "permission_denied"]
    );
    assert_eq!(
        store
            .access_events(0, events[0].id, 10)
            .await
            .unwrap()
            .len(),
        1
    );
});

both!(
    a_failing_publish_does_not_sink_its_batch,
    async |store: &Store| {
        crate::logged(store);
        // Publishes arriving together are group committed on SQLite; one that
        // fails (here: a duplicate file path) must fail alone.
        let mut tasks = Vec::new();
        for i in 0..12 {
            let s = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut v = version("aiops/batch", &format!("b{i}"), &[]);
                if i == 5 {
                    v.files.push(v.files[0].clone());
                }
                s.version_publish(&v).await.map(|(row, _)| row.number)
            }));
        }
        let mut ok = Vec::new();
        let mut failed = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(n) => ok.push(n),
                Err(_) => failed += 1,
            }
        }
        ok.sort_unstable();
        assert_eq!(failed, 1);
        assert_eq!(
            ok,
            (1..=11).collect::<Vec<i64>>(),
            "numbers stay dense: the failed publish left nothing behind"
        );
        let m = store.model_get("aiops/batch").await.unwrap().unwrap();
        assert_eq!(
            store
                .version_list(
                    Some(provenant_store::ModelKey::Id(m.id)),
                    &[],
                    None,
                    None,
                    None,
                    100,
                    None
                )
                .await
                .unwrap()
                .items
                .len(),
            11
        );
    }
);

both!(a_group_publishes_like_one_by_one, async |store: &Store| {
    crate::logged(store);
    // Already published before the group.
    let (before, _) = store
        .version_publish(&version("aiops/g1", "old", &[("stage", "dev")]))
        .await
        .unwrap();
    let group = [
        version("aiops/g1", "a", &[("stage", "prod"), ("team", "t1")]),
        version("aiops/g2", "a", &[]), // a new model, created in the group
        version("aiops/g1", "old", &[]), // already there
        version("aiops/g1", "b", &[("stage", "prod")]),
        version("aiops/g1", "a", &[("stage", "prod"), ("team", "t1")]), // repeated in the group
        version("other/g3", "c", &[("stage", "dev")]),
    ];
    let refs: Vec<&NewVersion> = group.iter().collect();
    let out = store.version_publish_group(&refs).await.unwrap();
    let got: Vec<(&str, i64, bool)> = out
        .iter()
        .map(|(v, created)| (v.model.as_str(), v.number, *created))
        .collect();
    assert_eq!(
        got,
        [
            ("aiops/g1", 2, true),
            ("aiops/g2", 1, true),
            ("aiops/g1", 1, false),
            ("aiops/g1", 3, true),
            ("aiops/g1", 2, false),
            ("other/g3", 1, true),
        ]
    );
    assert_eq!(out[2].0.id, before.id);
    assert_eq!(out[4].0.id, out[0].0.id);

    // Each created version reads back whole: row, files, labels, search, log.
    for (i, (row, _)) in out.iter().enumerate() {
        let stored = store.version_by_id(row.id).await.unwrap().unwrap();
        assert_eq!(stored.digest, group[i].digest);
        assert_eq!(stored.manifest, group[i].manifest, "manifest bytes of #{i}");
        assert_eq!(stored.config, group[i].config);
        assert_eq!(stored.metadata, group[i].metadata);
        assert_eq!(stored.size, 13);
        assert_eq!(store.version_files(row.id).await.unwrap().len(), 2);
    }
    let labels = store.version_labels(out[0].0.id).await.unwrap();
    assert_eq!(labels.get("team").map(String::as_str), Some("t1"));
    let prod = store
        .version_list(
            None,
            &[LabelFilter {
                key: "stage".into(),
                value: "prod".into(),
            }],
            None,
            Some("g1"),
            None,
            100,
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        prod.items.iter().map(|v| v.number).collect::<Vec<_>>(),
        [3, 2],
        "labels and the full-text entry of group-published versions are searchable"
    );
    assert_eq!(
        prod.items[1].annotations.as_ref().map(|a| &a.labels),
        Some(&group[0].labels)
    );
    for (row, created) in &out {
        let events = store.log_events_of("versions", row.id).await.unwrap();
        assert_eq!(events.len(), 1, "one log entry per version");
        let entry: serde_json::Value = serde_json::from_str(&events[0].entry).unwrap();
        assert_eq!(entry["target"], format!("{}:{}", row.model, row.number));
        assert_eq!(entry["details"]["digest"], row.digest.to_string());
        if *created {
            assert_eq!(entry["type"], "version.published");
        }
    }

    // All or nothing: a group with one bad publish leaves nothing behind.
    let mut bad = version("aiops/g1", "d", &[]);
    bad.files.push(bad.files[0].clone());
    let ok = version("aiops/g4", "e", &[]);
    assert!(store.version_publish_group(&[&ok, &bad]).await.is_err());
    assert!(store.model_get("aiops/g4").await.unwrap().is_none());
    let (next, _) = store
        .version_publish(&version("aiops/g1", "f", &[]))
        .await
        .unwrap();
    assert_eq!(next.number, 4, "the failed group used no numbers");
});

/// Listings on SQLite read through their own connections on the calling
/// thread; each must see every write that has returned, whichever thread and
/// connection reads, while writes go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_listings_see_each_commit_from_every_thread() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&dir.path().join("meta.db"))
        .await
        .unwrap();
    crate::logged(&store);
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..40 {
                let (v, _) = store
                    .version_publish(&version(
                        "aiops/live",
                        &format!("c{i}"),
                        &[("stage", "dev")],
                    ))
                    .await
                    .unwrap();
                // Every reader sees the version as soon as its publish returned,
                // with labels changed after it.
                let mut set = BTreeMap::new();
                set.insert("stage".to_owned(), "prod".to_owned());
                store
                    .version_labels_update(v.id, &set, &[], "tester")
                    .await
                    .unwrap();
                let mut seen = Vec::new();
                for _ in 0..4 {
                    let store = store.clone();
                    seen.push(tokio::spawn(async move {
                        let page = store
                            .version_list(
                                Some(provenant_store::ModelKey::Name("aiops/live")),
                                &[LabelFilter {
                                    key: "stage".into(),
                                    value: "prod".into(),
                                }],
                                None,
                                None,
                                None,
                                100,
                                None,
                            )
                            .await
                            .unwrap();
                        page.items.first().map(|r| r.id)
                    }));
                }
                for s in seen {
                    assert_eq!(s.await.unwrap(), Some(v.id), "version {i} listed at once");
                }
                let models = store.model_list("aiops/", None, 10, None).await.unwrap();
                assert_eq!(models[0].version_count, i + 1);
            }
        })
    };
    // Other threads list all the while.
    let mut readers = Vec::new();
    for _ in 0..3 {
        let store = store.clone();
        readers.push(tokio::spawn(async move {
            let mut last = 0;
            for _ in 0..200 {
                let page = store
                    .version_list(None, &[], None, None, None, 5, None)
                    .await
                    .unwrap();
                let n = page.items.len();
                assert!(n >= last, "a later listing never shows fewer versions");
                last = n;
                tokio::task::yield_now().await;
            }
        }));
    }
    writer.await.unwrap();
    for r in readers {
        r.await.unwrap();
    }
}

/// A version row whose labels are not JSON is reported as corrupt, naming
/// the version, instead of failing the listing some other way.
#[tokio::test]
async fn sqlite_listing_names_a_corrupt_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    let store = Store::open_sqlite(&path).await.unwrap();
    crate::logged(&store);
    let (v, _) = store
        .version_publish(&version("aiops/bad", "a", &[("stage", "prod")]))
        .await
        .unwrap();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "UPDATE versions SET labels = 'not json' WHERE id = ?1",
            [v.id],
        )
        .unwrap();
    let err = store
        .version_list(None, &[], None, None, None, 10, None)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("corrupt") && msg.contains(&format!("version id {}", v.id)),
        "{msg}"
    );
}

both!(
    blob_sizes_tell_which_sizes_are_held,
    async |store: &Store| {
        crate::logged(store);
        assert_eq!(
            store.blob_sizes_held(&[10, 20, 30]).await.unwrap(),
            Vec::<u64>::new()
        );
        store
            .blob_size_record(&Digest::sha256(b"aa"), 20)
            .await
            .unwrap();
        store
            .blob_size_record(&Digest::sha256(b"bb"), 20)
            .await
            .unwrap();
        store
            .blob_size_record(&Digest::sha256(b"cc"), 7_000_000_000)
            .await
            .unwrap();
        // Recording a blob again changes nothing.
        store
            .blob_size_record(&Digest::sha256(b"aa"), 20)
            .await
            .unwrap();
        assert_eq!(
            store
                .blob_sizes_held(&[30, 20, 7_000_000_000, 20, 10])
                .await
                .unwrap(),
            vec![20, 7_000_000_000],
            "each held size once, ascending"
        );
        // Many sizes at once (more than one statement's worth).
        let many: Vec<u64> = (0..1_500).collect();
        assert_eq!(store.blob_sizes_held(&many).await.unwrap(), vec![20]);
        assert_eq!(store.blob_sizes_held(&[]).await.unwrap(), Vec::<u64>::new());
    }
);

both!(versions_by_digest_prefix, async |store: &Store| {
    crate::logged(store);
    let shared = "d23c2b0ee1fe";
    let mut a = version("aiops/pfx", "a", &[]);
    a.digest = format!("sha256:{shared}{}", "0".repeat(52))
        .parse()
        .unwrap();
    let mut b = version("aiops/pfx", "b", &[]);
    b.digest = format!("sha256:{shared}{}", "1".repeat(52))
        .parse()
        .unwrap();
    let (v1, _) = store.version_publish(&a).await.unwrap();
    store.version_publish(&b).await.unwrap();
    let numbers = |rows: Vec<provenant_store::VersionRow>| -> Vec<i64> {
        rows.iter().map(|r| r.number).collect()
    };
    let m = v1.model_id;
    let found = |p: String| {
        let store = store.clone();
        async move { store.versions_by_digest_prefix(m, &p, 10).await }
    };
    assert_eq!(
        numbers(found(format!("sha256:{shared}")).await.unwrap()),
        [1, 2]
    );
    assert_eq!(
        numbers(found(format!("sha256:{shared}1")).await.unwrap()),
        [2]
    );
    assert!(
        found("sha256:d23c2b0ee1ff".into())
            .await
            .unwrap()
            .is_empty()
    );
    // Only hex digits: a LIKE wildcard is refused, not matched.
    assert!(found("sha256:d23c%".into()).await.is_err());
    assert!(found("sha256:D23C2B0EE1FE".into()).await.is_err());
});

// The store itself keeps aliases off archived versions, whichever way the
// two operations meet: an aliased version is not archived, and an archived
// version takes no alias.
both!(
    aliases_and_archived_versions_exclude_each_other,
    async |store: &Store| {
        crate::logged(store);
        let (v1, _) = store
            .version_publish(&version("aiops/guard", "a", &[]))
            .await
            .unwrap();
        let (v2, _) = store
            .version_publish(&version("aiops/guard", "b", &[]))
            .await
            .unwrap();
        store
            .alias_move(v1.model_id, "production", v1.id, "alice")
            .await
            .unwrap();
        let archived = store
            .version_state_set(v1.id, &["active", "deprecated"], "archived", "old", "alice")
            .await
            .unwrap();
        assert!(!archived, "an aliased version was archived");
        assert!(
            store
                .version_state_set(v2.id, &["active", "deprecated"], "archived", "old", "alice")
                .await
                .unwrap()
        );
        match store
            .alias_move(v2.model_id, "production", v2.id, "bob")
            .await
        {
            Err(provenant_store::StoreError::VersionArchived { version_id }) => {
                assert_eq!(version_id, v2.id);
            }
            other => panic!("expected VersionArchived, got {other:?}"),
        }
        let aliases = store.aliases_of_version(v1.id).await.unwrap();
        assert_eq!(aliases, ["production"]);
    }
);
