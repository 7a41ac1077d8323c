package authn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kfgate/kfgate/authn/access"
	"github.com/kfgate/kfgate/authn/bearer"
	"github.com/kfgate/kfgate/authn/session"
)

// Options are what the command gives a Server beyond the configuration.
type Options struct {
	Log logr.Logger
	// Kube returns the Kubernetes client configuration, needed only for TokenReview and the
	// namespace check.
	Kube func() (*rest.Config, error)
	Now  func() time.Time
	Rand io.Reader
}

// Server is kfgate authn: the ext_authz gRPC service and its HTTP endpoints.
type Server struct {
	cfg      Config
	log      logr.Logger
	authz    *Authorizer
	provider *Provider
	bearer   *bearer.Verifier
	redis    *redis.Client
	reg      *prometheus.Registry
	health   *health.Server
}

// NewServer builds every part from a validated configuration: it reads the secret files, opens
// the session store and prepares discovery, but reaches no network yet.
func NewServer(cfg Config, o Options) (*Server, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{cfg: cfg, log: o.Log, reg: prometheus.NewRegistry(), health: health.NewServer()}
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := NewMetrics(s.reg)
	if err != nil {
		return nil, err
	}
	secret, err := readSecret(cfg.OIDC.ClientSecretFile, "oidc.clientSecretFile")
	if err != nil {
		return nil, err
	}
	keys, err := session.LoadKeyFiles(cfg.Session.KeyFiles, o.Rand)
	if err != nil {
		return nil, fmt.Errorf("session.keyFiles: %w", err)
	}
	d := Deps{Now: o.Now, Rand: o.Rand, Log: o.Log, Keys: keys, Metrics: m}
	if d.Store, d.Ledger, err = s.openStore(cfg.Session, keys, o); err != nil {
		return nil, err
	}
	if s.provider, err = NewProvider(cfg.OIDC, secret, o.Now, o.Log.WithName("oidc"), m); err != nil {
		return nil, err
	}
	d.IDP = s.provider
	if err := s.kubeParts(&d, o); err != nil {
		return nil, err
	}
	s.authz = New(cfg, d)
	return s, nil
}

func (s *Server) openStore(c SessionConfig, keys *session.Keyring, o Options) (session.Store, Ledger, error) {
	so := session.Options{
		CookieName: c.CookieName, Secure: c.Secure, AbsoluteTimeout: c.AbsoluteTimeout,
		IdleTimeout: c.IdleTimeout, Now: o.Now, Rand: o.Rand,
	}
	if c.Store == "cookie" {
		st, err := session.NewCookieStore(keys, so)
		return st, nil, err
	}
	ro := &redis.Options{Addr: c.Redis.Address, DB: c.Redis.DB}
	if c.Redis.PasswordFile != "" {
		pw, err := readSecret(c.Redis.PasswordFile, "session.redis.passwordFile")
		if err != nil {
			return nil, nil, err
		}
		ro.Password = pw
	}
	redis.SetLogger(redisLog{s.log.WithName("redis")}) // go-redis logs through a package-level logger
	s.redis = redis.NewClient(ro)
	st, err := session.NewRedisStore(s.redis, keys, so)
	return st, RedisLedger{Client: s.redis}, err
}

// kubeParts builds the bearer verifier and the namespace checker, which may need the API server.
func (s *Server) kubeParts(d *Deps, o Options) error {
	var kc *kubernetes.Clientset
	var kcfg *rest.Config
	needKube := s.cfg.Bearer.Kubernetes.Mode != "" || s.cfg.Authorization.Namespace.Enabled
	if needKube {
		if o.Kube == nil {
			return errors.New("the Kubernetes API is needed (bearer.kubernetes or authorization.namespaceAccess) but no configuration is available")
		}
		var err error
		if kcfg, err = o.Kube(); err != nil {
			return fmt.Errorf("kubernetes client: %w", err)
		}
		if kc, err = kubernetes.NewForConfig(kcfg); err != nil {
			return fmt.Errorf("kubernetes client: %w", err)
		}
	}
	bo := bearer.Options{Now: o.Now, Log: o.Log.WithName("bearer")}
	if kc != nil {
		bo.TokenReviews = kc.AuthenticationV1().TokenReviews()
		hc, err := rest.HTTPClientFor(kcfg)
		if err != nil {
			return fmt.Errorf("kubernetes client: %w", err)
		}
		bo.KubeHTTPClient = hc
	}
	v, err := bearer.New(s.cfg.Bearer, bo)
	if err != nil {
		return fmt.Errorf("bearer: %w", err)
	}
	s.bearer, d.Bearer = v, v
	if s.cfg.Authorization.Namespace.Enabled {
		c, err := access.NewChecker(s.cfg.Authorization.Namespace, kc.AuthorizationV1().SubjectAccessReviews(), o.Now)
		if err != nil {
			return fmt.Errorf("authorization.namespaceAccess: %w", err)
		}
		d.Access = c
	}
	return nil
}

// readSecret reads a secret file; errors name the file and the setting, never the content.
func readSecret(path, setting string) (string, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- the path is the operator's configuration
	if err != nil {
		return "", fmt.Errorf("%s: %w", setting, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("%s %s: the file is empty", setting, path)
	}
	return v, nil
}

// Authorizer returns the ext_authz service.
func (s *Server) Authorizer() *Authorizer { return s.authz }

// Ready reports whether kfgate authn can log users in: discovery has succeeded (and Redis answers,
// with the redis store).
func (s *Server) Ready(ctx context.Context) error {
	if !s.provider.Ready() {
		return errors.New("the identity provider has not been discovered yet")
	}
	if s.redis != nil {
		if err := s.redis.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("redis: %w", err)
		}
	}
	return nil
}

// Run listens on the configured addresses and serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	var lc net.ListenConfig
	gl, err := lc.Listen(ctx, "tcp", s.cfg.GRPCAddress)
	if err != nil {
		return fmt.Errorf("grpcAddress: %w", err)
	}
	hl, err := lc.Listen(ctx, "tcp", s.cfg.HTTPAddress)
	if err != nil {
		_ = gl.Close()
		return fmt.Errorf("httpAddress: %w", err)
	}
	return s.Serve(ctx, gl, hl)
}

// Serve serves gRPC on gl and HTTP on hl until ctx ends, then stops gracefully.
func (s *Server) Serve(ctx context.Context, gl, hl net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	gs := grpc.NewServer(grpc.MaxRecvMsgSize(1 << 20))
	authv3.RegisterAuthorizationServer(gs, s.authz)
	healthpb.RegisterHealthServer(gs, s.health)
	reflection.Register(gs)
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	s.health.SetServingStatus(authv3.Authorization_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_NOT_SERVING)

	hs := &http.Server{Handler: s.httpHandler(), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 2)
	go func() { errc <- gs.Serve(gl) }()
	go func() { errc <- hs.Serve(hl) }()
	go s.provider.Run(ctx)
	go s.watchReadiness(ctx)
	s.log.Info("kfgate authn serving", "grpc", gl.Addr().String(), "http", hl.Addr().String(),
		"issuer", s.cfg.OIDC.Issuer, "store", s.cfg.Session.Store)

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	s.health.Shutdown()
	stopped := make(chan struct{})
	go func() { gs.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		gs.Stop()
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	err = errors.Join(err, hs.Shutdown(sctx))
	s.bearer.Close()
	if s.redis != nil {
		err = errors.Join(err, s.redis.Close())
	}
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, grpc.ErrServerStopped) {
		err = nil
	}
	return err
}

// watchReadiness mirrors Ready into the gRPC health service.
func (s *Server) watchReadiness(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	last := healthpb.HealthCheckResponse_NOT_SERVING
	for {
		st := healthpb.HealthCheckResponse_SERVING
		if s.Ready(ctx) != nil {
			st = healthpb.HealthCheckResponse_NOT_SERVING
		}
		if st != last {
			s.health.SetServingStatus("", st)
			s.health.SetServingStatus(authv3.Authorization_ServiceDesc.ServiceName, st)
			last = st
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := s.Ready(r.Context()); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	return mux
}

// redisLog sends go-redis's own messages (connection pool retries) to the debug log.
type redisLog struct{ log logr.Logger }

func (l redisLog) Printf(_ context.Context, format string, v ...any) {
	l.log.V(1).Info(fmt.Sprintf(format, v...))
}
