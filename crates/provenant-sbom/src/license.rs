//! Turning declared licence strings into SPDX expressions where that is unambiguous.

use crate::model::License;

/// Common non-SPDX spellings that map to exactly one SPDX identifier.
/// (The deliberately ambiguous ones — "BSD", "GPL", "LGPL" — stay as free text.)
const ALIASES: &[(&str, &str)] = &[
    ("apache 2.0", "Apache-2.0"),
    ("apache 2", "Apache-2.0"),
    ("apache license 2.0", "Apache-2.0"),
    ("apache license, version 2.0", "Apache-2.0"),
    ("apache license version 2.0", "Apache-2.0"),
    ("apache software license 2.0", "Apache-2.0"),
    ("apache-2", "Apache-2.0"),
    ("apache2", "Apache-2.0"),
    ("asl 2.0", "Apache-2.0"),
    ("mit license", "MIT"),
    ("the mit license", "MIT"),
    ("expat", "MIT"),
    ("bsd-3", "BSD-3-Clause"),
    ("3-clause bsd", "BSD-3-Clause"),
    ("3-clause bsd license", "BSD-3-Clause"),
    ("new bsd", "BSD-3-Clause"),
    ("new bsd license", "BSD-3-Clause"),
    ("modified bsd license", "BSD-3-Clause"),
    ("bsd 3-clause", "BSD-3-Clause"),
    ("bsd 3-clause license", "BSD-3-Clause"),
    ("bsd-2", "BSD-2-Clause"),
    ("simplified bsd", "BSD-2-Clause"),
    ("2-clause bsd", "BSD-2-Clause"),
    ("psf", "PSF-2.0"),
    ("psf license", "PSF-2.0"),
    ("psf-2.0", "PSF-2.0"),
    ("python software foundation license", "PSF-2.0"),
    ("mpl 2.0", "MPL-2.0"),
    ("mpl-2", "MPL-2.0"),
    ("mozilla public license 2.0 (mpl 2.0)", "MPL-2.0"),
    ("isc license", "ISC"),
    ("isc license (iscl)", "ISC"),
    ("lgplv3+", "LGPL-3.0-or-later"),
    ("gplv3+", "GPL-3.0-or-later"),
    ("gplv2+", "GPL-2.0-or-later"),
    ("lgpl-2.1+", "LGPL-2.1-or-later"),
    ("public domain", "LicenseRef-Public-Domain"),
];

/// Trove classifiers (`License :: …`) that name exactly one SPDX licence.
const CLASSIFIERS: &[(&str, &str)] = &[
    (
        "License :: OSI Approved :: Apache Software License",
        "Apache-2.0",
    ),
    ("License :: OSI Approved :: MIT License", "MIT"),
    (
        "License :: OSI Approved :: MIT No Attribution License (MIT-0)",
        "MIT-0",
    ),
    ("License :: OSI Approved :: ISC License (ISCL)", "ISC"),
    (
        "License :: OSI Approved :: Python Software Foundation License",
        "PSF-2.0",
    ),
    (
        "License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)",
        "MPL-2.0",
    ),
    (
        "License :: OSI Approved :: Mozilla Public License 1.1 (MPL 1.1)",
        "MPL-1.1",
    ),
    (
        "License :: OSI Approved :: The Unlicense (Unlicense)",
        "Unlicense",
    ),
    ("License :: OSI Approved :: zlib/libpng License", "Zlib"),
    (
        "License :: OSI Approved :: Boost Software License 1.0 (BSL-1.0)",
        "BSL-1.0",
    ),
    (
        "License :: OSI Approved :: Academic Free License (AFL)",
        "AFL-3.0",
    ),
    (
        "License :: OSI Approved :: Historical Permission Notice and Disclaimer (HPND)",
        "HPND",
    ),
    (
        "License :: OSI Approved :: Eclipse Public License 2.0 (EPL-2.0)",
        "EPL-2.0",
    ),
    (
        "License :: OSI Approved :: European Union Public Licence 1.2 (EUPL 1.2)",
        "EUPL-1.2",
    ),
    (
        "License :: OSI Approved :: GNU Affero General Public License v3",
        "AGPL-3.0-only",
    ),
    (
        "License :: OSI Approved :: GNU Affero General Public License v3 or later (AGPLv3+)",
        "AGPL-3.0-or-later",
    ),
    (
        "License :: OSI Approved :: GNU General Public License v2 (GPLv2)",
        "GPL-2.0-only",
    ),
    (
        "License :: OSI Approved :: GNU General Public License v2 or later (GPLv2+)",
        "GPL-2.0-or-later",
    ),
    (
        "License :: OSI Approved :: GNU General Public License v3 (GPLv3)",
        "GPL-3.0-only",
    ),
    (
        "License :: OSI Approved :: GNU General Public License v3 or later (GPLv3+)",
        "GPL-3.0-or-later",
    ),
    (
        "License :: OSI Approved :: GNU Lesser General Public License v2 (LGPLv2)",
        "LGPL-2.0-only",
    ),
    (
        "License :: OSI Approved :: GNU Lesser General Public License v2 or later (LGPLv2+)",
        "LGPL-2.0-or-later",
    ),
    (
        "License :: OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)",
        "LGPL-3.0-only",
    ),
    (
        "License :: OSI Approved :: GNU Lesser General Public License v3 or later (LGPLv3+)",
        "LGPL-3.0-or-later",
    ),
    (
        "License :: OSI Approved :: GNU Library or Lesser General Public License (LGPL)",
        "LGPL-2.0-or-later",
    ),
    (
        "License :: CC0 1.0 Universal (CC0 1.0) Public Domain Dedication",
        "CC0-1.0",
    ),
    (
        "License :: OSI Approved :: Universal Permissive License (UPL)",
        "UPL-1.0",
    ),
];

/// A free-text name longer than this is licence *text*, not a name: only its first line is kept.
const MAX_NAME: usize = 120;

/// Interpret a declared licence string: a valid SPDX expression, a well-known alias of one,
/// or free text. `None` for empty / "UNKNOWN" / "NOASSERTION".
pub fn normalize(text: &str) -> Option<License> {
    let t = text.trim();
    if t.is_empty()
        || ["unknown", "noassertion", "none", "n/a", "-"].contains(&t.to_ascii_lowercase().as_str())
    {
        return None;
    }
    if let Some(l) = as_spdx(t) {
        return Some(l);
    }
    let lower = t.to_ascii_lowercase();
    let lower = lower.trim_end_matches('.');
    if let Some((_, id)) = ALIASES.iter().find(|(a, _)| *a == lower) {
        return Some(if id.starts_with("LicenseRef-") {
            License::Named(t.to_string())
        } else {
            License::Spdx((*id).to_string())
        });
    }
    let first = t.lines().next().unwrap_or(t).trim();
    let name = if first.chars().count() > MAX_NAME {
        let cut: String = first.chars().take(MAX_NAME).collect();
        format!("{cut}…")
    } else {
        first.to_string()
    };
    Some(License::Named(name))
}

/// A valid SPDX expression made only of listed identifiers (no `LicenseRef-`), kept verbatim.
pub fn as_spdx(t: &str) -> Option<License> {
    if t.contains("LicenseRef-") || t.contains("DocumentRef-") || t.contains('\n') {
        return None;
    }
    spdx::Expression::parse(t)
        .ok()
        .map(|_| License::Spdx(t.to_string()))
}

/// The SPDX identifier a `License :: …` trove classifier names, if it names exactly one.
pub fn from_classifier(classifier: &str) -> Option<License> {
    let c = classifier.trim();
    CLASSIFIERS
        .iter()
        .find(|(k, _)| *k == c)
        .map(|(_, id)| License::Spdx((*id).to_string()))
}

/// Is `s` a single SPDX licence identifier (as opposed to a compound expression)?
pub(crate) fn is_single_id(s: &str) -> bool {
    !s.contains(' ') && spdx::license_id(s).is_some() && !s.ends_with('+')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_and_aliases() {
        assert_eq!(normalize("MIT"), Some(License::Spdx("MIT".into())));
        assert_eq!(
            normalize("MIT OR Apache-2.0"),
            Some(License::Spdx("MIT OR Apache-2.0".into()))
        );
        assert_eq!(
            normalize("Apache 2.0"),
            Some(License::Spdx("Apache-2.0".into()))
        );
        assert_eq!(normalize("BSD"), Some(License::Named("BSD".into())));
        assert_eq!(normalize("UNKNOWN"), None);
        assert_eq!(normalize("  "), None);
    }

    #[test]
    fn licence_text_is_cut_to_first_line() {
        let text = "Copyright (c) 2010 Someone\n\nPermission is hereby granted, free of charge";
        assert_eq!(
            normalize(text),
            Some(License::Named("Copyright (c) 2010 Someone".into()))
        );
    }

    #[test]
    fn classifiers() {
        assert_eq!(
            from_classifier("License :: OSI Approved :: MIT License"),
            Some(License::Spdx("MIT".into()))
        );
        assert_eq!(
            from_classifier("License :: OSI Approved :: BSD License"),
            None
        );
    }

    #[test]
    fn every_table_entry_is_a_valid_spdx_id() {
        for (_, id) in ALIASES.iter().chain(CLASSIFIERS) {
            if !id.starts_with("LicenseRef-") {
                assert!(spdx::license_id(id).is_some(), "{id}");
            }
        }
    }
}
