package envoystandin

import (
	"fmt"
	"strings"

	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	localratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
)

// hcm is a compiled HttpConnectionManager.
type hcm struct {
	rds            string
	filters        []httpFilter
	normalizePath  bool
	mergeSlashes   bool
	escapedSlashes hcmv3.HttpConnectionManager_PathWithEscapedSlashesAction
	useRemote      bool
	trustedHops    uint32
	skipXFFAppend  bool
	generateID     bool
	preserveID     bool
	idInResponse   bool
	upgrades       map[string]bool // HCM upgrade_configs: type → enabled
	serverName     string
	logs           []*accessLogger
}

// httpFilter is one configured HTTP filter; each stream gets its own instance.
type httpFilter interface {
	newInstance() filterInstance
}

// filterInstance is a filter on one stream: decodeHeaders may answer the request itself (a local
// reply), encodeHeaders sees every response, local replies of any filter included (Envoy runs every
// encoder filter on a local reply, whether or not its decodeHeaders ran).
type filterInstance interface {
	decodeHeaders(s *stream) *response
	encodeHeaders(s *stream, resp *response)
}

func (e *Envoy) compileHCM(h *hcmv3.HttpConnectionManager, path string) (*hcm, error) {
	out := &hcm{
		normalizePath: h.GetNormalizePath().GetValue(), mergeSlashes: h.GetMergeSlashes(),
		escapedSlashes: h.GetPathWithEscapedSlashesAction(), useRemote: h.GetUseRemoteAddress().GetValue(),
		trustedHops: h.GetXffNumTrustedHops(), skipXFFAppend: h.GetSkipXffAppend(),
		generateID: h.GetGenerateRequestId() == nil || h.GetGenerateRequestId().GetValue(),
		preserveID: h.GetPreserveExternalRequestId(), idInResponse: h.GetAlwaysSetRequestIdInResponse(),
		upgrades: map[string]bool{}, serverName: h.GetServerName(),
	}
	if out.serverName == "" {
		out.serverName = "envoy"
	}
	if out.escapedSlashes == hcmv3.HttpConnectionManager_IMPLEMENTATION_SPECIFIC_DEFAULT {
		out.escapedSlashes = hcmv3.HttpConnectionManager_KEEP_UNCHANGED // the runtime default (HCM)
	}
	rds := h.GetRds()
	if rds == nil {
		return nil, fmt.Errorf("%s: only RDS route configurations are implemented", path)
	}
	if err := checkConfigSource(rds.GetConfigSource(), path+".rds.config_source"); err != nil {
		return nil, err
	}
	out.rds = rds.GetRouteConfigName()
	for _, u := range h.GetUpgradeConfigs() {
		t := strings.ToLower(u.GetUpgradeType())
		if _, dup := out.upgrades[t]; dup {
			return nil, fmt.Errorf("%s.upgrade_configs: duplicate upgrade %s", path, u.GetUpgradeType())
		}
		out.upgrades[t] = u.GetEnabled() == nil || u.GetEnabled().GetValue()
	}
	var err error
	if out.filters, err = e.compileFilters(h.GetHttpFilters(), path+".http_filters"); err != nil {
		return nil, err
	}
	for i, al := range h.GetAccessLog() {
		l, err := compileAccessLog(al, fmt.Sprintf("%s.access_log[%d]", path, i))
		if err != nil {
			return nil, err
		}
		out.logs = append(out.logs, l)
	}
	return out, nil
}

// compileFilters builds the HTTP filter chain, in order. The router must come last (Envoy: "Error:
// terminal filter named envoy.filters.http.router of type envoy.filters.http.router must be the last
// filter in a http filter chain").
func (e *Envoy) compileFilters(fs []*hcmv3.HttpFilter, path string) ([]httpFilter, error) {
	var out []httpFilter
	names := map[string]bool{}
	for i, f := range fs {
		p := fmt.Sprintf("%s[%d]", path, i)
		if names[f.GetName()] {
			return nil, fmt.Errorf("%s: duplicate filter name %q", p, f.GetName())
		}
		names[f.GetName()] = true
		last := i == len(fs)-1
		tc := f.GetTypedConfig()
		var hf httpFilter
		var err error
		switch typeName(tc.GetTypeUrl()) {
		case "envoy.extensions.filters.http.router.v3.Router":
			if !last {
				return nil, fmt.Errorf("%s: the router must be the last HTTP filter", p)
			}
			_, err = unpack(tc, &routerv3.Router{}, p)
			hf = routerFilter{}
		case "envoy.extensions.filters.http.ext_authz.v3.ExtAuthz":
			var cfg *extauthzv3.ExtAuthz
			if cfg, err = unpack(tc, &extauthzv3.ExtAuthz{}, p); err == nil {
				hf, err = e.compileExtAuthz(f.GetName(), cfg, p)
			}
		case "envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit":
			var cfg *localratelimitv3.LocalRateLimit
			if cfg, err = unpack(tc, &localratelimitv3.LocalRateLimit{}, p); err == nil {
				hf, err = compileLocalRateLimitFilter(f.GetName(), cfg, p)
			}
		case "envoy.extensions.filters.http.cors.v3.Cors":
			_, err = unpack(tc, &corsv3.Cors{}, p)
			hf = corsFilter{name: f.GetName()}
		default:
			err = fmt.Errorf("%s: HTTP filter type %s is not implemented", p, tc.GetTypeUrl())
		}
		if err != nil {
			return nil, err
		}
		if last {
			if _, ok := hf.(routerFilter); !ok {
				return nil, fmt.Errorf("%s: the last HTTP filter must be the router", p)
			}
		}
		out = append(out, hf)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no router", path)
	}
	return out, nil
}
