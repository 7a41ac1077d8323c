package ir

import (
	"reflect"

	"github.com/kfgate/kfgate/gateway/mapping"
)

// resolveGroup turns Mappings that match the same requests into routes. Without any weight, more
// than one Mapping is a collision: the oldest wins and the others are reported. With weights it is a
// canary group: weighted_clusters when only the cluster differs, otherwise one route per Mapping gated
// by cumulative runtime fractions (Emissary's construction). One shadow Mapping may mirror the group.
func (r *resolver) resolveGroup(g []*candidate) []*Route {
	var primaries, shadows []*candidate
	for _, c := range g {
		if c.m.Shadow {
			shadows = append(shadows, c)
		} else {
			primaries = append(primaries, c)
		}
	}
	mirror := r.mirror(shadows, len(primaries) > 0)
	primaries = r.weigh(primaries)
	routes := r.canary(primaries)
	for _, rt := range routes {
		if mirror != nil {
			rt.Mirror = &Mirror{Cluster: mirror.route.Clusters[0].Cluster, Percent: weightOr(mirror.m, 100)}
			rt.Origins = append(rt.Origins, mirror.route.Origins...)
		}
	}
	return routes
}

func weightOr(m *mapping.Mapping, def int) uint32 {
	if m.Weight != nil {
		return uint32(*m.Weight)
	}
	return uint32(def)
}

func (r *resolver) mirror(shadows []*candidate, hasPrimary bool) *candidate {
	var kept *candidate
	for _, s := range shadows {
		switch {
		case s.route.Redirect != nil:
			r.report(s.doc, mapping.SeverityError, mapping.ReasonInvalid, "shadow", "a shadow Mapping cannot redirect")
		case kept != nil:
			r.report(s.doc, mapping.SeverityError, mapping.ReasonConflict, "shadow",
				"only one shadow per set of matching Mappings; %s/%s is older and wins", kept.doc.Namespace, kept.doc.Name)
		case !hasPrimary:
			r.report(s.doc, mapping.SeverityWarning, mapping.ReasonConflict, "shadow",
				"no Mapping with the same match to shadow; this shadow has no effect")
		default:
			kept = s
		}
	}
	return kept
}

// keepTrusted keeps a group (sorted by age, trusted first) to its leader's namespace when a tenant
// is in it: a tenant may not take a share of a trusted path, nor of another namespace's, even as a
// canary. Trusted namespaces may share paths among themselves.
func (r *resolver) keepTrusted(ps []*candidate) []*candidate {
	lead := ps[0].doc
	kept := ps[:0:0]
	for _, c := range ps {
		switch {
		case !c.doc.Source.Tenant && !lead.Source.Tenant, c.doc.Namespace == lead.Namespace && c.doc.Source.Tenant == lead.Source.Tenant:
			kept = append(kept, c)
		case !lead.Source.Tenant:
			r.report(c.doc, mapping.SeverityError, mapping.ReasonConflict, "prefix",
				"matches exactly the same requests as Mapping %s/%s from %s, of a trusted namespace, which wins over every tenant's, weight or not",
				lead.Namespace, lead.Name, lead.Source.Object())
		default:
			r.report(c.doc, mapping.SeverityError, mapping.ReasonConflict, "prefix",
				"matches exactly the same requests as Mapping %s/%s from %s, which is older; a tenant's path is never shared with another namespace, weight or not",
				lead.Namespace, lead.Name, lead.Source.Object())
		}
	}
	return kept
}

// weigh resolves collisions and weights: it returns the surviving Mappings, each route's Clusters[0]
// weight set to its share of traffic (percent).
func (r *resolver) weigh(ps []*candidate) []*candidate {
	if len(ps) == 0 {
		return nil
	}
	ps = r.keepTrusted(ps)
	weighted := false
	for _, c := range ps {
		weighted = weighted || c.m.Weight != nil
	}
	if !weighted {
		for _, c := range ps[1:] {
			r.report(c.doc, mapping.SeverityError, mapping.ReasonConflict, "prefix",
				"matches exactly the same requests as Mapping %s/%s from %s, which is older and wins; set weight for a canary, or change prefix, headers, host or precedence",
				ps[0].doc.Namespace, ps[0].doc.Name, ps[0].doc.Source.Object())
		}
		return ps[:1]
	}
	var kept, unweighted []*candidate
	total := 0
	for _, c := range ps {
		if c.m.Weight == nil {
			unweighted = append(unweighted, c)
			kept = append(kept, c)
			continue
		}
		if total+*c.m.Weight > 100 {
			r.report(c.doc, mapping.SeverityError, mapping.ReasonInvalid, "weight",
				"weight %d brings the canary group over 100 (older Mappings already take %d)", *c.m.Weight, total)
			continue
		}
		total += *c.m.Weight
		setWeight(c, uint32(*c.m.Weight))
		kept = append(kept, c)
	}
	if n := len(unweighted); n > 0 {
		rest := 100 - total
		for i, c := range unweighted {
			share := rest / n
			if i < rest%n {
				share++
			}
			setWeight(c, uint32(share))
		}
	} else if total > 0 && total < 100 {
		normalize(kept, total)
	}
	out := kept[:0]
	for _, c := range kept {
		if share(c) > 0 {
			out = append(out, c)
			continue
		}
		r.report(c.doc, mapping.SeverityInfo, mapping.ReasonIgnored, "weight",
			"receives no traffic: its weight is 0, or the other Mappings of its canary group already take 100")
	}
	return out
}

// normalize scales weights that total under 100 up to 100, keeping their proportions (largest
// remainder, ties to the oldest), as Envoy's weighted_clusters would: a lone weight: 50 takes all.
func normalize(cs []*candidate, total int) {
	rem := make([]int, len(cs))
	sum := 0
	for i, c := range cs {
		w := int(share(c)) * 100
		setWeight(c, uint32(w/total))
		rem[i] = w % total
		sum += w / total
	}
	for ; sum < 100; sum++ {
		best := 0
		for i := range rem {
			if rem[i] > rem[best] {
				best = i
			}
		}
		setWeight(cs[best], share(cs[best])+1)
		rem[best] = -1
	}
}

func setWeight(c *candidate, w uint32) {
	if len(c.route.Clusters) > 0 {
		c.route.Clusters[0].Weight = w
	} else {
		c.route.RuntimeFraction = w // redirects carry their share here until canary() places them
	}
}

func share(c *candidate) uint32 {
	if len(c.route.Clusters) > 0 {
		return c.route.Clusters[0].Weight
	}
	return c.route.RuntimeFraction
}

func (r *resolver) canary(ps []*candidate) []*Route {
	switch {
	case len(ps) == 0:
		return nil
	case len(ps) == 1 && share(ps[0]) == 100:
		ps[0].route.RuntimeFraction = 0
		return []*Route{ps[0].route}
	case onlyClusterDiffers(ps):
		rt := ps[0].route
		for _, c := range ps[1:] {
			rt.Clusters = append(rt.Clusters, c.route.Clusters...)
			rt.Origins = append(rt.Origins, c.route.Origins...)
		}
		return []*Route{rt}
	}
	// A chain: route i takes requests whose random draw falls below the cumulative share; the last
	// route of a full group takes the rest. Envoy uses one random value per request for all routes.
	var out []*Route
	cum := uint32(0)
	for _, c := range ps {
		cum += share(c)
		rt := c.route
		rt.RuntimeFraction = cum
		if len(rt.Clusters) > 0 {
			rt.Clusters[0].Weight = 100
		}
		if cum >= 100 {
			rt.RuntimeFraction = 0
		}
		out = append(out, rt)
	}
	return out
}

// onlyClusterDiffers reports whether the routes are identical but for their cluster, and the
// group takes all traffic, so a single weighted_clusters route expresses it.
func onlyClusterDiffers(ps []*candidate) bool {
	total := uint32(0)
	for _, c := range ps {
		if c.route.Redirect != nil {
			return false
		}
		total += share(c)
	}
	if total != 100 {
		return false
	}
	norm := func(rt *Route) Route {
		cp := *rt
		cp.Name, cp.Origins, cp.Clusters = "", nil, nil
		if cp.Auth != nil {
			cp.Auth = &RouteAuth{Disabled: cp.Auth.Disabled} // context extensions name the Mapping
		}
		return cp
	}
	first := norm(ps[0].route)
	for _, c := range ps[1:] {
		if !reflect.DeepEqual(first, norm(c.route)) {
			return false
		}
	}
	return true
}
