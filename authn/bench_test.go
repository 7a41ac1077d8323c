package authn_test

import (
	"context"
	"net"
	"sort"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/go-logr/logr"
	"golang.org/x/oauth2"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/kfgate/kfgate/authn"
	"github.com/kfgate/kfgate/authn/bearer"
	"github.com/kfgate/kfgate/authn/session"
	"github.com/kfgate/kfgate/test/oidcprovider"
)

// noop is the baseline: an ext_authz server that allows everything and does nothing else.
type noop struct {
	authv3.UnimplementedAuthorizationServer
}

func (noop) Check(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	return &authv3.CheckResponse{Status: &rpcstatus.Status{}, HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{}}}, nil
}

// staticIDP is a discovered provider for the login-redirect case, which needs only the endpoints.
type staticIDP struct{ d *authn.Discovered }

func (s staticIDP) Current() (*authn.Discovered, error) { return s.d, nil }
func (s staticIDP) Reachable() bool                     { return true }

type benchEnv struct {
	authz, uncached              *authn.Authorizer
	session, bearerReq, loginReq *authv3.CheckRequest
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	idp := oidcprovider.Start(b, oidcprovider.Options{})
	tokens, err := idp.Tokens(context.Background(), user.Email, user.Password)
	if err != nil {
		b.Fatal(err)
	}
	cfg := authn.Defaults()
	cfg.OIDC.Issuer, cfg.OIDC.ClientID = idp.Issuer, clientID
	cfg.Login.RatePerMinute, cfg.Login.Burst = 1e12, 1<<30
	cfg.Login.LoopLimit = 1 << 30
	keys, err := session.NewKeyring([][]byte{make([]byte, 32)}, nil)
	if err != nil {
		b.Fatal(err)
	}
	store, err := session.NewCookieStore(keys, session.Options{Secure: true, AbsoluteTimeout: 12 * time.Hour, IdleTimeout: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	v, err := bearer.New(bearer.Config{Issuers: []bearer.Issuer{{URL: idp.Issuer, Audiences: []string{oidcprovider.TokensClientID}}}}, bearer.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(v.Close)
	authz := authn.New(cfg, authn.Deps{
		Log: logr.Discard(), Store: store, Keys: keys, Bearer: v,
		IDP: staticIDP{&authn.Discovered{OAuth2: oauth2.Config{
			ClientID: clientID, Endpoint: oauth2.Endpoint{AuthURL: idp.Issuer + "/auth", TokenURL: idp.Issuer + "/token"}, Scopes: cfg.OIDC.Scopes,
		}}},
	})
	every, err := bearer.New(bearer.Config{Issuers: []bearer.Issuer{{URL: idp.Issuer, Audiences: []string{oidcprovider.TokensClientID}}}},
		bearer.Options{Remember: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(every.Close)
	uncached := authn.New(cfg, authn.Deps{Log: logr.Discard(), Store: store, Keys: keys, Bearer: every, IDP: staticIDP{}})
	now := time.Now()
	id, err := session.NewID(nil)
	if err != nil {
		b.Fatal(err)
	}
	cookies, err := store.Save(context.Background(), &session.Session{
		ID: id, User: user.Email, Groups: user.Groups, Subject: user.ID,
		Issuer: idp.Issuer, IDToken: tokens.IDToken, RefreshToken: "rt", Expiry: now.Add(time.Hour), Created: now, LastSeen: now,
	}, nil)
	if err != nil {
		b.Fatal(err)
	}
	cookie := "app=1"
	for _, c := range cookies {
		cookie += "; " + c.Name + "=" + c.Value
	}
	e := &benchEnv{authz: authz, uncached: uncached}
	e.session = checkRequest("/jupyter/", map[string]string{"accept": html, "cookie": cookie})
	e.bearerReq = checkRequest("/apis/v2beta1/runs", map[string]string{"authorization": "Bearer " + tokens.IDToken})
	e.loginReq = checkRequest("/jupyter/", map[string]string{"accept": html})
	// Warm the JWKS cache: the benchmark measures the cached path.
	if resp, _ := authz.Check(context.Background(), e.bearerReq); resp.GetOkResponse() == nil {
		b.Fatal("bearer request denied")
	}
	return e
}

func checkRequest(path string, headers map[string]string) *authv3.CheckRequest {
	h := map[string]string{":authority": gatewayHost, ":path": path, ":method": "GET", ":scheme": "https",
		"user-agent":        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36",
		"x-forwarded-proto": "https", "x-request-id": "0f6c3b7e-54c1-4c59-9f1a-0b3f4b1c2d3e", "accept-encoding": "gzip, deflate, br"}
	for k, v := range headers {
		h[k] = v
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: "192.0.2.10", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 50000}}}}},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: "1", Method: "GET", Path: path, Host: gatewayHost, Scheme: "https", Protocol: "HTTP/1.1", Headers: h}},
		ContextExtensions: map[string]string{"namespace": "kubeflow", "service": "jupyter-web-app", "mapping": "jupyter"},
	}}
}

// serveGRPC serves srv on loopback and returns a client of it.
func serveGRPC(b *testing.B, srv authv3.AuthorizationServer) authv3.AuthorizationClient {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	gs := grpc.NewServer()
	authv3.RegisterAuthorizationServer(gs, srv)
	go func() { _ = gs.Serve(l) }()
	b.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	return authv3.NewAuthorizationClient(conn)
}

// BenchmarkCheck measures Check throughput over real gRPC on loopback, each case next to the no-op
// server (docs/benchmarks.md reports each as a ratio to noop from the same run).
func BenchmarkCheck(b *testing.B) {
	e := newBenchEnv(b)
	for _, c := range []struct {
		name string
		srv  authv3.AuthorizationServer
		req  *authv3.CheckRequest
		want func(*authv3.CheckResponse) bool
	}{
		{"noop", noop{}, e.session, func(r *authv3.CheckResponse) bool { return r.GetOkResponse() != nil }},
		{"session-cookie", e.authz, e.session, func(r *authv3.CheckResponse) bool { return len(r.GetOkResponse().GetHeaders()) > 0 }},
		{"bearer-rs256", e.authz, e.bearerReq, func(r *authv3.CheckResponse) bool { return len(r.GetOkResponse().GetHeaders()) > 0 }},
		{"bearer-rs256-verify-every-time", e.uncached, e.bearerReq, func(r *authv3.CheckResponse) bool { return len(r.GetOkResponse().GetHeaders()) > 0 }},
		{"login-redirect", e.authz, e.loginReq, func(r *authv3.CheckResponse) bool { return r.GetDeniedResponse().GetStatus().GetCode() == 302 }},
	} {
		b.Run(c.name, func(b *testing.B) {
			client := serveGRPC(b, c.srv)
			if resp, err := client.Check(context.Background(), c.req); err != nil || !c.want(resp) {
				b.Fatalf("unexpected answer: %v %v", resp, err)
			}
			b.SetParallelism(8)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := client.Check(context.Background(), c.req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkCheckAt5k sends session-cookie checks at a fixed 5,000 per second (open loop: a request
// is sent on schedule whether or not earlier ones have finished) and reports the latency
// percentiles, next to the no-op server at the same rate.
func BenchmarkCheckAt5k(b *testing.B) {
	e := newBenchEnv(b)
	for _, c := range []struct {
		name string
		srv  authv3.AuthorizationServer
	}{{"noop", noop{}}, {"session-cookie", e.authz}} {
		b.Run(c.name, func(b *testing.B) {
			client := serveGRPC(b, c.srv)
			const interval = 200 * time.Microsecond
			lat := make([]time.Duration, b.N)
			// A pool of senders, so that the generator does not start a goroutine per request. Latency
			// counts from the send: timer wake-ups here overshoot by up to ~0.5 ms, which would swamp
			// what is measured; the pool is deep enough that sends are never held back by slow answers.
			jobs := make(chan int, 1024)
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range jobs {
						t0 := time.Now()
						if _, err := client.Check(context.Background(), e.session); err != nil {
							b.Error(err)
						}
						lat[i] = time.Since(t0)
					}
				}()
			}
			for i := range b.N {
				if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
					time.Sleep(d)
				}
				jobs <- i
			}
			close(jobs)
			wg.Wait()
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}
