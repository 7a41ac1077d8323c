// Package access answers per-namespace authorization: may this user (with these groups) use the
// Kubeflow namespace a request goes to? The API server decides, through a SubjectAccessReview of one
// configured verb and resource (by default "get notebooks.kubeflow.org"), so that Kubeflow's
// RoleBindings (what a Profile's contributors get) are the only policy.
package access
