package expr

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// pyJSON encodes v the way Python's json.dumps does with sorted keys and
// ensure_ascii: ", " and ": " separators on one line, or one item per line
// with the given indent. htmlSafe escapes <, >, & and ' as Jinja's tojson does.
func pyJSON(v any, indent string, htmlSafe bool) string {
	var b strings.Builder
	writeJSON(&b, v, indent, "", htmlSafe)
	return b.String()
}

func writeJSON(b *strings.Builder, v any, indent, prefix string, htmlSafe bool) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		switch {
		case math.IsNaN(x):
			b.WriteString("NaN")
		case math.IsInf(x, 1):
			b.WriteString("Infinity")
		case math.IsInf(x, -1):
			b.WriteString("-Infinity")
		default:
			b.WriteString(pyFloat(x))
		}
	case string:
		writeJSONString(b, x, htmlSafe)
	case []any:
		if len(x) == 0 {
			b.WriteString("[]")
			return
		}
		b.WriteByte('[')
		inner := prefix + indent
		for i, e := range x {
			jsonSep(b, i, indent, inner)
			writeJSON(b, e, indent, inner, htmlSafe)
		}
		jsonClose(b, indent, prefix)
		b.WriteByte(']')
	case map[string]any:
		if len(x) == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteByte('{')
		inner := prefix + indent
		for i, k := range sortedKeys(x) {
			jsonSep(b, i, indent, inner)
			writeJSONString(b, k, htmlSafe)
			b.WriteString(": ")
			writeJSON(b, x[k], indent, inner, htmlSafe)
		}
		jsonClose(b, indent, prefix)
		b.WriteByte('}')
	default:
		writeJSON(b, Normalize(v), indent, prefix, htmlSafe)
	}
}

func jsonSep(b *strings.Builder, i int, indent, inner string) {
	if indent == "" {
		if i > 0 {
			b.WriteString(", ")
		}
		return
	}
	if i > 0 {
		b.WriteByte(',')
	}
	b.WriteByte('\n')
	b.WriteString(inner)
}

func jsonClose(b *strings.Builder, indent, prefix string) {
	if indent != "" {
		b.WriteByte('\n')
		b.WriteString(prefix)
	}
}

func writeJSONString(b *strings.Builder, s string, htmlSafe bool) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case htmlSafe && (r == '<' || r == '>' || r == '&' || r == '\''):
			fmt.Fprintf(b, `\u%04x`, r)
		case r < 0x20 || r >= 0x7f:
			if r > 0xffff {
				r -= 0x10000
				fmt.Fprintf(b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
			} else {
				fmt.Fprintf(b, `\u%04x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

// yamlDump renders v as block-style YAML with sorted keys, close to
// PyYAML's safe_dump(default_flow_style=False).
func yamlDump(v any) string {
	var b strings.Builder
	switch x := v.(type) {
	case []any:
		if len(x) == 0 {
			return "[]\n"
		}
		writeYAMLList(&b, x, "")
	case map[string]any:
		if len(x) == 0 {
			return "{}\n"
		}
		writeYAMLMap(&b, x, "")
	default:
		b.WriteString(yamlScalar(v))
		b.WriteString("\n...\n")
	}
	return b.String()
}

func writeYAMLMap(b *strings.Builder, m map[string]any, prefix string) {
	for i, k := range sortedKeys(m) {
		if i > 0 {
			b.WriteString(prefix)
		}
		b.WriteString(yamlScalar(k))
		b.WriteByte(':')
		writeYAMLValue(b, m[k], prefix, true)
	}
}

func writeYAMLList(b *strings.Builder, l []any, prefix string) {
	for i, e := range l {
		if i > 0 {
			b.WriteString(prefix)
		}
		b.WriteString("- ")
		switch x := e.(type) {
		case []any:
			if len(x) > 0 {
				writeYAMLList(b, x, prefix+"  ")
				continue
			}
		case map[string]any:
			if len(x) > 0 {
				writeYAMLMap(b, x, prefix+"  ")
				continue
			}
		}
		writeYAMLInline(b, e)
	}
}

// writeYAMLValue writes the value of a map entry, after the key's colon.
func writeYAMLValue(b *strings.Builder, v any, prefix string, _ bool) {
	switch x := v.(type) {
	case []any:
		if len(x) > 0 {
			b.WriteByte('\n')
			b.WriteString(prefix)
			writeYAMLList(b, x, prefix)
			return
		}
	case map[string]any:
		if len(x) > 0 {
			b.WriteByte('\n')
			b.WriteString(prefix + "  ")
			writeYAMLMap(b, x, prefix+"  ")
			return
		}
	}
	b.WriteByte(' ')
	writeYAMLInline(b, v)
}

func writeYAMLInline(b *strings.Builder, v any) {
	switch x := v.(type) {
	case []any:
		if len(x) == 0 {
			b.WriteString("[]\n")
			return
		}
	case map[string]any:
		if len(x) == 0 {
			b.WriteString("{}\n")
			return
		}
	}
	b.WriteString(yamlScalar(v))
	b.WriteByte('\n')
}

func yamlScalar(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		if x {
			return "true"
		}
		return "false"
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		switch {
		case math.IsNaN(x):
			return ".nan"
		case math.IsInf(x, 1):
			return ".inf"
		case math.IsInf(x, -1):
			return "-.inf"
		}
		s := pyFloat(x)
		if i := strings.IndexByte(s, 'e'); i >= 0 && !strings.Contains(s[:i], ".") {
			s = s[:i] + ".0" + s[i:]
		}
		return s
	case string:
		return yamlString(x)
	}
	return yamlString(Render(v))
}

var yamlReserved = map[string]bool{
	"": true, "~": true, "null": true, "true": true, "false": true, "yes": true, "no": true,
	"on": true, "off": true, "y": true, "n": true, ".inf": true, "-.inf": true, "+.inf": true, ".nan": true,
}

func yamlString(s string) string {
	needsDouble := false
	for _, r := range s {
		if r < 0x20 || r >= 0x7f || r == utf8.RuneError {
			needsDouble = true
			break
		}
	}
	if needsDouble {
		var b strings.Builder
		b.WriteByte('"')
		for _, r := range s {
			switch {
			case r == '"' || r == '\\':
				b.WriteByte('\\')
				b.WriteRune(r)
			case r == '\n':
				b.WriteString(`\n`)
			case r == '\t':
				b.WriteString(`\t`)
			case r < 0x20 || r == 0x7f:
				fmt.Fprintf(&b, `\x%02X`, r)
			case r < 0x100 && r >= 0x7f:
				fmt.Fprintf(&b, `\x%02X`, r)
			case r >= 0x100 && r <= 0xffff:
				fmt.Fprintf(&b, `\u%04X`, r)
			case r > 0xffff:
				fmt.Fprintf(&b, `\U%08X`, r)
			default:
				b.WriteRune(r)
			}
		}
		b.WriteByte('"')
		return b.String()
	}
	if yamlPlainOK(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func yamlPlainOK(s string) bool {
	if yamlReserved[strings.ToLower(s)] {
		return false
	}
	if _, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64); err == nil {
		return false
	}
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0o") || s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	if strings.ContainsRune("-?:,[]{}#&*!|>'\"%@`", rune(s[0])) {
		return false
	}
	if strings.Contains(s, ": ") || strings.Contains(s, " #") || strings.HasSuffix(s, ":") {
		return false
	}
	return true
}
