package routeeval

import (
	"fmt"
	"net"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// fmtPart is one piece of a header value format: literal text or a %COMMAND%.
type fmtPart struct {
	literal string
	command string // "" for a literal
}

// formatCommands are the substitution-formatter commands the evaluator models; any other command
// makes Compile fail. Values come from Request.RemoteAddress.
var formatCommands = map[string]func(Request) string{
	"DOWNSTREAM_REMOTE_ADDRESS": func(r Request) string { return r.RemoteAddress },
	"DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT": func(r Request) string {
		if host, _, err := net.SplitHostPort(r.RemoteAddress); err == nil {
			return host
		}
		return r.RemoteAddress
	},
}

// parseFormat splits a header value into literals and commands the way Envoy's substitution
// formatter reads it (HP parseHttpHeaderFormatter → Formatter::FormatterImpl): "%%" is a literal
// '%', "%NAME%" a command. Commands with arguments and unknown commands are rejected.
func parseFormat(value, path string) ([]fmtPart, error) {
	var parts []fmtPart
	var lit strings.Builder
	for i := 0; i < len(value); i++ {
		if value[i] != '%' {
			lit.WriteByte(value[i])
			continue
		}
		if i+1 < len(value) && value[i+1] == '%' {
			lit.WriteByte('%')
			i++
			continue
		}
		end := strings.IndexByte(value[i+1:], '%')
		if end < 0 {
			return nil, fmt.Errorf("routeeval: %s: unterminated %% command in %q", path, value)
		}
		cmd := value[i+1 : i+1+end]
		if formatCommands[cmd] == nil {
			return nil, fmt.Errorf("routeeval: %s: header formatter %%%s%% is not modelled", path, cmd)
		}
		if lit.Len() > 0 {
			parts = append(parts, fmtPart{literal: lit.String()})
			lit.Reset()
		}
		parts = append(parts, fmtPart{command: cmd})
		i += end + 1
	}
	if lit.Len() > 0 {
		parts = append(parts, fmtPart{literal: lit.String()})
	}
	return parts, nil
}

func formatValue(parts []fmtPart, req Request) string {
	var b strings.Builder
	for _, p := range parts {
		if p.command == "" {
			b.WriteString(p.literal)
		} else {
			b.WriteString(formatCommands[p.command](req))
		}
	}
	return b.String()
}

type headerAddSpec struct {
	key       string
	parts     []fmtPart
	action    corev3.HeaderValueOption_HeaderAppendAction
	keepEmpty bool
}

// headerOps is one HeaderParser (HP): the removals and additions of one configuration level.
type headerOps struct {
	remove []string
	add    []headerAddSpec
}

// compileHeaderOps mirrors HeaderParser::configure (HP): pseudo-headers and host may be neither
// added nor removed; "append" (deprecated BoolValue) maps to APPEND_IF_EXISTS_OR_ADD (true) or
// OVERWRITE_IF_EXISTS_OR_ADD (false) and may not be combined with a non-default append_action;
// names are lower-cased.
func compileHeaderOps(adds []*corev3.HeaderValueOption, removes []string, path string) (*headerOps, error) {
	if len(adds) == 0 && len(removes) == 0 {
		return nil, nil
	}
	ops := &headerOps{}
	for i, hv := range adds {
		spec, err := compileHeaderAdd(hv, fmt.Sprintf("%s_headers_to_add[%d]", path, i))
		if err != nil {
			return nil, err
		}
		ops.add = append(ops.add, spec)
	}
	for _, h := range removes {
		if !modifiableHeader(h) {
			return nil, fmt.Errorf("routeeval: %s_headers_to_remove: :-prefixed or host headers may not be removed (%q)", path, h)
		}
		ops.remove = append(ops.remove, asciiLower(h))
	}
	return ops, nil
}

func compileHeaderAdd(hv *corev3.HeaderValueOption, path string) (headerAddSpec, error) {
	key := hv.GetHeader().GetKey()
	if !modifiableHeader(key) {
		return headerAddSpec{}, fmt.Errorf("routeeval: %s: :-prefixed or host headers may not be modified (%q)", path, key)
	}
	action := hv.GetAppendAction()
	if hv.GetAppend() != nil {
		if action != corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD {
			return headerAddSpec{}, fmt.Errorf("routeeval: %s: both append and append_action are set", path)
		}
		if !hv.GetAppend().GetValue() {
			action = corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
		}
	}
	parts, err := parseFormat(hv.GetHeader().GetValue(), path+".header.value")
	if err != nil {
		return headerAddSpec{}, err
	}
	return headerAddSpec{key: asciiLower(key), parts: parts, action: action, keepEmpty: hv.GetKeepEmptyValue()}, nil
}

// modifiableHeader is HeaderUtility::isModifiableHeader / isRemovableHeader.
func modifiableHeader(name string) bool {
	return name != "" && name[0] != ':' && asciiLower(name) != "host"
}

// evaluate substitutes formatters for one request.
func (o *headerOps) evaluate(level Level, req Request) HeaderMutation {
	m := HeaderMutation{Level: level, Remove: o.remove}
	for _, a := range o.add {
		m.Add = append(m.Add, Header{Key: a.key, Value: formatValue(a.parts, req), AppendAction: a.action, KeepEmptyValue: a.keepEmpty})
	}
	return m
}

// applyMutation is HeaderParser::evaluateHeaders (HP): removals, then additions computed against
// the headers as they were before any addition; overwrites are applied before appends. An empty
// value is skipped unless keep_empty_value is set. Appending to an existing header joins with ",".
func applyMutation(h map[string]string, m HeaderMutation) {
	for _, k := range m.Remove {
		delete(h, k)
	}
	var overwrite, add []Header
	for _, a := range m.Add {
		if a.Value == "" && !a.KeepEmptyValue {
			continue
		}
		_, exists := h[a.Key]
		switch a.AppendAction {
		case corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD:
			add = append(add, a)
		case corev3.HeaderValueOption_ADD_IF_ABSENT:
			if !exists {
				add = append(add, a)
			}
		case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS:
			if exists {
				overwrite = append(overwrite, a)
			}
		default: // OVERWRITE_IF_EXISTS_OR_ADD
			overwrite = append(overwrite, a)
		}
	}
	for _, a := range overwrite {
		h[a.Key] = a.Value
	}
	for _, a := range add {
		if old, ok := h[a.Key]; ok {
			h[a.Key] = old + "," + a.Value
		} else {
			h[a.Key] = a.Value
		}
	}
}
