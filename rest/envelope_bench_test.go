package rest

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkEnvelopeEncoding measures writing the legacy success envelope
// of a login (the profile data plus the token) into a response.
func BenchmarkEnvelopeEncoding(b *testing.B) {
	h := &Handler{opts: Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	d := data{
		"telephone": "13800138000",
		"nickName":  "汽车城用户",
		"favicon":   "http://127.0.0.1:8080/files/avatars/2f6e1c0a.png?exp=1767225600&sig=Zm9vYmFyYmF6cXV4",
		"gender":    1,
		"status":    0,
		"token":     "q3Jx0k9bQ0m6Vb1yJmZ2c3R1dnd4eXo0NTY3ODkwYWJjZGVm",
	}
	for b.Loop() {
		w := httptest.NewRecorder()
		h.writeOK(w, d)
		if w.Code != http.StatusOK || w.Body.Len() == 0 {
			b.Fatalf("writeOK: status %d, %d bytes", w.Code, w.Body.Len())
		}
	}
}
