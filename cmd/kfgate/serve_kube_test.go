package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/kfgate/kfgate/test/apiserver"
)

// TestServeKubernetes runs the shipped command, `kfgate serve --source kubernetes --kubeconfig F`,
// against a real API server: it becomes ready, serves the annotated Services (as the diagnostics page
// shows), writes a Warning Event on a broken one as the Lease holder, and stops cleanly.
func TestServeKubernetes(t *testing.T) {
	env, cfg := apiserver.Start(t)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	ctx := t.Context()
	for name, config := range map[string]string{
		"app": "apiVersion: getambassador.io/v2\nkind: Mapping\nname: app\nprefix: /cli/\nservice: app\n",
		"bad": "apiVersion: getambassador.io/v2\nkind: Mapping\nname: bad\nprefix: /bad/\nservice: bad\ntimeout_ms: soon\n",
	} {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{"getambassador.io/config": config}},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
		if _, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	diag := freeAddr(t)
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		cmd := newRootCommand()
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		cmd.SetArgs([]string{"serve", "--source", "kubernetes", "--kubeconfig", kubeconfig, "--leader-election-namespace", "default",
			"--xds-address", "127.0.0.1:0", "--diagnostics-address", diag, "--log-level", "error"})
		done <- cmd.ExecuteContext(sctx)
	}()

	poll(t, "the diagnostics page shows the /cli/ route", func() bool {
		body, code := get("http://" + diag + "/config.json")
		return code == http.StatusOK && strings.Contains(body, `"match": "prefix /cli/"`)
	})
	if _, code := get("http://" + diag + "/readyz"); code != http.StatusOK {
		t.Errorf("/readyz answers %d with a snapshot served", code)
	}
	// app, bad, and the API server's own Service "kubernetes"
	if body, _ := get("http://" + diag + "/metrics"); !strings.Contains(body, `kfgate_kube_watch_events_total{event="add",kind="service",result="queued"} 3`) {
		t.Errorf("/metrics lacks the kube source's watch events:\n%s", grepLines(body, "kfgate_kube_watch"))
	}
	poll(t, "a Warning Event on the broken Service", func() bool {
		evs, err := cs.EventsV1().Events("default").List(ctx, metav1.ListOptions{})
		return err == nil && hasEvent(evs.Items, "bad", "InvalidMapping")
	})
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve ended with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func hasEvent(evs []eventsv1.Event, svc, reason string) bool {
	for _, e := range evs {
		if e.Regarding.Name == svc && e.Reason == reason && e.Type == corev1.EventTypeWarning {
			return true
		}
	}
	return false
}

func freeAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lis.Close() }()
	return lis.Addr().String()
}

func get(url string) (string, int) {
	resp, err := http.Get(url) //nolint:gosec // a loopback URL of the test's own
	if err != nil {
		return "", 0
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode
}

// poll checks cond until it holds, failing the test after 30 s; the page and Events have no
// version to wait on.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 30*time.Second, true,
		func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
