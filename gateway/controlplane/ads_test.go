package controlplane

import (
	"path/filepath"
	"strings"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/go-logr/logr"
	"google.golang.org/protobuf/proto"

	"github.com/kfgate/kfgate/gateway/source"
	"github.com/kfgate/kfgate/test/xdsclient"
)

// TestAnnotationsToEnvoyOverADS is the standalone appliance in one test: a watched directory of
// annotated Services, built and served over a real gRPC ADS server, read by Envoy-like SotW and Delta
// clients. An edit reaches both as a new RouteConfiguration; a broken edit changes nothing they see,
// and the diagnostics page says why.
func TestAnnotationsToEnvoyOverADS(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "app.yaml")
	write := func(prefix string) {
		t.Helper()
		writeAtomically(t, file, strings.Replace(svcTemplate, "PREFIX", prefix, 1))
	}
	write("/one/")

	r, srv, diag := newRunner(t)
	conn := serveXDS(t, srv)
	ctx := t.Context()
	watched := make(chan error, 1)
	applied := make(chan string, 16)
	go func() {
		watched <- source.WatchDir(ctx, dir, source.DefaultDebounce, logr.Discard(), func(o source.Objects) {
			if err := r.Apply(ctx, o); err != nil {
				t.Errorf("apply: %v", err)
			}
			applied <- srv.TypeVersion(resourcev3.RouteType)
		})
	}()
	t.Cleanup(func() {
		if err := <-watched; err != nil {
			t.Error(err)
		}
	})

	v1 := <-applied
	sotw := xdsclient.NewSotW(t, conn, "envoy-sotw")
	delta := xdsclient.NewDelta(t, conn, "envoy-delta")
	got := sotw.Await(map[string]string{resourcev3.RouteType: v1})
	if p := prefixes(t, got[resourcev3.RouteType].GetResources()[0].GetValue()); p != "/one/" {
		t.Fatalf("SotW client got routes %q, want /one/", p)
	}
	delta.Await(map[string]string{resourcev3.RouteType: v1})

	write("/two/")
	v2 := <-applied
	if v2 == v1 {
		t.Fatal("an edit did not change the RouteConfiguration version")
	}
	got = sotw.Await(map[string]string{resourcev3.RouteType: v2})
	if p := prefixes(t, got[resourcev3.RouteType].GetResources()[0].GetValue()); p != "/two/" {
		t.Fatalf("SotW client got routes %q after the edit, want /two/", p)
	}
	delta.Await(map[string]string{resourcev3.RouteType: v2})
	for _, a := range delta.Snapshot(resourcev3.RouteType) {
		if p := prefixes(t, a.GetValue()); p != "/two/" {
			t.Fatalf("Delta client holds routes %q after the edit, want /two/", p)
		}
	}

	write("no-slash")
	if v3 := <-applied; v3 != v2 {
		t.Fatalf("a broken edit changed what Envoy is served: %s → %s", v2, v3)
	}
	if st := stateOf(t, diag); !routed(st, "prefix /two/") || !hasDiag(st, "StaleConfig") || !hasDiag(st, "InvalidMapping") {
		t.Fatalf("the diagnostics page must show the last good route and why the edit was refused: %+v", st.Report.Objects)
	}
}

func prefixes(t *testing.T, raw []byte) string {
	t.Helper()
	var rc routev3.RouteConfiguration
	if err := proto.Unmarshal(raw, &rc); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, vh := range rc.GetVirtualHosts() {
		for _, rt := range vh.GetRoutes() {
			out = append(out, rt.GetMatch().GetPrefix())
		}
	}
	return strings.Join(out, ",")
}
