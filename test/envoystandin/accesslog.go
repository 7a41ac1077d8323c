package envoystandin

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	filev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	streamv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	"google.golang.org/protobuf/types/known/structpb"
)

// defaultLogFormat is Envoy's default access log format.
const defaultLogFormat = `[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" ` +
	`%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% ` +
	`%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" ` +
	`"%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"` + "\n"

// accessLogger is a stdout or file access logger with a text or JSON format.
type accessLogger struct {
	text []logPart            // text format
	json map[string][]logPart // JSON format: key → value template
}

// logPart is a literal or a command operator: NAME(ARG?ALT):MAXLEN.
type logPart struct {
	literal       string
	cmd, arg, alt string
	maxLen        int
}

func compileAccessLog(al *accesslogv3.AccessLog, path string) (*accessLogger, error) {
	var format *corev3.SubstitutionFormatString
	switch typeName(al.GetTypedConfig().GetTypeUrl()) {
	case "envoy.extensions.access_loggers.stream.v3.StdoutAccessLog":
		l, err := unpack(al.GetTypedConfig(), &streamv3.StdoutAccessLog{}, path)
		if err != nil {
			return nil, err
		}
		format = l.GetLogFormat()
	case "envoy.extensions.access_loggers.file.v3.FileAccessLog":
		l, err := unpack(al.GetTypedConfig(), &filev3.FileAccessLog{}, path)
		if err != nil {
			return nil, err
		}
		format = l.GetLogFormat()
	default:
		return nil, fmt.Errorf("%s: access logger %s is not implemented", path, al.GetTypedConfig().GetTypeUrl())
	}
	out := &accessLogger{}
	var err error
	switch {
	case format.GetJsonFormat() != nil:
		out.json = map[string][]logPart{}
		for k, v := range format.GetJsonFormat().GetFields() {
			sv, ok := v.GetKind().(*structpb.Value_StringValue)
			if !ok {
				return nil, fmt.Errorf("%s.json_format[%s]: only string values are implemented", path, k)
			}
			if out.json[k], err = parseLogFormat(sv.StringValue); err != nil {
				return nil, fmt.Errorf("%s.json_format[%s]: %w", path, k, err)
			}
		}
	case format.GetTextFormatSource() != nil:
		out.text, err = parseLogFormat(string(dataSource(format.GetTextFormatSource())))
	default:
		out.text, err = parseLogFormat(defaultLogFormat)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// logCommands are the command operators implemented, and whether each gives a number in JSON.
var logCommands = map[string]bool{
	"START_TIME": false, "REQ": false, "RESP": false, "RESPONSE_CODE": true, "RESPONSE_FLAGS": false,
	"BYTES_RECEIVED": true, "BYTES_SENT": true, "DURATION": true, "PROTOCOL": false, "ROUTE_NAME": false,
	"UPSTREAM_HOST": false, "UPSTREAM_CLUSTER": false, "DOWNSTREAM_REMOTE_ADDRESS": false,
	"DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT": false, "DOWNSTREAM_LOCAL_ADDRESS": false,
}

func parseLogFormat(f string) ([]logPart, error) {
	var out []logPart
	var lit strings.Builder
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			lit.WriteByte(f[i])
			continue
		}
		end := strings.IndexByte(f[i+1:], '%')
		if end < 0 {
			return nil, fmt.Errorf("unterminated command in %q", f)
		}
		if end == 0 { // "%%"
			lit.WriteByte('%')
			i++
			continue
		}
		p, err := parseCommand(f[i+1 : i+1+end])
		if err != nil {
			return nil, err
		}
		if lit.Len() > 0 {
			out = append(out, logPart{literal: lit.String()})
			lit.Reset()
		}
		out = append(out, p)
		i += end + 1
	}
	if lit.Len() > 0 {
		out = append(out, logPart{literal: lit.String()})
	}
	return out, nil
}

func parseCommand(c string) (logPart, error) {
	p := logPart{cmd: c}
	if i := strings.LastIndex(c, "):"); i >= 0 {
		n, err := strconv.Atoi(c[i+2:])
		if err != nil {
			return p, fmt.Errorf("bad length in %%%s%%", c)
		}
		p.maxLen, c = n, c[:i+1]
	}
	if i := strings.IndexByte(c, '('); i >= 0 {
		if !strings.HasSuffix(c, ")") {
			return p, fmt.Errorf("bad command %%%s%%", c)
		}
		p.cmd, p.arg = c[:i], c[i+1:len(c)-1]
		if j := strings.IndexByte(p.arg, '?'); j >= 0 {
			p.arg, p.alt = p.arg[:j], p.arg[j+1:]
		}
		p.arg, p.alt = strings.ToLower(p.arg), strings.ToLower(p.alt)
	} else {
		p.cmd = c
	}
	if _, ok := logCommands[p.cmd]; !ok || (p.arg != "") != (p.cmd == "REQ" || p.cmd == "RESP") {
		return p, fmt.Errorf("access log command %%%s%% is not implemented", c)
	}
	return p, nil
}

// logLine is one request's values for the command operators ("", false when a value is absent).
type logLine func(p logPart) (string, bool)

func (l *accessLogger) format(v logLine) string {
	if l.json == nil {
		var b strings.Builder
		for _, p := range l.text {
			b.WriteString(renderText(p, v))
		}
		return b.String()
	}
	out := map[string]any{}
	for _, k := range slices.Sorted(maps.Keys(l.json)) {
		parts := l.json[k]
		if len(parts) == 1 && parts[0].cmd != "" {
			// A lone command keeps its type: a number, or null when absent.
			s, ok := valueOf(parts[0], v)
			switch {
			case !ok:
				out[k] = nil
			case logCommands[parts[0].cmd]:
				n, _ := strconv.ParseInt(s, 10, 64)
				out[k] = n
			default:
				out[k] = s
			}
			continue
		}
		var b strings.Builder
		for _, p := range parts {
			b.WriteString(renderText(p, v))
		}
		out[k] = b.String()
	}
	j, _ := json.Marshal(out)
	return string(j) + "\n"
}

func renderText(p logPart, v logLine) string {
	if p.cmd == "" {
		return p.literal
	}
	s, ok := valueOf(p, v)
	if !ok {
		return "-"
	}
	return s
}

func valueOf(p logPart, v logLine) (string, bool) {
	s, ok := v(p)
	if ok && p.maxLen > 0 && len(s) > p.maxLen {
		s = s[:p.maxLen]
	}
	return s, ok
}

// log writes the stream's line to every access logger of the connection manager.
func (s *stream) log(resp *response, sent int64) {
	if len(s.hcm.logs) == 0 || s.e.opts.AccessLog == nil {
		return
	}
	reqHeaders := s.logged
	if reqHeaders == nil {
		reqHeaders = s.pseudoHeaders()
	}
	v := func(p logPart) (string, bool) {
		switch p.cmd {
		case "START_TIME":
			return s.start.UTC().Format("2006-01-02T15:04:05.000Z"), true
		case "REQ", "RESP":
			get := func(k string) (string, bool) { v, ok := reqHeaders[k]; return v, ok }
			if p.cmd == "RESP" {
				get = func(k string) (string, bool) {
					vs, ok := resp.header[k]
					return strings.Join(vs, ","), ok
				}
			}
			if v, ok := get(p.arg); ok {
				return v, true
			}
			if p.alt != "" {
				return get(p.alt)
			}
			return "", false
		case "RESPONSE_CODE":
			return strconv.Itoa(resp.status), true
		case "RESPONSE_FLAGS":
			if len(s.flags) == 0 {
				return "", false
			}
			return strings.Join(s.flags, ","), true
		case "BYTES_RECEIVED":
			return itoa(s.body.n), true
		case "BYTES_SENT":
			return itoa(sent), true
		case "DURATION":
			return itoa(time.Since(s.start).Milliseconds()), true
		case "PROTOCOL":
			return s.protocol, true
		case "ROUTE_NAME":
			return s.decision.RouteName, s.decision.RouteName != ""
		case "UPSTREAM_HOST":
			return s.upstream, s.upstream != ""
		case "UPSTREAM_CLUSTER":
			return s.decision.Cluster, s.decision.Cluster != ""
		case "DOWNSTREAM_REMOTE_ADDRESS":
			return s.remote, true
		case "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT":
			return hostOnly(s.remote), true
		default: // DOWNSTREAM_LOCAL_ADDRESS
			return s.local, true
		}
	}
	for _, l := range s.hcm.logs {
		line := l.format(v)
		s.e.logMu.Lock()
		_, _ = io.WriteString(s.e.opts.AccessLog, line)
		s.e.logMu.Unlock()
	}
}
