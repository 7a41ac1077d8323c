package kubeflow

import (
	"regexp"
	"strings"
)

// MappingPrefix starts the name of every generated Mapping: model-<model>-<call>.
const MappingPrefix = "model-"

// Calls lists the calls a generated Mapping can serve (the last word of its name), per protocol in
// the order Generate writes them.
func Calls(p Protocol) []string {
	var out []string
	for _, s := range apis[p].surfaces {
		out = append(out, s.name)
	}
	return out
}

// SplitMappingName splits a generated Mapping's name into the model's name and the call. Calls are
// single words and model names cannot be empty, so the split is unambiguous.
func SplitMappingName(name string) (model, call string, ok bool) {
	rest, found := strings.CutPrefix(name, MappingPrefix)
	i := strings.LastIndexByte(rest, '-')
	if !found || i <= 0 || !isCall(rest[i+1:]) {
		return "", "", false
	}
	return rest[:i], rest[i+1:], true
}

func isCall(s string) bool {
	for _, a := range apis {
		for _, sf := range a.surfaces {
			if sf.name == s {
				return true
			}
		}
	}
	return false
}

// PathOfPrefix returns the model path (ending in "/") that a generated Mapping's prefix regex serves:
// its literal beginning.
func PathOfPrefix(prefix string) (string, bool) {
	re, err := regexp.Compile(prefix)
	if err != nil {
		return "", false
	}
	lit, complete := re.LiteralPrefix()
	if complete || !strings.HasPrefix(lit, "/") {
		return "", false
	}
	return lit + "/", true
}
