package source

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	k8syaml "sigs.k8s.io/yaml"

	"github.com/kfgate/kfgate/gateway/mapping"
)

// MaxFileBytes bounds one configuration file.
const MaxFileBytes = 8 << 20

// LoadPaths reads files and directories (recursively, *.yaml and *.yml, plus the PEM files that
// stand in for Secrets: *.crt, *.key) in a stable order.
func LoadPaths(paths ...string) (Objects, error) {
	var files, pems []string
	for _, p := range paths {
		// One walk finds both; a file named on its own is configuration unless it is PEM.
		found, err := walkFiles(p, func(f string) bool { return IsConfigFile(f) || IsPEMFile(f) }, func(string) bool { return true })
		if err != nil {
			return Objects{}, err
		}
		for _, f := range found {
			if IsPEMFile(f) {
				pems = append(pems, f)
			} else {
				files = append(files, f)
			}
		}
	}
	sort.Strings(files)
	sort.Strings(pems)
	var objs Objects
	for _, f := range slices.Compact(files) {
		data, err := readFile(f)
		if err != nil {
			return Objects{}, err
		}
		ParseFile(&objs, f, string(data))
	}
	if err := addPEMSecrets(&objs, slices.Compact(pems)); err != nil {
		return Objects{}, err
	}
	return objs, nil
}

func readFile(f string) ([]byte, error) {
	st, err := os.Stat(f)
	if err != nil {
		return nil, err
	}
	if st.Size() > MaxFileBytes {
		return nil, fmt.Errorf("%s: %d bytes is more than the limit of %d", f, st.Size(), MaxFileBytes)
	}
	return os.ReadFile(f) //nolint:gosec // G304: reading the files the user named is the point
}

// walkFiles lists the files under root that keep accepts, skipping hidden directories; root itself,
// when it is a file, is listed if named accepts it.
func walkFiles(root string, keep, named func(string) bool) ([]string, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		if named(root) {
			return []string{root}, nil
		}
		return nil, nil
	}
	var out []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if !d.IsDir() && keep(p) {
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

// IsConfigFile reports whether a path is a YAML file kfgate reads.
func IsConfigFile(p string) bool {
	base := filepath.Base(p)
	return !strings.HasPrefix(base, ".") && (strings.HasSuffix(base, ".yaml") || strings.HasSuffix(base, ".yml"))
}

// ParseFile adds the objects of one file: Services (their annotations), EndpointSlices, and bare
// kfgate documents. Other Kubernetes kinds are skipped; a document that is not YAML is reported.
func ParseFile(objs *Objects, file, text string) {
	for _, chunk := range mapping.SplitDocuments(text) {
		var root yaml.Node
		if err := yaml.Unmarshal([]byte(chunk.Text), &root); err != nil {
			line, msg := mapping.YAMLError(err)
			objs.Diagnostics = append(objs.Diagnostics, mapping.Diagnostic{Source: mapping.Source{File: file, Line: chunk.Line},
				Line: chunk.Line + max(line, 1) - 1, Severity: mapping.SeverityError, Reason: mapping.ReasonSyntax, Message: "invalid YAML: " + msg})
			continue
		}
		if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
			continue
		}
		top := root.Content[0]
		apiVersion, kind := scalar(top, "apiVersion"), scalar(top, "kind")
		switch {
		case slices.Contains(mapping.APIVersions, apiVersion) || ownFamily(apiVersion):
			// Unknown versions of our own API groups are decoded too, so that they are reported.
			objs.Texts = append(objs.Texts, Text{Source: mapping.Source{File: file, Line: chunk.Line}, Body: chunk.Text})
		case apiVersion == "v1" && kind == "Service":
			addService(objs, file, chunk, top)
		case apiVersion == "v1" && kind == "Secret":
			addSecret(objs, file, chunk)
		case apiVersion == "discovery.k8s.io/v1" && kind == "EndpointSlice":
			var sl discoveryv1.EndpointSlice
			if err := k8syaml.Unmarshal([]byte(chunk.Text), &sl); err != nil {
				objs.Diagnostics = append(objs.Diagnostics, objectError(file, chunk.Line, kind, err))
				continue
			}
			objs.EndpointSlices = append(objs.EndpointSlices, &sl)
		}
	}
}

func ownFamily(apiVersion string) bool {
	for _, p := range []string{"getambassador.io/", "ambassador/", "kfgate.io/"} {
		if strings.HasPrefix(apiVersion, p) {
			return true
		}
	}
	return false
}

func addService(objs *Objects, file string, chunk mapping.Chunk, top *yaml.Node) {
	var svc corev1.Service
	if err := k8syaml.Unmarshal([]byte(chunk.Text), &svc); err != nil {
		objs.Diagnostics = append(objs.Diagnostics, objectError(file, chunk.Line, "Service", err))
		return
	}
	if svc.Namespace == "" {
		svc.Namespace = "default"
	}
	objs.Services = append(objs.Services, &svc)
	objs.Texts = append(objs.Texts, ServiceTexts(&svc, file, annotationLines(top, chunk.Line))...)
}

func objectError(file string, line int, kind string, err error) mapping.Diagnostic {
	return mapping.Diagnostic{Source: mapping.Source{File: file, Line: line}, Line: line, DocKind: kind,
		Severity: mapping.SeverityError, Reason: mapping.ReasonSyntax, Message: fmt.Sprintf("invalid %s: %v", kind, err)}
}

func scalar(m *yaml.Node, key string) string {
	if v := child(m, key); v != nil && v.Kind == yaml.ScalarNode {
		return v.Value
	}
	return ""
}

func child(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// annotationLines finds the file line where each annotation's text starts: the line after the key
// for block scalars (`|`, `>`), the key's line otherwise.
func annotationLines(top *yaml.Node, chunkLine int) map[string]int {
	ann := child(child(top, "metadata"), "annotations")
	out := map[string]int{}
	for _, key := range mapping.AnnotationKeys {
		v := child(ann, key)
		if v == nil {
			continue
		}
		line := chunkLine - 1 + v.Line
		if v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			line++
		}
		out[key] = line
	}
	return out
}
