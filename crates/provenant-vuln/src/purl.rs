//! What matching needs of a package URL ([`provenant_sbom::Purl`], the product's one purl
//! type): its OSV ecosystem, the package name as OSV spells it, whether an OSV release
//! suffix fits its `distro` qualifier, and its identity across versions and name spellings.

use provenant_sbom::Purl;

use crate::version::Ecosystem;

/// Matching helpers on [`Purl`].
pub(crate) trait PurlMatch {
    /// The ecosystem this purl's type maps to, if we match that ecosystem.
    fn ecosystem(&self) -> Option<Ecosystem>;
    /// The package name as OSV spells it in that ecosystem (npm scopes and Go module paths
    /// include the namespace).
    fn osv_name(&self) -> String;
    /// Whether an OSV ecosystem string's release suffix (`Debian:12`, `Alpine:v3.18`,
    /// `Ubuntu:22.04:LTS`) fits this purl's `distro` qualifier (`debian-12`,
    /// `alpine-3.18.4`, `ubuntu-22.04`). Without a suffix or without a qualifier every
    /// release fits.
    fn fits_release(&self, osv_ecosystem: &str) -> bool;
    /// The purl without version and qualifiers, with the name normalised as the ecosystem
    /// requires (PEP 503 for PyPI: `boolean.py`, `Boolean_Py` and `boolean-py` are one
    /// package): the identity of a package across versions and spellings.
    fn package_key(&self) -> String;
}

impl PurlMatch for Purl {
    fn ecosystem(&self) -> Option<Ecosystem> {
        Ecosystem::from_purl(self.ty(), self.namespace().as_deref())
    }

    fn osv_name(&self) -> String {
        match (self.ty(), self.namespace()) {
            ("npm" | "golang", Some(ns)) => format!("{ns}/{}", self.name()),
            _ => self.name().to_string(),
        }
    }

    fn fits_release(&self, osv_ecosystem: &str) -> bool {
        let Some((_, suffix)) = osv_ecosystem.split_once(':') else {
            return true;
        };
        let Some(distro) = self.qualifier("distro") else {
            return true;
        };
        let want = suffix.split(':').next().unwrap_or(suffix);
        let want = want.strip_prefix('v').unwrap_or(want);
        let have = distro.rsplit_once('-').map_or(distro, |(_, v)| v);
        let have = have.strip_prefix('v').unwrap_or(have);
        have.eq_ignore_ascii_case(want)
            || have
                .strip_prefix(want)
                .is_some_and(|rest| rest.starts_with('.'))
    }

    fn package_key(&self) -> String {
        let name = match self.ecosystem() {
            Some(e) => e.normalize_name(self.name()),
            None => self.name().to_string(),
        };
        match self.namespace() {
            Some(ns) => format!("pkg:{}/{}/{}", self.ty(), ns.to_ascii_lowercase(), name),
            None => format!("pkg:{}/{}", self.ty(), name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Purl {
        Purl::parse(s).unwrap()
    }

    #[test]
    fn matching_view_of_common_purls() {
        assert_eq!(
            p("pkg:pypi/Django_Rest@3.1.0?extension=whl#sub").package_key(),
            "pkg:pypi/django-rest"
        );
        assert_eq!(
            p("pkg:npm/%40angular/core@16.0.0").osv_name(),
            "@angular/core"
        );
        assert_eq!(
            p("pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12").ecosystem(),
            Some(Ecosystem::Debian)
        );
        assert_eq!(
            p("pkg:golang/github.com/gin-gonic/gin@v1.9.0").osv_name(),
            "github.com/gin-gonic/gin"
        );
    }

    #[test]
    fn pypi_spellings_are_one_package() {
        let keys: Vec<String> = [
            "pkg:pypi/boolean.py@5.0",
            "pkg:pypi/Boolean_Py@5.0",
            "pkg:pypi/boolean-py@5.0",
        ]
        .iter()
        .map(|s| p(s).package_key())
        .collect();
        assert_eq!(keys, ["pkg:pypi/boolean-py"; 3]);
    }

    #[test]
    fn release_suffixes_fit_distro_qualifiers() {
        let deb = p("pkg:deb/debian/openssl@3.0.11-1?distro=debian-12");
        assert!(deb.fits_release("Debian:12"));
        assert!(deb.fits_release("Debian"));
        assert!(!deb.fits_release("Debian:11"));
        let apk = p("pkg:apk/alpine/musl@1.2.4-r2?distro=alpine-3.18.4");
        assert!(apk.fits_release("Alpine:v3.18"));
        assert!(!apk.fits_release("Alpine:v3.1"));
        let ubu = p("pkg:deb/ubuntu/curl@8.5.0?distro=ubuntu-22.04");
        assert!(ubu.fits_release("Ubuntu:22.04:LTS"));
        assert!(!ubu.fits_release("Ubuntu:Pro:18.04:LTS"));
        let bare = p("pkg:deb/debian/openssl@3.0.11-1");
        assert!(bare.fits_release("Debian:11"));
    }
}
