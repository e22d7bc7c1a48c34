//! Fuzzes the version parsers and checks that each ordering is a total
//! order on what it accepts (antisymmetric and transitive on triples).
#![no_main]

use libfuzzer_sys::fuzz_target;
use provenant_vuln::Scheme;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parts: Vec<&str> = text.splitn(3, '\n').collect();
    if parts.len() != 3 {
        return;
    }
    for scheme in [Scheme::Pep440, Scheme::SemVer, Scheme::Dpkg, Scheme::Apk] {
        let (Ok(a), Ok(b), Ok(c)) = (
            scheme.parse(parts[0]),
            scheme.parse(parts[1]),
            scheme.parse(parts[2]),
        ) else {
            continue;
        };
        assert_eq!(
            a.cmp(&b),
            b.cmp(&a).reverse(),
            "{scheme:?} antisymmetry {parts:?}"
        );
        if a <= b && b <= c {
            assert!(a <= c, "{scheme:?} transitivity {parts:?}");
        }
    }
});
