package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/carcity/identity/identity"
)

// Small limits so that the fuzzer also reaches the too-large paths.
const (
	fuzzMaxBody   = 4 << 10
	fuzzMaxUpload = 16 << 10
)

// checkDecode decodes one request and fails unless decode kept its
// contract: no panic, parameters always there, and every error a catalogue
// error a client may see (VALIDATION or PAYLOAD_TOO_LARGE, with a message).
// A positive limit is the size past which the body must be refused as too
// large, and up to which it must not be.
func checkDecode(t *testing.T, method, target, contentType string, body []byte, limit int) params {
	t.Helper()
	req := httptest.NewRequest(method, "/user/dealer/login", bytes.NewReader(body))
	if u, err := req.URL.Parse(target); err == nil {
		req.URL = u
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	p, err := decode(req, fuzzMaxBody, fuzzMaxUpload)
	defer p.close()
	if p.values == nil {
		t.Fatalf("decode returned nil values (err %v)", err)
	}
	if err != nil {
		var e *identity.Error
		if !errors.As(err, &e) || e.Message == "" {
			t.Fatalf("decode error %#v is not a catalogue error with a message", err)
		}
		if e.Code != identity.CodeValidation && e.Code != identity.CodePayloadTooLarge {
			t.Fatalf("decode error code %s, want VALIDATION or PAYLOAD_TOO_LARGE", e.Code)
		}
		if limit > 0 && e.Code == identity.CodePayloadTooLarge && len(body) <= limit {
			t.Fatalf("a %d-byte body was refused as too large (limit %d)", len(body), limit)
		}
		if limit > 0 && e.Code != identity.CodePayloadTooLarge && len(body) > limit {
			t.Fatalf("a %d-byte body over the limit %d was refused as %s, want PAYLOAD_TOO_LARGE", len(body), limit, e.Code)
		}
		return p
	}
	if limit > 0 && len(body) > limit {
		t.Fatalf("a %d-byte body over the limit %d was accepted", len(body), limit)
	}
	return p
}

var jsonSeeds = []string{
	`{}`,
	`{"telephone":"13800138000","password":"correct horse"}`,
	`{"gender":2,"status":"3","debug":true,"none":null}`,
	`{"nested":{"a":[1,{"b":2}]},"list":[1,2,3],"telephone":"x"}`,
	`{"n":1e400,"m":-0.0,"big":123456789012345678901234567890}`,
	`{"a":"\u0000\ud800\uffff","b":"车城"}`,
	`{"a":1}{"b":2}`,
	`{"a":1} trailing`,
	`{"a":1,"a":"2"}`,
	`[]`, `null`, `"s"`, `1`, `true`,
	`{`, `{"a":`, `{"a":"unterminated`, `}`,
	"", "   \n\t", "\xef\xbb\xbf{}", "\xff\xfe\x00{",
	`{"` + string(bytes.Repeat([]byte("k"), 5000)) + `":1}`,
}

func FuzzDecodeJSONBody(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, ct := range []string{"application/json", "application/json; charset=utf-8", "", "text/plain", "application/x-www-form-urlencoded"} {
			p := checkDecode(t, http.MethodPost, "/user/dealer/login", ct, body, fuzzMaxBody)
			// A valid JSON object is read: each string member is a parameter.
			var obj map[string]any
			if ct != "application/x-www-form-urlencoded" && len(body) <= fuzzMaxBody && json.Unmarshal(body, &obj) == nil && obj != nil {
				for k, v := range obj {
					if s, ok := v.(string); ok && p.values[k] != s && !duplicateKeys(body) {
						t.Fatalf("member %q = %q was read as %q", k, s, p.values[k])
					}
				}
			}
		}
	})
}

// duplicateKeys reports whether a JSON object names a member twice (the last wins).
func duplicateKeys(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	seen := map[string]bool{}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return true
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return true
		}
		k, _ := tok.(string)
		if seen[k] {
			return true
		}
		seen[k] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return true
		}
	}
	return false
}

func FuzzDecodeFormBody(f *testing.F) {
	for _, s := range []string{
		"telephone=13800138000&password=correct+horse",
		"gender=2&gender=3&status=",
		"a=%zz", "a=%e8%bd%a6", "a;b=c", "=&=&&", "&&&", "a=b=c",
		"{\"telephone\":\"13800138000\"}", "  {", "",
	} {
		f.Add([]byte(s), "telephone=13500000000&x=1")
	}
	f.Fuzz(func(t *testing.T, body []byte, query string) {
		checkDecode(t, http.MethodPost, "/user/dealer/login?"+query, "application/x-www-form-urlencoded", body, fuzzMaxBody)
		// GET reads the query string only, whatever the body.
		checkDecode(t, http.MethodGet, "/user/dealer/editGender?"+query, "application/x-www-form-urlencoded", body, 0)
	})
}

func FuzzDecodeMultipartBody(f *testing.F) {
	ok := "--B\r\nContent-Disposition: form-data; name=\"telephone\"\r\n\r\n13800138000\r\n" +
		"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n\r\n--B--\r\n"
	for _, s := range []struct{ boundary, body string }{
		{"B", ok},
		{"B", "--B--\r\n"},
		{"B", "--B\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nno filename\r\n--B--\r\n"},
		{"B", "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nunterminated"},
		{"B", "--B\r\n\r\n\r\n--B--\r\n"},
		{"B", "--B\r\nContent-Disposition: attachment\r\n\r\nx\r\n--B--\r\n"},
		{"B", "garbage"},
		{"", ok},
		{"\"quoted boundary\"", ok},
		{"B", ok[:len(ok)/2]},
	} {
		f.Add(s.boundary, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, boundary string, body []byte) {
		// A multipart body may end before its last byte (nothing after the
		// closing boundary is read), so no size is asserted here.
		checkDecode(t, http.MethodPost, "/user/proxy/uploadFrontImg", "multipart/form-data; boundary="+boundary, body, 0)
		checkDecode(t, http.MethodPost, "/user/proxy/uploadFrontImg", "multipart/form-data; boundary=\""+boundary+"\"", body, 0)
	})
}
