package action

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// std.ssh runs a command on one host or several, as Mistral's does:
//
//   - cmd, host, username (required). host is "name", "name:port" or a
//     list of them (port 22 by default).
//   - password: the login password, and the passphrase of the private key.
//   - private_key: the key's text (PEM, any type x/crypto/ssh reads);
//     private_key_filename: a key file, relative to ~/.ssh unless absolute,
//     without "..".
//   - return_result_on_error: return {stdout, stderr, exit_code} whatever
//     the exit status, instead of the standard output alone.
//
// The result is the command's standard output, or a list of them for a list
// of more than one host. A command that exits with a status other than 0
// fails the action ("Failed to execute ssh cmd ..."), unless
// return_result_on_error is true.
//
// std.ssh_proxied reaches the host through a gateway (gateway_host,
// gateway_username, which defaults to username): through a TCP channel of
// the gateway's SSH server, or, when the gateway refuses those, through
// `nc HOST PORT` run on the gateway, as Mistral does. Its private_key_filename
// is required (it may be null). proxy_command, which would run a command on
// the worker, is refused.
//
// As Mistral (paramiko's AutoAddPolicy), the actions accept any host key.
// Connections to hosts and gateways obey the worker's network Policy, as
// std.http's do (the hops beyond a gateway are the gateway's network).

var sshSignature = Signature{
	Required: []string{"cmd", "host", "username"},
	Optional: []string{"password", "private_key_filename", "private_key", "return_result_on_error"},
}

var sshProxiedSignature = Signature{
	Required: []string{"cmd", "host", "username", "private_key_filename", "gateway_host"},
	Optional: []string{"gateway_username", "password", "proxy_command", "private_key"},
}

// MaxSSHOutputBytes bounds what std.ssh reads of a command's standard
// output and of its standard error, each.
const MaxSSHOutputBytes = 8 << 20

// sshKeyDir is where a relative private_key_filename is looked up.
var sshKeyDir = func() string {
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".ssh")
}

// sshCall is one parsed std.ssh or std.ssh_proxied call.
type sshCall struct {
	cmd      string
	hosts    []string
	list     bool // host was a list of more than one
	hostText string
	config   *ssh.ClientConfig
	full     bool // return_result_on_error
	gateway  string
	gwConfig *ssh.ClientConfig
	// dialer connects to hosts and gateways under the network policy.
	dialer *net.Dialer
}

func runSSH(ctx context.Context, p params, pol Policy, proxied bool) (any, error) {
	c, err := parseSSH(p, proxied)
	if err != nil {
		return nil, badParam(err)
	}
	c.dialer = pol.dialer()
	return c.run(ctx)
}

func parseSSH(p params, proxied bool) (*sshCall, error) {
	c := &sshCall{}
	var err error
	if c.cmd, err = p.str("cmd", ""); err != nil {
		return nil, err
	}
	switch h := p.m["host"].(type) {
	case string:
		c.hosts, c.hostText = []string{h}, h
	case []any:
		for _, e := range h {
			s, ok := e.(string)
			if !ok {
				return nil, p.typeErr("host", "a host name or a list of host names", p.m["host"])
			}
			c.hosts = append(c.hosts, s)
		}
		c.list = len(c.hosts) > 1
		c.hostText = "[" + strings.Join(c.hosts, ", ") + "]"
	default:
		return nil, p.typeErr("host", "a host name or a list of host names", p.m["host"])
	}
	if len(c.hosts) == 0 {
		return nil, fmt.Errorf("%s: parameter \"host\" names no host", p.action)
	}
	user, err := p.str("username", "")
	if err != nil {
		return nil, err
	}
	password, err := p.str("password", "")
	if err != nil {
		return nil, err
	}
	if c.full, err = p.boolean("return_result_on_error", false); err != nil {
		return nil, err
	}
	auth, err := sshAuth(p, password)
	if err != nil {
		return nil, err
	}
	c.config = sshConfig(user, auth)
	if !proxied {
		return c, nil
	}
	if p.present("proxy_command") {
		return nil, fmt.Errorf("%s: proxy_command is not supported: it would run a command on the worker; reach the gateway directly", p.action)
	}
	if c.gateway, err = p.str("gateway_host", ""); err != nil {
		return nil, err
	}
	gwUser, err := p.str("gateway_username", user)
	if err != nil {
		return nil, err
	}
	if gwUser == "" {
		gwUser = user
	}
	c.gwConfig = sshConfig(gwUser, auth)
	return c, nil
}

func sshConfig(user string, auth []ssh.AuthMethod) *ssh.ClientConfig {
	return &ssh.ClientConfig{
		User: user,
		Auth: auth,
		// As Mistral's paramiko AutoAddPolicy: any host key is accepted.
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Timeout:         30 * time.Second,
	}
}

// sshAuth builds the authentication methods: the private key, if one is
// given, then the password.
func sshAuth(p params, password string) ([]ssh.AuthMethod, error) {
	keyText, err := p.str("private_key", "")
	if err != nil {
		return nil, err
	}
	file, err := p.str("private_key_filename", "")
	if err != nil {
		return nil, err
	}
	var pem []byte
	switch {
	case keyText != "":
		pem = []byte(keyText)
	case file != "":
		if strings.Contains(file, "../") || strings.Contains(file, `..\`) {
			return nil, fmt.Errorf("%s: private_key_filename must not hold '..', got %q", p.action, file)
		}
		path := file
		if !filepath.IsAbs(file) {
			path = filepath.Join(sshKeyDir(), file)
		}
		if pem, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("%s: read the private key: %w", p.action, err)
		}
	}
	var auth []ssh.AuthMethod
	if pem != nil {
		signer, err := ssh.ParsePrivateKey(pem)
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) && password != "" {
			signer, err = ssh.ParsePrivateKeyWithPassphrase(pem, []byte(password))
		}
		if err != nil {
			return nil, fmt.Errorf("%s: read the private key: %w", p.action, err)
		}
		auth = append(auth, ssh.PublicKeys(signer))
	}
	if password != "" {
		auth = append(auth, ssh.Password(password))
	}
	return auth, nil
}

// withPort adds SSH's port to a host name that has none.
func withPort(host string) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), "22")
}

func (c *sshCall) run(ctx context.Context) (any, error) {
	results := make([]any, 0, len(c.hosts))
	for _, h := range c.hosts {
		out, err := c.runOn(ctx, h)
		if err != nil {
			return nil, err
		}
		results = append(results, out)
	}
	if c.list {
		return results, nil
	}
	return results[0], nil
}

// runOn runs the command on one host.
func (c *sshCall) runOn(ctx context.Context, host string) (any, error) {
	fail := func(err error) error {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return fmt.Errorf("Failed to execute ssh cmd '%s' on %s: %w", c.cmd, c.hostText, err)
	}
	var client *ssh.Client
	var err error
	if c.gateway != "" {
		client, err = c.viaGateway(ctx, host)
	} else {
		client, err = sshDial(ctx, func(ctx context.Context) (net.Conn, error) {
			return c.dialer.DialContext(ctx, "tcp", withPort(host))
		}, withPort(host), c.config)
	}
	if err != nil {
		return nil, fail(err)
	}
	defer client.Close()
	stop := context.AfterFunc(ctx, func() { client.Close() })
	defer stop()

	sess, err := client.NewSession()
	if err != nil {
		return nil, fail(err)
	}
	defer sess.Close()
	var stdout, stderr limitedBuffer
	stdout.max, stderr.max = MaxSSHOutputBytes, MaxSSHOutputBytes
	sess.Stdout, sess.Stderr = &stdout, &stderr
	code := 0
	if err := sess.Run(c.cmd); err != nil {
		var exit *ssh.ExitError
		if !errors.As(err, &exit) {
			return nil, fail(err)
		}
		code = exit.ExitStatus()
	}
	if stdout.over || stderr.over {
		return nil, fail(fmt.Errorf("the command wrote more than %d bytes", MaxSSHOutputBytes))
	}
	if c.full {
		return map[string]any{"stdout": stdout.String(), "stderr": stderr.String(), "exit_code": int64(code)}, nil
	}
	if code != 0 {
		return nil, fail(fmt.Errorf("exit status %d", code))
	}
	return stdout.String(), nil
}

// viaGateway connects to host through the gateway.
func (c *sshCall) viaGateway(ctx context.Context, host string) (*ssh.Client, error) {
	gw, err := sshDial(ctx, func(ctx context.Context) (net.Conn, error) {
		return c.dialer.DialContext(ctx, "tcp", withPort(c.gateway))
	}, withPort(c.gateway), c.gwConfig)
	if err != nil {
		return nil, fmt.Errorf("gateway %s: %w", c.gateway, err)
	}
	target := withPort(host)
	client, err := sshDial(ctx, func(ctx context.Context) (net.Conn, error) {
		conn, err := gw.DialContext(ctx, "tcp", target)
		var refused *ssh.OpenChannelError
		if errors.As(err, &refused) {
			// The gateway forwards no TCP: relay through nc, as Mistral.
			return ncConn(gw, target)
		}
		return conn, err
	}, target, c.config)
	if err != nil {
		gw.Close()
		return nil, err
	}
	go func() {
		client.Wait()
		gw.Close()
	}()
	return client, nil
}

// sshDial opens an SSH client over the connection dial makes, giving up
// when ctx ends.
func sshDial(ctx context.Context, dial func(context.Context) (net.Conn, error), addr string, config *ssh.ClientConfig) (*ssh.Client, error) {
	conn, err := dial(ctx)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	cc, chans, reqs, err := ssh.NewClientConn(conn, addr, config)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return ssh.NewClient(cc, chans, reqs), nil
}

// ncConn is a connection to target relayed by `nc` on the gateway.
func ncConn(gw *ssh.Client, target string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		return nil, err
	}
	sess, err := gw.NewSession()
	if err != nil {
		return nil, err
	}
	in, err := sess.StdinPipe()
	if err != nil {
		sess.Close()
		return nil, err
	}
	out, err := sess.StdoutPipe()
	if err != nil {
		sess.Close()
		return nil, err
	}
	if err := sess.Start("nc " + host + " " + port); err != nil {
		sess.Close()
		return nil, err
	}
	return &sessionConn{sess: sess, in: in, out: out}, nil
}

// sessionConn is a net.Conn over a session's standard input and output.
type sessionConn struct {
	sess *ssh.Session
	in   io.WriteCloser
	out  io.Reader
	once sync.Once
}

func (s *sessionConn) Read(b []byte) (int, error)  { return s.out.Read(b) }
func (s *sessionConn) Write(b []byte) (int, error) { return s.in.Write(b) }
func (s *sessionConn) Close() error {
	s.once.Do(func() { s.in.Close(); s.sess.Close() })
	return nil
}
func (s *sessionConn) LocalAddr() net.Addr              { return sshAddr{} }
func (s *sessionConn) RemoteAddr() net.Addr             { return sshAddr{} }
func (s *sessionConn) SetDeadline(time.Time) error      { return nil }
func (s *sessionConn) SetReadDeadline(time.Time) error  { return nil }
func (s *sessionConn) SetWriteDeadline(time.Time) error { return nil }
func (sshAddr) Network() string                         { return "ssh" }
func (sshAddr) String() string                          { return "nc" }

type sshAddr struct{}

// limitedBuffer keeps at most max bytes and notes when more came. (It
// wraps its buffer rather than embedding it, so that io.Copy writes
// through Write and not the buffer's ReadFrom.)
type limitedBuffer struct {
	buf  bytes.Buffer
	max  int
	over bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); len(p) > room {
		b.over = true
		b.buf.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *limitedBuffer) String() string { return b.buf.String() }
