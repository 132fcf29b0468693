package rest_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/carcity/identity/identity"
	"github.com/carcity/identity/identity/identitytest"
	"github.com/carcity/identity/rest"
	"github.com/carcity/identity/web"
)

// quietTB drops the harness' log lines: F methods must not be called from
// inside a fuzz target, and the service logs through the TB it was built with.
type quietTB struct{ testing.TB }

func (quietTB) Helper()             {}
func (quietTB) Log(...any)          {}
func (quietTB) Logf(string, ...any) {}

// fuzzPaths are the documented paths plus an unknown one.
var fuzzPaths = []string{
	"/user/custom/sendPhoneNum", "/user/custom/verifyPhoneNum",
	"/user/proxy/sendPhoneNum", "/user/proxy/verifyPhoneNum", "/user/proxy/identifyPUser", "/user/proxy/switchPUser",
	"/user/proxy/uploadFrontImg", "/user/proxy/uploadQualification", "/user/proxy/submitPUser", "/user/proxy/auditPUser",
	"/user/dealer/login", "/user/dealer/sendPhoneNum", "/user/dealer/verifyPhoneNum", "/user/dealer/sendGraphCode",
	"/user/dealer/verifyPicCode", "/user/dealer/register", "/user/dealer/reset", "/user/dealer/editPhone",
	"/user/dealer/editGender", "/user/dealer/editNickname", "/user/dealer/editFavicon", "/user/dealer/uploadFavicon",
	"/user/dealer/euploadFavicon", "/user/dealer/nothing",
}

// fuzzTarget is the shim in both modes (numeric errCode in token mode) on
// one harness, answering in-process.
type fuzzTarget struct {
	legacy, token http.Handler
}

func newFuzzTarget(f *testing.F) *fuzzTarget {
	h := identitytest.NewService(quietTB{f}, func(c *identity.Config) { c.CaptchaTestCode = testCaptcha })
	caller := web.Caller{Service: h.Service}
	return &fuzzTarget{
		legacy: caller.Wrap(rest.New(h.Service, rest.Options{Legacy: true, MaxUploadBytes: 64 << 10})),
		token:  caller.Wrap(rest.New(h.Service, rest.Options{NumericErrCode: true, MaxUploadBytes: 64 << 10})),
	}
}

// serve sends one request to the shim and fails unless it answers a valid envelope.
func (ft *fuzzTarget) serve(t *testing.T, legacy bool, method string, path uint8, query, contentType string, body []byte) {
	t.Helper()
	target := fuzzPaths[int(path)%len(fuzzPaths)]
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	if u, err := req.URL.Parse(target + "?" + query); err == nil {
		req.URL = u
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	handler, numeric := ft.token, true
	if legacy {
		handler, numeric = ft.legacy, false
	}
	handler.ServeHTTP(rec, req)
	readEnvelope(t, rec.Code, rec.Header(), rec.Body.Bytes(), numeric)
}

func FuzzEveryJSONBodyGetsAnEnvelope(f *testing.F) {
	ft := newFuzzTarget(f)
	for i := range fuzzPaths {
		f.Add(uint8(i), `{"telephone":"13500000001","openId":"o","deviceId":"d","phoneNum":"123456","password":"correct horse","gender":"2","status":3}`)
		f.Add(uint8(i), `{"username":"13500000001","oldPS":"x","newPS":"yyyyyyyy","nickName":"车","favicon":"http://x/files/public/avatars/a.png","picCode":"4821"}`)
		f.Add(uint8(i), `{"realName":"张三","idNo":"11010519491231002X","frontImg":"/files/private/id_front/x.png","qualification":"","telephone":13500000002}`)
	}
	for _, s := range envelopeJSONSeeds() {
		f.Add(uint8(10), s)
	}
	f.Fuzz(func(t *testing.T, path uint8, body string) {
		for _, legacy := range []bool{true, false} {
			ft.serve(t, legacy, http.MethodPost, path, "", "application/json", []byte(body))
			ft.serve(t, legacy, http.MethodPost, path, "", "application/x-www-form-urlencoded", []byte(body))
		}
	})
}

func FuzzEveryFormBodyGetsAnEnvelope(f *testing.F) {
	ft := newFuzzTarget(f)
	for i := range fuzzPaths {
		f.Add(uint8(i), "telephone=13500000003&openId=o&deviceId=d&gender=1&status=2", "username=13500000003")
		f.Add(uint8(i), "a=%zz&b", "c=%")
	}
	f.Add(uint8(18), "", "username=13500000004&gender=9")
	f.Fuzz(func(t *testing.T, path uint8, body, query string) {
		for _, legacy := range []bool{true, false} {
			ft.serve(t, legacy, http.MethodPost, path, query, "application/x-www-form-urlencoded", []byte(body))
			ft.serve(t, legacy, http.MethodGet, path, query, "", nil)
		}
	})
}

func FuzzEveryMultipartBodyGetsAnEnvelope(f *testing.F) {
	ft := newFuzzTarget(f)
	png := pngImage(f)
	for i := range fuzzPaths {
		body, ct := multipartWithFile(params{"telephone": "13500000005", "username": "13500000005"}, "a.png", png)
		f.Add(uint8(i), ct, body.Bytes())
	}
	for _, s := range []struct{ ct, body string }{
		{"multipart/form-data; boundary=B", "--B--\r\n"},
		{"multipart/form-data; boundary=B", "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.png\"\r\n\r\nnot a png\r\n--B--\r\n"},
		{"multipart/form-data; boundary=B", "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.png\"\r\n\r\n" + strings.Repeat("x", 70<<10)},
		{"multipart/form-data", "--B--\r\n"},
		{"multipart/form-data; boundary=", ""},
		{"multipart/mixed; boundary=B", "--B--\r\n"},
		{"multipart/form-data; boundary=B; boundary=C", "--B--\r\n"},
	} {
		f.Add(uint8(6), s.ct, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, path uint8, contentType string, body []byte) {
		for _, legacy := range []bool{true, false} {
			ft.serve(t, legacy, http.MethodPost, path, "", contentType, body)
		}
	})
}

func envelopeJSONSeeds() []string {
	return []string{
		`{}`, `[]`, `null`, `"s"`, `1`, `{`, `{"a":`, `{"a":1}{"b":2}`, "\xff", "",
		`{"telephone":{"nested":true},"password":["x"]}`,
		`{"gender":1e400,"status":-1,"telephone":1.35e10}`,
	}
}
