package gcs_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/api/option"

	"github.com/carcity/identity/adapters/gcs"
	"github.com/carcity/identity/identity"
	"github.com/carcity/identity/identity/identitytest"
)

const (
	bucketName = "carcity-test"
	accessID   = "identity@carcity-test.iam.gserviceaccount.com"
)

// signingKey is one RSA key for the whole package: generating it is slow.
var signingKey = sync.OnceValue(func() []byte {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
})

type fake struct {
	server *fakestorage.Server
	client *storage.Client
}

// newFake starts an emulator on loopback with an empty bucket and a client
// configured the way production's is (endpoint, no credentials).
func newFake(t *testing.T) fake {
	t.Helper()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme:     "http",
		Host:       "127.0.0.1",
		PublicHost: "127.0.0.1",
	})
	if err != nil {
		t.Fatalf("starting fake GCS: %v", err)
	}
	t.Cleanup(srv.Stop)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: bucketName})
	client, err := storage.NewClient(t.Context(),
		option.WithEndpoint(srv.URL()+"/storage/v1/"),
		option.WithoutAuthentication(),
	)
	if err != nil {
		t.Fatalf("storage client: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	return fake{server: srv, client: client}
}

// options point both kinds of URL at the emulator.
func (f fake) options() gcs.Options {
	return gcs.Options{
		PublicBaseURL:  f.server.URL(),
		GoogleAccessID: accessID,
		PrivateKey:     signingKey(),
		Hostname:       strings.TrimPrefix(f.server.URL(), "http://"),
		Insecure:       true,
	}
}

func TestBlobStoreContract(t *testing.T) {
	for name, prefix := range map[string]string{"at the bucket root": "", "under a prefix": "identity/uploads"} {
		t.Run(name, func(t *testing.T) {
			newStore := func(t *testing.T) (identity.BlobStore, string) {
				f := newFake(t)
				return gcs.New(f.client, bucketName, prefix, f.options()), "https://id.example.com"
			}
			// The emulator serves signed URLs without checking them.
			identitytest.TestBlobStore(t, newStore, identitytest.FetchHTTP, identitytest.BlobStoreOptions{VerifiesSignatures: false})
		})
	}
}

func TestPut(t *testing.T) {
	f := newFake(t)
	s := gcs.New(f.client, bucketName, "env", f.options())
	tests := []struct {
		name, key, contentType, cacheControl string
	}{
		{"a private object is never stored by caches", "private/id/a.jpg", "image/jpeg", "private, no-store"},
		{"a public object may be cached for a day", "public/avatars/a.png", "image/png", "public, max-age=86400"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Put(t.Context(), tt.key, []byte("image"), tt.contentType); err != nil {
				t.Fatalf("Put: %v", err)
			}
			attrs, err := f.client.Bucket(bucketName).Object("env/" + tt.key).Attrs(t.Context())
			if err != nil {
				t.Fatalf("Attrs: %v", err)
			}
			if attrs.ContentType != tt.contentType || attrs.CacheControl != tt.cacheControl {
				t.Errorf("object has Content-Type %q, Cache-Control %q; want %q, %q",
					attrs.ContentType, attrs.CacheControl, tt.contentType, tt.cacheControl)
			}
		})
	}
}

func TestURL(t *testing.T) {
	f := newFake(t)
	expires := time.Now().Add(15 * time.Minute)

	t.Run("a public URL defaults to storage.googleapis.com, path style", func(t *testing.T) {
		s := gcs.New(f.client, bucketName, "env/prod", gcs.Options{})
		got, err := s.URL(t.Context(), "https://id.example.com", "public/avatars/a.jpg", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if want := "https://storage.googleapis.com/carcity-test/env/prod/public/avatars/a.jpg"; got != want {
			t.Errorf("URL = %s, want %s", got, want)
		}
	})

	t.Run("a private URL is a V4 signed GET at the configured host", func(t *testing.T) {
		opts := f.options()
		s := gcs.New(f.client, bucketName, "env", opts)
		raw, err := s.URL(t.Context(), "", "private/id/a.jpg", expires)
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if u.Scheme != "http" || u.Host != opts.Hostname || u.Path != "/carcity-test/env/private/id/a.jpg" {
			t.Errorf("URL = %s, want http://%s/carcity-test/env/private/id/a.jpg?…", raw, opts.Hostname)
		}
		q := u.Query()
		if got := q.Get("X-Goog-Algorithm"); got != "GOOG4-RSA-SHA256" {
			t.Errorf("X-Goog-Algorithm = %q, want GOOG4-RSA-SHA256", got)
		}
		if got := q.Get("X-Goog-Credential"); !strings.HasPrefix(got, accessID+"/") {
			t.Errorf("X-Goog-Credential = %q, want it to name %s", got, accessID)
		}
		if q.Get("X-Goog-Signature") == "" {
			t.Error("URL has no X-Goog-Signature")
		}
		if got := q.Get("X-Goog-Expires"); got != "899" && got != "900" {
			t.Errorf("X-Goog-Expires = %q, want about 900", got)
		}
	})

	t.Run("a private URL cannot outlive the seven days V4 allows", func(t *testing.T) {
		s := gcs.New(f.client, bucketName, "", f.options())
		if u, err := s.URL(t.Context(), "", "private/id/a.jpg", time.Now().Add(8*24*time.Hour)); err == nil {
			t.Errorf("URL = %s, want an error", u)
		}
	})
}

func TestKeyFromURL(t *testing.T) {
	f := newFake(t)
	s := gcs.New(f.client, bucketName, "env/prod", gcs.Options{})
	tests := []struct {
		url    string
		key    string
		wantOK bool
	}{
		{"https://storage.googleapis.com/carcity-test/env/prod/public/avatars/a.jpg", "public/avatars/a.jpg", true},
		{"https://storage.googleapis.com/carcity-test/env/prod/private/id/a.jpg?X-Goog-Signature=00", "private/id/a.jpg", true},
		{"https://storage.googleapis.com/other-bucket/env/prod/public/avatars/a.jpg", "", false},
		{"https://storage.googleapis.com/carcity-test/env/public/avatars/a.jpg", "", false},
		{"https://storage.googleapis.com/carcity-test/env/prod/../public/a.jpg", "", false},
		{"gs://carcity-test/env/prod/public/avatars/a.jpg", "", false},
		{"public/avatars/a.jpg", "", false},
	}
	for _, tt := range tests {
		key, ok := s.KeyFromURL(tt.url)
		if key != tt.key || ok != tt.wantOK {
			t.Errorf("KeyFromURL(%q) = %q, %t; want %q, %t", tt.url, key, ok, tt.key, tt.wantOK)
		}
	}
}

func TestPing(t *testing.T) {
	f := newFake(t)
	if err := gcs.New(f.client, bucketName, "", gcs.Options{}).Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if err := gcs.New(f.client, "no-such-bucket", "", gcs.Options{}).Ping(t.Context()); err == nil {
		t.Error("Ping of a missing bucket succeeded")
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		name           string
		in             string
		bucket, prefix string
		wantErr        bool
	}{
		{name: "a bucket alone has no prefix", in: "gs://carcity-uploads", bucket: "carcity-uploads"},
		{name: "a trailing slash is dropped", in: "gs://carcity-uploads/", bucket: "carcity-uploads"},
		{name: "a prefix loses its slashes", in: "gs://carcity-uploads/identity/prod/", bucket: "carcity-uploads", prefix: "identity/prod"},
		{name: "dots and underscores are valid in bucket names", in: "gs://uploads.carcity_cn", bucket: "uploads.carcity_cn"},
		{name: "another scheme is refused", in: "s3://carcity-uploads", wantErr: true},
		{name: "a plain path is refused", in: "carcity-uploads/identity", wantErr: true},
		{name: "a missing bucket is refused", in: "gs:///identity", wantErr: true},
		{name: "an upper-case bucket is refused", in: "gs://Carcity", wantErr: true},
		{name: "a two-letter bucket is refused", in: "gs://ab", wantErr: true},
		{name: "a query is refused", in: "gs://carcity-uploads?x=1", wantErr: true},
		{name: "credentials are refused", in: "gs://user@carcity-uploads", wantErr: true},
		{name: "a dot-dot prefix is refused", in: "gs://carcity-uploads/a/../b", wantErr: true},
		{name: "an empty prefix segment is refused", in: "gs://carcity-uploads/a//b", wantErr: true},
		{name: "an unparsable URL is refused", in: "gs://carcity uploads", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bucket, prefix, err := gcs.ParseURL(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Errorf("ParseURL(%q) = %q, %q; want an error", tt.in, bucket, prefix)
				}
				return
			}
			if err != nil || bucket != tt.bucket || prefix != tt.prefix {
				t.Errorf("ParseURL(%q) = %q, %q, %v; want %q, %q", tt.in, bucket, prefix, err, tt.bucket, tt.prefix)
			}
		})
	}
}
