package action

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ssh"
)

// sshServer is an SSH server of the test, on 127.0.0.1. It runs a few
// commands of its own (no shell): `echo WORDS`, `whoami`, `fail N` (writes
// to stderr and exits N), `flood` (writes more than std.ssh reads) and
// `nc HOST PORT` (relays to that address). It may forward TCP (direct-tcpip
// channels) for std.ssh_proxied.
type sshServer struct {
	addr     string
	forward  bool
	password string
	key      ssh.PublicKey
	mu       sync.Mutex
	ran      []string // commands run, as "user: cmd"
}

func startSSH(t *testing.T, password string, key ssh.PublicKey, forward bool) *sshServer {
	t.Helper()
	_, hostKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(hostKey)
	if err != nil {
		t.Fatal(err)
	}
	s := &sshServer{forward: forward, password: password, key: key}
	cfg := &ssh.ServerConfig{
		PasswordCallback: func(c ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if s.password != "" && string(pw) == s.password {
				return nil, nil
			}
			return nil, errors.New("wrong password")
		},
		PublicKeyCallback: func(c ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			if s.key != nil && string(k.Marshal()) == string(s.key.Marshal()) {
				return nil, nil
			}
			return nil, errors.New("unknown key")
		},
	}
	cfg.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.serve(conn, cfg)
			}()
		}
	}()
	return s
}

func (s *sshServer) commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ran...)
}

func (s *sshServer) serve(conn net.Conn, cfg *ssh.ServerConfig) {
	defer conn.Close()
	sc, chans, reqs, err := ssh.NewServerConn(conn, cfg)
	if err != nil {
		return
	}
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		switch nc.ChannelType() {
		case "session":
			ch, creqs, err := nc.Accept()
			if err != nil {
				continue
			}
			go s.session(sc.User(), ch, creqs)
		case "direct-tcpip":
			if !s.forward {
				nc.Reject(ssh.Prohibited, "no forwarding here")
				continue
			}
			var msg struct {
				Host     string
				Port     uint32
				OrigHost string
				OrigPort uint32
			}
			if err := ssh.Unmarshal(nc.ExtraData(), &msg); err != nil {
				nc.Reject(ssh.ConnectionFailed, err.Error())
				continue
			}
			target, err := net.Dial("tcp", net.JoinHostPort(msg.Host, strconv.Itoa(int(msg.Port))))
			if err != nil {
				nc.Reject(ssh.ConnectionFailed, err.Error())
				continue
			}
			ch, creqs, err := nc.Accept()
			if err != nil {
				target.Close()
				continue
			}
			go ssh.DiscardRequests(creqs)
			go relay(ch, target)
		default:
			nc.Reject(ssh.UnknownChannelType, "no")
		}
	}
}

func relay(ch ssh.Channel, conn net.Conn) {
	done := make(chan struct{}, 2)
	go func() { io.Copy(ch, conn); ch.CloseWrite(); done <- struct{}{} }()
	go func() { io.Copy(conn, ch); conn.Close(); done <- struct{}{} }()
	<-done
	<-done
	ch.Close()
}

func (s *sshServer) session(user string, ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	for req := range reqs {
		if req.Type != "exec" {
			req.Reply(false, nil)
			continue
		}
		var msg struct{ Command string }
		if err := ssh.Unmarshal(req.Payload, &msg); err != nil {
			req.Reply(false, nil)
			return
		}
		req.Reply(true, nil)
		s.mu.Lock()
		s.ran = append(s.ran, user+": "+msg.Command)
		s.mu.Unlock()
		code := s.exec(user, msg.Command, ch)
		status := make([]byte, 4)
		binary.BigEndian.PutUint32(status, uint32(code))
		ch.SendRequest("exit-status", false, status)
		return
	}
}

func (s *sshServer) exec(user, cmd string, ch ssh.Channel) int {
	f := strings.Fields(cmd)
	switch {
	case len(f) == 0:
		return 127
	case f[0] == "echo":
		fmt.Fprintln(ch, strings.Join(f[1:], " "))
	case f[0] == "whoami":
		fmt.Fprintln(ch, user)
	case f[0] == "fail" && len(f) == 2:
		n, _ := strconv.Atoi(f[1])
		fmt.Fprintln(ch, "partial")
		fmt.Fprintln(ch.Stderr(), "it broke")
		return n
	case f[0] == "flood":
		chunk := make([]byte, 64<<10)
		for written := 0; written <= MaxSSHOutputBytes; written += len(chunk) {
			if _, err := ch.Write(chunk); err != nil {
				return 1
			}
		}
	case f[0] == "nc" && len(f) == 3:
		conn, err := net.Dial("tcp", net.JoinHostPort(f[1], f[2]))
		if err != nil {
			return 1
		}
		done := make(chan struct{})
		go func() { io.Copy(ch, conn); close(done) }()
		io.Copy(conn, ch)
		conn.Close()
		<-done
	default:
		fmt.Fprintf(ch.Stderr(), "%s: command not found\n", f[0])
		return 127
	}
	return 0
}

// clientKey makes a key pair and its private key's PEM text, encrypted
// with passphrase when it is not empty.
func clientKey(t *testing.T, passphrase string) (ssh.PublicKey, string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "test")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "test", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return sshPub, string(pem.EncodeToMemory(block))
}

func TestSSH(t *testing.T) {
	t.Parallel()
	pub, keyPEM := clientKey(t, "")
	lockedPub, lockedPEM := clientKey(t, "phrase")
	srv := startSSH(t, "secret", pub, false)
	other := startSSH(t, "secret", pub, false)
	locked := startSSH(t, "", lockedPub, false)
	keyFile := filepath.Join(t.TempDir(), "id_test")
	if err := os.WriteFile(keyFile, []byte(keyPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		params  map[string]any
		want    any
		wantErr string
	}{
		{name: "password", params: map[string]any{"cmd": "echo hello world", "host": srv.addr, "username": "ann", "password": "secret"},
			want: "hello world\n"},
		{name: "private key", params: map[string]any{"cmd": "whoami", "host": srv.addr, "username": "bob", "private_key": keyPEM},
			want: "bob\n"},
		{name: "key file", params: map[string]any{"cmd": "whoami", "host": srv.addr, "username": "cy", "private_key_filename": keyFile},
			want: "cy\n"},
		{name: "key with passphrase", params: map[string]any{"cmd": "whoami", "host": locked.addr, "username": "di", "private_key": lockedPEM, "password": "phrase"},
			want: "di\n"},
		{name: "hosts", params: map[string]any{"cmd": "echo hi", "host": []any{srv.addr, other.addr}, "username": "ann", "password": "secret"},
			want: []any{"hi\n", "hi\n"}},
		{name: "a list of one host gives one result", params: map[string]any{"cmd": "echo hi", "host": []any{srv.addr}, "username": "ann", "password": "secret"},
			want: "hi\n"},
		{name: "exit status", params: map[string]any{"cmd": "fail 3", "host": srv.addr, "username": "ann", "password": "secret"},
			wantErr: "Failed to execute ssh cmd 'fail 3' on " + srv.addr + ": exit status 3"},
		{name: "result on error", params: map[string]any{"cmd": "fail 3", "host": srv.addr, "username": "ann", "password": "secret", "return_result_on_error": true},
			want: map[string]any{"stdout": "partial\n", "stderr": "it broke\n", "exit_code": int64(3)}},
		{name: "result on success", params: map[string]any{"cmd": "echo ok", "host": srv.addr, "username": "ann", "password": "secret", "return_result_on_error": true},
			want: map[string]any{"stdout": "ok\n", "stderr": "", "exit_code": int64(0)}},
		{name: "wrong password", params: map[string]any{"cmd": "whoami", "host": srv.addr, "username": "ann", "password": "nope"},
			wantErr: "Failed to execute ssh cmd 'whoami' on " + srv.addr + ": ssh: handshake failed"},
		{name: "flood", params: map[string]any{"cmd": "flood", "host": srv.addr, "username": "ann", "password": "secret"},
			wantErr: "the command wrote more than"},
		{name: "no server", params: map[string]any{"cmd": "whoami", "host": "127.0.0.1:1", "username": "ann", "password": "secret"},
			wantErr: "Failed to execute ssh cmd 'whoami' on 127.0.0.1:1"},
		{name: "dotdot", params: map[string]any{"cmd": "whoami", "host": srv.addr, "username": "ann", "private_key_filename": "../etc/key"},
			wantErr: "must not hold '..'"},
		{name: "bad key", params: map[string]any{"cmd": "whoami", "host": srv.addr, "username": "ann", "private_key": "not a key"},
			wantErr: "read the private key"},
		{name: "locked key without passphrase", params: map[string]any{"cmd": "whoami", "host": locked.addr, "username": "ann", "private_key": lockedPEM},
			wantErr: "read the private key"},
		{name: "host not a string", params: map[string]any{"cmd": "whoami", "host": int64(1), "username": "ann"},
			wantErr: `parameter "host" must be a host name or a list of host names`},
		{name: "missing cmd", params: map[string]any{"host": srv.addr, "username": "ann"},
			wantErr: `missing required parameter "cmd"`},
	}
	a, _ := NewRegistry().Lookup("std.ssh")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := a.Run(context.Background(), Input{Params: tt.params})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSSHProxied(t *testing.T) {
	t.Parallel()
	pub, keyPEM := clientKey(t, "")
	target := startSSH(t, "", pub, false)
	forwarding := startSSH(t, "", pub, true)
	relaying := startSSH(t, "", pub, false) // refuses TCP channels: nc
	tests := []struct {
		name    string
		params  map[string]any
		want    any
		ran     []string // commands the gateway ran
		wantErr string
	}{
		{name: "tcp channel", params: map[string]any{"cmd": "whoami", "host": target.addr, "username": "ann",
			"private_key": keyPEM, "private_key_filename": nil, "gateway_host": forwarding.addr, "gateway_username": "gw"},
			want: "ann\n"},
		{name: "nc", params: map[string]any{"cmd": "echo via nc", "host": target.addr, "username": "ann",
			"private_key": keyPEM, "private_key_filename": nil, "gateway_host": relaying.addr},
			want: "via nc\n", ran: []string{"ann: nc 127.0.0.1 " + target.addr[strings.LastIndexByte(target.addr, ':')+1:]}},
		{name: "proxy command", params: map[string]any{"cmd": "whoami", "host": target.addr, "username": "ann",
			"private_key": keyPEM, "private_key_filename": nil, "gateway_host": forwarding.addr, "proxy_command": "ssh -W %h:%p jump"},
			wantErr: "proxy_command is not supported"},
		{name: "gateway down", params: map[string]any{"cmd": "whoami", "host": target.addr, "username": "ann",
			"private_key": keyPEM, "private_key_filename": nil, "gateway_host": "127.0.0.1:1"},
			wantErr: "gateway 127.0.0.1:1"},
		{name: "key filename required", params: map[string]any{"cmd": "whoami", "host": target.addr, "username": "ann",
			"private_key": keyPEM, "gateway_host": forwarding.addr},
			wantErr: `missing required parameter "private_key_filename"`},
	}
	a, _ := NewRegistry().Lookup("std.ssh_proxied")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := a.Run(context.Background(), Input{Params: tt.params})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if tt.ran != nil {
				if diff := cmp.Diff(tt.ran, relaying.commands()); diff != "" {
					t.Errorf("gateway commands (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestSSHCancelled(t *testing.T) {
	t.Parallel()
	pub, keyPEM := clientKey(t, "")
	srv := startSSH(t, "", pub, false)
	a, _ := NewRegistry().Lookup("std.ssh")
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("timed out")
	cancel(cause)
	_, err := a.Run(ctx, Input{Params: map[string]any{"cmd": "whoami", "host": srv.addr, "username": "ann", "private_key": keyPEM}})
	if !errors.Is(err, cause) {
		t.Fatalf("error = %v, want the context's cause", err)
	}
}

func TestSSHNetworkPolicy(t *testing.T) {
	t.Parallel()
	pub, keyPEM := clientKey(t, "")
	srv := startSSH(t, "", pub, true)
	params := func(extra map[string]any) map[string]any {
		p := map[string]any{"cmd": "whoami", "host": srv.addr, "username": "ann", "private_key": keyPEM}
		for k, v := range extra {
			p[k] = v
		}
		return p
	}
	tests := []struct {
		name   string
		action string
		pol    Policy
		params map[string]any
		refuse bool
	}{
		{name: "loopback allowed embedded", action: "std.ssh", params: params(nil)},
		{name: "loopback refused on AWS", action: "std.ssh", pol: Policy{OnAWS: true}, params: params(nil), refuse: true},
		{name: "metadata address refused", action: "std.ssh", params: params(map[string]any{"host": "169.254.169.254:22"}), refuse: true},
		{name: "gateway checked too", action: "std.ssh_proxied", pol: Policy{OnAWS: true},
			params: params(map[string]any{"private_key_filename": nil, "gateway_host": srv.addr}), refuse: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, _ := NewRegistryWith(tt.pol).Lookup(tt.action)
			_, err := a.Run(context.Background(), Input{Params: tt.params})
			if tt.refuse != errors.Is(err, ErrRefused) {
				t.Fatalf("error = %v, refused: want %v", err, tt.refuse)
			}
		})
	}
}
