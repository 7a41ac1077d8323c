package source

import (
	"path/filepath"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8syaml "sigs.k8s.io/yaml"

	"github.com/kfgate/kfgate/gateway/ir"
	"github.com/kfgate/kfgate/gateway/mapping"
)

// PEM files next to the documents stand in for kubernetes.io/tls Secrets in the file source:
// NAME.crt and NAME.key (and optionally NAME.ca.crt) become the Secret NAME in namespace default.
const (
	pemCert = ".crt"
	pemKey  = ".key"
	pemCA   = ".ca.crt"
)

// IsPEMFile reports whether a path is a certificate or key file the file source reads.
func IsPEMFile(p string) bool {
	base := filepath.Base(p)
	return !strings.HasPrefix(base, ".") && (strings.HasSuffix(base, pemCert) || strings.HasSuffix(base, pemKey))
}

// addPEMSecrets turns the PEM files among files into Secrets, one per NAME, sorted by directory
// and name. A NAME.crt without NAME.key (or the reverse) still becomes a Secret, so that the
// TLSContext naming it is told exactly what is missing.
func addPEMSecrets(objs *Objects, files []string) error {
	byName := map[string]*corev1.Secret{}
	var order []string
	for _, f := range files {
		base := filepath.Base(f)
		var name, key string
		switch {
		case strings.HasSuffix(base, pemCA):
			name, key = strings.TrimSuffix(base, pemCA), ir.SecretCA
		case strings.HasSuffix(base, pemCert):
			name, key = strings.TrimSuffix(base, pemCert), ir.SecretCert
		case strings.HasSuffix(base, pemKey):
			name, key = strings.TrimSuffix(base, pemKey), ir.SecretKey
		default:
			continue
		}
		id := filepath.Join(filepath.Dir(f), name)
		s := byName[id]
		if s == nil {
			s = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default",
				Annotations: map[string]string{FileAnnotation: id}}, Type: corev1.SecretTypeTLS, Data: map[string][]byte{}}
			byName[id] = s
			order = append(order, id)
		}
		data, err := readFile(f)
		if err != nil {
			return err
		}
		s.Data[key] = data
	}
	sort.Strings(order)
	for _, id := range order {
		objs.Secrets = append(objs.Secrets, byName[id])
	}
	return nil
}

// FileAnnotation records, on a Secret read from files, where it came from (for diagnostics).
const FileAnnotation = "kfgate.io/file"

// addSecret adds a v1 Secret document. Its data never reaches diagnostics: an error names the
// document, not its content.
func addSecret(objs *Objects, file string, chunk mapping.Chunk) {
	var s corev1.Secret
	if err := k8syaml.Unmarshal([]byte(chunk.Text), &s); err != nil {
		objs.Diagnostics = append(objs.Diagnostics, objectError(file, chunk.Line, "Secret", errSecretUnreadable))
		return
	}
	if s.Namespace == "" {
		s.Namespace = "default"
	}
	for k, v := range s.StringData { // as the API server does on write
		if s.Data == nil {
			s.Data = map[string][]byte{}
		}
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[FileAnnotation] = file
	objs.Secrets = append(objs.Secrets, &s)
}

type secretError string

func (e secretError) Error() string { return string(e) }

const errSecretUnreadable = secretError("not a valid v1 Secret (its content is not shown)")

// Secret converts a Secret into what the resolver needs: its type and only the keys kfgate reads.
func Secret(s *corev1.Secret) *ir.Secret {
	out := &ir.Secret{Namespace: s.Namespace, Name: s.Name, Type: string(s.Type), Data: map[string][]byte{}}
	for _, k := range []string{ir.SecretCert, ir.SecretKey, ir.SecretCA} {
		if v, ok := s.Data[k]; ok {
			out.Data[k] = v
		}
	}
	return out
}
