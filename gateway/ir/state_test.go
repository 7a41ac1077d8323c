package ir

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kfgate/kfgate/gateway/mapping"
)

// TestIncrementalEqualsFull drives a State through random edits (annotations replaced and removed,
// Services added and removed) and checks after every edit that it says exactly what a fresh Resolve
// of the same world says: the incremental path may only be faster, never different.
func TestIncrementalEqualsFull(t *testing.T) {
	defer func(v int) { bulkThreshold = v }(bulkThreshold)
	for seed := range uint64(12) {
		bulkThreshold = []int{64, 0}[seed%2] // both ways of resolving many groups at once
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, seed*7919))
			w := newWorld()
			st := NewState(Options{})
			for step := range 150 {
				w.edit(rng, st)
				got, gotDiags := st.Config()
				want, wantDiags := Resolve(Input{Documents: w.allDocs(), Services: w.services, AuthDeclared: w.authDeclared})
				if g, e := dump(t, got), dump(t, want); g != e {
					t.Fatalf("step %d (%s): incremental config differs from a full resolve\n%s", step, w.last, firstDifference(g, e))
				}
				if g, e := diagStrings(gotDiags), diagStrings(wantDiags); !slices.Equal(g, e) {
					t.Fatalf("step %d (%s): diagnostics differ\n got  %q\n want %q", step, w.last, g, e)
				}
			}
		})
	}
}

type world struct {
	texts        map[string][]mapping.Document
	raw          map[string]mapping.Source
	bodies       map[string]string
	services     map[string]*Service
	authDeclared bool
	last         string
}

func newWorld() *world {
	return &world{texts: map[string][]mapping.Document{}, services: map[string]*Service{},
		raw: map[string]mapping.Source{}, bodies: map[string]string{}}
}

var (
	namespaces = []string{"kubeflow", "team-a", "team-b"}
	prefixes   = []string{"/", "/a/", "/a/b/", "/models/", "/x"}
)

func (w *world) edit(rng *rand.Rand, st *State) {
	ns := namespaces[rng.IntN(len(namespaces))]
	name := fmt.Sprintf("svc-%d", rng.IntN(6))
	key := Key(ns, name)
	switch op := rng.IntN(12); {
	case op < 6:
		src := mapping.Source{Kind: "Service", Namespace: ns, Name: name, Key: mapping.AnnotationAmbassador,
			Created: time.Unix(int64(rng.IntN(4)), 0)}
		body := randomAnnotation(rng)
		docs, _ := mapping.Decode(src, body, mapping.Options{})
		w.texts[key], w.raw[key], w.bodies[key] = docs, src, body
		w.last = fmt.Sprintf("replace %s with %d documents", key, len(docs))
		st.Replace(key, docs)
	case op >= 10 && w.bodies[key] != "":
		// The same documents with a new timeout: the group keeps its place in the route table.
		body := w.bodies[key] + fmt.Sprintf("timeout_ms: %d\n", 1000+rng.IntN(9))
		docs, _ := mapping.Decode(w.raw[key], body, mapping.Options{})
		w.texts[key], w.last = docs, "retime "+key
		st.Replace(key, docs)
	case op < 7:
		delete(w.texts, key)
		delete(w.bodies, key)
		w.last = "remove the annotation of " + key
		st.Replace(key, nil)
	case op < 9:
		svc := &Service{Namespace: ns, Name: name, Ports: []ServicePort{{Name: "http", Port: 80}}}
		if rng.IntN(2) == 0 {
			svc.Endpoints = map[string][]Endpoint{"http": {{Address: fmt.Sprintf("10.0.0.%d", rng.IntN(9)), Port: 8080}}}
		}
		w.services[key], w.last = svc, "set Service "+key
		st.SetService(svc)
	default:
		delete(w.services, key)
		w.last = "delete Service " + key
		st.DeleteService(key)
	}
	if rng.IntN(20) == 0 {
		w.authDeclared = !w.authDeclared
		st.SetAuthDeclared(w.authDeclared)
	}
}

func (w *world) allDocs() []mapping.Document {
	var out []mapping.Document
	for _, docs := range w.texts {
		out = append(out, docs...)
	}
	return out
}

// randomAnnotation writes 0-3 documents that collide, form canary groups, shadow, repeat names and
// now and then carry a Module or an AuthService.
func randomAnnotation(rng *rand.Rand) string {
	var docs []string
	for i := range rng.IntN(4) {
		var b strings.Builder
		fmt.Fprintf(&b, "apiVersion: ambassador/v1\nkind: Mapping\nname: m%d\nprefix: %s\nservice: svc-%d.%s\n",
			rng.IntN(4)+i, prefixes[rng.IntN(len(prefixes))], rng.IntN(6), namespaces[rng.IntN(len(namespaces))])
		if rng.IntN(3) == 0 {
			fmt.Fprintf(&b, "weight: %d\n", rng.IntN(70))
		}
		if rng.IntN(8) == 0 {
			b.WriteString("shadow: true\n")
		}
		if rng.IntN(5) == 0 {
			fmt.Fprintf(&b, "host: h%d.example.com\n", rng.IntN(2))
		}
		if rng.IntN(5) == 0 {
			b.WriteString("method: POST\n")
		}
		if rng.IntN(6) == 0 {
			fmt.Fprintf(&b, "precedence: %d\n", rng.IntN(3))
		}
		if rng.IntN(6) == 0 {
			b.WriteString("cors:\n  origins: '*'\n")
		}
		docs = append(docs, b.String())
	}
	switch rng.IntN(12) {
	case 0:
		docs = append(docs, "apiVersion: ambassador/v1\nkind: Module\nname: ambassador\nconfig:\n  cluster_request_timeout_ms: 9000\n")
	case 1:
		docs = append(docs, "apiVersion: ambassador/v1\nkind: AuthService\nname: auth\nauth_service: svc-1.kubeflow:8080\nproto: grpc\n")
	}
	return strings.Join(docs, "---\n")
}

func dump(t *testing.T, cfg *Config) string {
	t.Helper()
	b, err := json.MarshalIndent(cfg, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func diagStrings(ds []mapping.Diagnostic) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.String()
	}
	slices.Sort(out)
	return out
}

func firstDifference(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			lo := max(0, i-6)
			return fmt.Sprintf("at line %d:\n got:  %s\n want: %s\ncontext (want):\n%s", i+1, al[i], bl[i], strings.Join(bl[lo:min(len(bl), i+3)], "\n"))
		}
	}
	return fmt.Sprintf("lengths differ: %d vs %d lines", len(al), len(bl))
}
