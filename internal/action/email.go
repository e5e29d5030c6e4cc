package action

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/mail"
	"net/smtp"
	"strings"
	"time"
)

// std.email sends a message over SMTP, as Mistral's std.email does:
//
//   - from_addr, to_addrs, smtp_server ("host" or "host:port", port 25 by
//     default) are required; to_addrs, cc_addrs, bcc_addrs and reply_to are
//     lists of addresses (a single string is one address).
//   - subject (default "<No subject>"), body (default "<No body>"),
//     html_body (adds an HTML alternative).
//   - smtp_password: when given, the connection is upgraded with STARTTLS
//     and the sender logs in as from_addr.
//
// The result is null.

var emailSignature = Signature{
	Required: []string{"from_addr", "to_addrs", "smtp_server"},
	Optional: []string{"reply_to", "cc_addrs", "bcc_addrs", "smtp_password", "subject", "body", "html_body"},
}

func runEmail(ctx context.Context, p params, pol Policy) (any, error) {
	m, err := readEmail(p)
	if err != nil {
		return nil, badParam(err)
	}
	if err := m.send(ctx, pol); err != nil {
		if errors.Is(err, ErrRefused) {
			return nil, NonRetryable(fmt.Errorf("std.email: %w", err))
		}
		return nil, fmt.Errorf("Failed to send an email message: %w", err)
	}
	return nil, nil
}

type email struct {
	from, server, password string
	to, cc, bcc, replyTo   []string
	subject, body, html    string
}

func readEmail(p params) (*email, error) {
	m := &email{}
	var err error
	str := func(dst *string, name, def string) {
		if err == nil {
			*dst, err = p.str(name, def)
		}
	}
	list := func(dst *[]string, name string) {
		if err == nil {
			*dst, err = p.addresses(name)
		}
	}
	str(&m.from, "from_addr", "")
	str(&m.server, "smtp_server", "")
	str(&m.password, "smtp_password", "")
	str(&m.subject, "subject", "<No subject>")
	str(&m.body, "body", "<No body>")
	str(&m.html, "html_body", "")
	list(&m.to, "to_addrs")
	list(&m.cc, "cc_addrs")
	list(&m.bcc, "bcc_addrs")
	list(&m.replyTo, "reply_to")
	if err != nil {
		return nil, err
	}
	// Every value that goes into a header is checked: a line break in one
	// would add headers (or recipients) of the workflow's choosing.
	for _, a := range append(append([]string{m.from}, m.recipients()...), m.replyTo...) {
		if a == "" || hasControl(a) {
			return nil, fmt.Errorf("std.email: %q is not an email address", a)
		}
		if _, err := mail.ParseAddress(a); err != nil {
			return nil, fmt.Errorf("std.email: %q is not an email address: %v", a, err)
		}
	}
	if hasControl(m.server) {
		return nil, fmt.Errorf("std.email: %q is not a server address", m.server)
	}
	if len(m.to) == 0 {
		return nil, errors.New(`std.email: parameter "to_addrs" must name at least one address`)
	}
	if m.server == "" {
		return nil, errors.New(`std.email: parameter "smtp_server" must not be empty`)
	}
	return m, nil
}

// addresses reads a list of addresses, or one address as a string.
func (p params) addresses(name string) ([]string, error) {
	v, ok := p.m[name]
	if !ok || v == nil {
		return nil, nil
	}
	switch a := v.(type) {
	case string:
		return []string{a}, nil
	case []any:
		out := make([]string, 0, len(a))
		for _, e := range a {
			s, ok := e.(string)
			if !ok {
				return nil, p.typeErr(name, "a list of addresses", v)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, p.typeErr(name, "a list of addresses", v)
}

func (m *email) recipients() []string {
	out := append([]string(nil), m.cc...)
	out = append(out, m.bcc...)
	return append(out, m.to...)
}

// message renders the message: plain text, or plain text and HTML as
// alternatives, in UTF-8.
func (m *email) message() []byte {
	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("Subject", mime.QEncoding.Encode("utf-8", m.subject))
	header("From", m.from)
	header("Reply-To", strings.Join(m.replyTo, ", "))
	header("To", strings.Join(m.to, ", "))
	if len(m.cc) > 0 {
		header("Cc", strings.Join(m.cc, ", "))
	}
	header("MIME-Version", "1.0")
	part := func(ctype, text string) {
		header("Content-Type", ctype+`; charset="utf-8"`)
		header("Content-Transfer-Encoding", "base64")
		b.WriteString("\r\n")
		enc := base64.StdEncoding.EncodeToString([]byte(text))
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	}
	if m.html == "" {
		part("text/plain", m.body)
		return b.Bytes()
	}
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	boundary := "bora-" + hex.EncodeToString(rnd[:])
	header("Content-Type", `multipart/alternative; boundary="`+boundary+`"`)
	b.WriteString("\r\n")
	for _, alt := range []struct{ ctype, text string }{{"text/plain", m.body}, {"text/html", m.html}} {
		b.WriteString("--" + boundary + "\r\n")
		part(alt.ctype, alt.text)
	}
	b.WriteString("--" + boundary + "--\r\n")
	return b.Bytes()
}

// hasControl reports whether s holds a control character (a line break
// among them).
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

func (m *email) send(ctx context.Context, pol Policy) error {
	addr := m.server
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, "25")
	}
	host, _, _ := net.SplitHostPort(addr)
	conn, err := pol.dialer().DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	// The SMTP client has no context: bound the exchange by ctx's
	// deadline and close the connection if ctx ends first.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	} else {
		_ = conn.SetDeadline(time.Now().Add(5 * time.Minute))
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()
	if m.password != "" {
		if err := c.StartTLS(&tls.Config{ServerName: host}); err != nil {
			return err
		}
		if err := c.Auth(smtp.PlainAuth("", m.from, m.password, host)); err != nil {
			return err
		}
	}
	if err := c.Mail(m.from); err != nil {
		return err
	}
	for _, r := range m.recipients() {
		if err := c.Rcpt(r); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(m.message()); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}
