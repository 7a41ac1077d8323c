// Package mapping decodes and validates the Ambassador-style configuration documents that users put in
// Service annotations (getambassador.io/config, kfgate.io/config) or in files: Mapping, Module and
// AuthService. It is pure: text in, typed documents and diagnostics out. Nothing here panics on bad
// input; every problem becomes a Diagnostic naming the source, the document, the field path and the cause.
package mapping
