package routeeval

import (
	"fmt"
	"sort"
	"strings"
)

// wildcardSet holds suffix ("*.x") or prefix ("x*") wildcard domains keyed by the length of the
// domain without its '*', scanned longest first (CI: std::map with std::greater ordering).
type wildcardSet struct {
	byLen map[int]map[string]*virtualHost
	lens  []int // descending
}

func (w *wildcardSet) add(key string, vh *virtualHost) bool {
	if w.byLen == nil {
		w.byLen = map[int]map[string]*virtualHost{}
	}
	m := w.byLen[len(key)]
	if m == nil {
		m = map[string]*virtualHost{}
		w.byLen[len(key)] = m
		w.lens = append(w.lens, len(key))
		sort.Sort(sort.Reverse(sort.IntSlice(w.lens)))
	}
	if _, dup := m[key]; dup {
		return false
	}
	m[key] = vh
	return true
}

// find is RouteMatcher::findWildcardVirtualHost (CI): a wildcard only matches a host strictly
// longer than its fixed part, so '*' always stands for at least one character.
func (w *wildcardSet) find(host string, part func(host string, n int) string) *virtualHost {
	for _, n := range w.lens {
		if n >= len(host) {
			continue
		}
		if vh := w.byLen[n][part(host, n)]; vh != nil {
			return vh
		}
	}
	return nil
}

// vhostTable is RouteMatcher's domain index (CI RouteMatcher::RouteMatcher / findVirtualHost).
type vhostTable struct {
	exact    map[string]*virtualHost
	suffixes wildcardSet
	prefixes wildcardSet
	def      *virtualHost
}

// add indexes one domain, lower-cased (Http::LowerCaseString). Duplicates, after lower-casing,
// and a second "*" are configuration errors in Envoy, and so here.
func (t *vhostTable) add(domain string, vh *virtualHost) error {
	d := asciiLower(domain)
	ok := true
	switch {
	case d == "*":
		if t.def != nil {
			return fmt.Errorf("routeeval: only a single wildcard domain is permitted (virtual hosts %q and %q)", t.def.name, vh.name)
		}
		t.def = vh
	case strings.HasPrefix(d, "*"):
		ok = t.suffixes.add(d[1:], vh)
	case strings.HasSuffix(d, "*"):
		ok = t.prefixes.add(d[:len(d)-1], vh)
	default:
		if t.exact == nil {
			t.exact = map[string]*virtualHost{}
		}
		_, dup := t.exact[d]
		ok = !dup
		t.exact[d] = vh
	}
	if !ok {
		return fmt.Errorf("routeeval: only unique values for domains are permitted: duplicate domain %q (virtual host %q)", d, vh.name)
	}
	return nil
}

// find selects the virtual host: exact, then suffix wildcards, then prefix wildcards (each longest
// first), then "*". The host is lower-cased; the port is part of it unless ignorePort is set
// (ignore_port_in_host_matching, stripped at HeaderUtility::getPortStart).
func (t *vhostTable) find(host string, present, ignorePort bool) *virtualHost {
	if t.exact == nil && t.suffixes.lens == nil && t.prefixes.lens == nil {
		return t.def // fast path: only a default virtual host, even without a host header
	}
	if !present {
		return nil
	}
	if ignorePort {
		if i := PortStart(host); i >= 0 {
			host = host[:i]
		}
	}
	host = asciiLower(host)
	if vh := t.exact[host]; vh != nil {
		return vh
	}
	if vh := t.suffixes.find(host, func(h string, n int) string { return h[len(h)-n:] }); vh != nil {
		return vh
	}
	if vh := t.prefixes.find(host, func(h string, n int) string { return h[:n] }); vh != nil {
		return vh
	}
	return t.def
}

// PortStart is HeaderUtility::getPortStart (HU): the index of the ':' before a port, -1 if none;
// a ':' inside an IPv6 literal "[...]" is not a port separator.
func PortStart(host string) int {
	i := strings.LastIndexByte(host, ':')
	if i < 0 {
		return -1
	}
	if j := strings.LastIndexByte(host, ']'); j >= 0 && j > i {
		return -1
	}
	return i
}

// virtualClusterFor is VirtualHostImpl::virtualClusterFromEntries (CI): the first virtual cluster
// whose headers all match the request (before the route's header mutations), else the catch-all
// "other" when the virtual host has any, else none.
func (vh *virtualHost) virtualClusterFor(get headerLookup) string {
	for _, vc := range vh.vclusters {
		if matchAllHeaders(vc.headers, get) {
			return vc.name
		}
	}
	if len(vh.vclusters) > 0 {
		return "other"
	}
	return ""
}
