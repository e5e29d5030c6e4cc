package expr

// Template is a value with its expressions compiled. See the package doc.
type Template struct {
	src any
}

// Compile compiles a JSON-like value: every string in it that holds `<% %>`
// or `{{ }}` becomes an expression. A string that is exactly one expression
// keeps the expression's type when evaluated; a string with text around or
// several expressions renders to a string.
func Compile(v any) (*Template, error) { panic("expr: not implemented") }

// Eval evaluates the template in c.
func (t *Template) Eval(c *Context) (any, error) { panic("expr: not implemented") }

// Refs lists what the template refers to.
func (t *Template) Refs() Refs { panic("expr: not implemented") }

// IsConst reports whether the template holds no expression.
func (t *Template) IsConst() bool { panic("expr: not implemented") }

// Source returns the value as written.
func (t *Template) Source() any { return t.src }
