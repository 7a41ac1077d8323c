package routeeval

import (
	"fmt"
	"math"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/types/known/durationpb"
)

// forwardAction is a compiled RouteAction (CI RouteEntryImplBase).
type forwardAction struct {
	cluster       string
	clusterHeader string // cluster_header, lower-cased
	weighted      []WeightedCluster
	totalWeight   uint64
	prefixRewrite string
	regexRewrite  *substitution
	hostLiteral   string
	autoHost      bool
	appendXFH     bool
	timeout       *time.Duration
	idleTimeout   *time.Duration
	upgrades      []string
	disabled      []string
	mirrors       []Mirror
	retry         *routev3.RetryPolicy
	cors          *routev3.CorsPolicy
	hash          []*routev3.RouteAction_HashPolicy
	rateLimits    []*routev3.RateLimit
}

func compileForward(a *routev3.RouteAction, path string) (*forwardAction, error) {
	f := &forwardAction{
		cluster:       a.GetCluster(),
		clusterHeader: asciiLower(a.GetClusterHeader()),
		prefixRewrite: a.GetPrefixRewrite(),
		hostLiteral:   a.GetHostRewriteLiteral(),
		autoHost:      a.GetAutoHostRewrite().GetValue(),
		appendXFH:     a.GetAppendXForwardedHost(),
		timeout:       durationOrNil(a.GetTimeout()),
		idleTimeout:   durationOrNil(a.GetIdleTimeout()),
		mirrors:       compileMirrors(a.GetRequestMirrorPolicies()),
		retry:         a.GetRetryPolicy(),
		cors:          a.GetCors(),
		hash:          a.GetHashPolicy(),
		rateLimits:    a.GetRateLimits(),
	}
	if wc := a.GetWeightedClusters(); wc != nil {
		if err := f.compileWeighted(wc, path+".weighted_clusters"); err != nil {
			return nil, err
		}
	}
	if rr := a.GetRegexRewrite(); rr != nil {
		// CI: "Specify only one of prefix_rewrite, regex_rewrite or path_rewrite_policy".
		if f.prefixRewrite != "" {
			return nil, fmt.Errorf("routeeval: %s: specify only one of prefix_rewrite, regex_rewrite", path)
		}
		var err error
		if f.regexRewrite, err = compileSubstitution(rr, path+".regex_rewrite"); err != nil {
			return nil, err
		}
	}
	return f, f.compileUpgrades(a.GetUpgradeConfigs(), path)
}

// compileWeighted mirrors WeightedClusterSpecifierPlugin (source/common/router/
// weighted_cluster_specifier.cc): every entry needs a name and a weight; the weights must sum to
// more than 0 and at most 2^32-1. total_weight is deprecated and ignored (the sum is used), and
// runtime_key_prefix has no effect under an empty runtime.
func (f *forwardAction) compileWeighted(wc *routev3.WeightedCluster, path string) error {
	for i, c := range wc.GetClusters() {
		p := fmt.Sprintf("%s.clusters[%d]", path, i)
		if c.GetName() == "" {
			return fmt.Errorf("routeeval: %s: at least one of name or cluster_header need to be specified", p)
		}
		if c.GetWeight() == nil {
			return fmt.Errorf("routeeval: %s: field 'weight' is missing", p)
		}
		f.weighted = append(f.weighted, WeightedCluster{Name: c.GetName(), Weight: c.GetWeight().GetValue()})
		f.totalWeight += uint64(c.GetWeight().GetValue())
	}
	if f.totalWeight == 0 {
		return fmt.Errorf("routeeval: %s: sum of weights in the weighted_cluster must be greater than 0", path)
	}
	if f.totalWeight > math.MaxUint32 {
		return fmt.Errorf("routeeval: %s: the sum of weights exceeds %d", path, uint32(math.MaxUint32))
	}
	return nil
}

// compileUpgrades records upgrade_configs; enabled defaults to true and a repeated upgrade type
// (case-insensitively) is rejected (CI: "Duplicate upgrade").
func (f *forwardAction) compileUpgrades(ucs []*routev3.RouteAction_UpgradeConfig, path string) error {
	seen := map[string]bool{}
	for _, u := range ucs {
		t := asciiLower(u.GetUpgradeType())
		if seen[t] {
			return fmt.Errorf("routeeval: %s.upgrade_configs: duplicate upgrade %s", path, u.GetUpgradeType())
		}
		seen[t] = true
		if u.GetEnabled() == nil || u.GetEnabled().GetValue() {
			f.upgrades = append(f.upgrades, t)
		} else {
			f.disabled = append(f.disabled, t)
		}
	}
	return nil
}

// pickCluster chooses the cluster. With cluster_header it is the header's value, "" when the
// header is absent (CI RouteEntryImplBase::clusterEntry; Envoy then answers 404: no cluster). With
// weighted_clusters it is pickClusterIndex (weighted_cluster_specifier.cc): random % total weight
// selects the entry whose interval [begin, begin+weight) contains it, walking the list in order.
func (f *forwardAction) pickCluster(random uint64, get headerLookup) string {
	if f.clusterHeader != "" {
		v, _ := get(f.clusterHeader)
		return v
	}
	if len(f.weighted) == 0 {
		return f.cluster
	}
	selected := random % f.totalWeight
	var begin uint64
	for _, c := range f.weighted {
		end := begin + uint64(c.Weight)
		if selected < end {
			return c.Name
		}
		begin = end
	}
	return ""
}

// rewritePath applies prefix_rewrite or regex_rewrite to the full :path (CI
// currentUrlPathAfterRewriteWithMatchedPath). prefix_rewrite replaces the first matchedLen bytes
// (the configured prefix or path, or the whole path without query for regex routes);
// regex_rewrite replaces every match in the path without query, keeping the query.
// The boolean reports whether a rewrite was configured.
func rewritePath(path string, matchedLen int, prefix string, re *substitution) (string, bool) {
	if prefix != "" {
		return prefix + path[matchedLen:], true
	}
	if re != nil {
		just := stripQuery(path)
		return re.replaceAll(just) + path[len(just):], true
	}
	return path, false
}

func durationOrNil(d *durationpb.Duration) *time.Duration {
	if d == nil {
		return nil
	}
	v := d.AsDuration()
	return &v
}

func copyDuration(d *time.Duration) *time.Duration {
	if d == nil {
		return nil
	}
	v := *d
	return &v
}
