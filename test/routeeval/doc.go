// Package routeeval is a test-side evaluator of Envoy's HTTP route matching. Given an
// envoy.config.route.v3.RouteConfiguration it answers, for one request, what Envoy's router would
// do: which virtual host and route match, which cluster is chosen, how :path and :authority are
// rewritten, which redirect or direct response is sent and which header mutations apply.
//
// Envoy cannot run where kfgate's tests run, so this package re-implements the parts of Envoy's
// router that kfgate relies on, citing the Envoy source it mirrors. Abbreviations used in comments:
//
//	RC         api/envoy/config/route/v3/route_components.proto
//	RT         api/envoy/config/route/v3/route.proto
//	CI         source/common/router/config_impl.cc
//	CU         source/common/router/config_utility.cc
//	HU         source/common/http/header_utility.cc
//	HP         source/common/router/header_parser.cc
//	UT         source/common/http/utility.cc
//	matchers.cc source/common/common/matchers.cc
//
// Compile is strict: every populated field of the configuration must be one the evaluator models
// (see strict.go). A field it does not model makes Compile fail with an error naming the field, so a
// test can never pass because the evaluator silently ignored part of a configuration.
//
// Runtime: a route's runtime_fraction asks Request.Runtime; without one the evaluator assumes an
// empty Envoy runtime (EmptyRuntime), so the configured default applies, as it does for kfgate's
// canaries, which set no runtime key. Weighted-cluster runtime_key_prefix is not consulted.
package routeeval
