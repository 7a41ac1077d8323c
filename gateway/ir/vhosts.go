package ir

import (
	"sort"
	"strings"
)

// WildcardHost names the virtual host that serves every host without one of its own.
const WildcardHost = "*"

// virtualHosts places the ordered routes: one virtual host per distinct `host`, plus `*`. Envoy picks
// exactly one virtual host per request, so routes without a host (and host_regex routes, which match
// :authority themselves) are placed in every virtual host, in the global order.
func (r *resolver) virtualHosts(entries []entry) []*VirtualHost {
	hosts := map[string]bool{}
	for _, e := range entries {
		if e.host != "" {
			hosts[e.host] = true
		}
	}
	names := make([]string, 0, len(hosts))
	for h := range hosts {
		names = append(names, h)
	}
	sort.Strings(names)
	out := []*VirtualHost{r.vhost(WildcardHost, []string{WildcardHost}, entries, "")}
	for _, h := range names {
		out = append(out, r.vhost(h, domains(h, hosts), entries, h))
	}
	return out
}

func (r *resolver) vhost(name string, domains []string, entries []entry, host string) *VirtualHost {
	vh := &VirtualHost{Name: name, Domains: domains, Routes: []*Route{},
		RequestHeadersToAdd: r.module.AddRequestHeaders, ResponseHeadersToAdd: r.module.AddResponseHeaders,
		RequestHeadersToRemove: r.module.RemoveRequestHeaders, ResponseHeadersToRemove: r.module.RemoveResponseHeaders}
	for _, e := range entries {
		if e.host == "" || e.host == host {
			vh.Routes = append(vh.Routes, e.route)
		}
	}
	return vh
}

// domains lists a host and, when it has no port or wildcard, the same host with any port: Envoy
// compares the whole Host header, port included.
func domains(h string, hosts map[string]bool) []string {
	if strings.ContainsAny(h, ":*") || hosts[h+":*"] {
		return []string{h}
	}
	return []string{h, h + ":*"}
}
