//! Policy as code: Rego v1 policy sets evaluated with
//! [`regorus`](https://github.com/microsoft/regorus), compatible with the
//! Open Policy Agent (<https://www.openpolicyagent.org/docs/policy-language>,
//! Rego v1: <https://www.openpolicyagent.org/docs/opa-1>).
//!
//! - [`PolicySet`]: a directory of modules (tests `*_test.rego` left out),
//!   data files and mode overrides, compiled at load, with its digest;
//!   [`PolicySet::evaluate`] turns a [policy input](INPUT_SCHEMA) into a
//!   [`Decision`] (fail closed), [`PolicySet::raw`] gives the raw
//!   `data.provenant` document, and [`Decision::from_raw`] decides from a
//!   raw document (ours or `opa eval`'s) in one place.
//! - [`LivePolicies`]: the set a server serves, reloaded when its sources change.
//! - Signed policy sets ([`SignatureCheck`], [`PolicySet::load_signed`]): the
//!   directory signed like a model with an OpenSSF Model Signing signature
//!   (<https://github.com/ossf/model-signing-spec>); every load checks the
//!   bytes it compiles against the signed manifest.
//! - [`run_tests`] and [`check`]: `opa test` and compile checks for the CLI.
//!
//! No I/O besides reading the policy directory, data files and the policy
//! signature; no threads.

mod calls;
mod canonical;
mod decision;
mod error;
mod input;
mod live;
mod set;
mod signed;
mod source;
mod testing;

pub use canonical::input_digest;
pub use decision::{
    AppliedException, Decision, Mode, ModeOverrides, Reason, SET_POLICY, Verdict, normalize_raw,
    parse_mode_overrides,
};
pub use error::{InputError, PolicyError};
pub use input::{INPUT_SCHEMA, INPUT_SCHEMA_ID, validate_input};
pub use live::{LivePolicies, Reloaded};
pub use set::{DEFAULT_TIME_LIMIT, PolicyConfig, PolicySet};
pub use signed::{PolicySigner, SignatureCheck};
pub use source::{
    DataSource, ModuleSource, SourceFingerprint, is_test_path, merge_data, read_data_file,
    read_modules,
};
pub use testing::{DEFAULT_TEST_TIME_LIMIT, TestOutcome, TestReport, TestResult, check, run_tests};
