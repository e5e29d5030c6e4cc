package api

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/borawf/bora/internal/dsl"
	"github.com/borawf/bora/internal/store"
)

// Diagnostic is one problem the loader found in a workflow document, at a
// 1-based line and column of the document.
type Diagnostic struct {
	Line     int    `json:"line"`
	Column   int    `json:"column"`
	Severity string `json:"severity"` // "error" or "warning"
	Message  string `json:"message"`
}

// Workflow is a stored version of a workflow definition.
type Workflow struct {
	Name    string `json:"name"`
	Version int    `json:"version"`
	// Workflows are the names its executions may be started by: the
	// definition's own name, or "<workbook>.<workflow>" for each of a
	// workbook's workflows.
	Workflows []string `json:"workflows"`
	// Created (on POST) says whether this request stored a new version;
	// false when the document equals the latest version.
	Created *bool `json:"created,omitempty"`
	// Definition (on GET) is the document as it was submitted.
	Definition *string `json:"definition,omitempty"`
}

// WorkflowDocument is the JSON body that submits or validates a workflow
// document; the same document may be sent as the body itself with
// Content-Type application/yaml.
type WorkflowDocument struct {
	Definition *string `json:"definition"`
}

// Submitted answers POST /workflows: the definitions stored (a workbook
// is one; a plain document one per workflow, each holding the whole
// document, as Mistral does) and the document's warnings.
type Submitted struct {
	Workflows []Workflow   `json:"workflows"`
	Warnings  []Diagnostic `json:"warnings"`
}

// Validated answers POST /workflows/validate.
type Validated struct {
	Valid bool `json:"valid"`
	// Workflows are the definitions the document would store.
	Workflows   []string     `json:"workflows"`
	Diagnostics []Diagnostic `json:"diagnostics"`
}

// documentFile names a submitted document in the loader's messages.
const documentFile = "definition"

// readDocument reads a workflow document from a request: the body itself
// (YAML, application/yaml) or the definition field of a JSON object.
func (s *server) readDocument(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	mt, err := mediaType(r)
	if err != nil {
		return nil, err
	}
	var src []byte
	switch {
	case mt == "application/yaml" || mt == "application/x-yaml" || mt == "text/yaml" || mt == "text/x-yaml":
		if src, err = s.readBody(w, r); err != nil {
			return nil, err
		}
	case mt != "" && isJSON(mt):
		var doc WorkflowDocument
		if err := s.decodeJSON(w, r, &doc); err != nil {
			return nil, err
		}
		if doc.Definition == nil {
			return nil, badRequest("field definition is missing: send the workflow document (YAML) as a string", FieldError{Field: "definition", Detail: "required"})
		}
		src = []byte(*doc.Definition)
	default:
		what := "no Content-Type"
		if mt != "" {
			what = mt
		}
		return nil, problem(TypeUnsupportedMedia, fmt.Sprintf("send the document as application/yaml, or as {\"definition\": \"...\"} in application/json; got %s", what))
	}
	if len(src) > dsl.MaxSourceBytes {
		return nil, tooLarge(dsl.MaxSourceBytes, "workflow document")
	}
	return src, nil
}

// load compiles a document as `bora validate` does: the loader's checks,
// then the actions checked against the workers' catalogue.
func (s *server) load(src []byte) (*dsl.Bundle, dsl.Diagnostics) {
	b, diags := dsl.Load(documentFile, src)
	if b != nil && s.actions != nil {
		diags = append(diags, dsl.CheckActions(b, s.actions)...)
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return b, diags
}

// definitionNames are the definitions a document is stored as, with the
// workflow names each may be started by.
func definitionNames(b *dsl.Bundle) (names []string, runnable map[string][]string) {
	runnable = map[string][]string{}
	if b.Name != "" {
		for _, wf := range b.Order {
			runnable[b.Name] = append(runnable[b.Name], b.Name+"."+wf)
		}
		return []string{b.Name}, runnable
	}
	for _, wf := range b.Order {
		runnable[wf] = []string{wf}
	}
	return b.Order, runnable
}

// checkName reports a definition name that cannot be one: names appear in
// URLs and keys.
func checkName(name string) string {
	switch {
	case name == "":
		return "is empty"
	case len(name) > 255:
		return "is longer than 255 bytes"
	case !utf8.ValidString(name):
		return "is not valid UTF-8"
	case strings.ContainsRune(name, '/'):
		return "holds a slash"
	case strings.TrimSpace(name) != name:
		return "starts or ends with a space"
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "holds a control character"
	}
	return ""
}

func (s *server) createWorkflow(w http.ResponseWriter, r *http.Request) error {
	src, err := s.readDocument(w, r)
	if err != nil {
		return err
	}
	b, diags := s.load(src)
	if b == nil {
		p := problem(TypeInvalidWorkflow, fmt.Sprintf("the document has %s", countErrors(diags)))
		p.Diagnostics = diagnostics(diags)
		return p
	}
	names, runnable := definitionNames(b)
	for _, n := range names {
		if why := checkName(n); why != "" {
			p := problem(TypeInvalidWorkflow, fmt.Sprintf("the workflow name %q %s; a stored workflow's name may not", n, why))
			p.Diagnostics = diagnostics(diags)
			return p
		}
	}
	out := Submitted{Warnings: diagnostics(diags)}
	status := http.StatusOK
	for _, n := range names {
		latest, _, err := s.store.GetDefinition(r.Context(), n, 0)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		ver, err := s.store.PutDefinition(r.Context(), n, src)
		var tl *store.TooLargeError
		if errors.As(err, &tl) {
			return tooLarge(int64(tl.Limit), "stored workflow")
		}
		if err != nil {
			return err
		}
		created := latest == nil || string(latest) != string(src)
		if created {
			status = http.StatusCreated
		}
		out.Workflows = append(out.Workflows, Workflow{Name: n, Version: ver, Workflows: runnable[n], Created: &created})
	}
	if len(out.Workflows) == 1 {
		w.Header().Set("Location", versionPath(out.Workflows[0].Name, out.Workflows[0].Version))
	}
	return writeJSON(w, status, out)
}

func (s *server) validateWorkflow(w http.ResponseWriter, r *http.Request) error {
	src, err := s.readDocument(w, r)
	if err != nil {
		return err
	}
	b, diags := s.load(src)
	out := Validated{Valid: b != nil, Workflows: []string{}, Diagnostics: diagnostics(diags)}
	if b != nil {
		out.Workflows, _ = definitionNames(b)
		for _, n := range out.Workflows {
			if why := checkName(n); why != "" {
				out.Valid = false
				out.Diagnostics = append(out.Diagnostics, Diagnostic{Line: 1, Column: 1, Severity: "error", Message: fmt.Sprintf("the workflow name %q %s; a stored workflow's name may not", n, why)})
			}
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

// deleteWorkflow deletes a stored workflow: it is no longer listed or
// started, but executions pinned to one of its versions run on, and a
// document stored again under its name takes the next version number.
func (s *server) deleteWorkflow(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if checkName(name) != "" {
		return noWorkflow(name)
	}
	err := s.store.DeleteDefinition(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return noWorkflow(name)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// noWorkflow is the problem of a workflow name that names none (any name,
// valid or not, of any length: it is not repeated in full).
func noWorkflow(name string) *Problem {
	return problem(TypeWorkflowNotFound, fmt.Sprintf("there is no workflow %.140q", name))
}

func (s *server) getWorkflow(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if checkName(name) != "" {
		return noWorkflow(name)
	}
	version := 0
	if v := r.PathValue("version"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return problem(TypeWorkflowNotFound, fmt.Sprintf("%q is not a version: versions are numbered from 1", v))
		}
		version = n
	}
	asYAML, err := wantsYAML(r)
	if err != nil {
		return err
	}
	if version > 0 {
		// A deleted workflow's versions are kept for the executions
		// pinned to them, not shown.
		if _, _, err := s.store.GetDefinition(r.Context(), name, 0); errors.Is(err, store.ErrNotFound) {
			return noWorkflow(name)
		} else if err != nil {
			return err
		}
	}
	src, ver, err := s.store.GetDefinition(r.Context(), name, version)
	if errors.Is(err, store.ErrNotFound) {
		if version == 0 {
			return noWorkflow(name)
		}
		return problem(TypeWorkflowNotFound, fmt.Sprintf("workflow %q has no version %d", name, version))
	}
	if err != nil {
		return err
	}
	if asYAML {
		w.Header().Set("Content-Type", "application/yaml")
		w.Header().Set(VersionHeader, strconv.Itoa(ver))
		_, _ = w.Write(src)
		return nil
	}
	wf := Workflow{Name: name, Version: ver, Workflows: []string{}}
	if b, _ := dsl.Load(documentFile, src); b != nil {
		_, runnable := definitionNames(b)
		wf.Workflows = append(wf.Workflows, runnable[name]...)
	}
	text := string(src)
	wf.Definition = &text
	return writeJSON(w, http.StatusOK, wf)
}

// VersionHeader carries the version of a workflow sent as YAML.
const VersionHeader = "Bora-Workflow-Version"

// wantsYAML reads the Accept header of GET /workflows/{name}: JSON (the
// default), or the document itself as YAML; 406 for neither.
func wantsYAML(r *http.Request) (bool, error) {
	accept := r.Header.Values("Accept")
	if len(accept) == 0 {
		return false, nil
	}
	bestJSON, bestYAML, parsed := -1.0, -1.0, false
	for _, h := range accept {
		for _, part := range strings.Split(h, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			parsed = true
			q := 1.0
			if v, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && f <= 1 {
					q = f
				}
			}
			if q == 0 {
				continue
			}
			switch mt {
			case "application/json", "application/*", "*/*":
				bestJSON = max(bestJSON, q)
			case "application/yaml", "application/x-yaml", "text/yaml":
				bestYAML = max(bestYAML, q)
			}
		}
	}
	switch {
	case bestYAML > bestJSON:
		return true, nil
	case bestJSON >= 0 || !parsed:
		return false, nil
	}
	return false, problem(TypeNotAcceptable, "this route answers application/json, or the document itself as application/yaml")
}

// versionPath is the URL path of a stored version.
func versionPath(name string, version int) string {
	return fmt.Sprintf("%s/workflows/%s/versions/%d", BasePath, url.PathEscape(name), version)
}

func diagnostics(ds dsl.Diagnostics) []Diagnostic {
	out := make([]Diagnostic, 0, len(ds))
	for _, d := range ds {
		out = append(out, Diagnostic{Line: d.Pos.Line, Column: d.Pos.Col, Severity: d.Severity.String(), Message: d.Msg})
	}
	return out
}

func countErrors(ds dsl.Diagnostics) string {
	n := 0
	for _, d := range ds {
		if d.Severity == dsl.Error {
			n++
		}
	}
	if n == 1 {
		return "1 error"
	}
	return fmt.Sprintf("%d errors", n)
}
