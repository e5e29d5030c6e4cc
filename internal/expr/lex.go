package expr

import (
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// dialect says which expression language a piece of text is written in.
type dialect uint8

const (
	yaql dialect = iota
	jinja
)

func (d dialect) String() string {
	if d == jinja {
		return "Jinja"
	}
	return "YAQL"
}

type tokKind uint8

const (
	tEOF tokKind = iota
	tNum
	tStr
	tIdent
	tDollar // YAQL `$` or `$name`; text holds the name without `$`
	tOp
)

type token struct {
	kind tokKind
	pos  int    // byte offset within the expression text
	text string // identifier, operator, variable name or decoded string
	num  any    // int64 or float64 for tNum
}

// lexer turns expression text into tokens. Offsets are relative to the start
// of the text; the parser adds the offset of the text within its string.
type lexer struct {
	src  string
	pos  int
	d    dialect
	toks []token
	err  *SyntaxError
}

// operators, longest first.
var yaqlOps = []string{"=>", "->", "?.", "!=", "<=", ">=", "=~", "!~", "==",
	"+", "-", "*", "/", ".", ",", "(", ")", "[", "]", "{", "}", "<", ">", "=", ":"}

var jinjaOps = []string{"**", "//", "==", "!=", "<=", ">=",
	"+", "-", "*", "/", "%", "~", "|", ".", ",", ":", "(", ")", "[", "]", "{", "}", "<", ">", "="}

// more lexes at least one more token into l.toks, ending with tEOF. After
// an error it appends tEOF and keeps the error in l.err.
func (l *lexer) more() {
	l.skipSpace()
	if l.pos >= len(l.src) {
		l.toks = append(l.toks, token{kind: tEOF, pos: l.pos})
		return
	}
	if err := l.next(); err != nil {
		l.err = err
		l.toks = append(l.toks, token{kind: tEOF, pos: err.Offset})
	}
}

func (l *lexer) skipSpace() {
	for l.pos < len(l.src) {
		switch l.src[l.pos] {
		case ' ', '\t', '\n', '\r', '\f', '\v':
			l.pos++
		default:
			// Unicode spaces end a YAQL expression (see parseExpr).
			if l.d == yaql && l.src[l.pos] >= utf8.RuneSelf && strings.TrimLeftFunc(l.src[l.pos:], unicode.IsSpace) == "" {
				l.pos = len(l.src)
			}
			return
		}
	}
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isIdentChar(c byte) bool { return isIdentStart(c) || isDigit(c) }

func (l *lexer) errf(pos int, msg string) *SyntaxError {
	return &SyntaxError{Offset: pos, Msg: msg}
}

func (l *lexer) next() *SyntaxError {
	start := l.pos
	c := l.src[l.pos]
	switch {
	case isDigit(c):
		return l.number()
	case isIdentStart(c):
		for l.pos < len(l.src) && isIdentChar(l.src[l.pos]) {
			l.pos++
		}
		l.toks = append(l.toks, token{kind: tIdent, pos: start, text: l.src[start:l.pos]})
		return nil
	case c == '\'' || c == '"':
		return l.str(c)
	case c == '`' && l.d == yaql:
		end := strings.IndexByte(l.src[l.pos+1:], '`')
		if end < 0 {
			return l.errf(start, "unterminated string")
		}
		l.toks = append(l.toks, token{kind: tStr, pos: start, text: l.src[l.pos+1 : l.pos+1+end]})
		l.pos += end + 2
		return nil
	case c == '$' && l.d == yaql:
		l.pos++
		for l.pos < len(l.src) && isIdentChar(l.src[l.pos]) {
			l.pos++
		}
		l.toks = append(l.toks, token{kind: tDollar, pos: start, text: l.src[start+1 : l.pos]})
		return nil
	}
	ops := yaqlOps
	if l.d == jinja {
		ops = jinjaOps
	}
	for _, op := range ops {
		if strings.HasPrefix(l.src[l.pos:], op) {
			l.pos += len(op)
			l.toks = append(l.toks, token{kind: tOp, pos: start, text: op})
			return nil
		}
	}
	r, _ := utf8.DecodeRuneInString(l.src[l.pos:])
	return l.errf(start, "unexpected character "+strconv.QuoteRune(r))
}

func (l *lexer) number() *SyntaxError {
	start := l.pos
	digits := func() {
		for l.pos < len(l.src) && (isDigit(l.src[l.pos]) || l.d == jinja && l.src[l.pos] == '_') {
			l.pos++
		}
	}
	digits()
	isFloat := false
	if l.pos+1 < len(l.src) && l.src[l.pos] == '.' && isDigit(l.src[l.pos+1]) {
		isFloat = true
		l.pos++
		digits()
	}
	if l.d == jinja && l.pos < len(l.src) && (l.src[l.pos] == 'e' || l.src[l.pos] == 'E') {
		p := l.pos + 1
		if p < len(l.src) && (l.src[p] == '+' || l.src[p] == '-') {
			p++
		}
		if p < len(l.src) && isDigit(l.src[p]) {
			isFloat = true
			l.pos = p
			digits()
		}
	}
	if l.pos < len(l.src) && isIdentStart(l.src[l.pos]) {
		return l.errf(l.pos, "invalid number literal")
	}
	text := strings.ReplaceAll(l.src[start:l.pos], "_", "")
	tok := token{kind: tNum, pos: start, text: l.src[start:l.pos]}
	if !isFloat {
		n, err := strconv.ParseInt(text, 10, 64)
		if isRangeErr(err) {
			return l.errf(start, "integer literal "+text+" is outside the 64-bit range")
		}
		if err == nil {
			tok.num = n
			l.toks = append(l.toks, tok)
			return nil
		}
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil && !isRangeErr(err) {
		return l.errf(start, "invalid number literal")
	}
	if math.IsInf(f, 0) {
		return l.errf(start, "number literal "+text+" is too large for a float")
	}
	tok.num = f
	l.toks = append(l.toks, tok)
	return nil
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

func (l *lexer) str(q byte) *SyntaxError {
	start := l.pos
	l.pos++
	var b strings.Builder
	for {
		if l.pos >= len(l.src) {
			return l.errf(start, "unterminated string")
		}
		c := l.src[l.pos]
		if c == q {
			l.pos++
			break
		}
		if c != '\\' {
			b.WriteByte(c)
			l.pos++
			continue
		}
		if l.pos+1 >= len(l.src) {
			return l.errf(start, "unterminated string")
		}
		e := l.src[l.pos+1]
		l.pos += 2
		switch e {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '0':
			b.WriteByte(0)
		case '\\', '\'', '"', '`':
			b.WriteByte(e)
		case 'u', 'x':
			n := 4
			if e == 'x' {
				n = 2
			}
			if l.pos+n > len(l.src) {
				return l.errf(l.pos-2, "invalid escape sequence")
			}
			v, err := strconv.ParseUint(l.src[l.pos:l.pos+n], 16, 32)
			if err != nil {
				return l.errf(l.pos-2, "invalid escape sequence")
			}
			b.WriteRune(rune(v))
			l.pos += n
		default:
			// Python keeps unknown escapes as written.
			b.WriteByte('\\')
			b.WriteByte(e)
		}
	}
	l.toks = append(l.toks, token{kind: tStr, pos: start, text: b.String()})
	return nil
}
