package rest_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/carcity/identity/rest"
	"github.com/carcity/identity/web"
)

// paddedJSON is a login body of exactly size bytes.
func paddedJSON(t *testing.T, phone, password string, size int) []byte {
	t.Helper()
	head := fmt.Sprintf(`{"telephone":%q,"password":%q,"pad":"`, phone, password)
	tail := `"}`
	if size < len(head)+len(tail) {
		t.Fatalf("size %d too small", size)
	}
	return []byte(head + strings.Repeat("x", size-len(head)-len(tail)) + tail)
}

func TestBodiesOverOneMiBAreRefusedWith413(t *testing.T) {
	c := newClient(t, true, false)
	d := c.newDealer(t)
	t.Run("a JSON body of exactly 1 MiB is read", func(t *testing.T) {
		body := paddedJSON(t, d.phone, d.password, oneMiB)
		c.send(t, http.MethodPost, "/user/dealer/login", "application/json", "", bytes.NewReader(body)).ok(t)
	})
	t.Run("a JSON body one byte over 1 MiB is refused", func(t *testing.T) {
		body := paddedJSON(t, d.phone, d.password, oneMiB+1)
		r := c.send(t, http.MethodPost, "/user/dealer/login", "application/json", "", bytes.NewReader(body)).failsWith(t, http.StatusRequestEntityTooLarge, 2013)
		if r.Msg != "上传内容过大" {
			t.Errorf("msg = %q", r.Msg)
		}
	})
	t.Run("a form body over 1 MiB is refused", func(t *testing.T) {
		body := "telephone=" + d.phone + "&password=" + d.password + "&pad=" + strings.Repeat("x", oneMiB)
		c.send(t, http.MethodPost, "/user/dealer/login", "application/x-www-form-urlencoded", "", strings.NewReader(body)).failsWith(t, http.StatusRequestEntityTooLarge, 2013)
	})
	t.Run("a body without a content type over 1 MiB is refused", func(t *testing.T) {
		body := paddedJSON(t, d.phone, d.password, oneMiB+100)
		c.send(t, http.MethodPost, "/user/dealer/login", "", "", bytes.NewReader(body)).failsWith(t, http.StatusRequestEntityTooLarge, 2013)
	})
	t.Run("a multipart body over 1 MiB to a call that takes no file is refused", func(t *testing.T) {
		body, contentType := multipartWithFile(params{"telephone": d.phone, "password": d.password}, "pad.bin", bytes.Repeat([]byte("x"), 2*oneMiB))
		c.send(t, http.MethodPost, "/user/dealer/login", contentType, "", body).failsWith(t, http.StatusRequestEntityTooLarge, 2013)
	})
}

func TestUploadsOverTheUploadLimitAreRefusedWith413(t *testing.T) {
	c := newClient(t, true, false)
	a := c.newAgent(t)
	t.Run("a body past the limit and its allowance for form fields", func(t *testing.T) {
		// 5 MiB + 100 KiB: past the shim's 5 MiB + 64 KiB, little enough
		// for the server to drain the rest so the client reads the answer.
		big := bytes.Repeat([]byte{0}, uploadLimit+100<<10)
		r := c.upload(t, "/user/proxy/uploadFrontImg", "", params{"telephone": a.phone}, "front.png", big)
		r.failsWith(t, http.StatusRequestEntityTooLarge, 2013)
	})
	t.Run("a file one byte over the limit", func(t *testing.T) {
		big := append(pngImage(t), bytes.Repeat([]byte{0}, uploadLimit)...)[:uploadLimit+1]
		r := c.upload(t, "/user/proxy/uploadFrontImg", "", params{"telephone": a.phone}, "front.png", big)
		if r.Code != 2013 {
			t.Fatalf("errCode %d, want 2013: %s", r.Code, r.Body)
		}
		r.failsWith(t, http.StatusRequestEntityTooLarge, 2013)
	})
	t.Run("a file of exactly the limit is not refused for its size", func(t *testing.T) {
		// It is not an image, so the refusal is 2022, not 2013.
		big := bytes.Repeat([]byte("x"), uploadLimit)
		c.upload(t, "/user/proxy/uploadFrontImg", "", params{"telephone": a.phone}, "front.png", big).fails(t, 2022)
	})
}

// endless is a request body of size bytes that counts how many were read.
type endless struct {
	prefix []byte
	left   int64
	read   int64
}

func (e *endless) Read(p []byte) (int, error) {
	if e.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n := copy(p, e.prefix)
	e.prefix = e.prefix[n:]
	for i := n; i < len(p); i++ {
		p[i] = 'x'
	}
	e.left -= int64(len(p))
	e.read += int64(len(p))
	return len(p), nil
}

func TestOversizedBodiesAreNotReadWhole(t *testing.T) {
	h, _ := newShim(t, true, false)
	handler := web.Caller{Service: h.Service}.Wrap(rest.New(h.Service, rest.Options{}))
	const size = 64 << 20
	for _, tc := range []struct {
		name, path, contentType, prefix string
		limit                           int64
	}{
		{"a JSON body", "/user/dealer/login", "application/json", `{"pad":"`, oneMiB},
		{"a form body", "/user/dealer/login", "application/x-www-form-urlencoded", "pad=", oneMiB},
		{"a JSON body without a content type", "/user/dealer/login", "", `{"pad":"`, oneMiB},
		// The upload limit plus an allowance for the other form fields.
		{"an upload", "/user/proxy/uploadFrontImg", "multipart/form-data; boundary=B",
			"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n", uploadLimit + 128<<10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := &endless{prefix: []byte(tc.prefix), left: size}
			req := httptest.NewRequest(http.MethodPost, tc.path, body)
			req.ContentLength = -1 // chunked: the length is not known up front
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			r := readEnvelope(t, rec.Code, rec.Header(), rec.Body.Bytes(), false)
			if r.Status != http.StatusRequestEntityTooLarge || r.Code != 2013 {
				t.Fatalf("HTTP %d %s, want 413 with errCode 2013", r.Status, rec.Body)
			}
			if body.read > tc.limit+1 {
				t.Fatalf("read %d bytes of a %d-byte body, want at most %d", body.read, size, tc.limit+1)
			}
		})
	}
}
