//! Untrusted AdmissionReviews (what the webhook reads from the apiserver, or
//! from anyone who reaches it): parsing, workload extraction (pods, pod
//! templates, model annotations, container images) and the answers built
//! from them never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provenant_api::admission;

fuzz_target!(|data: &[u8]| {
    match admission::parse_review(data) {
        Ok(review) => {
            match admission::workload(&review) {
                Ok(admission::Admission::Workload(w)) => {
                    let _ = w.malformed_models();
                    let _ = w.unpinned_images();
                    let reasons: Vec<String> = w.models.iter().map(|m| m.to_string()).collect();
                    let _ = admission::deny(&review.uid, &reasons.join("; "), &reasons);
                }
                Ok(admission::Admission::NothingToCheck { .. }) => {
                    let _ = admission::allow(&review.uid, &[]);
                }
                Err(e) => {
                    let _ = admission::bad_request_response(&review.uid, &e);
                }
            }
            let _ = admission::old_workload(&review);
        }
        Err(invalid) => {
            let _ = invalid.deny_response();
        }
    }
});
