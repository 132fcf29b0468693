package rest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"github.com/carcity/identity/identity"
	"github.com/carcity/identity/identity/identitytest"
	"github.com/carcity/identity/rest"
	"github.com/carcity/identity/web"
)

const (
	testCaptcha   = "4821" // every captcha's answer (identity.Config.CaptchaTestCode)
	adminPhone    = "13900000000"
	adminPassword = "admin-Pa55word!"
	jsonUTF8      = "application/json; charset=utf-8"

	validIDNo    = "11010519491231002X" // GB 11643 check character X
	maskedIDNo   = "110105********002X"
	badCheckIDNo = "110105194912310021" // same number, wrong check character

	oneMiB      = 1 << 20
	uploadLimit = 5 << 20 // rest.Options.MaxUploadBytes and identity.Config.MaxUploadBytes defaults
)

// newShim serves the shim over real HTTP on a harness service, the way
// server.go mounts it: /user/ behind web.Caller, which resolves bearer
// tokens. /files/ serves the uploads so that returned URLs can be fetched.
// Captchas all have the answer testCaptcha; opts change the service's policy.
func newShim(t *testing.T, legacy, numeric bool, opts ...identitytest.Option) (*identitytest.Harness, *httptest.Server) {
	t.Helper()
	opts = append([]identitytest.Option{func(c *identity.Config) { c.CaptchaTestCode = testCaptcha }}, opts...)
	// The contract moves the clock past cool-downs and expiry: keep the
	// stores in process (their Redis implementation has its own suite).
	h := identitytest.NewServiceWithDeps(t, identitytest.InProcessStores, opts...)
	mux := http.NewServeMux()
	mux.Handle("/user/", rest.New(h.Service, rest.Options{Legacy: legacy, NumericErrCode: numeric}))
	mux.Handle("/files/", h.Files)
	srv := httptest.NewServer(web.Caller{Service: h.Service}.Wrap(mux))
	t.Cleanup(srv.Close)
	return h, srv
}

// client is an old client of the document talking to one shim.
type client struct {
	*identitytest.Harness
	srv        *httptest.Server
	legacy     bool
	numeric    bool
	adminToken string
}

func newClient(t *testing.T, legacy, numeric bool, opts ...identitytest.Option) *client {
	t.Helper()
	h, srv := newShim(t, legacy, numeric, opts...)
	return &client{Harness: h, srv: srv, legacy: legacy, numeric: numeric}
}

// mode is how the shim is deployed.
type mode struct {
	name    string
	legacy  bool
	numeric bool
}

var modes = []mode{
	{name: "in legacy mode", legacy: true},
	{name: "in token mode", legacy: false},
}

// auth is the token an old client sends for its own account: none in legacy
// mode (the document has no tokens), the bearer token in token mode.
func (c *client) auth(token string) string {
	if c.legacy {
		return ""
	}
	return token
}

// params are a request's parameters; values are sent as given (JSON numbers
// stay numbers in JSON bodies).
type params map[string]any

// encoding is how a client sends its parameters.
type encoding string

const (
	jsonBody        encoding = "a JSON body"
	formBody        encoding = "a form body"
	queryString     encoding = "the query string of an empty POST"
	multipartBody   encoding = "multipart form fields"
	jsonAsForm      encoding = "a JSON body labelled as a form"
	jsonUntyped     encoding = "a JSON body without a content type"
	jsonAsPlainText encoding = "a JSON body labelled text/plain"
)

var encodings = []encoding{jsonBody, formBody, queryString, multipartBody, jsonAsForm, jsonUntyped, jsonAsPlainText}

func (p params) values() url.Values {
	v := url.Values{}
	for k, x := range p {
		v.Set(k, fmt.Sprint(x))
	}
	return v
}

func (p params) json(t testing.TB) []byte {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// post sends p as a JSON body, as most old clients do.
func (c *client) post(t *testing.T, path, token string, p params) reply {
	t.Helper()
	return c.call(t, jsonBody, path, token, p)
}

// call sends p to path with enc.
func (c *client) call(t *testing.T, enc encoding, path, token string, p params) reply {
	t.Helper()
	var (
		body        io.Reader = http.NoBody
		contentType string
		query       string
	)
	switch enc {
	case jsonBody:
		body, contentType = bytes.NewReader(p.json(t)), "application/json"
	case formBody:
		body, contentType = strings.NewReader(p.values().Encode()), "application/x-www-form-urlencoded"
	case queryString:
		query = p.values().Encode()
	case multipartBody:
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		for k, v := range p.values() {
			_ = w.WriteField(k, v[0])
		}
		_ = w.Close()
		body, contentType = &buf, w.FormDataContentType()
	case jsonAsForm:
		body, contentType = bytes.NewReader(p.json(t)), "application/x-www-form-urlencoded; charset=UTF-8"
	case jsonUntyped:
		body = bytes.NewReader(p.json(t))
	case jsonAsPlainText:
		body, contentType = bytes.NewReader(p.json(t)), "text/plain;charset=UTF-8"
	default:
		t.Fatalf("unknown encoding %q", enc)
	}
	target := path
	if query != "" {
		target += "?" + query
	}
	return c.send(t, http.MethodPost, target, contentType, token, body)
}

// get sends p in the query string of a GET (the edit* calls leave the method open).
func (c *client) get(t *testing.T, path, token string, p params) reply {
	t.Helper()
	return c.send(t, http.MethodGet, path+"?"+p.values().Encode(), "", token, http.NoBody)
}

// upload sends a multipart body: p as form fields, content as the file "file".
func (c *client) upload(t *testing.T, path, token string, p params, filename string, content []byte) reply {
	t.Helper()
	body, contentType := multipartWithFile(p, filename, content)
	return c.send(t, http.MethodPost, path, contentType, token, body)
}

func multipartWithFile(p params, filename string, content []byte) (*bytes.Buffer, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range p.values() {
		_ = w.WriteField(k, v[0])
	}
	fw, _ := w.CreateFormFile("file", filename)
	_, _ = fw.Write(content)
	_ = w.Close()
	return &buf, w.FormDataContentType()
}

// send does one request and checks the envelope every answer must have.
func (c *client) send(t *testing.T, method, target, contentType, token string, body io.Reader) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, c.srv.URL+target, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer to %s %s: %v", method, target, err)
	}
	r := readEnvelope(t, resp.StatusCode, resp.Header, raw, c.numeric)
	r.what = method + " " + target
	return r
}

// reply is a decoded legacy envelope.
type reply struct {
	what   string
	Status int
	Header http.Header
	Body   []byte
	Code   int            // errCode, whether sent as a string or a number
	Msg    string         //
	Data   map[string]any // numbers are json.Number; nil when absent
}

// readEnvelope decodes an answer of the shim and fails unless it is a valid
// envelope: the JSON content type; an object of errCode, msg and (on
// success) data; errCode a string of digits, or a number when numeric;
// "success" with HTTP 200 and data on success; otherwise a Chinese message,
// no data, and HTTP 200 except for the transport statuses 404, 405 and 413.
func readEnvelope(t testing.TB, status int, header http.Header, body []byte, numeric bool) reply {
	t.Helper()
	r := reply{Status: status, Header: header, Body: body}
	if ct := header.Get("Content-Type"); ct != jsonUTF8 {
		t.Fatalf("Content-Type = %q, want %q (HTTP %d: %s)", ct, jsonUTF8, status, body)
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil || env == nil {
		t.Fatalf("the answer is not a JSON object (HTTP %d): %q", status, body)
	}
	for k := range env {
		if k != "errCode" && k != "msg" && k != "data" {
			t.Errorf("the envelope has an undocumented member %q: %s", k, body)
		}
	}
	rawCode, ok := env["errCode"]
	if !ok {
		t.Fatalf("the envelope has no errCode: %s", body)
	}
	if numeric {
		n, err := strconv.Atoi(string(rawCode))
		if err != nil {
			t.Fatalf("errCode %s is not a JSON number (NumericErrCode): %s", rawCode, body)
		}
		r.Code = n
	} else {
		var s string
		if err := json.Unmarshal(rawCode, &s); err != nil {
			t.Fatalf("errCode %s is not a JSON string: %s", rawCode, body)
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("errCode %q is not a string of digits: %s", s, body)
		}
		r.Code = n
	}
	if err := json.Unmarshal(env["msg"], &r.Msg); err != nil || r.Msg == "" {
		t.Fatalf("msg is missing, empty or not a string: %s", body)
	}
	if rawData, ok := env["data"]; ok {
		dec := json.NewDecoder(bytes.NewReader(rawData))
		dec.UseNumber()
		if err := dec.Decode(&r.Data); err != nil || r.Data == nil {
			t.Fatalf("data is not a JSON object: %s", body)
		}
	}
	if r.Code == 200 {
		if r.Msg != "success" || status != http.StatusOK || r.Data == nil {
			t.Fatalf("a success must be HTTP 200 with msg \"success\" and data, got HTTP %d: %s", status, body)
		}
		return r
	}
	if !hasHan(r.Msg) {
		t.Errorf("failure message %q is not Chinese: %s", r.Msg, body)
	}
	if r.Data != nil {
		t.Errorf("a failure carries data: %s", body)
	}
	switch status {
	case http.StatusOK, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge:
	default:
		t.Fatalf("HTTP %d for errCode %d: %s", status, r.Code, body)
	}
	return r
}

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

// ok fails unless the call succeeded.
func (r reply) ok(t *testing.T) reply {
	t.Helper()
	if r.Code != 200 {
		t.Fatalf("%s: want success, got HTTP %d %s", r.what, r.Status, r.Body)
	}
	return r
}

// fails checks a business failure: HTTP 200 with errCode code.
func (r reply) fails(t *testing.T, code int) reply {
	t.Helper()
	return r.failsWith(t, http.StatusOK, code)
}

// failsWith checks a failure's HTTP status and errCode.
func (r reply) failsWith(t *testing.T, status, code int) reply {
	t.Helper()
	if r.Status != status || r.Code != code {
		t.Fatalf("%s: want HTTP %d errCode %d, got HTTP %d %s", r.what, status, code, r.Status, r.Body)
	}
	return r
}

// str is the string data member name.
func (r reply) str(t *testing.T, name string) string {
	t.Helper()
	s, ok := r.Data[name].(string)
	if !ok {
		t.Fatalf("%s: data.%s = %#v, want a string: %s", r.what, name, r.Data[name], r.Body)
	}
	return s
}

// num is the number data member name (a JSON number, not a string).
func (r reply) num(t *testing.T, name string) int {
	t.Helper()
	n, ok := r.Data[name].(json.Number)
	if !ok {
		t.Fatalf("%s: data.%s = %#v, want a JSON number: %s", r.what, name, r.Data[name], r.Body)
	}
	i, err := strconv.Atoi(n.String())
	if err != nil {
		t.Fatalf("%s: data.%s = %s, want an integer", r.what, name, n)
	}
	return i
}

// token is data.token, which must be there.
func (r reply) token(t *testing.T) string {
	t.Helper()
	tok := r.str(t, "token")
	if tok == "" {
		t.Fatalf("%s: empty data.token: %s", r.what, r.Body)
	}
	return tok
}

var phoneSeq atomic.Int64

// newPhone is a mainland mobile number no other test uses.
func newPhone() string { return fmt.Sprintf("135%08d", phoneSeq.Add(1)) }

// account is one user as the client knows it.
type account struct {
	phone, openID, device, password, token string
}

// codeFor asks sendPhoneNum of kind ("custom", "proxy" or "dealer") for a code
// to phone and reads it from the SMS outbox. subject is the openId, or the
// deviceId for dealers.
func (c *client) codeFor(t *testing.T, kind, phone, subject string) string {
	t.Helper()
	p := params{"telephone": phone}
	if kind == "dealer" {
		p["deviceId"] = subject
	} else {
		p["openId"] = subject
	}
	c.post(t, "/user/"+kind+"/sendPhoneNum", "", p).ok(t)
	return c.SMS.LastCode(t, phone)
}

// signIn verifies phone for openID on kind "custom" or "proxy" and returns the token.
func (c *client) signIn(t *testing.T, kind, phone, openID string) string {
	t.Helper()
	code := c.codeFor(t, kind, phone, openID)
	return c.post(t, "/user/"+kind+"/verifyPhoneNum", "", params{"openId": openID, "telephone": phone, "phoneNum": code}).ok(t).token(t)
}

// newAgent signs a new agent in through the proxy pages.
func (c *client) newAgent(t *testing.T) account {
	t.Helper()
	a := account{phone: newPhone()}
	a.openID = "openid-" + a.phone
	a.token = c.signIn(t, "proxy", a.phone, a.openID)
	return a
}

// newDealer registers a dealer with the document's sequence: sendGraphCode,
// verifyPicCode, sendPhoneNum, verifyPhoneNum, register.
func (c *client) newDealer(t *testing.T) account {
	t.Helper()
	d := account{phone: newPhone(), password: "correct horse battery staple"}
	d.device = "device-" + d.phone
	c.post(t, "/user/dealer/sendGraphCode", "", params{"deviceId": d.device}).ok(t)
	c.post(t, "/user/dealer/verifyPicCode", "", params{"deviceId": d.device, "picCode": testCaptcha}).ok(t)
	code := c.codeFor(t, "dealer", d.phone, d.device)
	c.post(t, "/user/dealer/verifyPhoneNum", "", params{"deviceId": d.device, "telephone": d.phone, "phoneNum": code}).ok(t)
	d.token = c.post(t, "/user/dealer/register", "", params{
		"deviceId": d.device, "telephone": d.phone, "phoneNum": code, "picCode": testCaptcha, "password": d.password,
	}).ok(t).token(t)
	return d
}

// admin is an admin's token (needed for auditPUser in both modes).
func (c *client) admin(t *testing.T) string {
	t.Helper()
	if c.adminToken == "" {
		if err := c.Service.EnsureAdmin(context.Background(), adminPhone, adminPassword); err != nil {
			t.Fatal(err)
		}
		c.adminToken = c.post(t, "/user/dealer/login", "", params{"telephone": adminPhone, "password": adminPassword}).ok(t).token(t)
	}
	return c.adminToken
}

// certificationImages uploads a's ID photo and qualification and returns their URLs.
func (c *client) certificationImages(t *testing.T, a account) (frontImg, qualification string) {
	t.Helper()
	frontImg = c.upload(t, "/user/proxy/uploadFrontImg", c.auth(a.token), params{"telephone": a.phone}, "front.png", pngImage(t)).ok(t).str(t, "frontImg")
	qualification = c.upload(t, "/user/proxy/uploadQualification", c.auth(a.token), params{"telephone": a.phone}, "qual.png", pngImage(t)).ok(t).str(t, "qualification")
	return frontImg, qualification
}

// submit puts a's certification under review.
func (c *client) submit(t *testing.T, a account) reply {
	t.Helper()
	front, qual := c.certificationImages(t, a)
	return c.post(t, "/user/proxy/submitPUser", c.auth(a.token), params{
		"telephone": a.phone, "realName": "张三", "idNo": validIDNo, "frontImg": front, "qualification": qual,
	}).ok(t)
}

// status is a's certification status from identifyPUser.
func (c *client) status(t *testing.T, a account) int {
	t.Helper()
	return c.post(t, "/user/proxy/identifyPUser", c.auth(a.token), params{"telephone": a.phone}).ok(t).num(t, "status")
}

// login signs a dealer in and returns the answer.
func (c *client) login(t *testing.T, phone, password string) reply {
	t.Helper()
	return c.post(t, "/user/dealer/login", "", params{"telephone": phone, "password": password})
}

// avatar uploads an avatar as d (anonymously in legacy mode, as the document
// has no account parameter) and returns its URL.
func (c *client) avatar(t *testing.T, d account) string {
	t.Helper()
	return c.upload(t, "/user/dealer/uploadFavicon", c.auth(d.token), params{}, "me.png", pngImage(t)).ok(t).str(t, "favicon")
}

// fetchPNG fails unless url serves a PNG image.
func fetchPNG(t *testing.T, url string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("GET %s = %d %q, want a PNG", url, resp.StatusCode, b[:min(len(b), 64)])
	}
}

// pngImage is a small valid PNG.
func pngImage(t testing.TB) []byte {
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

// afterCooldown lets a phone get another code.
func (c *client) afterCooldown() { c.Clock.Advance(61 * time.Second) }
