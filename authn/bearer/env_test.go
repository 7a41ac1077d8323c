package bearer

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/kfgate/kfgate/test/apiserver"
)

// kube is the envtest API server of the Kubernetes tests; nil when envtest's binaries are missing.
var kube *cluster

type cluster struct {
	env *envtest.Environment
	cfg *rest.Config
	cs  *kubernetes.Clientset
	// issuer is the API server's --service-account-issuer: envtest sets it to its own secure URL.
	issuer string
}

// TestMain shares one real API server among the tests.
func TestMain(m *testing.M) {
	apiserver.Main(m, nil, func(env *envtest.Environment, cfg *rest.Config) {
		kube = &cluster{env: env, cfg: cfg, cs: kubernetes.NewForConfigOrDie(cfg),
			issuer: env.ControlPlane.APIServer.SecureServing.URL("https", "/").String()}
	})
}

func needCluster(t testing.TB) *cluster {
	t.Helper()
	if kube == nil {
		t.Skip("no envtest API server (KUBEBUILDER_ASSETS unset): run `make test`")
	}
	return kube
}

var nsCount atomic.Int64

// serviceAccount creates a namespace and a ServiceAccount in it.
func (c *cluster) serviceAccount(t testing.TB) (ns, name string) {
	t.Helper()
	ns = fmt.Sprintf("bearer-%d-%s", nsCount.Add(1), strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")))
	ns = strings.TrimRight(ns[:min(len(ns), 50)], "-")
	ctx := context.Background()
	if _, err := c.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	name = "runner"
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if _, err := c.cs.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return ns, name
}

// token asks the TokenRequest API for a token of the ServiceAccount for these audiences.
func (c *cluster) token(t testing.TB, ns, name string, audiences ...string) string {
	t.Helper()
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{Audiences: audiences, ExpirationSeconds: ptr.To[int64](600)}}
	res, err := c.cs.CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), name, req, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return res.Status.Token
}

func wantServiceAccount(t testing.TB, id Identity, ns, name string) {
	t.Helper()
	if id.User != "system:serviceaccount:"+ns+":"+name {
		t.Fatalf("user %q", id.User)
	}
	for _, g := range []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"} {
		if !slices.Contains(id.Groups, g) {
			t.Fatalf("groups %v lack %s", id.Groups, g)
		}
	}
}

// TestEnvTokenReview verifies TokenRequest tokens through the API server's TokenReview.
func TestEnvTokenReview(t *testing.T) {
	c := needCluster(t)
	ns, sa := c.serviceAccount(t)
	cfg := Config{Kubernetes: Kubernetes{Mode: ModeTokenReview, Issuer: c.issuer, Audiences: []string{"kfgate.test"}}}
	v := newVerifier(t, cfg, clockNow(), Options{TokenReviews: c.cs.AuthenticationV1().TokenReviews()})

	raw := c.token(t, ns, sa, "kfgate.test", "other")
	id, err := v.Verify(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	wantServiceAccount(t, id, ns, sa)
	if id.Issuer != c.issuer || id.Expiry.IsZero() {
		t.Fatalf("identity %+v", id)
	}

	_, err = v.Verify(t.Context(), c.token(t, ns, sa, "pipelines.kubeflow.org"))
	wantErr(t, err, ErrInvalidToken, "did not authenticate")

	_, err = v.Verify(t.Context(), "garbage")
	wantErr(t, err, ErrInvalidToken, "")
	// JWT-shaped, but not signed by the cluster: the API server says no.
	forged := key(t, "rsa-1").sign(t, map[string]any{"iss": c.issuer, "sub": "system:serviceaccount:" + ns + ":" + sa,
		"aud": []string{"kfgate.test"}, "exp": 4102444800})
	_, err = v.Verify(t.Context(), forged)
	wantErr(t, err, ErrInvalidToken, "did not authenticate")

	// The ServiceAccount is deleted: the API server no longer accepts its token (discovery mode,
	// offline, could not know). A new Verifier, so the answer is not the cached one.
	if err := c.cs.CoreV1().ServiceAccounts(ns).Delete(t.Context(), sa, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// The API server reads ServiceAccounts through its informer, so the deletion takes a moment.
	deadline := time.Now().Add(30 * time.Second)
	for {
		v = newVerifier(t, cfg, clockNow(), Options{TokenReviews: c.cs.AuthenticationV1().TokenReviews()})
		if _, err = v.Verify(t.Context(), raw); err != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	wantErr(t, err, ErrInvalidToken, "did not authenticate")
}

// TestEnvTokenReviewForbidden: an API server refusing the TokenReview (the client lacks RBAC for
// it) is ErrUnavailable, not a verdict on the token.
func TestEnvTokenReviewForbidden(t *testing.T) {
	c := needCluster(t)
	ns, sa := c.serviceAccount(t)
	user, err := c.env.ControlPlane.AddUser(envtest.User{Name: "nobody"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(user.Config())
	v := newVerifier(t, Config{Kubernetes: Kubernetes{Mode: ModeTokenReview, Issuer: c.issuer}}, clockNow(),
		Options{TokenReviews: cs.AuthenticationV1().TokenReviews()})
	_, err = v.Verify(t.Context(), c.token(t, ns, sa, "kfgate.test"))
	wantErr(t, err, ErrUnavailable, "forbidden")
}

// TestEnvDiscovery verifies ServiceAccount tokens offline with the API server's own issuer
// discovery (/.well-known/openid-configuration and /openid/v1/jwks), fetched with the admin's
// client as a pod would with its own credentials.
func TestEnvDiscovery(t *testing.T) {
	c := needCluster(t)
	ns, sa := c.serviceAccount(t)
	hc, err := rest.HTTPClientFor(c.cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Kubernetes: Kubernetes{Mode: ModeDiscovery, Issuer: c.issuer, DiscoveryURL: c.cfg.Host,
		Audiences: []string{"kfgate.test"}, UserPrefix: "k8s:"}}
	v := newVerifier(t, cfg, clockNow(), Options{KubeHTTPClient: hc})

	var doc map[string]any
	if err := getJSON(t.Context(), hc, strings.TrimSuffix(c.cfg.Host, "/")+"/.well-known/openid-configuration", &doc); err != nil {
		t.Fatal(err)
	}
	t.Logf("the API server's discovery document: %v", doc)

	id, err := v.Verify(t.Context(), c.token(t, ns, sa, "kfgate.test"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(id.User, "k8s:") {
		t.Fatalf("user %q", id.User)
	}
	id.User = strings.TrimPrefix(id.User, "k8s:")
	wantServiceAccount(t, id, ns, sa)
	if !v.Ready() {
		t.Fatal("not ready")
	}

	_, err = v.Verify(t.Context(), c.token(t, ns, sa, "pipelines.kubeflow.org"))
	wantErr(t, err, ErrInvalidToken, "none of the configured audiences")

	// Without the cluster's client, the API server's certificate is not trusted.
	plain := newVerifier(t, cfg, clockNow(), Options{})
	_, err = plain.Verify(t.Context(), c.token(t, ns, sa, "kfgate.test"))
	wantErr(t, err, ErrUnavailable, "certificate")

	// Offline verification cannot see the ServiceAccount go: its token verifies until it expires
	// (what tokenreview mode exists for).
	raw := c.token(t, ns, sa, "kfgate.test")
	if err := c.cs.CoreV1().ServiceAccounts(ns).Delete(t.Context(), sa, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(t.Context(), raw); err != nil {
		t.Fatalf("discovery mode after the ServiceAccount was deleted: %v", err)
	}
}

// clockNow is a test clock at the real time: the API server stamps its tokens with it.
func clockNow() *clock { return &clock{t: time.Now()} }
