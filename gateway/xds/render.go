package xds

import (
	"bytes"
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"
)

// Render prints the resources as one document with the keys listeners, routes, clusters and
// endpoints, each a list of resources in protojson form; format is "yaml" or "json".
func (r *Resources) Render(format string) ([]byte, error) {
	doc := map[string][]json.RawMessage{}
	add := func(key string, msgs []proto.Message) error {
		doc[key] = []json.RawMessage{}
		for _, m := range msgs {
			b, err := protojson.Marshal(m)
			if err != nil {
				return fmt.Errorf("rendering %s: %w", key, err)
			}
			doc[key] = append(doc[key], b)
		}
		return nil
	}
	for _, part := range []struct {
		key  string
		msgs []proto.Message
	}{{"listeners", msgs(r.Listeners)}, {"routes", msgs(r.Routes)}, {"clusters", msgs(r.Clusters)}, {"endpoints", msgs(r.Endpoints)}} {
		if err := add(part.key, part.msgs); err != nil {
			return nil, err
		}
	}
	// Re-indent through encoding/json: protojson's spacing is deliberately unstable.
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	switch format {
	case "json":
		var out bytes.Buffer
		if err := json.Indent(&out, raw, "", "  "); err != nil {
			return nil, err
		}
		out.WriteByte('\n')
		return out.Bytes(), nil
	case "yaml", "":
		return yaml.JSONToYAML(raw)
	default:
		return nil, fmt.Errorf("unknown output format %q (yaml or json)", format)
	}
}

func msgs[T proto.Message](in []T) []proto.Message {
	out := make([]proto.Message, len(in))
	for i, m := range in {
		out[i] = m
	}
	return out
}
