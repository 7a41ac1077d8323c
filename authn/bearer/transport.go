package bearer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// maxDocSize bounds a discovery document or JWKS: an issuer (or whatever answers in its place)
// must not make the verifier buffer without limit.
const maxDocSize = 1 << 20

// defaultHTTPClient has a timeout, so that a hanging issuer cannot hold Verify (or the background
// discovery) forever.
func defaultHTTPClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: cloneTransport(nil)}
}

func cloneTransport(rt http.RoundTripper) *http.Transport {
	if t, ok := rt.(*http.Transport); ok {
		return t.Clone()
	}
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		return t.Clone()
	}
	return &http.Transport{Proxy: http.ProxyFromEnvironment}
}

// withCAFile returns a client like base that also trusts the PEM bundle at path (besides the system
// roots: the bundle adds a private CA, it does not replace the public ones).
func withCAFile(base *http.Client, path string) (*http.Client, error) {
	pem, err := os.ReadFile(filepath.Clean(path))
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	if base.Transport != nil {
		if _, ok := base.Transport.(*http.Transport); !ok {
			return nil, fmt.Errorf("the HTTP client's transport is a %T, not an *http.Transport to add the CA to", base.Transport)
		}
	}
	t := cloneTransport(base.Transport)
	if t.TLSClientConfig == nil {
		t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		t.TLSClientConfig = t.TLSClientConfig.Clone()
	}
	t.TLSClientConfig.RootCAs = pool
	c := *base
	c.Transport = t
	return &c, nil
}

// hostRouter sends the requests for one origin through the Kubernetes transport (which adds the
// pod's ServiceAccount token) and every other request through the plain one, so that the pod's
// credentials never go to another host: a jwks_uri elsewhere, or a redirect.
type hostRouter struct {
	origin      string
	kube, other http.RoundTripper
}

func (r hostRouter) RoundTrip(req *http.Request) (*http.Response, error) {
	if origin(req.URL) == r.origin {
		return r.kube.RoundTrip(req)
	}
	return r.other.RoundTrip(req)
}

// kubeClient is the client for the Kubernetes issuer: base's timeout, kube's transport for the
// discovery origin only.
func kubeClient(base, kube *http.Client, discovery string) (*http.Client, error) {
	u, err := url.Parse(discovery)
	if err != nil {
		return nil, err
	}
	kt, ot := kube.Transport, base.Transport
	if kt == nil {
		kt = http.DefaultTransport
	}
	if ot == nil {
		ot = http.DefaultTransport
	}
	c := *base
	c.Transport = hostRouter{origin: origin(u), kube: kt, other: ot}
	return &c, nil
}

// origin is scheme://host:port with the default port filled in, so that https://h and https://h:443
// are one origin.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
	}
	return u.Scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// getJSON fetches a JSON document of at most maxDocSize bytes.
func getJSON(ctx context.Context, c *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	// A Kubernetes API server answers 406 to a JWKS request accepting only application/json.
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocSize+1))
	if err != nil {
		return fmt.Errorf("GET %s: reading: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	if len(body) > maxDocSize {
		return fmt.Errorf("GET %s: more than %d bytes", u, maxDocSize)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}

var errNoKeys = errors.New("the JWKS has no usable signing key")
