package envoystandin

import (
	"errors"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// mutationAction is how the ext_authz filter applies one header of a CheckResponse (GI
// toHeaderMutationAction, Envoy 1.37+).
type mutationAction int

const (
	mutSet               mutationAction = iota // overwrite or add
	mutAdd                                     // another value (a new header line)
	mutAppend                                  // deprecated append:true on a request header: join to an existing value
	mutAddIfAbsent                             // only when absent
	mutOverwriteIfExists                       // only when present
)

type mutation struct {
	key, value string
	action     mutationAction
}

// mutationsOf reads HeaderValueOptions: the deprecated append wins when set (true: append to a
// request header, add a line to a response header; false: overwrite); unset, append_action
// decides, whose default APPEND_IF_EXISTS_OR_ADD adds.
func mutationsOf(hs []*corev3.HeaderValueOption, response bool) []mutation {
	var out []mutation
	for _, h := range hs {
		m := mutation{key: lower(h.GetHeader().GetKey()), value: h.GetHeader().GetValue()}
		//nolint:staticcheck // append is deprecated, and still honoured by Envoy
		if ap := h.GetAppend(); ap != nil {
			switch {
			case !ap.GetValue():
				m.action = mutSet
			case response:
				m.action = mutAdd
			default:
				m.action = mutAppend
			}
		} else {
			switch h.GetAppendAction() {
			case corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD:
				m.action = mutAdd
			case corev3.HeaderValueOption_ADD_IF_ABSENT:
				m.action = mutAddIfAbsent
			case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS:
				m.action = mutOverwriteIfExists
			default:
				m.action = mutSet
			}
		}
		out = append(out, m)
	}
	return out
}

// applyMutations applies mutations in order to a response header map (lower-case names).
func applyMutations(h headerMap, ms []mutation) {
	for _, m := range ms {
		_, exists := h[m.key]
		switch m.action {
		case mutSet:
			h[m.key] = []string{m.value}
		case mutAdd:
			h[m.key] = append(h[m.key], m.value)
		case mutAppend:
			if exists {
				h[m.key][len(h[m.key])-1] += "," + m.value
			}
		case mutAddIfAbsent:
			if !exists {
				h[m.key] = []string{m.value}
			}
		case mutOverwriteIfExists:
			if exists {
				h[m.key] = []string{m.value}
			}
		}
	}
}

// applyRequestMutations applies mutations in order to the request. Pseudo-headers may be set
// (Envoy blocks them only with decoder_header_mutation_rules, not in the allowlist); an added
// value joins the existing one with ",", as the header map's entries would be on the wire.
func (s *stream) applyRequestMutations(ms []mutation) {
	for _, m := range ms {
		if p := s.pseudo(m.key); p != nil {
			if m.action != mutAddIfAbsent {
				*p = m.value
			}
			continue
		}
		h := s.req.headers
		old, exists := h[m.key]
		switch {
		case m.action == mutSet, m.action == mutOverwriteIfExists && exists, m.action == mutAddIfAbsent && !exists:
			h[m.key] = m.value
		case (m.action == mutAdd || m.action == mutAppend) && exists:
			h[m.key] = old + "," + m.value
		case m.action == mutAdd:
			h[m.key] = m.value
		}
	}
}

func (s *stream) pseudo(key string) *string {
	switch key {
	case ":path":
		return &s.req.path
	case ":authority", "host":
		return &s.req.authority
	case ":method":
		return &s.req.method
	case ":scheme":
		return &s.req.scheme
	}
	return nil
}

// pseudoHeaders is the request's header map with its pseudo-headers.
func (s *stream) pseudoHeaders() map[string]string {
	out := make(map[string]string, len(s.req.headers)+4)
	for k, v := range s.req.headers {
		out[k] = v
	}
	out[":authority"], out[":path"], out[":method"], out[":scheme"] = s.req.authority, s.req.path, s.req.method, s.req.scheme
	return out
}

// modifiable is HeaderUtility::isRemovableHeader: not a pseudo-header, not host.
func modifiable(k string) bool { return k != "" && k[0] != ':' && !strings.EqualFold(k, "host") }

func lower(s string) string { return strings.ToLower(s) }

// rewriteQuery applies query_parameters_to_set and _to_remove (EC): the query is parsed into a map
// (the first value of a name kept), changed, and written back sorted by name.
func rewriteQuery(p string, set []*corev3.QueryParameter, remove []string) string {
	path, query := splitQuery(p)
	params := map[string]string{}
	for _, kv := range strings.Split(strings.TrimPrefix(query, "?"), "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		if _, ok := params[k]; !ok {
			params[k] = v
		}
	}
	for _, q := range set {
		params[q.GetKey()] = q.GetValue()
	}
	for _, k := range remove {
		delete(params, k)
	}
	if len(params) == 0 {
		return path
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k + "=" + params[k])
	}
	return path + "?" + b.String()
}

// bufferBody buffers the request body for the check, as the filter's decodeData does: until the
// body ends or max bytes are buffered. Envoy receives the body in chunks of up to 16 KiB, so the
// buffer may hold more than max; here it holds at most the chunk that crossed max. The stream's
// body goes on with the buffered bytes first. full reports whether the body fit in max bytes.
func (s *stream) bufferBody(max int) (body []byte, full bool, err error) {
	const chunk = 16 << 10
	var buf []byte
	for len(buf) <= max {
		b := make([]byte, chunk)
		n, err := s.body.Read(b)
		buf = append(buf, b[:n]...)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, false, err
		}
	}
	s.body.pre = buf
	if len(buf) > max {
		return buf[:max], false, nil
	}
	return buf, true, nil
}

// sanitizeUTF8 is MessageUtil::sanitizeUtf8String: invalid bytes become '!'.
func sanitizeUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteByte('!')
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
