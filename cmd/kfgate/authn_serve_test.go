package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	"github.com/kfgate/kfgate/test/oidcprovider"
)

// The shipped command, configured by a file and the environment, serves Check with the gRPC
// health service (SERVING once the provider is discovered) and reflection, and stops on its context.
func TestAuthnServes(t *testing.T) {
	idp := oidcprovider.Start(t, oidcprovider.Options{})
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	cfg := write("authn.yaml", "oidc:\n  clientID: kfgate\n  clientSecretFile: "+write("secret", "s")+
		"\nsession:\n  keyFiles: ["+write("key", base64.StdEncoding.EncodeToString(key))+"]\n")
	t.Setenv("KFGATE_AUTHN_OIDC_ISSUER", idp.Issuer)
	grpcAddr, httpAddr := freeAddr(t), freeAddr(t)

	cmd := newRootCommand()
	cmd.SetArgs([]string{"authn", "--config", cfg, "--grpc-address", grpcAddr, "--http-address", httpAddr, "--log-level", "error"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()

	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	health := healthpb.NewHealthClient(conn)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: "envoy.service.auth.v3.Authorization"})
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never SERVING: %v %v", resp, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if resp, err := http.Get("http://" + httpAddr + "/readyz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz: %v %v", resp, err)
	}
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	list, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range list.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	if !strings.Contains(strings.Join(names, " "), "envoy.service.auth.v3.Authorization") {
		t.Fatalf("reflection lists %v", names)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("authn ended with %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("authn did not stop")
	}
}
