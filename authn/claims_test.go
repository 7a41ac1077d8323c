package authn

import "testing"

func TestMapClaims(t *testing.T) {
	cases := []struct {
		name       string
		claims     map[string]any
		userClaim  string
		wantUser   string
		wantGroups []string
		wantErr    bool
	}{
		{"email and groups", map[string]any{"email": "a@example.com", "groups": []any{"x", "y", 3}}, "email", "a@example.com", []string{"x", "y"}, false},
		{"groups string", map[string]any{"email": "a@example.com", "groups": "x"}, "email", "a@example.com", []string{"x"}, false},
		{"sub", map[string]any{"sub": "CgZ1c2VyLTE"}, "sub", "CgZ1c2VyLTE", nil, false},
		{"missing", map[string]any{"sub": "x"}, "email", "", nil, true},
		{"not a string", map[string]any{"email": 5}, "email", "", nil, true},
		{"two @", map[string]any{"email": "a@evil.com@example.com"}, "email", "", nil, true},
		{"no @", map[string]any{"email": "example.com"}, "email", "", nil, true},
		{"unverified", map[string]any{"email": "a@example.com", "email_verified": false}, "email", "", nil, true},
		{"verified", map[string]any{"email": "a@example.com", "email_verified": true}, "email", "a@example.com", nil, false},
		{"system user", map[string]any{"sub": "system:admin"}, "sub", "", nil, true},
		{"system group", map[string]any{"email": "a@example.com", "groups": []any{"system:masters"}}, "email", "", nil, true},
		{"email_verified string false", map[string]any{"email": "a@example.com", "email_verified": "false"}, "email", "", nil, true},
		{"email_verified string true", map[string]any{"email": "a@example.com", "email_verified": "true"}, "email", "a@example.com", nil, false},
		{"group with a comma", map[string]any{"email": "a@example.com", "groups": []any{"x,admins"}}, "email", "", nil, true},
		{"comma smuggling", map[string]any{"email": "a@example.com,b@example.com"}, "email", "", nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u, g, err := mapClaims(c.claims, c.userClaim, "groups")
			if (err != nil) != c.wantErr || u != c.wantUser || len(g) != len(c.wantGroups) {
				t.Fatalf("mapClaims = %q %v %v", u, g, err)
			}
			for i := range g {
				if g[i] != c.wantGroups[i] {
					t.Fatalf("groups = %v, want %v", g, c.wantGroups)
				}
			}
		})
	}
}
