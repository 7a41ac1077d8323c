package xds

import (
	"fmt"
	"time"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	ratelimitconfv3 "github.com/envoyproxy/go-control-plane/envoy/config/ratelimit/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	filev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	streamv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	commonratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	localratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	ratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ratelimit/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kfgate/kfgate/gateway/ir"
	"github.com/kfgate/kfgate/gateway/mapping"
)

// Access logger names.
const (
	AccessLoggerStdout = "envoy.access_loggers.stdout"
	AccessLoggerFile   = "envoy.access_loggers.file"
)

// accessLogs is the connection manager's access log: Envoy's stdout logger for /dev/stdout, its
// file logger otherwise; JSON (the fields of the format map) or a text line.
func accessLogs(a mapping.AccessLog) ([]*accesslogv3.AccessLog, error) {
	format := &corev3.SubstitutionFormatString{}
	if a.Type == "text" {
		if a.TextFormat != "" { // "": Envoy's default format
			format.Format = &corev3.SubstitutionFormatString_TextFormatSource{
				TextFormatSource: &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: a.TextFormat + "\n"}}}
		}
	} else {
		fields := make(map[string]any, len(a.JSONFormat))
		for k, v := range a.JSONFormat {
			fields[k] = v
		}
		js, err := structpb.NewStruct(fields)
		if err != nil {
			return nil, fmt.Errorf("access log format: %w", err)
		}
		format.Format = &corev3.SubstitutionFormatString_JsonFormat{JsonFormat: js}
	}
	var logger proto.Message
	name := AccessLoggerStdout
	if a.Path == "" || a.Path == "/dev/stdout" {
		l := &streamv3.StdoutAccessLog{}
		if format.Format != nil {
			l.AccessLogFormat = &streamv3.StdoutAccessLog_LogFormat{LogFormat: format}
		}
		logger = l
	} else {
		name = AccessLoggerFile
		l := &filev3.FileAccessLog{Path: a.Path}
		if format.Format != nil {
			l.AccessLogFormat = &filev3.FileAccessLog_LogFormat{LogFormat: format}
		}
		logger = l
	}
	cfg, err := toAny(logger)
	if err != nil {
		return nil, err
	}
	return []*accesslogv3.AccessLog{{Name: name, ConfigType: &accesslogv3.AccessLog_TypedConfig{TypedConfig: cfg}}}, nil
}

// localRateLimitFilter is the listener-level local rate limit filter: no bucket of its own (so it is
// off), each route with a local_rate_limit turns it on with its own bucket.
func localRateLimitFilter() *localratelimitv3.LocalRateLimit {
	return &localratelimitv3.LocalRateLimit{StatPrefix: "local_rate_limit"}
}

var fillIntervals = map[string]time.Duration{"second": time.Second, "minute": time.Minute, "hour": time.Hour}

// localRateLimitPerRoute is a route's token bucket, enabled and enforced for every request; a
// limited request gets Envoy's 429 and the x-ratelimit-* headers.
func localRateLimitPerRoute(l *mapping.LocalRateLimit) *localratelimitv3.LocalRateLimit {
	all := func(key string) *corev3.RuntimeFractionalPercent {
		return &corev3.RuntimeFractionalPercent{RuntimeKey: key, DefaultValue: &typev3.FractionalPercent{Numerator: 100}}
	}
	return &localratelimitv3.LocalRateLimit{
		StatPrefix: "local_rate_limit",
		TokenBucket: &typev3.TokenBucket{MaxTokens: uint32(l.Burst), TokensPerFill: wrapperspb.UInt32(uint32(l.Requests)),
			FillInterval: durationpb.New(fillIntervals[l.Per])},
		FilterEnabled:           all("kfgate.local_rate_limit.enabled"),
		FilterEnforced:          all("kfgate.local_rate_limit.enforced"),
		EnableXRatelimitHeaders: commonratelimitv3.XRateLimitHeadersRFCVersion_DRAFT_VERSION_03,
	}
}

// rateLimitFilter is the global rate limit filter asking the RateLimitService (gRPC, v3).
func rateLimitFilter(r *ir.RateLimitService) *ratelimitv3.RateLimit {
	return &ratelimitv3.RateLimit{
		Domain:          r.Domain,
		Timeout:         durationpb.New(r.Timeout),
		FailureModeDeny: r.FailureModeDeny,
		RateLimitService: &ratelimitconfv3.RateLimitServiceConfig{
			GrpcService: &corev3.GrpcService{TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{
				EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: r.Cluster}}},
			TransportApiVersion: corev3.ApiVersion_V3,
		},
		EnableXRatelimitHeaders: ratelimitv3.RateLimit_DRAFT_VERSION_03,
	}
}

// rateLimits turns label groups into the route's rate_limits: one descriptor per group, its
// entries in order (Emissary's labels semantics).
func rateLimits(groups []mapping.RateLimitGroup) []*routev3.RateLimit {
	out := make([]*routev3.RateLimit, 0, len(groups))
	for _, g := range groups {
		rl := &routev3.RateLimit{}
		for _, e := range g.Entries {
			rl.Actions = append(rl.Actions, rateLimitAction(e))
		}
		out = append(out, rl)
	}
	return out
}

func rateLimitAction(e mapping.RateLimitAction) *routev3.RateLimit_Action {
	a := &routev3.RateLimit_Action{}
	switch e.Kind {
	case mapping.RateLimitGenericKey:
		a.ActionSpecifier = &routev3.RateLimit_Action_GenericKey_{GenericKey: &routev3.RateLimit_Action_GenericKey{
			DescriptorValue: e.Value, DescriptorKey: e.Key}}
	case mapping.RateLimitRequestHeaders:
		a.ActionSpecifier = &routev3.RateLimit_Action_RequestHeaders_{RequestHeaders: &routev3.RateLimit_Action_RequestHeaders{
			HeaderName: e.Header, DescriptorKey: e.Key, SkipIfAbsent: e.OmitIfNotPresent}}
	case mapping.RateLimitRemoteAddress:
		a.ActionSpecifier = &routev3.RateLimit_Action_RemoteAddress_{RemoteAddress: &routev3.RateLimit_Action_RemoteAddress{}}
	case mapping.RateLimitSourceCluster:
		a.ActionSpecifier = &routev3.RateLimit_Action_SourceCluster_{SourceCluster: &routev3.RateLimit_Action_SourceCluster{}}
	case mapping.RateLimitDestinationCluster:
		a.ActionSpecifier = &routev3.RateLimit_Action_DestinationCluster_{DestinationCluster: &routev3.RateLimit_Action_DestinationCluster{}}
	}
	return a
}
