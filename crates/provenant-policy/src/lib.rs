//! Policy as code: Rego v1 policy sets evaluated with `regorus`.
