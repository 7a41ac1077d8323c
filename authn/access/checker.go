package access

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/sync/singleflight"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	authzv1client "k8s.io/client-go/kubernetes/typed/authorization/v1"

	"github.com/kfgate/kfgate/authn/internal/ttlcache"
)

const (
	// maxAnswers bounds the cache; beyond it the oldest answer goes.
	maxAnswers = 10000
	// reviewTimeout bounds one SubjectAccessReview.
	reviewTimeout = 10 * time.Second
)

// Checker answers per-namespace access through SubjectAccessReviews. It is safe for concurrent use.
type Checker struct {
	cfg    Config
	sars   authzv1client.SubjectAccessReviewInterface
	now    func() time.Time
	cache  *ttlcache.Cache[[sha256.Size]byte, answer]
	flight singleflight.Group
}

type answer struct {
	allowed bool
	reason  string
}

// NewChecker validates c (filling its defaults) and returns a Checker. sars is required when c is
// enabled; now defaults to time.Now.
func NewChecker(c Config, sars authzv1client.SubjectAccessReviewInterface, now func() time.Time) (*Checker, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.Enabled && sars == nil {
		return nil, errors.New("namespace access checks need a SubjectAccessReview client")
	}
	if now == nil {
		now = time.Now
	}
	return &Checker{cfg: c, sars: sars, now: now, cache: ttlcache.New[[sha256.Size]byte, answer](maxAnswers)}, nil
}

// Allowed asks whether user (in groups) may <verb> <group>/<resource> in namespace. Answers, allowed
// and denied, are cached for CacheTTL keyed by (user, sorted groups, namespace); concurrent
// identical misses share one SubjectAccessReview. An API error is returned (the caller answers 503)
// and not cached. When the Checker is disabled, everyone is allowed.
func (c *Checker) Allowed(ctx context.Context, user string, groups []string, namespace string) (allowed bool, reason string, err error) {
	if !c.cfg.Enabled {
		return true, "namespace access checks are disabled", nil
	}
	if user == "" || namespace == "" {
		// An empty namespace would ask about every namespace: a caller's bug, not a question.
		return false, "", errors.New("access check needs a user and a namespace")
	}
	groups = slices.Clone(groups)
	slices.Sort(groups)
	groups = slices.Compact(groups)
	key := cacheKey(user, groups, namespace)
	if a, ok := c.cache.Get(key, c.now()); ok {
		return a.allowed, a.reason, nil
	}
	ch := c.flight.DoChan(string(key[:]), func() (any, error) {
		// Shared by every caller asking the same: one caller's cancellation must not fail the rest.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reviewTimeout)
		defer cancel()
		a, err := c.review(rctx, user, groups, namespace)
		if err != nil {
			return nil, err
		}
		c.cache.Put(key, a, c.now().Add(c.cfg.CacheTTL))
		return a, nil
	})
	select {
	case <-ctx.Done():
		return false, "", fmt.Errorf("SubjectAccessReview: %w", ctx.Err())
	case res := <-ch:
		if res.Err != nil {
			return false, "", res.Err
		}
		a := res.Val.(answer)
		return a.allowed, a.reason, nil
	}
}

// review sends one SubjectAccessReview.
func (c *Checker) review(ctx context.Context, user string, groups []string, namespace string) (answer, error) {
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:   user,
		Groups: groups,
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: namespace, Verb: c.cfg.Verb, Group: c.cfg.Group, Resource: c.cfg.Resource,
		},
	}}
	res, err := c.sars.Create(ctx, sar, metav1.CreateOptions{})
	if err != nil {
		return answer{}, fmt.Errorf("SubjectAccessReview for %q in namespace %q: %w", user, namespace, err)
	}
	st := res.Status
	a := answer{allowed: st.Allowed && !st.Denied, reason: st.Reason}
	if a.reason == "" {
		a.reason = fmt.Sprintf("no rule lets %q %s %s.%s in namespace %q", user, c.cfg.Verb, c.cfg.Resource, c.cfg.Group, namespace)
		if a.allowed {
			a.reason = "allowed"
		}
	}
	// RBAC reports a binding to a missing Role this way, next to a real answer: keep the answer, say
	// it in the reason.
	if st.EvaluationError != "" {
		a.reason += " (evaluation error: " + st.EvaluationError + ")"
	}
	return a, nil
}

// cacheKey hashes the fields length-prefixed, so that no user, group or namespace value can make
// two different questions collide.
func cacheKey(user string, groups []string, namespace string) [sha256.Size]byte {
	h := sha256.New()
	field := func(s string) {
		_ = binary.Write(h, binary.BigEndian, uint64(len(s)))
		h.Write([]byte(s))
	}
	field(user)
	field(namespace)
	for _, g := range groups {
		field(g)
	}
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}
