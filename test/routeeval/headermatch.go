package routeeval

import (
	"fmt"
	"strconv"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// headerLookup returns a header's value (repeated values joined with ",") and whether it exists.
type headerLookup func(name string) (string, bool)

type headerKind int

const (
	hdrPresent headerKind = iota
	hdrExact              // deprecated exact_match: an empty value matches anything
	hdrRegex              // deprecated safe_regex_match
	hdrRange
	hdrPrefix
	hdrSuffix
	hdrContains
	hdrString
)

// headerMatcher mirrors HeaderUtility::HeaderData (HU). No specifier means "present".
type headerMatcher struct {
	name           string // lower-case (HU: LowerCaseString name_)
	kind           headerKind
	present        bool
	value          string
	re             *fullRegex
	start, end     int64
	str            StringMatcher
	invert         bool
	missingAsEmpty bool
}

func compileHeaderMatcher(h *routev3.HeaderMatcher, path string) (headerMatcher, error) {
	hm := headerMatcher{name: asciiLower(h.GetName()), invert: h.GetInvertMatch(),
		missingAsEmpty: h.GetTreatMissingHeaderAsEmpty(), kind: hdrPresent, present: true}
	var err error
	switch s := h.GetHeaderMatchSpecifier().(type) {
	case *routev3.HeaderMatcher_ExactMatch:
		hm.kind, hm.value = hdrExact, s.ExactMatch
	case *routev3.HeaderMatcher_SafeRegexMatch:
		hm.kind = hdrRegex
		hm.re, err = compileRegex(s.SafeRegexMatch, path+".safe_regex_match")
	case *routev3.HeaderMatcher_RangeMatch:
		hm.kind, hm.start, hm.end = hdrRange, s.RangeMatch.GetStart(), s.RangeMatch.GetEnd()
	case *routev3.HeaderMatcher_PresentMatch:
		hm.present = s.PresentMatch
	case *routev3.HeaderMatcher_PrefixMatch:
		hm.kind, hm.value = hdrPrefix, s.PrefixMatch
	case *routev3.HeaderMatcher_SuffixMatch:
		hm.kind, hm.value = hdrSuffix, s.SuffixMatch
	case *routev3.HeaderMatcher_ContainsMatch:
		hm.kind, hm.value = hdrContains, s.ContainsMatch
	case *routev3.HeaderMatcher_StringMatch:
		hm.kind = hdrString
		hm.str, err = CompileStringMatcher(s.StringMatch, path+".string_match")
	}
	return hm, err
}

// match follows HeaderUtility::matchHeaders (HU): a missing header (without
// treat_missing_header_as_empty) matches only present_match:false, or an inverted
// present_match:true; invert_match never makes a missing header satisfy a value matcher.
// Otherwise the value (or "" for a missing header treated as empty) is tested and the result
// XOR-ed with invert_match.
func (h headerMatcher) match(get headerLookup) bool {
	value, ok := get(h.name)
	if !ok && !h.missingAsEmpty {
		if h.invert {
			return h.kind == hdrPresent && h.present
		}
		return h.kind == hdrPresent && !h.present
	}
	return h.matchValue(value) != h.invert
}

func (h headerMatcher) matchValue(v string) bool {
	switch h.kind {
	case hdrPresent:
		return h.present
	case hdrExact:
		return h.value == "" || v == h.value
	case hdrRegex:
		return h.re.match(v)
	case hdrRange:
		// absl::SimpleAtoi accepts surrounding ASCII whitespace and a sign; [start, end).
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		return err == nil && n >= h.start && n < h.end
	case hdrPrefix:
		return strings.HasPrefix(v, h.value)
	case hdrSuffix:
		return strings.HasSuffix(v, h.value)
	case hdrContains:
		return strings.Contains(v, h.value)
	default:
		return h.str.Match(v)
	}
}

func compileHeaderMatchers(hs []*routev3.HeaderMatcher, path string) ([]headerMatcher, error) {
	out := make([]headerMatcher, 0, len(hs))
	for i, h := range hs {
		hm, err := compileHeaderMatcher(h, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		out = append(out, hm)
	}
	return out, nil
}

// matchAllHeaders is HeaderUtility::matchHeaders over a list: all must match (HU).
func matchAllHeaders(ms []headerMatcher, get headerLookup) bool {
	for _, m := range ms {
		if !m.match(get) {
			return false
		}
	}
	return true
}

// queryMatcher mirrors ConfigUtility::QueryParameterMatcher (CU).
type queryMatcher struct {
	name       string
	hasPresent bool // present_match set
	present    bool
	hasString  bool
	str        StringMatcher
}

func compileQueryMatcher(q *routev3.QueryParameterMatcher, path string) (queryMatcher, error) {
	qm := queryMatcher{name: q.GetName()}
	switch s := q.GetQueryParameterMatchSpecifier().(type) {
	case *routev3.QueryParameterMatcher_PresentMatch:
		qm.hasPresent, qm.present = true, s.PresentMatch
	case *routev3.QueryParameterMatcher_StringMatch:
		var err error
		qm.hasString = true
		qm.str, err = CompileStringMatcher(s.StringMatch, path+".string_match")
		if err != nil {
			return qm, err
		}
	}
	return qm, nil
}

// match uses only the first value of the key (CU: "legacy behavior of ignoring all but the first
// value"). With present_match set, the result is presence == present_match (runtime guard
// enable_new_query_param_present_match_behavior, on by default); with neither specifier the
// matcher is a presence check; values are compared as received, not percent-decoded.
func (q queryMatcher) match(params map[string]string) bool {
	v, ok := params[q.name]
	if q.hasPresent {
		return ok == q.present
	}
	if !ok {
		return false
	}
	return !q.hasString || q.str.Match(v)
}

// parseQuery mirrors Utility::QueryParamsMulti::parseQueryString (UT) without decoding: the text
// after the first '?', split on '&', each at its first '='; a key without '=' has value "".
// Only the first value of each key is kept, as the matchers use only that one.
func parseQuery(path string) map[string]string {
	i := strings.IndexByte(path, '?')
	if i < 0 {
		return nil
	}
	params := map[string]string{}
	for _, p := range strings.Split(path[i+1:], "&") {
		if p == "" {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		if _, seen := params[k]; !seen {
			params[k] = v
		}
	}
	return params
}
