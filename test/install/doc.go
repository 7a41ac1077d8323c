// Package install holds the tests of kfgate's installation: the Dockerfile, the kustomize tree
// (kustomize/: base, overlays, components) and the manifests rendered from it (manifests/). They
// render every overlay and component with kustomize (built by `make test`) and check what comes out: the
// restricted Pod Security Standard, probes and resources, least-privilege RBAC, replicas, the Envoy
// bootstrap against kfgate's own, the authn configuration against kfgate authn's loader, the flags
// against the binary, the routes against kfgate's builder, and a server-side dry-run apply of every
// object against a real API server (envtest).
package install
