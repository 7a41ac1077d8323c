package mapping

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
)

// ServiceRef is a parsed `service` value: `[http://|https://]name[.namespace][:port]`.
type ServiceRef struct {
	Raw    string `json:"raw"`
	Scheme string `json:"scheme"` // "http" or "https"
	// Host is the host part as written, lower-cased.
	Host string `json:"host"`
	// Name and Namespace are set when Host may name an in-cluster Service: "name", "name.namespace",
	// "name.namespace.svc" or "name.namespace.svc.<cluster-domain>". Whether it is one is decided
	// against the known Services (see gateway/ir).
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	// Qualified is true when Host spelled out ".svc", so it is in-cluster for certain.
	Qualified bool `json:"qualified,omitempty"`
	Port      int  `json:"port"`
}

// TLS reports whether the scheme asks for TLS origination.
func (s ServiceRef) TLS() bool { return s.Scheme == "https" }

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// ParseService parses the `service` grammar; defaultNamespace applies when the name has none.
func ParseService(raw, defaultNamespace string) (ServiceRef, error) {
	ref := ServiceRef{Raw: raw, Scheme: "http"}
	s := strings.TrimSpace(raw)
	if s == "" {
		return ref, errors.New("must not be empty")
	}
	if i := strings.Index(s, "://"); i >= 0 {
		switch scheme := strings.ToLower(s[:i]); scheme {
		case "http", "https":
			ref.Scheme = scheme
		default:
			return ref, fmt.Errorf("unsupported scheme %q (use http:// or https://)", scheme)
		}
		s = s[i+3:]
	}
	if strings.ContainsAny(s, "/?#") {
		return ref, errors.New("must be [scheme://]name[.namespace][:port], without a path, query or fragment")
	}
	if strings.Contains(s, "@") {
		return ref, errors.New("must not contain user information")
	}
	host, port, err := splitPort(s, ref.Scheme)
	if err != nil {
		return ref, err
	}
	ref.Host, ref.Port = strings.ToLower(host), port
	return classify(ref, defaultNamespace)
}

var portDigits = regexp.MustCompile(`^[1-9][0-9]{0,4}$`)

func splitPort(s, scheme string) (string, int, error) {
	port := 80
	if scheme == "https" {
		port = 443
	}
	host := s
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		host = s[1 : len(s)-1]
	} else if strings.Contains(s, ":") {
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			return "", 0, fmt.Errorf("invalid host:port %q", s)
		}
		n, err := strconv.Atoi(p)
		if !portDigits.MatchString(p) || err != nil || n > 65535 {
			return "", 0, fmt.Errorf("port %q must be a number from 1 to 65535", p)
		}
		host, port = h, n
	}
	// Brackets belong to IPv6 literals, and IPv6 literals to brackets ([::1]:8080).
	ip := net.ParseIP(host)
	ipv6 := ip != nil && ip.To4() == nil
	if strings.ContainsAny(host, "[]") || strings.HasPrefix(s, "[") != ipv6 {
		return "", 0, fmt.Errorf("%q: brackets are only for IPv6 addresses, as in [::1]:8080", s)
	}
	return host, port, nil
}

func classify(ref ServiceRef, defaultNamespace string) (ServiceRef, error) {
	if ref.Host == "" {
		return ref, errors.New("host must not be empty")
	}
	if net.ParseIP(ref.Host) != nil {
		return ref, nil
	}
	if isDigits(ref.Host) {
		return ref, fmt.Errorf("%q is a number, not a host name (write name:port)", ref.Host)
	}
	labels := strings.Split(ref.Host, ".")
	for _, l := range labels {
		if !dnsLabel.MatchString(l) {
			return ref, fmt.Errorf("%q is not a valid DNS name", ref.Host)
		}
	}
	switch {
	case len(labels) == 1:
		ref.Name, ref.Namespace, ref.Qualified = labels[0], defaultNamespace, true
	case len(labels) == 2:
		ref.Name, ref.Namespace = labels[0], labels[1]
	case labels[2] == "svc":
		ref.Name, ref.Namespace, ref.Qualified = labels[0], labels[1], true
	}
	return ref, nil
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
