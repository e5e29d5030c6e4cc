package action

import (
	"bufio"
	"context"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// smtpSession is what a fake SMTP server received in one session.
type smtpSession struct {
	from  string
	rcpts []string
	data  string
}

// fakeSMTP accepts one SMTP session and reports what it received.
func fakeSMTP(t *testing.T) (addr string, got <-chan smtpSession) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan smtpSession, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		r := bufio.NewReader(conn)
		reply := func(s string) { _, _ = io.WriteString(conn, s+"\r\n") }
		var s smtpSession
		reply("220 fake ready")
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			cmd := strings.TrimRight(line, "\r\n")
			switch up := strings.ToUpper(cmd); {
			case strings.HasPrefix(up, "EHLO"), strings.HasPrefix(up, "HELO"):
				reply("250 fake")
			case strings.HasPrefix(up, "MAIL FROM:"):
				s.from = strings.Trim(cmd[len("MAIL FROM:"):], "<> ")
				reply("250 ok")
			case strings.HasPrefix(up, "RCPT TO:"):
				s.rcpts = append(s.rcpts, strings.Trim(cmd[len("RCPT TO:"):], "<> "))
				reply("250 ok")
			case up == "DATA":
				reply("354 go on")
				var b strings.Builder
				for {
					l, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if l == ".\r\n" {
						break
					}
					b.WriteString(l)
				}
				s.data = b.String()
				reply("250 queued")
			case up == "QUIT":
				reply("221 bye")
				ch <- s
				return
			default:
				reply("502 not implemented")
			}
		}
	}()
	return ln.Addr().String(), ch
}

func TestEmail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		params    map[string]any
		wantRcpts []string
		wantHdr   map[string]string
		wantParts map[string]string // content type → decoded text
	}{
		{
			name: "plain text",
			params: map[string]any{
				"from_addr": "bora@example.test", "to_addrs": []any{"a@example.test", "b@example.test"},
				"cc_addrs": []any{"c@example.test"}, "bcc_addrs": "d@example.test", "reply_to": []any{"r@example.test"},
				"subject": "Grüße", "body": "line one\nline two",
			},
			wantRcpts: []string{"c@example.test", "d@example.test", "a@example.test", "b@example.test"},
			wantHdr:   map[string]string{"From": "bora@example.test", "To": "a@example.test, b@example.test", "Cc": "c@example.test", "Reply-To": "r@example.test", "Subject": "Grüße", "Bcc": ""},
			wantParts: map[string]string{"text/plain": "line one\nline two"},
		},
		{
			name: "html alternative and defaults",
			params: map[string]any{
				"from_addr": "bora@example.test", "to_addrs": []any{"a@example.test"}, "html_body": "<b>hi</b>",
			},
			wantRcpts: []string{"a@example.test"},
			wantHdr:   map[string]string{"Subject": "<No subject>"},
			wantParts: map[string]string{"text/plain": "<No body>", "text/html": "<b>hi</b>"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr, got := fakeSMTP(t)
			tt.params["smtp_server"] = addr
			res, err := runStd(t, context.Background(), "std.email", tt.params)
			if err != nil || res != nil {
				t.Fatalf("std.email = %v, %v; want null", res, err)
			}
			s := <-got
			if s.from != "bora@example.test" {
				t.Errorf("MAIL FROM %q", s.from)
			}
			if diff := cmp.Diff(tt.wantRcpts, s.rcpts); diff != "" {
				t.Errorf("recipients (-want +got):\n%s", diff)
			}
			msg, err := mail.ReadMessage(strings.NewReader(s.data))
			if err != nil {
				t.Fatalf("read message: %v\n%s", err, s.data)
			}
			dec := new(mime.WordDecoder)
			for k, want := range tt.wantHdr {
				h, err := dec.DecodeHeader(msg.Header.Get(k))
				if err != nil || h != want {
					t.Errorf("header %s = %q (%v), want %q", k, h, err, want)
				}
			}
			parts := map[string]string{}
			mt, ps, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
			if err != nil {
				t.Fatal(err)
			}
			if mt == "multipart/alternative" {
				mr := multipart.NewReader(msg.Body, ps["boundary"])
				for {
					p, err := mr.NextRawPart()
					if err != nil {
						break
					}
					pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
					b, _ := io.ReadAll(base64.NewDecoder(base64.StdEncoding, p))
					parts[pt] = string(b)
				}
			} else {
				b, _ := io.ReadAll(base64.NewDecoder(base64.StdEncoding, msg.Body))
				parts[mt] = string(b)
			}
			if diff := cmp.Diff(tt.wantParts, parts); diff != "" {
				t.Errorf("parts (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEmailFailures(t *testing.T) {
	t.Parallel()
	base := func(kv ...any) map[string]any {
		p := map[string]any{"from_addr": "x@example.test", "to_addrs": []any{"a@example.test"}, "smtp_server": "127.0.0.1:1"}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(p, kv[i].(string))
			} else {
				p[kv[i].(string)] = kv[i+1]
			}
		}
		return p
	}
	tests := []struct {
		name      string
		params    map[string]any
		wantMsg   string
		wantFinal bool
	}{
		{name: "unreachable server", params: base(), wantMsg: "Failed to send an email message: dial tcp 127.0.0.1:1"},
		{name: "missing recipients", params: base("to_addrs", nil), wantMsg: `std.email: missing required parameter "to_addrs"`, wantFinal: true},
		{name: "empty recipients", params: base("to_addrs", []any{}), wantMsg: `parameter "to_addrs" must name at least one address`, wantFinal: true},
		{name: "bad recipients", params: base("to_addrs", []any{int64(1)}), wantMsg: `parameter "to_addrs" must be a list of addresses, got a list`, wantFinal: true},
		{name: "header injection", params: base("from_addr", "x@example.test\r\nBcc: evil@example.test"), wantMsg: "is not an email address", wantFinal: true},
		{name: "header injection in reply_to", params: base("reply_to", "r@example.test\r\nBcc: evil@example.test"), wantMsg: "is not an email address", wantFinal: true},
		{name: "header injection in cc", params: base("cc_addrs", []any{"c@example.test\nX-Evil: 1"}), wantMsg: "is not an email address", wantFinal: true},
		{name: "not an address", params: base("reply_to", "two words"), wantMsg: "is not an email address", wantFinal: true},
		{name: "a control character in the server", params: base("smtp_server", "127.0.0.1:1\r\n"), wantMsg: "is not a server address", wantFinal: true},
		{name: "a server at the metadata address", params: base("smtp_server", "169.254.169.254:25"), wantMsg: "refused by the worker's network policy", wantFinal: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := runStd(t, context.Background(), "std.email", tt.params)
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantMsg)
			}
			if IsNonRetryable(err) != tt.wantFinal {
				t.Errorf("NonRetryable = %v, want %v", IsNonRetryable(err), tt.wantFinal)
			}
		})
	}
}
