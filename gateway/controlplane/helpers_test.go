package controlplane

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfgate/kfgate/gateway/build"
	"github.com/kfgate/kfgate/gateway/diagnostics"
	"github.com/kfgate/kfgate/gateway/mapping"
	"github.com/kfgate/kfgate/gateway/server"
	"github.com/kfgate/kfgate/gateway/source"
)

const svcTemplate = `apiVersion: v1
kind: Service
metadata:
  name: app
  namespace: default
  annotations:
    getambassador.io/config: |
      apiVersion: ambassador/v0
      kind: Mapping
      name: app
      prefix: PREFIX
      service: app
spec:
  ports:
  - port: 80
`

func stateOf(t *testing.T, d *diagnostics.Server) *diagnostics.State {
	t.Helper()
	st := d.State()
	if st == nil || st.Report == nil {
		t.Fatal("no diagnostics state")
	}
	return st
}

func routed(st *diagnostics.State, match string) bool {
	for _, o := range st.Report.Objects {
		for _, d := range o.Documents {
			for _, r := range d.Routes {
				if r.Match == match {
					return true
				}
			}
		}
	}
	return false
}

func hasDiag(st *diagnostics.State, reason string) bool {
	for _, o := range st.Report.Objects {
		for _, d := range o.Diagnostics {
			if d.Reason == reason {
				return true
			}
		}
	}
	return false
}

// writeAtomically replaces a file in one rename, so the watcher never reads it half-written.
func writeAtomically(t *testing.T, file, content string) {
	t.Helper()
	tmp := filepath.Join(t.TempDir(), filepath.Base(file))
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
}

// newRunner returns a Runner publishing to a fresh xDS server and diagnostics page.
func newRunner(tb testing.TB) (*Runner, *server.Server, *diagnostics.Server) {
	tb.Helper()
	reg := prometheus.NewRegistry()
	srv := server.New(server.Options{Registry: reg})
	diag := diagnostics.New(reg, srv.Ready)
	return New(build.Options{}, srv, diag, reg, logr.Discard()), srv, diag
}

// serveXDS serves srv on a free loopback port until the test ends and returns a client connection
// that accepts messages as large as the server sends.
func serveXDS(tb testing.TB, srv *server.Server) *grpc.ClientConn {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(tb.Context(), lis) }()
	tb.Cleanup(func() {
		if err := <-done; err != nil {
			tb.Error(err)
		}
	})
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(server.DefaultMaxSendMsgSize)))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = conn.Close() })
	return conn
}

// annotated returns n Services with two Mappings each (model servers, 50 namespaces), each with an
// EndpointSlice when slices is set.
func annotated(n int, slices bool) source.Objects {
	var objs source.Objects
	for i := range n {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("model-", i), Namespace: fmt.Sprint("team-", i%50),
			Annotations: map[string]string{mapping.AnnotationAmbassador: mappings(i, 3000)}},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}
		objs.Services = append(objs.Services, svc)
		objs.Texts = append(objs.Texts, source.ServiceTexts(svc, "", nil)...)
		if slices {
			objs.EndpointSlices = append(objs.EndpointSlices, slice(svc, i))
		}
	}
	return objs
}
