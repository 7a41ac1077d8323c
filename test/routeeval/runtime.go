package routeeval

import typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"

// Runtime is the part of Envoy's runtime the router consults: Snapshot::featureEnabled for a
// route's runtime_fraction. A Request without one sees an empty runtime.
type Runtime interface {
	// FeatureEnabled reports whether the feature under key is on for this request, given the
	// configured default and the request's random value.
	FeatureEnabled(key string, def *typev3.FractionalPercent, random uint64) bool
}

// EmptyRuntime is Envoy with no runtime layer overriding key (kfgate's bootstrap configures
// none): the default applies, on when random % denominator < numerator (SnapshotImpl::featureEnabled,
// ProtobufPercentHelper::evaluateFractionalPercent).
type EmptyRuntime struct{}

// FeatureEnabled implements Runtime.
func (EmptyRuntime) FeatureEnabled(_ string, def *typev3.FractionalPercent, random uint64) bool {
	return random%fractionDenominator(def.GetDenominator()) < uint64(def.GetNumerator())
}

func runtimeOf(r *Request) Runtime {
	if r.Runtime == nil {
		return EmptyRuntime{}
	}
	return r.Runtime
}
