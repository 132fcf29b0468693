// Package gcs keeps uploaded files in a Google Cloud Storage bucket.
//
// Public keys ("public/…", avatars) are fetched straight from the bucket at
// a permanent URL; every other key (ID photos) only through a V4 signed URL.
// The store sets no object ACLs: buckets use uniform bucket-level access, so
// who may read is IAM's business. Avatars therefore need anonymous read on
// the public prefix alone, for example a managed folder "<prefix>/public/"
// whose IAM policy grants allUsers roles/storage.objectViewer. Never grant
// that role on the whole bucket: it would publish the ID photos.
package gcs

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"cloud.google.com/go/storage"

	"github.com/carcity/identity/identity"
)

var (
	_ identity.BlobStore = (*Store)(nil)
	_ identity.Pinger    = (*Store)(nil)
)

// DefaultPublicBaseURL serves public objects when Options leaves it empty.
const DefaultPublicBaseURL = "https://storage.googleapis.com"

const (
	maxKeyLen    = 512
	publicPrefix = "public/"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Options say where URLs point and how private ones are signed.
type Options struct {
	// PublicBaseURL is where public objects are read, as
	// PublicBaseURL/bucket/object. Empty: DefaultPublicBaseURL.
	PublicBaseURL string

	// GoogleAccessID and one of PrivateKey (PEM) or SignBytes sign private
	// URLs. Left empty, the client's credentials decide: the key of a
	// service-account file, or else the IAM signBlob API for the attached
	// service account, which then needs roles/iam.serviceAccountTokenCreator
	// on itself.
	GoogleAccessID string
	PrivateKey     []byte
	SignBytes      func([]byte) ([]byte, error)

	// Hostname (host[:port]) and Insecure (http) point signed URLs at an
	// emulator; empty, they follow the client's endpoint. Signed URLs are
	// always path style (host/bucket/object), which KeyFromURL parses and
	// which works for bucket names with dots.
	Hostname string
	Insecure bool
}

// Store keeps key as the object prefix/key of a bucket.
type Store struct {
	bucket *storage.BucketHandle
	name   string
	prefix string
	opts   Options
}

// New returns a store for the objects of bucket under prefix (empty: the
// bucket's root). It makes no calls; Ping checks the bucket.
func New(client *storage.Client, bucket, prefix string, opts Options) *Store {
	if opts.PublicBaseURL == "" {
		opts.PublicBaseURL = DefaultPublicBaseURL
	}
	opts.PublicBaseURL = strings.TrimRight(opts.PublicBaseURL, "/")
	return &Store{
		bucket: client.Bucket(bucket),
		name:   bucket,
		prefix: strings.Trim(prefix, "/"),
		opts:   opts,
	}
}

// ParseURL splits gs://bucket/prefix into the bucket and the object prefix
// (without slashes at either end; empty for gs://bucket).
func ParseURL(storageURL string) (bucket, prefix string, err error) {
	u, err := url.Parse(storageURL)
	if err != nil {
		return "", "", fmt.Errorf("parsing storage URL: %w", err)
	}
	if u.Scheme != "gs" || u.Opaque != "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", "", fmt.Errorf("storage URL %q: want gs://bucket[/prefix]", storageURL)
	}
	if !validBucket(u.Host) {
		return "", "", fmt.Errorf("storage URL %q: invalid bucket name %q", storageURL, u.Host)
	}
	prefix = strings.Trim(u.Path, "/")
	if prefix != "" {
		if err := checkKey(prefix); err != nil {
			return "", "", fmt.Errorf("storage URL %q: invalid prefix %q", storageURL, prefix)
		}
	}
	return u.Host, prefix, nil
}

// validBucket follows the bucket naming rules loosely: lower-case letters,
// digits, dashes, underscores and dots, starting and ending with a letter or
// a digit.
func validBucket(name string) bool {
	if len(name) < 3 || len(name) > 222 {
		return false
	}
	alnum := func(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }
	for i := 0; i < len(name); i++ {
		if c := name[i]; !alnum(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return alnum(name[0]) && alnum(name[len(name)-1])
}

func (s *Store) object(key string) string {
	if s.prefix == "" {
		return key
	}
	return s.prefix + "/" + key
}

// Put uploads data in one request. Private objects are marked
// "private, no-store" so that no cache between GCS and the client keeps an
// ID photo.
func (s *Store) Put(ctx context.Context, key string, data []byte, contentType string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	// Cancelling the context is how a storage.Writer is aborted.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := s.bucket.Object(s.object(key)).NewWriter(ctx)
	w.ContentType = contentType
	w.CacheControl = cacheControl(key)
	// Images are small and already in memory: no 16 MiB chunk buffer.
	w.ChunkSize = 0
	// A checksum sent up front makes GCS refuse damaged bytes rather than
	// store them and report the mismatch afterwards.
	w.CRC32C = crc32.Checksum(data, castagnoli)
	w.SendCRC32C = true
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("uploading %s: %w", key, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("uploading %s: %w", key, err)
	}
	return nil
}

func cacheControl(key string) string {
	if isPublic(key) {
		// Public keys are random per upload, so their bytes never change.
		return "public, max-age=86400"
	}
	return "private, no-store"
}

// Open returns the object and the content type it was stored with.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, string, error) {
	if err := checkKey(key); err != nil {
		return nil, "", err
	}
	r, err := s.bucket.Object(s.object(key)).NewReader(ctx)
	if errors.Is(err, storage.ErrObjectNotExist) {
		return nil, "", identity.ErrBlobNotFound
	}
	if err != nil {
		return nil, "", fmt.Errorf("opening %s: %w", key, err)
	}
	return r, r.Attrs.ContentType, nil
}

// URL is the permanent public URL of a public key and a V4 signed GET URL,
// valid until expires (at most seven days ahead), for any other key.
// baseURL is not used: clients fetch from GCS, not from the service.
func (s *Store) URL(_ context.Context, _, key string, expires time.Time) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	name := s.object(key)
	if isPublic(key) {
		return s.opts.PublicBaseURL + "/" + escapePath(s.name) + "/" + escapePath(name), nil
	}
	if expires.IsZero() {
		return "", fmt.Errorf("gcs: private key %s needs an expiry", key)
	}
	signed, err := s.bucket.SignedURL(name, &storage.SignedURLOptions{
		GoogleAccessID: s.opts.GoogleAccessID,
		PrivateKey:     s.opts.PrivateKey,
		SignBytes:      s.opts.SignBytes,
		Method:         http.MethodGet,
		Expires:        expires,
		Scheme:         storage.SigningSchemeV4,
		Style:          storage.PathStyle(),
		Hostname:       s.opts.Hostname,
		Insecure:       s.opts.Insecure,
	})
	if err != nil {
		return "", fmt.Errorf("signing URL for %s: %w", key, err)
	}
	return signed, nil
}

// KeyFromURL takes the key from a path-style URL, /bucket/prefix/key, as
// URL makes both kinds. The host and the query are not checked: the caller
// checks that the key is the user's.
func (s *Store) KeyFromURL(rawURL string) (string, bool) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", false
	}
	rest, ok := strings.CutPrefix(u.Path, "/"+s.name+"/")
	if ok && s.prefix != "" {
		rest, ok = strings.CutPrefix(rest, s.prefix+"/")
	}
	if !ok || checkKey(rest) != nil {
		return "", false
	}
	return rest, true
}

// Ping reads the bucket's metadata, which needs storage.buckets.get (not
// part of roles/storage.objectAdmin).
func (s *Store) Ping(ctx context.Context) error {
	if _, err := s.bucket.Attrs(ctx); err != nil {
		return fmt.Errorf("reading bucket %s: %w", s.name, err)
	}
	return nil
}

func isPublic(key string) bool { return strings.HasPrefix(key, publicPrefix) }

// escapePath escapes each segment of a slash-separated path.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return strings.Join(segs, "/")
}

// checkKey accepts relative slash-separated paths of [A-Za-z0-9_.-] names.
// No segment may be empty or start with a dot, which rules out "." and "..".
func checkKey(key string) error {
	if key == "" || len(key) > maxKeyLen {
		return fmt.Errorf("gcs: unsafe key %q", key)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '/' || c == '_' || c == '.' || c == '-') {
			return fmt.Errorf("gcs: unsafe key %q", key)
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" || seg[0] == '.' {
			return fmt.Errorf("gcs: unsafe key %q", key)
		}
	}
	return nil
}
