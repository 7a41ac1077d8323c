package xds

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"
)

// Render prints the resources as one document with the keys listeners, routes, clusters,
// endpoints and secrets, each a list of resources in protojson form; format is "yaml" or "json".
// Secrets are references: a certificate or CA bundle shows its size and SHA-256, a private key
// only that it is there.
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
	}{{"listeners", msgs(r.Listeners)}, {"routes", msgs(r.Routes)}, {"clusters", msgs(r.Clusters)}, {"endpoints", msgs(r.Endpoints)}, {"secrets", msgs(redacted(r.Secrets))}} {
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

// redacted copies secrets with their content replaced by a description of it.
func redacted(in []*tlsv3.Secret) []*tlsv3.Secret {
	out := make([]*tlsv3.Secret, len(in))
	for i, s := range in {
		c := proto.Clone(s).(*tlsv3.Secret)
		if tc := c.GetTlsCertificate(); tc != nil {
			tc.CertificateChain = describeData(tc.GetCertificateChain(), false)
			tc.PrivateKey = describeData(tc.GetPrivateKey(), true)
		}
		if vc := c.GetValidationContext(); vc != nil {
			vc.TrustedCa = describeData(vc.GetTrustedCa(), false)
		}
		out[i] = c
	}
	return out
}

func describeData(d *corev3.DataSource, secret bool) *corev3.DataSource {
	b := d.GetInlineBytes()
	text := fmt.Sprintf("[%d bytes, sha256:%x]", len(b), sha256.Sum256(b))
	if secret {
		text = fmt.Sprintf("[redacted: %d bytes]", len(b))
	}
	return &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: text}}
}

func msgs[T proto.Message](in []T) []proto.Message {
	out := make([]proto.Message, len(in))
	for i, m := range in {
		out[i] = m
	}
	return out
}
