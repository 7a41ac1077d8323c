package access

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// clock is the injected clock; it only moves when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeSARs answers SubjectAccessReviews with answer and counts them.
type fakeSARs struct {
	calls  atomic.Int32
	answer func(authorizationv1.SubjectAccessReviewSpec) (authorizationv1.SubjectAccessReviewStatus, error)
}

func (f *fakeSARs) checker(t testing.TB, c Config, clk *clock) *Checker {
	t.Helper()
	cs := fake.NewClientset()
	cs.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		f.calls.Add(1)
		sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
		st, err := f.answer(sar.Spec)
		if err != nil {
			return true, nil, err
		}
		return true, &authorizationv1.SubjectAccessReview{Spec: sar.Spec, Status: st}, nil
	})
	ch, err := NewChecker(c, cs.AuthorizationV1().SubjectAccessReviews(), clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func TestAllowedSpecAndCache(t *testing.T) {
	clk := newClock()
	var got []authorizationv1.SubjectAccessReviewSpec
	f := &fakeSARs{answer: func(s authorizationv1.SubjectAccessReviewSpec) (authorizationv1.SubjectAccessReviewStatus, error) {
		got = append(got, s)
		return authorizationv1.SubjectAccessReviewStatus{Allowed: s.User == "alice", Reason: map[bool]string{true: "RBAC: allowed"}[s.User == "alice"]}, nil
	}}
	c := f.checker(t, Config{Enabled: true}, clk)
	ask := func(user string, groups []string, ns string) {
		t.Helper()
		if _, _, err := c.Allowed(t.Context(), user, groups, ns); err != nil {
			t.Fatal(err)
		}
	}
	ok, why, err := c.Allowed(t.Context(), "alice", []string{"b", "a", "b"}, "team")
	if err != nil || !ok || why != "RBAC: allowed" {
		t.Fatalf("alice: %v %q %v", ok, why, err)
	}
	s := got[0]
	ra := s.ResourceAttributes
	if s.User != "alice" || !slices.Equal(s.Groups, []string{"a", "b"}) || ra.Namespace != "team" || ra.Verb != "get" ||
		ra.Group != "kubeflow.org" || ra.Resource != "notebooks" {
		t.Fatalf("spec %+v %+v", s, ra)
	}
	// The groups' order and repeats do not matter to the cache.
	if ok, _, _ := c.Allowed(t.Context(), "alice", []string{"a", "b"}, "team"); !ok || f.calls.Load() != 1 {
		t.Fatalf("cached: %v, %d calls", ok, f.calls.Load())
	}
	// A denial is cached too, and has a reason.
	ok, why, err = c.Allowed(t.Context(), "bob", nil, "team")
	if err != nil || ok || !strings.Contains(why, `no rule lets "bob" get notebooks.kubeflow.org in namespace "team"`) {
		t.Fatalf("bob: %v %q %v", ok, why, err)
	}
	ask("bob", nil, "team")
	if f.calls.Load() != 2 {
		t.Fatalf("%d calls, want 2", f.calls.Load())
	}
	// Another namespace, or other groups, is another question.
	ask("alice", []string{"a", "b"}, "other")
	ask("alice", []string{"a"}, "team")
	if f.calls.Load() != 4 {
		t.Fatalf("%d calls, want 4", f.calls.Load())
	}
	// After the TTL, asked again.
	clk.Advance(DefaultCacheTTL)
	ask("alice", []string{"a", "b"}, "team")
	if f.calls.Load() != 5 {
		t.Fatalf("%d calls after the TTL, want 5", f.calls.Load())
	}
}

// TestAllowedAPIError: an API error is returned, not cached.
func TestAllowedAPIError(t *testing.T) {
	clk := newClock()
	fail := true
	f := &fakeSARs{answer: func(authorizationv1.SubjectAccessReviewSpec) (authorizationv1.SubjectAccessReviewStatus, error) {
		if fail {
			return authorizationv1.SubjectAccessReviewStatus{}, errors.New("etcdserver: request timed out")
		}
		return authorizationv1.SubjectAccessReviewStatus{Allowed: true}, nil
	}}
	c := f.checker(t, Config{Enabled: true}, clk)
	ok, _, err := c.Allowed(t.Context(), "alice", nil, "team")
	if err == nil || ok || !strings.Contains(err.Error(), "request timed out") {
		t.Fatalf("got %v %v", ok, err)
	}
	fail = false
	ok, _, err = c.Allowed(t.Context(), "alice", nil, "team")
	if err != nil || !ok || f.calls.Load() != 2 {
		t.Fatalf("the error was cached: %v %v, %d calls", ok, err, f.calls.Load())
	}
}

// TestAllowedShared: concurrent identical misses send one SubjectAccessReview.
func TestAllowedShared(t *testing.T) {
	release := make(chan struct{})
	f := &fakeSARs{answer: func(authorizationv1.SubjectAccessReviewSpec) (authorizationv1.SubjectAccessReviewStatus, error) {
		<-release
		return authorizationv1.SubjectAccessReviewStatus{Allowed: true}, nil
	}}
	c := f.checker(t, Config{Enabled: true}, newClock())
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			groups := []string{"x", "y"}
			if i%2 == 1 {
				groups = []string{"y", "x"}
			}
			if ok, _, err := c.Allowed(t.Context(), "alice", groups, "team"); err != nil || !ok {
				t.Error(ok, err)
			}
		})
	}
	for f.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the others join
	close(release)
	wg.Wait()
	if f.calls.Load() != 1 {
		t.Fatalf("%d SubjectAccessReviews, want 1", f.calls.Load())
	}
}

func TestAllowedEvaluationError(t *testing.T) {
	f := &fakeSARs{answer: func(authorizationv1.SubjectAccessReviewSpec) (authorizationv1.SubjectAccessReviewStatus, error) {
		return authorizationv1.SubjectAccessReviewStatus{EvaluationError: `role.rbac.authorization.k8s.io "gone" not found`}, nil
	}}
	c := f.checker(t, Config{Enabled: true}, newClock())
	ok, why, err := c.Allowed(t.Context(), "alice", nil, "team")
	if err != nil || ok || !strings.Contains(why, `"gone" not found`) {
		t.Fatalf("got %v %q %v", ok, why, err)
	}
}

func TestAllowedDisabledAndBadInput(t *testing.T) {
	f := &fakeSARs{answer: func(authorizationv1.SubjectAccessReviewSpec) (authorizationv1.SubjectAccessReviewStatus, error) {
		return authorizationv1.SubjectAccessReviewStatus{}, nil
	}}
	c := f.checker(t, Config{}, newClock())
	if ok, _, err := c.Allowed(t.Context(), "alice", nil, "team"); !ok || err != nil || f.calls.Load() != 0 {
		t.Fatalf("disabled: %v %v, %d calls", ok, err, f.calls.Load())
	}
	if _, err := NewChecker(Config{}, nil, nil); err != nil {
		t.Fatalf("a disabled checker needs no client: %v", err)
	}
	if _, err := NewChecker(Config{Enabled: true}, nil, nil); err == nil {
		t.Fatal("an enabled checker without a client")
	}
	c = f.checker(t, Config{Enabled: true}, newClock())
	for _, in := range [][2]string{{"", "team"}, {"alice", ""}} {
		if ok, _, err := c.Allowed(t.Context(), in[0], nil, in[1]); ok || err == nil {
			t.Fatalf("%q in %q: %v %v", in[0], in[1], ok, err)
		}
	}
	if f.calls.Load() != 0 {
		t.Fatal("asked the API server about an empty user or namespace")
	}
}

func TestValidate(t *testing.T) {
	c := Config{Enabled: true}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Verb != "get" || c.Group != "kubeflow.org" || c.Resource != "notebooks" || c.CacheTTL != 30*time.Second {
		t.Fatalf("defaults: %+v", c)
	}
	c = Config{Verb: "list", Group: "kubeflow.org", Resource: "profiles", CacheTTL: time.Second}
	if err := c.Validate(); err != nil || c.Verb != "list" || c.Resource != "profiles" || c.CacheTTL != time.Second {
		t.Fatalf("%+v %v", c, err)
	}
	for cfg, want := range map[Config]string{
		{CacheTTL: -time.Second}:         "cacheTTL: must not be negative",
		{Verb: "get list"}:               `verb "get list"`,
		{Resource: "notebooks.kubeflow"}: `resource "notebooks.kubeflow"`,
		{Resource: "pods/log"}:           `resource "pods/log"`,
		{Group: "a/b"}:                   `group "a/b"`,
	} {
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: %v, want %q", cfg, err, want)
		}
	}
}

func TestCacheKey(t *testing.T) {
	a := cacheKey("a", []string{"b"}, "c")
	for _, other := range [][32]byte{cacheKey("a", nil, "bc"), cacheKey("ab", nil, "c"), cacheKey("a", []string{"b", ""}, "c"),
		cacheKey("a", []string{}, "c")} {
		if other == a {
			t.Fatal("two questions share a cache key")
		}
	}
}
