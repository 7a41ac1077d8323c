package ir

import (
	"maps"
	"slices"
	"strings"
)

// WildcardHost names the virtual host that serves every host without one of its own.
const WildcardHost = "*"

// virtualHosts places the ordered routes: one virtual host per distinct `host`, plus `*`. Envoy picks
// exactly one virtual host per request, so routes without a host (and host_regex routes, which match
// :authority themselves) are placed in every virtual host, in the global order.
func (s *State) virtualHosts() []*VirtualHost {
	if s.vhosts != nil {
		return s.vhosts
	}
	names := slices.Sorted(maps.Keys(s.hosts))
	hosts := make(map[string]bool, len(names))
	for _, h := range names {
		hosts[h] = true
	}
	s.vhosts = []*VirtualHost{s.vhost(WildcardHost, []string{WildcardHost}, "")}
	for _, h := range names {
		s.vhosts = append(s.vhosts, s.vhost(h, domains(h, hosts), h))
	}
	return s.vhosts
}

func (s *State) vhost(name string, domains []string, host string) *VirtualHost {
	m := s.r.module
	vh := &VirtualHost{Name: name, Domains: domains, Routes: []*Route{},
		RequestHeadersToAdd: m.AddRequestHeaders, ResponseHeadersToAdd: m.AddResponseHeaders,
		RequestHeadersToRemove: m.RemoveRequestHeaders, ResponseHeadersToRemove: m.RemoveResponseHeaders}
	for _, g := range s.order {
		for _, e := range g.entries {
			if e.host == "" || e.host == host {
				vh.Routes = append(vh.Routes, e.route)
			}
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
