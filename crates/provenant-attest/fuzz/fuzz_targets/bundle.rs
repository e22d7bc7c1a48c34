//! Sigstore bundle parser: any input is a typed bundle or an error, never a
//! panic; a parsed bundle re-serialises to JSON that parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provenant_attest::{Bundle, PrivateKey, TrustRoot, verify_bundle};
use std::sync::OnceLock;

fn key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        PrivateKey::generate(provenant_attest::KeyAlgorithm::EcdsaP256).expect("key generation")
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = Bundle::from_json(data) {
        let again = Bundle::from_json(b.to_json().as_bytes()).expect("re-parse own output");
        assert_eq!(again, b);
        let pk = provenant_attest::Signer::public_key(key());
        let _ = verify_bundle(&b, &TrustRoot::PublicKey(pk), std::time::SystemTime::now());
        let _ = verify_bundle(&b, &TrustRoot::Certificates(vec![data.to_vec()]), std::time::SystemTime::now());
    }
});
