package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfgate/kfgate/gateway/build"
	"github.com/kfgate/kfgate/gateway/mapping"
)

// A tenant's Service, evil, in the profile namespace w.ns: its annotation tries to configure the
// gateway (routes without login, a forged identity, paths of the shared apps and everyone's, a
// Module for every route, and a route to loop, the tenant's ExternalName Service for localhost,
// where kfgate authn's metrics are), and has one Mapping a tenant may have. Every Mapping routes to evil, whose
// EndpointSlice points at the echo upstream, and marks its requests with routeHeader, so that the
// echo's records tell whether a request went through one of evil's routes (the catch-all sets none).
const (
	evilName    = "evil"
	loopName    = "loop"
	routeHeader = "x-e2e-route"
	forgedAdmin = "admin@example.com"
)

// evilRefused are the documents of evil's annotation that kfgate serve must refuse, and the field
// each is refused for.
var evilRefused = map[string]string{"evil-public": "bypass_auth", "evil-admin": "add_request_headers", "evil-dex": "prefix",
	"evil-everything": "prefix", "ambassador": "kind", "evil-loop": "service"}

// evilConfig is evil's kfgate.io/config: the refused documents, then the legitimate evil-app.
func (w *world) evilConfig() string {
	return fmt.Sprintf(`---
apiVersion: getambassador.io/v2
kind: Mapping
name: evil-public
prefix: /%[1]s/public/
service: %[2]s:80
bypass_auth: true
add_request_headers: {%[3]s: public}
---
apiVersion: getambassador.io/v2
kind: Mapping
name: evil-admin
prefix: /%[1]s/admin/
service: %[2]s:80
add_request_headers:
  kubeflow-userid: {value: %[4]s, append: false}
  %[3]s: admin
---
apiVersion: getambassador.io/v2
kind: Mapping
name: evil-dex
prefix: /dex/evil/
service: %[2]s:80
add_request_headers: {%[3]s: dex}
---
apiVersion: getambassador.io/v2
kind: Mapping
name: evil-everything
prefix: "/.*"
prefix_regex: true
rewrite: ""
service: %[2]s:80
add_request_headers: {%[3]s: everything}
---
apiVersion: getambassador.io/v2
kind: Module
name: ambassador
config:
  add_request_headers:
    kubeflow-userid: {value: %[4]s, append: false}
---
apiVersion: getambassador.io/v2
kind: Mapping
name: evil-loop
prefix: /%[1]s/loop/
rewrite: /metrics
service: %[5]s:%[6]s
add_request_headers: {%[3]s: loop}
---
apiVersion: getambassador.io/v2
kind: Mapping
name: evil-app
prefix: /%[1]s/app/
service: %[2]s:80
add_request_headers: {%[3]s: app}
`, w.ns, evilName, routeHeader, forgedAdmin, loopName, w.authnPort())
}

// authnPort is the port of kfgate authn's HTTP listener, on 127.0.0.1.
func (w *world) authnPort() string {
	_, port, err := net.SplitHostPort(w.authnHTTP)
	if err != nil {
		w.t.Fatal(err)
	}
	return port
}

// createEvil creates loop, then evil (its annotation in one write, so that its valid document
// serves at once); they go when t ends.
func (w *world) createEvil(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		_ = w.cs.CoreV1().Services(w.ns).Delete(context.Background(), loopName, metav1.DeleteOptions{})
	})
	loop := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: loopName},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "localhost"}}
	if _, err := w.cs.CoreV1().Services(w.ns).Create(context.Background(), loop, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w.createAnnotated(t, w.ns, evilName, w.evilConfig())
}

// createAnnotated creates Service ns/name with config as its kfgate.io/config, on port 80 (http),
// and an EndpointSlice pointing at the echo upstream; both go when t ends.
func (w *world) createAnnotated(t *testing.T, ns, name, config string) {
	t.Helper()
	t.Cleanup(func() {
		_ = w.cs.CoreV1().Services(ns).Delete(context.Background(), name, metav1.DeleteOptions{})
		_ = w.cs.DiscoveryV1().EndpointSlices(ns).Delete(context.Background(), name+"-1", metav1.DeleteOptions{})
	})
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{mapping.AnnotationKfgate: config}},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}
	if _, err := w.cs.CoreV1().Services(ns).Create(context.Background(), svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w.putSlice(ns, name, name+"-1", "http", w.echo.port)
}

// markedMapping is a Mapping of prefix to Service svc, port 80, that marks its requests with
// routeHeader: mark.
func markedMapping(name, prefix, svc, mark string) string {
	return fmt.Sprintf("---\napiVersion: getambassador.io/v2\nkind: Mapping\nname: %s\nprefix: %s\nservice: %s:80\nadd_request_headers: {%s: %s}\n",
		name, prefix, svc, routeHeader, mark)
}

// untrustedEvent returns the note of a Warning Event from kfgate on Service ns/name with reason
// UntrustedNamespace, or why there is none.
func (w *world) untrustedEvent(ns, name string) (string, string) {
	evs, err := w.cs.EventsV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return "", err.Error()
	}
	var seen []string
	for _, ev := range evs.Items {
		if ev.Regarding.Kind != "Service" || ev.Regarding.Name != name {
			continue
		}
		seen = append(seen, ev.Type+" "+ev.Reason+" from "+ev.ReportingController)
		if ev.Type == corev1.EventTypeWarning && ev.Reason == mapping.ReasonUntrusted && strings.HasPrefix(ev.ReportingController, "kfgate") {
			return ev.Note, ""
		}
	}
	return "", fmt.Sprintf("%d events in %s, for %s: %v", len(evs.Items), ns, name, seen)
}

// diagnostics returns what kfgate serve's diagnostics endpoint (/config.json) reports about Service
// ns/name, or why it could not be read.
func (w *world) diagnostics(ns, name string) ([]mapping.Diagnostic, string) {
	resp, err := http.Get("http://" + w.diag + "/config.json")
	if err != nil {
		return nil, err.Error()
	}
	defer func() { _ = resp.Body.Close() }()
	var state struct {
		Report build.Report `json:"report"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&state); err != nil {
		return nil, "config.json: " + err.Error()
	}
	var out []mapping.Diagnostic
	for _, o := range state.Report.Objects {
		for _, d := range o.Diagnostics {
			if d.Source.Kind == "Service" && d.Source.Namespace == ns && d.Source.Name == name {
				out = append(out, d)
			}
		}
	}
	return out, ""
}

// carries lists the requests an upstream received with value in any header.
func carries(u *upstream, value string) []echoed {
	var out []echoed
	for _, e := range u.requests() {
		for _, v := range e.Headers {
			if strings.Contains(v, value) {
				out = append(out, e)
				break
			}
		}
	}
	return out
}

// get sends a GET that an upstream answers with what it saw (echo, notebooks), and returns it, or
// why there is no such answer.
func (c *client) get(t *testing.T, path string, headers map[string]string) (echoed, string) {
	t.Helper()
	resp, body := c.do(t, http.MethodGet, path, headers, "")
	var e echoed
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &e) != nil || e.Server == "" {
		return echoed{}, resp.Status + " " + body
	}
	return e, ""
}
