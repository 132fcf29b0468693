package localfs_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/carcity/identity/adapters/localfs"
	"github.com/carcity/identity/identity"
	"github.com/carcity/identity/identity/identitytest"
)

var signKey = bytes.Repeat([]byte("k"), localfs.MinSignKeyLen)

func mustNew(t *testing.T, dir string) *localfs.Store {
	t.Helper()
	s, err := localfs.New(dir, signKey)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func mustPut(t *testing.T, s *localfs.Store, key string, data []byte, contentType string) {
	t.Helper()
	if err := s.Put(t.Context(), key, data, contentType); err != nil {
		t.Fatalf("Put(%s): %v", key, err)
	}
}

func mustURL(t *testing.T, s *localfs.Store, baseURL, key string, expires time.Time) string {
	t.Helper()
	u, err := s.URL(t.Context(), baseURL, key, expires)
	if err != nil {
		t.Fatalf("URL(%s): %v", key, err)
	}
	return u
}

// get serves target (a request URI, parsed as the server would) directly.
func get(h http.Handler, method, target string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, target, nil))
	return w
}

func TestBlobStoreContract(t *testing.T) {
	newStore := func(t *testing.T) (identity.BlobStore, string) {
		s := mustNew(t, t.TempDir())
		srv := httptest.NewServer(s.Handler(time.Now))
		t.Cleanup(srv.Close)
		return s, srv.URL
	}
	identitytest.TestBlobStore(t, newStore, identitytest.FetchHTTP, identitytest.BlobStoreOptions{VerifiesSignatures: true})
}

func TestNew(t *testing.T) {
	t.Run("a short signing key is refused", func(t *testing.T) {
		if _, err := localfs.New(t.TempDir(), signKey[:localfs.MinSignKeyLen-1]); err == nil {
			t.Error("New with a short key succeeded")
		}
	})

	t.Run("the directory is created with mode 0750", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data", "files")
		mustNew(t, dir)
		info, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got&^0o750 != 0 {
			t.Errorf("mode = %v, want at most 0750", got)
		}
	})
}

func TestPut(t *testing.T) {
	t.Run("no temporary file is left behind", func(t *testing.T) {
		dir := t.TempDir()
		s := mustNew(t, dir)
		mustPut(t, s, "public/avatars/a.jpg", []byte("a"), "image/jpeg")
		mustPut(t, s, "public/avatars/a.jpg", []byte("b"), "image/jpeg")
		entries, err := os.ReadDir(filepath.Join(dir, "public", "avatars"))
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 || entries[0].Name() != "a.jpg" {
			t.Errorf("directory holds %v, want only a.jpg", entries)
		}
	})

	t.Run("keys with hidden segments are refused", func(t *testing.T) {
		s := mustNew(t, t.TempDir())
		for _, key := range []string{".tmp-x", "public/.a.jpg", "public/avatars/.tmp-x"} {
			if err := s.Put(t.Context(), key, []byte("x"), "image/jpeg"); err == nil {
				t.Errorf("Put(%q) succeeded", key)
			}
		}
	})

	t.Run("a content type that would break the header is refused", func(t *testing.T) {
		s := mustNew(t, t.TempDir())
		for _, ct := range []string{"image/jpeg\nx", strings.Repeat("a", 200)} {
			if err := s.Put(t.Context(), "public/a.jpg", []byte("x"), ct); err == nil {
				t.Errorf("Put with content type %q succeeded", ct)
			}
		}
	})

	t.Run("a blob longer than the header buffer reads back whole", func(t *testing.T) {
		s := mustNew(t, t.TempDir())
		data := bytes.Repeat([]byte("0123456789"), 10000)
		mustPut(t, s, "private/id/big.jpg", data, "image/jpeg")
		r, ct, err := s.Open(t.Context(), "private/id/big.jpg")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, data) || ct != "image/jpeg" {
			t.Errorf("Open = %d bytes, %q, %v; want %d bytes, image/jpeg", len(got), ct, err, len(data))
		}
	})

	t.Run("a key that names a directory is not found", func(t *testing.T) {
		s := mustNew(t, t.TempDir())
		mustPut(t, s, "public/avatars/a.jpg", []byte("x"), "image/jpeg")
		if _, _, err := s.Open(t.Context(), "public/avatars"); !errors.Is(err, identity.ErrBlobNotFound) {
			t.Errorf("Open(public/avatars) error = %v, want ErrBlobNotFound", err)
		}
	})
}

func TestHandlerRefusesPathTraversal(t *testing.T) {
	parent := t.TempDir()
	secret := []byte("root:x:0:0:secret")
	secretPath := filepath.Join(parent, "secret.txt")
	if err := os.WriteFile(secretPath, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	s := mustNew(t, filepath.Join(parent, "blobs"))
	mustPut(t, s, "public/avatars/a.jpg", []byte("avatar"), "image/jpeg")
	h := s.Handler(time.Now)

	targets := []string{
		"/files/../secret.txt",
		"/files/../../etc/passwd",
		"/files/public/../../secret.txt",
		"/files/./../secret.txt",
		"/files/%2e%2e/secret.txt",
		"/files/%2e%2e%2fsecret.txt",
		"/files/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
		"/files/public/avatars/..%2f..%2f..%2fsecret.txt",
		"/files/public%2f..%2f..%2fsecret.txt",
		"/files/%252e%252e%252fsecret.txt",
		"/files/..%5csecret.txt",
		"/files/..%c0%afsecret.txt",
		"/files/public/avatars/a.jpg%00.txt",
		"/files//etc/passwd",
		"/files/" + secretPath,
		"/files" + secretPath,
	}
	for _, target := range targets {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			w := get(h, method, target)
			// 403: the path is a well-formed private key, unsigned.
			if w.Code != http.StatusNotFound && w.Code != http.StatusForbidden {
				t.Errorf("%s %s: status %d, want 404 or 403", method, target, w.Code)
			}
			if bytes.Contains(w.Body.Bytes(), secret) {
				t.Errorf("%s %s served the file outside the directory", method, target)
			}
		}
	}

	t.Run("a symbolic link out of the directory is not followed", func(t *testing.T) {
		link := filepath.Join(parent, "blobs", "public", "avatars", "link.jpg")
		if err := os.Symlink(secretPath, link); err != nil {
			t.Skipf("symlinks unavailable: %v", err)
		}
		w := get(h, http.MethodGet, "/files/public/avatars/link.jpg")
		if w.Code == http.StatusOK || bytes.Contains(w.Body.Bytes(), secret) {
			t.Errorf("GET through a symlink: status %d, body %q", w.Code, w.Body)
		}
	})
}

func TestHandlerHeaders(t *testing.T) {
	s := mustNew(t, t.TempDir())
	h := s.Handler(time.Now)
	later := time.Now().Add(time.Hour)
	mustPut(t, s, "public/avatars/a.jpg", []byte("jpeg"), "image/jpeg")
	mustPut(t, s, "private/id/b.png", []byte("png"), "image/png")
	mustPut(t, s, "public/avatars/c.html", []byte("<script>alert(1)</script>"), "text/html")
	mustPut(t, s, "public/avatars/d.webp", []byte("webp"), "image/webp; q=1")

	tests := []struct {
		name        string
		target      string
		contentType string
		disposition string
		cache       string
		body        string
	}{
		{
			name:        "a public image is inline and cached publicly",
			target:      "/files/public/avatars/a.jpg",
			contentType: "image/jpeg", disposition: "inline", cache: "public, max-age=86400", body: "jpeg",
		},
		{
			name:        "a private image is inline and never stored by caches",
			target:      mustURL(t, s, "", "private/id/b.png", later),
			contentType: "image/png", disposition: "inline", cache: "private, no-store", body: "png",
		},
		{
			name:        "a content type outside the allow-list is served as an octet-stream attachment",
			target:      "/files/public/avatars/c.html",
			contentType: "application/octet-stream", disposition: "attachment", cache: "public, max-age=86400",
			body: "<script>alert(1)</script>",
		},
		{
			name:        "parameters are dropped from an allowed content type",
			target:      "/files/public/avatars/d.webp",
			contentType: "image/webp", disposition: "inline", cache: "public, max-age=86400", body: "webp",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				w := get(h, method, tt.target)
				if w.Code != http.StatusOK {
					t.Fatalf("%s %s: status %d, body %q", method, tt.target, w.Code, w.Body)
				}
				for name, want := range map[string]string{
					"Content-Type":           tt.contentType,
					"Content-Disposition":    tt.disposition,
					"Cache-Control":          tt.cache,
					"X-Content-Type-Options": "nosniff",
				} {
					if got := w.Header().Get(name); got != want {
						t.Errorf("%s %s: %s = %q, want %q", method, tt.target, name, got, want)
					}
				}
				wantBody := tt.body
				if method == http.MethodHead {
					wantBody = ""
				}
				if got := w.Body.String(); got != wantBody {
					t.Errorf("%s %s: body %q, want %q", method, tt.target, got, wantBody)
				}
			}
		})
	}
}

func TestHandlerErrors(t *testing.T) {
	const (
		forbidden = `{"errCode":"2003","msg":"无权执行此操作"}`
		notFound  = `{"errCode":"2004","msg":"请求的资源不存在"}`
	)
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	now := t0
	s := mustNew(t, t.TempDir())
	h := s.Handler(func() time.Time { return now })
	mustPut(t, s, "private/id/a.jpg", []byte("id photo"), "image/jpeg")
	signed := mustURL(t, s, "", "private/id/a.jpg", t0.Add(5*time.Minute))
	signedMissing := mustURL(t, s, "", "private/id/missing.jpg", t0.Add(5*time.Minute))

	tests := []struct {
		name   string
		at     time.Time
		method string
		target string
		status int
		body   string
	}{
		{"a signed URL works before it expires", t0.Add(5*time.Minute - time.Second), http.MethodGet, signed, http.StatusOK, "id photo"},
		{"a signed URL is refused once it expires", t0.Add(5 * time.Minute), http.MethodGet, signed, http.StatusForbidden, forbidden},
		{"a signed URL is refused long after it expires", t0.Add(24 * time.Hour), http.MethodGet, signed, http.StatusForbidden, forbidden},
		{"a private file without a signature is refused", t0, http.MethodGet, "/files/private/id/a.jpg", http.StatusForbidden, forbidden},
		{"an unsigned request for a missing private file is refused, not reported missing", t0, http.MethodGet, "/files/private/id/missing.jpg", http.StatusForbidden, forbidden},
		{"a signature that is not hex is refused", t0, http.MethodGet, "/files/private/id/a.jpg?expires=9999999999&sig=zz", http.StatusForbidden, forbidden},
		{"a signed URL for a missing file is not found", t0, http.MethodGet, signedMissing, http.StatusNotFound, notFound},
		{"a missing public file is not found", t0, http.MethodGet, "/files/public/avatars/missing.jpg", http.StatusNotFound, notFound},
		{"a path outside /files/ is not found", t0, http.MethodGet, "/other/public/a.jpg", http.StatusNotFound, notFound},
		{"other methods are not allowed", t0, http.MethodPost, signed, http.StatusMethodNotAllowed, `{"errCode":"2005","msg":"请求方式不支持"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now = tt.at
			w := get(h, tt.method, tt.target)
			if w.Code != tt.status || w.Body.String() != tt.body {
				t.Errorf("%s %s at %v = %d %q, want %d %q", tt.method, tt.target, tt.at, w.Code, w.Body, tt.status, tt.body)
			}
			if tt.status != http.StatusOK {
				if got := w.Header().Get("Content-Type"); got != "application/json; charset=utf-8" {
					t.Errorf("Content-Type = %q, want JSON", got)
				}
			}
		})
	}
}

func TestURL(t *testing.T) {
	s := mustNew(t, t.TempDir())
	expires := time.Unix(1700000000, 0)

	t.Run("a public URL is the base and the key", func(t *testing.T) {
		got := mustURL(t, s, "https://id.example.com/", "public/avatars/a.jpg", expires)
		if want := "https://id.example.com/files/public/avatars/a.jpg"; got != want {
			t.Errorf("URL = %s, want %s", got, want)
		}
	})

	t.Run("a private URL carries the expiry and an HMAC of key and expiry", func(t *testing.T) {
		got := mustURL(t, s, "https://id.example.com", "private/id/a.jpg", expires)
		// printf 'private/id/a.jpg\n1700000000' | openssl dgst -sha256 -hmac kkkk…(32 k)
		const sig = "17dbfd7cf55788551389470007e12538665107384db32860b45b7b1dfbb736e5"
		want := "https://id.example.com/files/private/id/a.jpg?expires=1700000000&sig=" + sig
		if got != want {
			t.Errorf("URL = %s, want %s", got, want)
		}
	})
}

func TestKeyFromURL(t *testing.T) {
	s := mustNew(t, t.TempDir())
	tests := []struct {
		url    string
		key    string
		wantOK bool
	}{
		{"https://id.example.com/files/public/avatars/a.jpg", "public/avatars/a.jpg", true},
		{"/files/private/id/a.jpg?expires=1&sig=00", "private/id/a.jpg", true},
		{"https://id.example.com/api/files/public/files/a.jpg", "public/files/a.jpg", true},
		{"https://id.example.com/static/public/avatars/a.jpg", "", false},
		{"public/avatars/a.jpg", "", false},
		{"/files/../secret.txt", "", false},
		{"/files/", "", false},
	}
	for _, tt := range tests {
		key, ok := s.KeyFromURL(tt.url)
		if key != tt.key || ok != tt.wantOK {
			t.Errorf("KeyFromURL(%q) = %q, %t; want %q, %t", tt.url, key, ok, tt.key, tt.wantOK)
		}
	}
}

func TestPing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "blobs")
	s := mustNew(t, dir)
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("Ping left %v behind", entries)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(t.Context()); err == nil {
		t.Error("Ping succeeded without a directory")
	}
}
