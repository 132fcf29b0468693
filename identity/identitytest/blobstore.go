package identitytest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/carcity/identity/identity"
)

// BlobStoreOptions says what the server behind a store's URLs enforces.
type BlobStoreOptions struct {
	// VerifiesSignatures: the server refuses private URLs whose signature is
	// missing or altered, or whose expiry has passed. Emulators that serve
	// any URL leave it false, and the subtests that need it are skipped.
	VerifiesSignatures bool
}

// Fetch gets a URL made by a store and returns the status and body.
type Fetch func(t *testing.T, url string) (status int, body []byte)

// FetchHTTP is a Fetch over plain HTTP.
func FetchHTTP(t *testing.T, url string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatalf("request for %s: %v", url, err)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", url, err)
	}
	return resp.StatusCode, body
}

// TestBlobStore is the contract every identity.BlobStore meets. newStore
// returns an empty store and the base URL to pass to its URL method. fetch
// gets the URLs the store makes; nil skips the subtests that fetch.
func TestBlobStore(t *testing.T, newStore func(t *testing.T) (store identity.BlobStore, baseURL string), fetch Fetch, opts BlobStoreOptions) {
	// Private URLs are valid for a while; expiry is tested with a time in
	// the past, so nothing waits.
	later := func() time.Time { return time.Now().Add(10 * time.Minute) }

	needsFetch := func(t *testing.T) {
		t.Helper()
		if fetch == nil {
			t.Skip("needs a server behind the URLs")
		}
	}
	needsVerification := func(t *testing.T) {
		t.Helper()
		needsFetch(t)
		if !opts.VerifiesSignatures {
			t.Skip("the server behind the URLs does not verify signatures")
		}
	}
	// refused checks that a URL which must not work did not serve data.
	refused := func(t *testing.T, url string, data []byte) {
		t.Helper()
		status, body := fetch(t, url)
		if status != http.StatusBadRequest && status != http.StatusUnauthorized && status != http.StatusForbidden {
			t.Errorf("GET %s: status %d, want 400, 401 or 403", url, status)
		}
		if bytes.Contains(body, data) {
			t.Errorf("GET %s served the private bytes", url)
		}
	}

	t.Run("a stored blob opens with its bytes and content type", func(t *testing.T) {
		s, _ := newStore(t)
		key, data := newKey(t, "private/id/", ".png"), randomBytes(t)
		mustPut(t, s, key, data, "image/png")
		got, contentType := mustOpen(t, s, key)
		if !bytes.Equal(got, data) {
			t.Errorf("Open(%s) = %q, want %q", key, got, data)
		}
		if contentType != "image/png" {
			t.Errorf("Open(%s) content type = %q, want image/png", key, contentType)
		}
	})

	t.Run("opening a key that was never stored is ErrBlobNotFound", func(t *testing.T) {
		s, _ := newStore(t)
		for _, key := range []string{newKey(t, "public/avatars/", ".jpg"), newKey(t, "private/id/", ".jpg")} {
			r, _, err := s.Open(t.Context(), key)
			if err == nil {
				r.Close()
			}
			if !errors.Is(err, identity.ErrBlobNotFound) {
				t.Errorf("Open(%s) error = %v, want ErrBlobNotFound", key, err)
			}
		}
	})

	t.Run("putting again under a key replaces the bytes and the content type", func(t *testing.T) {
		s, _ := newStore(t)
		key := newKey(t, "public/avatars/", ".jpg")
		mustPut(t, s, key, randomBytes(t), "image/jpeg")
		second := randomBytes(t)
		mustPut(t, s, key, second, "image/png")
		got, contentType := mustOpen(t, s, key)
		if !bytes.Equal(got, second) || contentType != "image/png" {
			t.Errorf("Open(%s) = %q, %q; want %q, image/png", key, got, contentType, second)
		}
	})

	t.Run("unsafe keys are refused by Put, Open and URL", func(t *testing.T) {
		s, base := newStore(t)
		unsafe := []string{
			"",
			"/public/avatars/a.jpg",
			"..",
			"../private/id/a.jpg",
			"public/../private/id/a.jpg",
			"public/avatars/..",
			"public//a.jpg",
			"public/avatars/",
			`public\avatars\a.jpg`,
			"public/avatars/a\x00.jpg",
			"public/avatars/a b.jpg",
			"public/avatars/%2e%2e/a.jpg",
			"public/avatars/a.jpg?x=1",
			"private/id/é.jpg",
		}
		for _, key := range unsafe {
			if err := s.Put(t.Context(), key, []byte("x"), "image/jpeg"); err == nil {
				t.Errorf("Put(%q) succeeded, want an error", key)
			}
			if r, _, err := s.Open(t.Context(), key); err == nil {
				r.Close()
				t.Errorf("Open(%q) succeeded, want an error", key)
			}
			if u, err := s.URL(t.Context(), base, key, later()); err == nil {
				t.Errorf("URL(%q) = %s, want an error", key, u)
			}
		}
	})

	t.Run("a public URL has no query, needs no expiry and serves the bytes", func(t *testing.T) {
		s, base := newStore(t)
		key, data := newKey(t, "public/avatars/", ".jpg"), randomBytes(t)
		mustPut(t, s, key, data, "image/jpeg")
		raw := mustURL(t, s, base, key, time.Time{})
		if u := mustParse(t, raw); u.RawQuery != "" {
			t.Errorf("URL(%s) = %s, want no query", key, raw)
		}
		needsFetch(t)
		if status, body := fetch(t, raw); status != http.StatusOK || !bytes.Equal(body, data) {
			t.Errorf("GET %s = %d %q, want 200 %q", raw, status, body, data)
		}
	})

	t.Run("a private URL carries a query and serves the bytes before it expires", func(t *testing.T) {
		s, base := newStore(t)
		key, data := newKey(t, "private/id/", ".jpg"), randomBytes(t)
		mustPut(t, s, key, data, "image/jpeg")
		raw := mustURL(t, s, base, key, later())
		if u := mustParse(t, raw); u.RawQuery == "" {
			t.Errorf("URL(%s) = %s, want a signed query", key, raw)
		}
		needsFetch(t)
		if status, body := fetch(t, raw); status != http.StatusOK || !bytes.Equal(body, data) {
			t.Errorf("GET %s = %d %q, want 200 %q", raw, status, body, data)
		}
	})

	t.Run("a private URL needs an expiry", func(t *testing.T) {
		s, base := newStore(t)
		key := newKey(t, "private/id/", ".jpg")
		mustPut(t, s, key, randomBytes(t), "image/jpeg")
		if u, err := s.URL(t.Context(), base, key, time.Time{}); err == nil {
			t.Errorf("URL(%s, no expiry) = %s, want an error", key, u)
		}
	})

	t.Run("a private URL without its query is refused", func(t *testing.T) {
		needsVerification(t)
		s, base := newStore(t)
		key, data := newKey(t, "private/id/", ".jpg"), randomBytes(t)
		mustPut(t, s, key, data, "image/jpeg")
		u := mustParse(t, mustURL(t, s, base, key, later()))
		u.RawQuery = ""
		refused(t, u.String(), data)
	})

	t.Run("a private URL with any query parameter altered or dropped is refused", func(t *testing.T) {
		needsVerification(t)
		s, base := newStore(t)
		key, data := newKey(t, "private/id/", ".jpg"), randomBytes(t)
		mustPut(t, s, key, data, "image/jpeg")
		u := mustParse(t, mustURL(t, s, base, key, later()))
		for name, values := range u.Query() {
			altered, dropped := u.Query(), u.Query()
			altered.Set(name, alter(values[0]))
			dropped.Del(name)
			for _, q := range []url.Values{altered, dropped} {
				v := *u
				v.RawQuery = q.Encode()
				refused(t, v.String(), data)
			}
		}
	})

	t.Run("a private URL past its expiry is refused", func(t *testing.T) {
		needsVerification(t)
		s, base := newStore(t)
		key, data := newKey(t, "private/id/", ".jpg"), randomBytes(t)
		mustPut(t, s, key, data, "image/jpeg")
		refused(t, mustURL(t, s, base, key, time.Now().Add(-time.Minute)), data)
	})

	t.Run("a private URL signed for one key does not open another", func(t *testing.T) {
		needsVerification(t)
		s, base := newStore(t)
		signed, other := newKey(t, "private/id/", ".jpg"), newKey(t, "private/id/", ".jpg")
		otherData := randomBytes(t)
		mustPut(t, s, signed, randomBytes(t), "image/jpeg")
		mustPut(t, s, other, otherData, "image/jpeg")
		raw := mustURL(t, s, base, signed, later())
		if !strings.Contains(raw, signed) {
			t.Fatalf("URL(%s) = %s, which does not contain the key", signed, raw)
		}
		refused(t, strings.Replace(raw, signed, other, 1), otherData)
	})

	t.Run("KeyFromURL recovers public and private keys from their URLs", func(t *testing.T) {
		s, base := newStore(t)
		for _, key := range []string{newKey(t, "public/avatars/", ".jpg"), newKey(t, "private/id/", ".png")} {
			raw := mustURL(t, s, base, key, later())
			if got, ok := s.KeyFromURL(raw); !ok || got != key {
				t.Errorf("KeyFromURL(%s) = %q, %t; want %q, true", raw, got, ok, key)
			}
		}
	})

	t.Run("KeyFromURL refuses URLs that name no key", func(t *testing.T) {
		s, _ := newStore(t)
		for _, raw := range []string{
			"",
			"https://example.com/",
			"https://example.com/%zz",
			"mailto:someone@example.com",
		} {
			if got, ok := s.KeyFromURL(raw); ok {
				t.Errorf("KeyFromURL(%q) = %q, true; want false", raw, got)
			}
		}
	})
}

func mustPut(t *testing.T, s identity.BlobStore, key string, data []byte, contentType string) {
	t.Helper()
	if err := s.Put(t.Context(), key, data, contentType); err != nil {
		t.Fatalf("Put(%s): %v", key, err)
	}
}

func mustOpen(t *testing.T, s identity.BlobStore, key string) (data []byte, contentType string) {
	t.Helper()
	r, contentType, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("Open(%s): %v", key, err)
	}
	defer r.Close()
	data, err = io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading %s: %v", key, err)
	}
	return data, contentType
}

func mustURL(t *testing.T, s identity.BlobStore, baseURL, key string, expires time.Time) string {
	t.Helper()
	u, err := s.URL(t.Context(), baseURL, key, expires)
	if err != nil {
		t.Fatalf("URL(%s): %v", key, err)
	}
	return u
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("parsing %s: %v", raw, err)
	}
	return u
}

// newKey is a key shaped like the service's: a prefix, random hex, an
// extension.
func newKey(t *testing.T, prefix, ext string) string {
	t.Helper()
	return prefix + hex.EncodeToString(randomBytes(t)[:16]) + ext
}

// randomBytes stands in for an image: distinct per call, so one blob's bytes
// are never mistaken for another's.
func randomBytes(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random bytes: %v", err)
	}
	return b
}

// alter changes the last character of a query value, keeping it the same
// length and alphabet where it can so that only the signature check fails.
func alter(v string) string {
	if v == "" {
		return "x"
	}
	last := v[len(v)-1]
	next := byte('0')
	if last == '0' {
		next = '1'
	}
	return v[:len(v)-1] + string(next)
}
