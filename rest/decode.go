package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/carcity/identity/identity"
)

// params are a request's parameters, from the query string and the body
// (JSON, form or multipart), body winning. Unknown names are ignored.
type params struct {
	values map[string]string
	file   multipart.File  // the multipart field "file", if any
	form   *multipart.Form // to remove its temporary files
}

// close releases the multipart form's temporary files.
func (p params) close() {
	if p.form != nil {
		_ = p.form.RemoveAll()
	}
}

func (p params) get(name string) string { return p.values[name] }

// int reads a parameter sent as a number or as a string of digits.
func (p params) int(name string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(p.values[name]))
	return n, err == nil
}

// errTooLarge marks a body over its limit.
var errTooLarge = identity.E(identity.CodePayloadTooLarge)

// decode reads the parameters of r. maxBody bounds JSON and form bodies;
// maxUpload bounds multipart bodies (file and fields).
func decode(r *http.Request, maxBody, maxUpload int64) (params, error) {
	p := params{values: make(map[string]string, 8)}
	if r.URL.RawQuery != "" {
		for k, vs := range r.URL.Query() {
			if len(vs) > 0 {
				p.values[k] = vs[0]
			}
		}
	}
	if r.Body == nil || r.Method == http.MethodGet {
		return p, nil
	}
	ct, ctParams := r.Header.Get("Content-Type"), map[string]string(nil)
	if ct != "application/json" { // the common case needs no parsing
		ct, ctParams, _ = mime.ParseMediaType(ct)
	}
	switch ct {
	case "multipart/form-data":
		return p, decodeMultipart(r, ctParams["boundary"], maxUpload, &p)
	case "application/x-www-form-urlencoded":
		body, err := readLimited(r.Body, maxBody)
		if err != nil {
			return p, err
		}
		if trimmed := bytes.TrimSpace(body); len(trimmed) > 0 && trimmed[0] == '{' {
			// Old clients (and curl -d) send JSON with the form type.
			return p, decodeJSON(trimmed, &p)
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return p, identity.Ef(identity.CodeValidation, "请求体格式不正确")
		}
		for k, vs := range form {
			p.values[k] = vs[0]
		}
		return p, nil
	default:
		// JSON, also when old clients send no or a wrong content type.
		body, err := readLimited(r.Body, maxBody)
		if err != nil {
			return p, err
		}
		if len(bytes.TrimSpace(body)) == 0 {
			return p, nil
		}
		return p, decodeJSON(body, &p)
	}
}

func readLimited(body io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, errTooLarge
		}
		return nil, identity.Wrap(identity.CodeValidation, err)
	}
	if int64(len(b)) > limit {
		return nil, errTooLarge
	}
	return b, nil
}

// decodeJSON accepts an object whose values are strings, numbers, booleans
// or null; nested values are ignored.
func decodeJSON(body []byte, p *params) error {
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return identity.Ef(identity.CodeValidation, "请求体不是合法的 JSON 对象")
	}
	for k, v := range obj {
		switch v := v.(type) {
		case string:
			p.values[k] = v
		case json.Number:
			p.values[k] = v.String()
		case bool:
			p.values[k] = strconv.FormatBool(v)
		}
	}
	return nil
}

func decodeMultipart(r *http.Request, boundary string, maxUpload int64, p *params) error {
	if boundary == "" {
		return identity.Ef(identity.CodeValidation, "multipart 请求缺少 boundary")
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxUpload)
	// Fields are small; the file part is kept in memory up to the limit
	// (uploads are images of at most a few MiB).
	form, err := multipart.NewReader(r.Body, boundary).ReadForm(maxUpload)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) || errors.Is(err, multipart.ErrMessageTooLarge) {
			return errTooLarge
		}
		return identity.Ef(identity.CodeValidation, "multipart 请求格式不正确")
	}
	p.form = form
	for k, vs := range form.Value {
		if len(vs) > 0 {
			p.values[k] = vs[0]
		}
	}
	if files := form.File["file"]; len(files) > 0 {
		f, err := files[0].Open()
		if err != nil {
			return identity.Wrap(identity.CodeInternal, err)
		}
		p.file = f
	}
	return nil
}
