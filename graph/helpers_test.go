package graph_test

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/carcity/identity/graph"
	"github.com/carcity/identity/identity"
	"github.com/carcity/identity/identity/identitytest"
	"github.com/carcity/identity/web"
)

// env is a GraphQL endpoint over real HTTP on a harness service.
type env struct {
	*identitytest.Harness
	srv *httptest.Server
}

func newEnv(t *testing.T, opts ...identitytest.Option) *env {
	t.Helper()
	// Captchas are images; tests answer a fixed code.
	opts = append([]identitytest.Option{func(c *identity.Config) { c.CaptchaTestCode = testCaptcha }}, opts...)
	h := identitytest.NewService(t, opts...)
	mux := http.NewServeMux()
	mux.Handle("/graphql", graph.NewHandler(h.Service, graph.Options{MaxUploadBytes: 6 << 20, Introspection: true}))
	mux.Handle("/files/", h.Files)
	srv := httptest.NewServer(web.Caller{Service: h.Service}.Wrap(mux))
	t.Cleanup(srv.Close)
	return &env{Harness: h, srv: srv}
}

type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

type result struct {
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

// code is the extensions.code of the first error, or "".
func (r result) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// do posts a query with a bearer token (empty: anonymous).
func (e *env) do(t *testing.T, token, query string, vars map[string]any) result {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return e.send(t, req, token)
}

func (e *env) send(t *testing.T, req *http.Request, token string) result {
	t.Helper()
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var r result
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("response is not JSON (%d): %s", resp.StatusCode, raw)
	}
	return r
}

// must fails on GraphQL errors and decodes data into out.
func (r result) must(t *testing.T, out any) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("unexpected errors: %+v", r.Errors)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			t.Fatal(err)
		}
	}
}

// wantCode fails unless the first error has code.
func (r result) wantCode(t *testing.T, code string) {
	t.Helper()
	if r.code() != code {
		t.Fatalf("want error code %s, got %+v (data %s)", code, r.Errors, r.Data)
	}
}

// upload sends a GraphQL multipart request with one file as variable "file".
func (e *env) upload(t *testing.T, token, query string, vars map[string]any, filename string, content []byte) result {
	t.Helper()
	vars["file"] = nil
	ops, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	_ = w.WriteField("operations", string(ops))
	_ = w.WriteField("map", `{"0":["variables.file"]}`)
	fw, _ := w.CreateFormFile("0", filename)
	_, _ = fw.Write(content)
	_ = w.Close()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", &buf)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return e.send(t, req, token)
}

// pngImage is a small valid PNG.
func pngImage(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for i := range 16 {
		img.Set(i, i, color.RGBA{R: 200, A: 255})
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// get fetches a URL and returns its status and body.
func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// needClock skips tests that move time past rate-limit windows or code
// expiry when the short-lived store (Redis) keeps real time; the embedded
// run covers them.
func (e *env) needClock(t *testing.T) {
	t.Helper()
	if !e.StoresFollowClock {
		t.Skip("the short-lived store keeps real time")
	}
}
