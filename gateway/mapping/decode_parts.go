package mapping

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// decodeHeaders reads add_/remove_ request/response headers (shared by Mapping and Module).
func decodeHeaders(o *object, addReq, addResp *[]HeaderValue, rmReq, rmResp *[]string) {
	*addReq = headerValues(o, "add_request_headers")
	*addResp = headerValues(o, "add_response_headers")
	*rmReq = headerList(o, "remove_request_headers")
	*rmResp = headerList(o, "remove_response_headers")
}

func headerList(o *object, key string) []string {
	list := o.strList(key, false)
	for i, h := range list {
		list[i] = strings.ToLower(h)
		if !headerName.MatchString(list[i]) || strings.HasPrefix(list[i], ":") || list[i] == "host" {
			o.r.errorf(o.value(key), fmt.Sprintf("%s[%d]", o.field(key), i), "%q is not a header that can be removed", h)
		}
	}
	return list
}

// headerValues reads `name: value` or `name: {value, append}`; append defaults to true as in Emissary.
func headerValues(o *object, key string) []HeaderValue {
	v := o.get(key)
	if v == nil {
		return nil
	}
	if v.Kind != yaml.MappingNode {
		o.r.errorf(v, o.field(key), "must be a mapping of header name to value, got %s", describe(v))
		return nil
	}
	var out []HeaderValue
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], deref(v.Content[i+1])
		field := o.field(key) + "." + k.Value
		hv := HeaderValue{Name: strings.ToLower(k.Value), Append: true}
		if !headerName.MatchString(hv.Name) || strings.HasPrefix(hv.Name, ":") || hv.Name == "host" {
			o.r.errorf(k, field, "%q is not a header that can be set (Envoy refuses pseudo-headers and host; use host_rewrite)", k.Value)
		}
		switch {
		case val.Kind == yaml.ScalarNode && val.Tag == "!!null":
			o.r.errorf(val, field, "must be a string (use \"\" for an empty value), got null")
		case val.Kind == yaml.ScalarNode:
			hv.Value = val.Value
		case val.Kind == yaml.MappingNode:
			sub := o.r.object(field, val)
			hv.Value, _ = sub.str("value")
			if a, ok := sub.boolean("append"); ok {
				hv.Append = a
			}
			sub.finish(nil)
		default:
			o.r.errorf(val, field, "must be a string or {value, append}, got %s", describe(val))
		}
		if strings.ContainsAny(hv.Value, "\r\n\x00") {
			o.r.errorf(val, field, "value must not contain CR, LF or NUL")
		}
		out = append(out, hv)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func stringMap(o *object, key string) map[string]string {
	v := o.get(key)
	if v == nil {
		return nil
	}
	if v.Kind != yaml.MappingNode {
		o.r.errorf(v, o.field(key), "must be a mapping of string to string, got %s", describe(v))
		return nil
	}
	out := map[string]string{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], deref(v.Content[i+1])
		if val.Kind != yaml.ScalarNode || val.Tag == "!!null" {
			o.r.errorf(val, o.field(key)+"."+k.Value, "must be a string, got %s", describe(val))
			continue
		}
		out[k.Value] = val.Value
	}
	return out
}

func decodeCORS(o *object) *CORS {
	if o == nil {
		return nil
	}
	c := &CORS{
		Origins:        o.strList("origins", true),
		Methods:        o.strList("methods", true),
		Headers:        o.strList("headers", true),
		ExposedHeaders: o.strList("exposed_headers", true),
	}
	c.Credentials, _ = o.boolean("credentials")
	if v := o.get("max_age"); v != nil {
		if n, err := scalarInt(v); err == nil && n >= 0 {
			c.MaxAge = strconv.FormatInt(n, 10)
		} else if _, err := strconv.ParseUint(v.Value, 10, 32); err == nil && v.Kind == yaml.ScalarNode {
			c.MaxAge = v.Value
		} else {
			o.r.errorf(v, o.field("max_age"), "must be a number of seconds, got %s", describe(v))
		}
	}
	for i, origin := range c.Origins {
		if origin != "*" && !strings.Contains(origin, "://") {
			o.r.errorf(o.value("origins"), fmt.Sprintf("%s[%d]", o.field("origins"), i), "%q must be * or a scheme://host origin", origin)
		}
	}
	o.finish(nil)
	return c
}

// Envoy's retry_on conditions (router filter docs, x-envoy-retry-on and x-envoy-retry-grpc-on).
var retryOn = map[string]bool{
	"5xx": true, "gateway-error": true, "reset": true, "reset-before-request": true, "connect-failure": true,
	"envoy-ratelimited": true, "retriable-4xx": true, "refused-stream": true, "retriable-status-codes": true,
	"retriable-headers": true, "http3-post-connect-failure": true, "cancelled": true, "deadline-exceeded": true,
	"internal": true, "resource-exhausted": true, "unavailable": true,
}

func decodeRetry(o *object) *RetryPolicy {
	if o == nil {
		return nil
	}
	rp := &RetryPolicy{}
	rp.RetryOn, _ = o.str("retry_on")
	for _, cond := range strings.Split(rp.RetryOn, ",") {
		if cond = strings.TrimSpace(cond); cond != "" && !retryOn[cond] {
			o.r.errorf(o.value("retry_on"), o.field("retry_on"), "unknown retry condition %q", cond)
		}
	}
	if n, ok := o.integer("num_retries", 0, 100); ok {
		rp.NumRetries = &n
	}
	if s, ok := o.str("per_try_timeout"); ok {
		if _, err := ParseDuration(s); err != nil {
			o.r.errorf(o.value("per_try_timeout"), o.field("per_try_timeout"), "%v", err)
		}
		rp.PerTryTimeout = s
	}
	o.finish(nil)
	return rp
}

// ParseDuration accepts Go durations ("500ms", "1.5s") and bare numbers of seconds, never negative.
func ParseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || math.IsNaN(f) || math.IsInf(f, 0) || f > 24*3600 || f < 0 {
			return 0, fmt.Errorf("%q is not a duration (e.g. \"500ms\", \"2s\")", s)
		}
		d = time.Duration(f * float64(time.Second))
	}
	if d < 0 || d > 24*time.Hour {
		return 0, fmt.Errorf("%q must be between 0 and 24h", s)
	}
	return d, nil
}

func decodeCircuitBreakers(o *object, key string) []CircuitBreaker {
	v := o.get(key)
	if v == nil {
		return nil
	}
	if v.Kind != yaml.SequenceNode {
		o.r.errorf(v, o.field(key), "must be a list, got %s", describe(v))
		return nil
	}
	var out []CircuitBreaker
	seen := map[string]bool{}
	for i, e := range v.Content {
		c := o.r.object(fmt.Sprintf("%s[%d]", o.field(key), i), deref(e))
		if c.pairs == nil {
			continue // not a mapping: reported
		}
		cb := CircuitBreaker{Priority: "default"}
		if p, ok := c.str("priority"); ok {
			cb.Priority = strings.ToLower(p)
		}
		if cb.Priority != "default" && cb.Priority != "high" {
			c.r.errorf(c.value("priority"), c.field("priority"), "must be default or high, got %q", cb.Priority)
		}
		if seen[cb.Priority] {
			c.r.errorf(e, c.field("priority"), "priority %q is listed twice", cb.Priority)
		}
		seen[cb.Priority] = true
		for _, f := range []struct {
			key string
			dst **int64
		}{{"max_connections", &cb.MaxConnections}, {"max_pending_requests", &cb.MaxPendingRequests},
			{"max_requests", &cb.MaxRequests}, {"max_retries", &cb.MaxRetries}} {
			if n, ok := c.integer(f.key, 0, 1<<32-1); ok {
				*f.dst = &n
			}
		}
		c.finish(nil)
		out = append(out, cb)
	}
	return out
}

func decodeLoadBalancer(o *object) *LoadBalancer {
	if o == nil {
		return nil
	}
	lb := &LoadBalancer{}
	lb.Policy, _ = o.str("policy")
	lb.Policy = strings.ToLower(lb.Policy)
	switch lb.Policy {
	case "round_robin", "least_request", "ring_hash", "maglev":
	default:
		o.r.errorf(o.node, o.field("policy"), "must be round_robin, least_request, ring_hash or maglev, got %q", lb.Policy)
	}
	if c := o.child("cookie"); c != nil {
		lb.Cookie = &Cookie{}
		if lb.Cookie.Name, _ = c.str("name"); lb.Cookie.Name == "" {
			c.r.errorf(c.node, c.field("name"), "is required")
		}
		lb.Cookie.Path, _ = c.str("path")
		if ttl, ok := c.str("ttl"); ok {
			if _, err := ParseDuration(ttl); err != nil {
				c.r.errorf(c.value("ttl"), c.field("ttl"), "%v", err)
			}
			lb.Cookie.TTL = ttl
		}
		c.finish(nil)
	}
	lb.Header, _ = o.str("header")
	lb.Header = strings.ToLower(lb.Header)
	lb.SourceIP, _ = o.boolean("source_ip")
	n := 0
	for _, set := range []bool{lb.Cookie != nil, lb.Header != "", lb.SourceIP} {
		if set {
			n++
		}
	}
	hashing := lb.Policy == "ring_hash" || lb.Policy == "maglev"
	switch {
	case hashing && n != 1:
		o.r.errorf(o.node, o.path, "%s needs exactly one of cookie, header or source_ip", lb.Policy)
	case !hashing && n > 0:
		o.r.errorf(o.node, o.path, "cookie, header and source_ip apply only to ring_hash and maglev")
	}
	o.finish(nil)
	return lb
}
