package mapping

import (
	"fmt"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// decodeLabels reads Emissary's rate limit labels:
//
//	labels:
//	  <domain>:
//	  - <group name>:
//	    - remote_address | source_cluster | destination_cluster | <a literal: generic_key>
//	    - generic_key: {value: v, key: k}
//	    - request_headers: {header_name: h, key: k, omit_if_not_present: true}
//	    - <key>: {header: h, omit_if_not_present: true}
func decodeLabels(o *object) []RateLimitGroup {
	v := o.get("labels")
	if v == nil {
		return nil
	}
	field := o.field("labels")
	if v.Kind != yaml.MappingNode {
		o.r.errorf(v, field, "must be a mapping of rate limit domain to label groups, got %s", describe(v))
		return nil
	}
	var out []RateLimitGroup
	for i := 0; i+1 < len(v.Content); i += 2 {
		domain, groups := v.Content[i].Value, deref(v.Content[i+1])
		path := field + "." + domain
		if groups.Kind != yaml.SequenceNode {
			o.r.errorf(groups, path, "must be a list of label groups, got %s", describe(groups))
			continue
		}
		for j, g := range groups.Content {
			if grp, ok := decodeLabelGroup(o.r, deref(g), fmt.Sprintf("%s[%d]", path, j)); ok {
				grp.Domain = domain
				out = append(out, grp)
			}
		}
	}
	return out
}

func decodeLabelGroup(r *reader, g *yaml.Node, path string) (RateLimitGroup, bool) {
	if g.Kind != yaml.MappingNode || len(g.Content) != 2 {
		r.errorf(g, path, "must be a mapping with one key, the group's name, to its list of labels; got %s", describe(g))
		return RateLimitGroup{}, false
	}
	grp := RateLimitGroup{Name: g.Content[0].Value}
	entries := deref(g.Content[1])
	path += "." + grp.Name
	if entries.Kind != yaml.SequenceNode || len(entries.Content) == 0 {
		r.errorf(entries, path, "must be a non-empty list of labels, got %s", describe(entries))
		return grp, false
	}
	ok := true
	for k, e := range entries.Content {
		a, good := decodeLabel(r, deref(e), fmt.Sprintf("%s[%d]", path, k))
		ok = ok && good
		grp.Entries = append(grp.Entries, a)
	}
	return grp, ok
}

func decodeLabel(r *reader, e *yaml.Node, path string) (RateLimitAction, bool) {
	if e.Kind == yaml.ScalarNode && e.Tag == "!!str" {
		switch e.Value {
		case RateLimitRemoteAddress, RateLimitSourceCluster, RateLimitDestinationCluster:
			return RateLimitAction{Kind: e.Value}, true
		case "":
			r.errorf(e, path, "must not be empty")
			return RateLimitAction{}, false
		}
		return RateLimitAction{Kind: RateLimitGenericKey, Value: e.Value}, true
	}
	if e.Kind != yaml.MappingNode || len(e.Content) != 2 {
		r.errorf(e, path, "must be a string or a mapping with one key, got %s", describe(e))
		return RateLimitAction{}, false
	}
	name := e.Content[0].Value
	path += "." + name
	if name == "" {
		r.errorf(e.Content[0], path, "the label's key must not be empty")
		return RateLimitAction{}, false
	}
	body := r.object(path, deref(e.Content[1]))
	a := RateLimitAction{Kind: name}
	switch name {
	case RateLimitRemoteAddress, RateLimitSourceCluster, RateLimitDestinationCluster:
		body.get("key") // Emissary accepts a key here; Envoy names these entries itself
	case RateLimitGenericKey:
		a.Value, _ = body.str("value")
		a.Key, _ = body.str("key")
		if a.Value == "" {
			r.errorf(body.node, path+".value", "is required")
		}
	case RateLimitRequestHeaders:
		a.Header = labelHeader(body, "header_name", path)
		if k, ok := body.str("key"); ok && k == "" {
			r.errorf(body.value("key"), path+".key", "must not be empty")
		} else {
			a.Key = k
		}
		if a.Key == "" {
			a.Key = a.Header
		}
		a.OmitIfNotPresent, _ = body.boolean("omit_if_not_present")
	default: // legacy: <descriptor key>: {header: name, omit_if_not_present}
		a = RateLimitAction{Kind: RateLimitRequestHeaders, Key: name, Header: labelHeader(body, "header", path)}
		a.OmitIfNotPresent, _ = body.boolean("omit_if_not_present")
	}
	body.finish(nil)
	return a, !r.failed
}

func labelHeader(o *object, key, path string) string {
	h, ok := o.str(key)
	h = strings.ToLower(h)
	switch {
	case !ok:
		o.r.errorf(o.node, path+"."+key, "is required: the request header whose value is the descriptor's")
	case !headerName.MatchString(h):
		o.r.errorf(o.value(key), path+"."+key, "%q is not a header name", h)
	}
	return h
}

// fillIntervals are the units of local_rate_limit.per.
var fillIntervals = []string{"second", "minute", "hour"}

// decodeLocalRateLimit reads kfgate's local_rate_limit: {requests, per, burst}.
func decodeLocalRateLimit(o *object) *LocalRateLimit {
	if o == nil {
		return nil
	}
	l := &LocalRateLimit{Per: "second"}
	if n, ok := o.integer("requests", 1, 1<<31-1); ok {
		l.Requests = n
	} else if !o.has("requests") {
		o.r.errorf(o.node, o.field("requests"), "is required: the requests allowed per unit of time")
	}
	if p, ok := o.str("per"); ok {
		l.Per = strings.ToLower(p)
		if !contains(fillIntervals, l.Per) {
			o.r.errorf(o.value("per"), o.field("per"), "must be one of %s, got %q", strings.Join(fillIntervals, ", "), p)
		}
	}
	l.Burst = l.Requests
	if n, ok := o.integer("burst", 1, 1<<31-1); ok {
		if n < l.Requests {
			o.r.errorf(o.value("burst"), o.field("burst"), "%d is less than requests (%d): the bucket could never hold a unit's worth", n, l.Requests)
		}
		l.Burst = n
	}
	o.finish(nil)
	return l
}
