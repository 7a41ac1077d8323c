package build

import (
	"sort"
	"strings"

	"github.com/kfgate/kfgate/gateway/ir"
	"github.com/kfgate/kfgate/gateway/mapping"
)

// Report says, per source object, which documents it holds, the routes they became and every
// diagnostic: what the diagnostics page and config.json show.
type Report struct {
	Objects []*ObjectReport `json:"objects"`
	Summary Summary         `json:"summary"`
}

// Summary counts what a build holds.
type Summary struct {
	Objects  int `json:"objects"`
	Mappings int `json:"mappings"`
	Routes   int `json:"routes"`
	Clusters int `json:"clusters"`
	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
	Infos    int `json:"infos"`
}

// ObjectReport is one Service or file.
type ObjectReport struct {
	Object      string               `json:"object"`
	Documents   []DocumentReport     `json:"documents"`
	Diagnostics []mapping.Diagnostic `json:"diagnostics"`
}

// DocumentReport is one valid document and its routes.
type DocumentReport struct {
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// Key is the annotation the document came from (empty for bare documents in files).
	Key    string        `json:"key,omitempty"`
	Routes []RouteReport `json:"routes,omitempty"`
	TLS    *TLSReport    `json:"tls,omitempty"` // a TLSContext (or the tls Module) serving HTTPS
}

// TLSReport is what a TLSContext serves: its hosts over HTTPS with this certificate (never its key).
type TLSReport struct {
	Hosts       []string     `json:"hosts"`
	Secret      string       `json:"secret"`
	Certificate *ir.CertInfo `json:"certificate,omitempty"`
}

// RouteReport is a route as a person reads it.
type RouteReport struct {
	VirtualHost string `json:"virtualHost"`
	Match       string `json:"match"`
	Rewrite     string `json:"rewrite,omitempty"`
	Target      string `json:"target"`
}

func newReport(texts []*text, res *Result) *Report {
	rep := &Report{Summary: res.Summary}
	byObject := map[string]*ObjectReport{}
	get := func(s mapping.Source) *ObjectReport {
		name := s.Object()
		o, ok := byObject[name]
		if !ok {
			o = &ObjectReport{Object: name, Documents: []DocumentReport{}, Diagnostics: []mapping.Diagnostic{}}
			byObject[name] = o
		}
		return o
	}
	for _, t := range texts {
		get(t.src)
	}
	routes := routesByDocument(res.Config)
	served := tlsByDocument(res.Config)
	for _, d := range res.Documents() {
		key := d.Kind + "/" + d.Namespace + "/" + d.Name
		var tls *TLSReport
		if d.Kind == mapping.KindTLSContext || (d.Kind == mapping.KindModule && d.Name == "tls") {
			tls = served[ir.ChainName(d.Kind, d.Namespace, d.Name)]
		}
		get(d.Source).Documents = append(get(d.Source).Documents, DocumentReport{Kind: d.Kind, Name: d.Name, Namespace: d.Namespace,
			Key: d.Source.Key, Routes: routes[key], TLS: tls})
	}
	for _, d := range res.Diagnostics {
		o := get(d.Source)
		o.Diagnostics = append(o.Diagnostics, d)
	}
	for _, o := range byObject {
		rep.Objects = append(rep.Objects, o)
	}
	sort.Slice(rep.Objects, func(i, j int) bool { return rep.Objects[i].Object < rep.Objects[j].Object })
	return rep
}

// tlsByDocument describes each filter chain of the HTTPS listener, by its name (ir.ChainName).
func tlsByDocument(cfg *ir.Config) map[string]*TLSReport {
	if cfg.HTTPS == nil {
		return nil
	}
	certs := map[string]*ir.CertInfo{}
	for _, s := range cfg.Secrets {
		certs[s.Name] = &s.Info
	}
	out := map[string]*TLSReport{}
	for _, fc := range cfg.HTTPS.Chains {
		hosts := fc.ServerNames
		if len(hosts) == 0 {
			hosts = []string{ir.WildcardHost}
		}
		out[fc.Name] = &TLSReport{Hosts: hosts, Secret: fc.Secret, Certificate: certs[fc.Secret]}
	}
	return out
}

// summarize counts what a build holds from running totals, cheaply enough for every build (metrics).
func (e *Engine) summarize(res *Result) Summary {
	s := Summary{Objects: len(e.objects), Mappings: e.mappings, Clusters: len(res.Config.Clusters)}
	for _, d := range res.Diagnostics {
		switch d.Severity {
		case mapping.SeverityError:
			s.Errors++
		case mapping.SeverityWarning:
			s.Warnings++
		default:
			s.Infos++
		}
	}
	for _, vh := range res.Config.VirtualHosts {
		s.Routes += len(vh.Routes)
	}
	return s
}

type objectKey struct{ kind, namespace, name, file string }

func routesByDocument(cfg *ir.Config) map[string][]RouteReport {
	out := map[string][]RouteReport{}
	for _, vh := range cfg.VirtualHosts {
		for _, rt := range vh.Routes {
			rr := RouteReport{VirtualHost: vh.Name, Match: describeMatch(rt.Match), Target: describeTarget(rt)}
			if rt.PrefixRewrite != nil {
				rr.Rewrite = *rt.PrefixRewrite
			} else if rt.RegexRewrite != nil {
				rr.Rewrite = rt.RegexRewrite.Pattern + " → " + rt.RegexRewrite.Substitution
			}
			for _, o := range rt.Origins {
				key := mapping.KindMapping + "/" + o.Namespace + "/" + o.Mapping
				out[key] = append(out[key], rr)
			}
		}
	}
	return out
}

func describeMatch(m ir.Match) string {
	var parts []string
	switch {
	case m.Regex != "":
		parts = append(parts, "regex "+m.Regex)
	case m.Path != "":
		parts = append(parts, "path "+m.Path)
	default:
		parts = append(parts, "prefix "+m.Prefix)
	}
	if !m.CaseSensitive {
		parts = append(parts, "(case-insensitive)")
	}
	for _, h := range append(append([]mapping.KeyMatch(nil), m.Headers...), m.Query...) {
		switch {
		case h.Present:
			parts = append(parts, h.Name+" present")
		case h.Regex:
			parts = append(parts, h.Name+" ~ "+h.Value)
		default:
			parts = append(parts, h.Name+"="+h.Value)
		}
	}
	return strings.Join(parts, " ")
}

func describeTarget(rt *ir.Route) string {
	if rt.Redirect != nil {
		return "redirect to " + rt.Redirect.Host
	}
	var parts []string
	for _, c := range rt.Clusters {
		if len(rt.Clusters) > 1 {
			parts = append(parts, c.Cluster+" ("+itoa(c.Weight)+"%)")
		} else {
			parts = append(parts, c.Cluster)
		}
	}
	s := strings.Join(parts, ", ")
	if rt.RuntimeFraction > 0 {
		s += " (canary, first " + itoa(rt.RuntimeFraction) + "%)"
	}
	if rt.Mirror != nil {
		s += "; mirror " + rt.Mirror.Cluster
	}
	return s
}

func itoa(n uint32) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
