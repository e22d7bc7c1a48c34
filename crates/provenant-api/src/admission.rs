//! Kubernetes admission reviews (`admission.k8s.io/v1`).
