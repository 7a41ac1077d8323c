// Package envoystandin is a strict, in-process stand-in for Envoy, for tests on machines where
// Envoy cannot run. It connects to an xDS server over ADS the way Envoy does (State of the World:
// wildcard CDS and LDS, EDS, RDS and SDS following what they reference, ACK and NACK), and serves
// HTTP on the listeners it is given, running the HTTP connection manager, the ext_authz,
// local_ratelimit, cors and router filters as Envoy does. Route matching is test/routeeval's.
//
// It is strict: every populated field of every resource it receives must be one it implements
// (allow.go, checked by a protoreflect walk that unpacks every Any it knows). A resource holding
// anything else is NACKed, and the NACK fails the test (Options.TB), so a test can never pass
// because part of a configuration was silently ignored. Behaviour it meets at request time and does
// not implement fails the test the same way.
//
// Sources cited in comments (envoyproxy/envoy), besides those of /work/shared/reference/envoy.md:
//
//	CMU   source/common/http/conn_manager_utility.cc
//	CMI   source/common/http/conn_manager_impl.cc
//	PU    source/common/http/path_utility.cc (canonicalPath: Chromium's url::CanonicalizePath)
//	CRU   source/extensions/filters/common/ext_authz/check_request_utils.cc
//	GI    source/extensions/filters/common/ext_authz/ext_authz_grpc_impl.cc
//	EC    source/extensions/filters/http/ext_authz/ext_authz.cc
//	LRL   source/extensions/filters/http/local_ratelimit/local_ratelimit.cc and
//	      source/extensions/filters/common/local_ratelimit/local_ratelimit_impl.cc
//	CORS  source/extensions/filters/http/cors/cors_filter.cc
//	RO    source/common/router/router.cc
//	LDS   source/common/listener_manager/lds_api.cc; CDS source/common/upstream/cds_api_helper.cc
//	GM    source/extensions/config_subscription/grpc/grpc_mux_impl.cc
package envoystandin
