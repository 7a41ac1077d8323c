package mapping

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// reader walks one YAML document and records diagnostics with precise field paths and lines.
// A document with any error is rejected; the reader keeps going to report every problem at once.
type reader struct {
	base     Diagnostic
	lineBase int // added to node lines (0-based offset of the document in the file)
	diags    []Diagnostic
	failed   bool
}

func (r *reader) report(n *yaml.Node, sev Severity, reason, field, format string, args ...any) {
	d := r.base
	d.Severity, d.Reason, d.Field = sev, reason, field
	d.Message = fmt.Sprintf(format, args...)
	if n != nil && r.base.Source.File != "" {
		d.Line = r.lineBase + n.Line
	}
	r.diags = append(r.diags, d)
	if sev == SeverityError {
		r.failed = true
	}
}

func (r *reader) errorf(n *yaml.Node, field, format string, args ...any) {
	r.report(n, SeverityError, ReasonInvalid, field, format, args...)
}

func (r *reader) warnf(n *yaml.Node, field, format string, args ...any) {
	r.report(n, SeverityWarning, ReasonUnknown, field, format, args...)
}

// object is a YAML mapping being read; finish() warns about the keys nobody asked for. Documents
// have a handful of keys, so a slice with linear search beats maps here.
type object struct {
	r     *reader
	path  string
	node  *yaml.Node
	pairs []pair
	asked []string // every key the decoder asked for: the vocabulary of did-you-mean
}

type pair struct {
	name string
	key  *yaml.Node
	val  *yaml.Node
	used bool
}

func (r *reader) object(path string, n *yaml.Node) *object {
	o := &object{r: r, path: path, node: n}
	if n == nil || n.Kind != yaml.MappingNode {
		r.errorf(n, path, "must be a mapping, got %s", describe(n))
		return o
	}
	o.pairs = make([]pair, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			r.errorf(k, path, "keys must be strings")
			continue
		}
		if o.find(k.Value) != nil {
			r.errorf(k, o.field(k.Value), "appears more than once")
			continue
		}
		o.pairs = append(o.pairs, pair{name: k.Value, key: k, val: deref(v)})
	}
	return o
}

func (o *object) find(key string) *pair {
	for i := range o.pairs {
		if o.pairs[i].name == key {
			return &o.pairs[i]
		}
	}
	return nil
}

// value returns the raw value node of key without marking it used (for positions in messages).
func (o *object) value(key string) *yaml.Node {
	if p := o.find(key); p != nil {
		return p.val
	}
	return nil
}

// keyNode returns the key node of key, or the object's node when absent.
func (o *object) keyNode(key string) *yaml.Node {
	if p := o.find(key); p != nil {
		return p.key
	}
	return o.node
}

func (o *object) field(key string) string {
	if o.path == "" {
		return key
	}
	return o.path + "." + key
}

// ignoreRest marks every key of o as read: a part kfgate does not use is neither read nor reported
// as unknown.
func (o *object) ignoreRest() {
	for _, p := range o.pairs {
		o.get(p.name)
	}
}

// get returns the value node of key, marking it used; nil when absent or null.
func (o *object) get(key string) *yaml.Node {
	o.asked = append(o.asked, key)
	p := o.find(key)
	if p == nil {
		return nil
	}
	p.used = true
	v := p.val
	if v == nil || (v.Kind == yaml.ScalarNode && v.Tag == "!!null") {
		return nil
	}
	return v
}

// deref follows YAML aliases (*name) to the node they stand for. The parser bounds alias expansion.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 16; i++ {
		n = n.Alias
	}
	return n
}

func (o *object) has(key string) bool { return o.get(key) != nil }

func (o *object) str(key string) (string, bool) {
	v := o.get(key)
	if v == nil {
		return "", false
	}
	if v.Kind != yaml.ScalarNode || (v.Tag != "!!str" && v.Tag != "!!int" && v.Tag != "!!float" && v.Tag != "!!timestamp") {
		o.r.errorf(v, o.field(key), "must be a string, got %s", describe(v))
		return "", false
	}
	return v.Value, true
}

func (o *object) boolean(key string) (bool, bool) {
	v := o.get(key)
	if v == nil {
		return false, false
	}
	if b, ok := scalarBool(v); ok {
		return b, true
	}
	o.r.errorf(v, o.field(key), "must be true or false, got %s", describe(v))
	return false, false
}

func scalarBool(v *yaml.Node) (bool, bool) {
	if v.Kind != yaml.ScalarNode {
		return false, false
	}
	switch strings.ToLower(v.Value) {
	case "true":
		return true, v.Tag == "!!bool" || v.Tag == "!!str"
	case "false":
		return false, v.Tag == "!!bool" || v.Tag == "!!str"
	}
	return false, false
}

// integer reads an integer within [lo, hi].
func (o *object) integer(key string, lo, hi int64) (int64, bool) {
	v := o.get(key)
	if v == nil {
		return 0, false
	}
	n, err := scalarInt(v)
	if err != nil {
		if v.Tag == "!!int" {
			o.r.errorf(v, o.field(key), "must be between %d and %d, got %s", lo, hi, v.Value)
		} else {
			o.r.errorf(v, o.field(key), "must be an integer, got %s", describe(v))
		}
		return 0, false
	}
	if n < lo || n > hi {
		o.r.errorf(v, o.field(key), "must be between %d and %d, got %d", lo, hi, n)
		return 0, false
	}
	return n, true
}

func scalarInt(v *yaml.Node) (int64, error) {
	if v.Kind != yaml.ScalarNode || (v.Tag != "!!int" && v.Tag != "!!float") {
		return 0, fmt.Errorf("not an integer")
	}
	if v.Tag == "!!int" {
		return strconv.ParseInt(strings.ReplaceAll(v.Value, "_", ""), 0, 64)
	}
	f, err := strconv.ParseFloat(v.Value, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("not an integer")
	}
	return int64(f), nil
}

// strList reads a list of strings; a single string is accepted as a one-element list, and a
// comma-separated string is split (Emissary accepts both for cors fields).
func (o *object) strList(key string, splitCommas bool) []string {
	v := o.get(key)
	if v == nil {
		return nil
	}
	if v.Kind == yaml.ScalarNode && v.Tag == "!!str" {
		if !splitCommas {
			return []string{v.Value}
		}
		var out []string
		for _, s := range strings.Split(v.Value, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	if v.Kind != yaml.SequenceNode {
		o.r.errorf(v, o.field(key), "must be a list of strings, got %s", describe(v))
		return nil
	}
	out := make([]string, 0, len(v.Content))
	for i, e := range v.Content {
		e = deref(e)
		if e.Kind != yaml.ScalarNode || e.Tag == "!!null" || e.Tag == "!!map" {
			o.r.errorf(e, fmt.Sprintf("%s[%d]", o.field(key), i), "must be a string, got %s", describe(e))
			continue
		}
		out = append(out, e.Value)
	}
	return out
}

// child reads a nested mapping; nil when absent.
func (o *object) child(key string) *object {
	v := o.get(key)
	if v == nil {
		return nil
	}
	return o.r.object(o.field(key), v)
}

// finish reports unknown keys as warnings, suggesting the closest known key, and the known Emissary
// keys kfgate does not implement.
func (o *object) finish(unsupported map[string]string) {
	var unknown []*pair
	for i := range o.pairs {
		if !o.pairs[i].used {
			unknown = append(unknown, &o.pairs[i])
		}
	}
	if len(unknown) == 0 {
		return
	}
	sort.Slice(unknown, func(i, j int) bool { return unknown[i].name < unknown[j].name })
	known := append([]string(nil), o.asked...)
	sort.Strings(known)
	for _, p := range unknown {
		if why, ok := unsupported[p.name]; ok {
			o.r.report(p.key, SeverityWarning, ReasonUnsupported, o.field(p.name), "not supported by kfgate (%s); ignored", why)
			continue
		}
		msg := "unknown field; ignored"
		if s := closest(p.name, known); s != "" {
			msg = fmt.Sprintf("unknown field; ignored (did you mean %q?)", s)
		}
		o.r.warnf(p.key, o.field(p.name), "%s", msg)
	}
}

func describe(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		kind := map[string]string{"!!str": "string", "!!int": "integer", "!!float": "number", "!!bool": "boolean", "!!null": "null", "!!timestamp": "timestamp"}[n.Tag]
		if kind == "" {
			kind = "value"
		}
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		return fmt.Sprintf("%s %q", kind, v)
	default:
		return "an unsupported YAML node"
	}
}

// closest returns the known key within edit distance 2 of k, if any.
func closest(k string, known []string) string {
	best, bestD := "", 3
	for _, c := range known {
		if d := editDistance(k, c, bestD); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance, giving up (returning limit) once it exceeds limit.
func editDistance(a, b string, limit int) int {
	if len(a)-len(b) >= limit || len(b)-len(a) >= limit {
		return limit
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
