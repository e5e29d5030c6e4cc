package action

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Policy is what the operator allows the standard actions. A workflow
// cannot change it: it is set where the worker is built (PolicyFromEnv).
type Policy struct {
	// HTTPTimeout bounds a std.http call whose task gives no timeout.
	// Default DefaultHTTPTimeout.
	HTTPTimeout time.Duration
	// OnAWS refuses loopback addresses besides the defaults: on Lambda
	// they hold the runtime API and extensions, nothing a workflow should
	// reach. Embedded, loopback is the user's own machine and is allowed.
	OnAWS bool
	// RuntimeAPI is the Lambda runtime API's address (host:port, from
	// AWS_LAMBDA_RUNTIME_API), refused whatever Allow says.
	RuntimeAPI string
	// Allow are address ranges connections may reach although the
	// defaults (or Deny) refuse them; Deny are refused besides the
	// defaults. An address in both is allowed.
	Allow, Deny []netip.Prefix
	// CABundles are the files std.http's `verify` may name; a workflow
	// cannot make the worker read any other file. Default none.
	CABundles []string
	// LambdaFunctions, when not empty, are the only Lambda functions
	// aws.lambda may invoke: names or ARNs, each optionally qualified
	// (name:alias); an unqualified entry allows every version and alias.
	// Empty leaves the choice to the credentials' permissions (on AWS, the
	// worker role's grants).
	LambdaFunctions []string
}

// DefaultHTTPTimeout bounds a std.http call whose task gives no timeout:
// a server that never answers must not hold a worker for ever.
const DefaultHTTPTimeout = 60 * time.Second

// refused are the ranges no action connects to by default, embedded or on
// AWS: link-local addresses (where cloud metadata services answer:
// 169.254.169.254, ECS's 169.254.170.2), AWS's IPv6 metadata address,
// "this host" and multicast.
var refused = []netip.Prefix{
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("fd00:ec2::254/128"),
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("::/128"),
	netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("ff00::/8"),
}

// loopback is refused on AWS.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

func (p Policy) withDefaults() Policy {
	p.HTTPTimeout = cmp.Or(p.HTTPTimeout, DefaultHTTPTimeout)
	return p
}

// ErrRefused is wrapped by the error of a connection the network policy
// refused.
var ErrRefused = errors.New("refused by the worker's network policy")

// check reports whether an action may connect to addr.
func (p Policy) check(addr netip.AddrPort) error {
	ip := addr.Addr().Unmap()
	if p.RuntimeAPI != "" {
		if api, err := netip.ParseAddrPort(p.RuntimeAPI); err == nil && api.Addr().Unmap() == ip && api.Port() == addr.Port() {
			return fmt.Errorf("%s is the Lambda runtime API: %w", addr, ErrRefused)
		}
	}
	in := func(ps []netip.Prefix) bool {
		return slices.ContainsFunc(ps, func(pr netip.Prefix) bool { return pr.Contains(ip) })
	}
	if in(p.Allow) {
		return nil
	}
	switch {
	case in(refused):
		return fmt.Errorf("%s is a link-local, metadata, unspecified or multicast address: %w (an operator may allow it with BORA_NETWORK_ALLOW)", addr, ErrRefused)
	case p.OnAWS && in(loopback):
		return fmt.Errorf("%s is a loopback address, which on AWS holds only the Lambda runtime: %w (an operator may allow it with BORA_NETWORK_ALLOW)", addr, ErrRefused)
	case in(p.Deny):
		return fmt.Errorf("%s is in a range the operator denies (BORA_NETWORK_DENY): %w", addr, ErrRefused)
	}
	return nil
}

// dialer returns a dialer that checks every address it connects to, after
// name resolution: each address a name resolves to, and each connection a
// redirect or a retry makes, is checked, so that neither a name pointing at
// a refused address nor a redirect to one gets through.
func (p Policy) dialer() *net.Dialer {
	return &net.Dialer{
		Timeout:   30 * time.Second,
		KeepAlive: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("connect to %s: %w", address, ErrRefused)
			}
			return p.check(ap)
		},
	}
}

// checkHost checks the host of a URL before a request: through a proxy
// the dialer sees only the proxy, so the target is resolved and checked
// here too.
func (p Policy) checkHost(ctx context.Context, host, port string) error {
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return p.check(netip.AddrPortFrom(ip, portNumber(port)))
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil // the request fails on its own
	}
	for _, a := range addrs {
		if err := p.check(netip.AddrPortFrom(a, portNumber(port))); err != nil {
			return fmt.Errorf("%s resolves to %w", host, err)
		}
	}
	return nil
}

func portNumber(s string) uint16 {
	var n uint16
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + uint16(c-'0')
	}
	return n
}

// PolicyFromEnv reads the operator's policy through lookup (os.LookupEnv):
//
//   - BORA_HTTP_TIMEOUT: std.http's default timeout, a Go duration ("30s").
//   - BORA_NETWORK_ALLOW, BORA_NETWORK_DENY: comma-separated addresses or
//     CIDR ranges ("127.0.0.1, 10.0.0.0/8").
//   - BORA_HTTP_CA_BUNDLES: comma-separated paths of the CA bundles
//     std.http's verify may name.
//   - BORA_LAMBDA_FUNCTIONS: comma-separated names or ARNs of the only
//     Lambda functions aws.lambda may invoke.
//   - AWS_LAMBDA_RUNTIME_API, set by Lambda: refused.
//
// onAWS is set by the Lambda worker. It reports every bad value at once.
func PolicyFromEnv(lookup func(string) (string, bool), onAWS bool) (Policy, error) {
	p := Policy{OnAWS: onAWS}
	var errs []error
	if v, ok := lookup(EnvHTTPTimeout); ok && v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s=%q: want a positive duration such as 30s", EnvHTTPTimeout, v))
		}
		p.HTTPTimeout = d
	}
	for _, f := range []struct {
		name string
		to   *[]netip.Prefix
	}{{EnvNetworkAllow, &p.Allow}, {EnvNetworkDeny, &p.Deny}} {
		v, _ := lookup(f.name)
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			pr, err := netip.ParsePrefix(s)
			if err != nil {
				ip, ierr := netip.ParseAddr(s)
				if ierr != nil {
					errs = append(errs, fmt.Errorf("%s: %q is neither an address nor a CIDR range", f.name, s))
					continue
				}
				pr = netip.PrefixFrom(ip, ip.BitLen())
			}
			*f.to = append(*f.to, pr.Masked())
		}
	}
	p.CABundles = splitList(lookup, EnvCABundles)
	p.LambdaFunctions = splitList(lookup, EnvLambdaFunctions)
	if v, _ := lookup("AWS_LAMBDA_RUNTIME_API"); v != "" {
		if ap, err := net.ResolveTCPAddr("tcp", v); err == nil {
			p.RuntimeAPI = netip.AddrPortFrom(ap.AddrPort().Addr().Unmap(), ap.AddrPort().Port()).String()
		}
	}
	return p, errors.Join(errs...)
}

// splitList reads a comma-separated list from the variable name.
func splitList(lookup func(string) (string, bool), name string) []string {
	v, _ := lookup(name)
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Environment variables PolicyFromEnv reads.
const (
	EnvHTTPTimeout     = "BORA_HTTP_TIMEOUT"
	EnvNetworkAllow    = "BORA_NETWORK_ALLOW"
	EnvNetworkDeny     = "BORA_NETWORK_DENY"
	EnvCABundles       = "BORA_HTTP_CA_BUNDLES"
	EnvLambdaFunctions = "BORA_LAMBDA_FUNCTIONS"
)
