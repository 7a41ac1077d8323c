// Package e2e is kfgate's end-to-end suite: real processes wired together as in a cluster. The
// envtest API server holds the Services and EndpointSlices, in two namespaces as in Kubeflow: a
// trusted one (`--trusted-namespaces`, Kubeflow's kubeflow) with the AuthService and the catch-all
// Mapping, and a tenant's (a profile's) with the model and the notebooks; `kfgate serve --source
// kubernetes` (the binary, built once) watches them, annotates the TF Serving model Service and the
// Kubeflow notebooks' Services (reading their Notebooks, a CRD the suite installs first) and serves xDS;
// `kfgate authn` (the binary) answers ext_authz against a real oidc-provider and reviews
// ServiceAccount tokens with the API server; upstreams in this package (a TF Serving REST API with
// a tiny deterministic model, two notebook servers with a kernel websocket, and an echo server) run
// on this machine; and an Envoy receives it all: the strict stand-in test/envoystandin, or a real
// Envoy when KFGATE_ENVOY_BIN names its binary.
// A headless Chromium, driven with chromedp, logs in.
//
// Everything runs in TestE2E, whose subtests follow a user's day: login, predictions with the
// session and with a ServiceAccount token, identity headers a client cannot forge, API clients
// refused rather than redirected, notebooks (a JupyterLab page and its kernel's websocket, in the
// browser too; an RStudio whose Notebook rewrites the path and sets a header; identity; a deleted
// notebook's route gone), a tenant's annotation that tries to configure the gateway (refused, and
// told by an Event) next to its legitimate route, logout, endpoints and labels that change what is
// served, and an IdP that goes away. Missing components skip the suite outside CI and fail it under CI; without
// chromium (outside CI) the cookie-jar browser logs in instead. Cookies are insecure: the gateway and
// the IdP are plain HTTP on 127.0.0.1. The API server refuses loopback EndpointSlice addresses, so the
// upstreams listen on the machine's first non-loopback IPv4 address instead.
package e2e
