package authn

import (
	"slices"
	"sort"
	"testing"
)

func TestSpellings(t *testing.T) {
	got := spellings("x-forwarded-user")
	sort.Strings(got)
	want := []string{"x-forwarded-user", "x-forwarded_user", "x_forwarded-user", "x_forwarded_user"}
	if !slices.Equal(got, want) {
		t.Fatalf("spellings = %v, want %v", got, want)
	}
	if n := len(spellings("a-b-c-d-e-f-g-h-i")); n != 64 {
		t.Fatalf("%d spellings, want the cap of 64", n)
	}
}

func TestCleanRequest(t *testing.T) {
	owns := func(n string) bool { return n == "__Host-kfgate-session" || n == "__Host-kfgate-session-1" }
	protected := newIdentityHeaders("kubeflow-userid", "kubeflow-groups")
	r := &Request{Headers: map[string]string{
		"kubeflow-userid": "spoof", "Kubeflow_Userid": "spoof", "cookie": "a=1; __Host-kfgate-session=x; __Host-kfgate-session-1=y; b=2",
	}}
	// kfgate sets the user, not the groups: the user's own spelling is overwritten, every other one removed.
	h := cleanRequest(r, protected, map[string]bool{"kubeflow-userid": true}, owns)
	for _, must := range []string{"kubeflow_userid", "Kubeflow_Userid", "kubeflow-groups", "kubeflow_groups"} {
		if !slices.Contains(h.remove, must) {
			t.Errorf("%s not removed: %v", must, h.remove)
		}
	}
	if slices.Contains(h.remove, "kubeflow-userid") {
		t.Error("the header kfgate sets is also removed (Envoy removes after setting)")
	}
	if !h.cookieChanged || h.cookie != "a=1; b=2" {
		t.Errorf("cookie %q changed=%v", h.cookie, h.cookieChanged)
	}
	// Nothing set (skip-auth): every spelling goes.
	h = cleanRequest(&Request{Headers: map[string]string{}}, protected, nil, owns)
	if !slices.Contains(h.remove, "kubeflow-userid") || h.cookieChanged {
		t.Errorf("skip-auth hygiene %+v", h)
	}
	// Only kfgate's cookies: the header goes away entirely.
	h = cleanRequest(&Request{Headers: map[string]string{"cookie": "__Host-kfgate-session=x"}}, protected, nil, owns)
	if !h.cookieChanged || h.cookie != "" {
		t.Errorf("cookie %q changed=%v", h.cookie, h.cookieChanged)
	}
}

func TestRequestCookiesSurviveJunk(t *testing.T) {
	cs := requestCookies(`a=1; b=2; bad"=x; d=4`)
	var names []string
	for _, c := range cs {
		names = append(names, c.Name)
	}
	for _, n := range []string{"a", "b", "d"} {
		if !slices.Contains(names, n) {
			t.Errorf("cookie %s lost: %v", n, names)
		}
	}
}

// A cookie planted in another cookie's value (commas are legal in values) is not kfgate's.
func TestCookieInsideAValueIsNotOurs(t *testing.T) {
	for _, c := range requestCookies("pref=a,__Host-kfgate-session=planted; x=1") {
		if c.Name == "__Host-kfgate-session" {
			t.Fatalf("a session cookie was read out of another cookie's value: %+v", c)
		}
	}
}
