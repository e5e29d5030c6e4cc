package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// readBody reads the whole request body, refusing one over the limit with
// 413 before reading the rest of it.
func (s *server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > s.maxBody {
		return nil, tooLarge(s.maxBody, "request body")
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, tooLarge(s.maxBody, "request body")
	}
	if err != nil {
		return nil, badRequest("the request body could not be read: " + err.Error())
	}
	return b, nil
}

func tooLarge(limit int64, what string) *Problem {
	p := problem(TypeTooLarge, fmt.Sprintf("the %s is over the limit of %d bytes", what, limit))
	p.Limit = limit
	return p
}

func badRequest(detail string, fields ...FieldError) *Problem {
	p := problem(TypeBadRequest, detail)
	p.Errors = fields
	return p
}

// mediaType returns the request's media type, lower case, without
// parameters; "" when there is no Content-Type.
func mediaType(r *http.Request) (string, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return "", nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", problem(TypeUnsupportedMedia, fmt.Sprintf("Content-Type %.100q is malformed", ct))
	}
	return mt, nil
}

// isJSON reports whether a media type is JSON (application/json or a
// +json type); a missing Content-Type is taken as JSON.
func isJSON(mt string) bool {
	return mt == "" || mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// decodeJSON decodes a request body holding one JSON object into v,
// refusing unknown fields, trailing data and anything but an object.
func (s *server) decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	return s.decodeBody(w, r, v, false)
}

// decodeOptionalJSON is decodeJSON for a body that may also be empty.
func (s *server) decodeOptionalJSON(w http.ResponseWriter, r *http.Request, v any) error {
	return s.decodeBody(w, r, v, true)
}

func (s *server) decodeBody(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	mt, err := mediaType(r)
	if err != nil {
		return err
	}
	if !isJSON(mt) {
		return problem(TypeUnsupportedMedia, fmt.Sprintf("send application/json, not %s", mt))
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	if optional && len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	return decodeObject(body, v)
}

// decodeObject decodes data, which must be exactly one JSON object, into v.
func decodeObject(data []byte, v any) error {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return badRequest("the request body is empty; send a JSON object")
	}
	if trimmed[0] != '{' {
		return badRequest("the request body must be a JSON object")
	}
	if !utf8.Valid(data) {
		return badRequest("the request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonProblem(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("the request body holds more than one JSON value")
	}
	return nil
}

// jsonProblem turns a decoding error into a bad-request problem that
// names the field and what it should be, without Go's type names.
func jsonProblem(err error) *Problem {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return badRequest(fmt.Sprintf("the request body is not valid JSON (at byte %d): %s", syn.Offset, strings.TrimPrefix(syn.Error(), "json: ")))
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(body)"
		}
		detail := fmt.Sprintf("must be %s, not %s", jsonKind(typ.Type.Kind().String()), typ.Value)
		return badRequest(fmt.Sprintf("field %s %s", field, detail), FieldError{Field: field, Detail: detail})
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("the request body is truncated JSON")
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if f, ok := strings.CutPrefix(msg, "unknown field "); ok {
		f, _ = strconv.Unquote(f)
		return badRequest(fmt.Sprintf("unknown field %q", f), FieldError{Field: f, Detail: "not a field of this request"})
	}
	return badRequest("the request body is not valid: " + msg)
}

// jsonKind names a Go kind as JSON calls it.
func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	}
	return "another type"
}

// writeJSON sends v with a status.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
	return nil
}
