// Package localfs keeps uploaded files in a local directory and serves them
// over HTTP: public files to anyone, private ones only through URLs signed
// with an HMAC key. It is the blob store when no bucket is configured;
// replicas do not share it.
package localfs

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/carcity/identity/identity"
)

var (
	_ identity.BlobStore = (*Store)(nil)
	_ identity.Pinger    = (*Store)(nil)
)

// MinSignKeyLen is the shortest signing key New accepts: as long as the
// HMAC-SHA256 output.
const MinSignKeyLen = 32

const (
	maxKeyLen = 512
	// Each file starts with one header line, "localfs1 <content type>\n",
	// so that the bytes and their content type are replaced by one rename.
	magic            = "localfs1 "
	maxContentType   = 127
	maxHeaderLen     = len(magic) + maxContentType + 1
	tempPrefix       = ".tmp-"
	dirPerm          = 0o750
	filePerm         = 0o640
	publicPrefix     = "public/"
	filesPath        = "/files/"
	expiresParameter = "expires"
	sigParameter     = "sig"
)

// Store keeps each key as a file under a directory. Every file access goes
// through os.Root, so neither a key nor a symbolic link reaches outside it.
type Store struct {
	dir     string
	signKey []byte
}

// New returns a store under dir, creating the directory. signKey signs the
// URLs of private files; it must be at least MinSignKeyLen bytes and the same
// across restarts, or earlier URLs stop working.
func New(dir string, signKey []byte) (*Store, error) {
	if len(signKey) < MinSignKeyLen {
		return nil, fmt.Errorf("localfs: signing key has %d bytes, want at least %d", len(signKey), MinSignKeyLen)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolving blob directory: %w", err)
	}
	if err := os.MkdirAll(abs, dirPerm); err != nil {
		return nil, fmt.Errorf("creating blob directory: %w", err)
	}
	return &Store{dir: abs, signKey: bytes.Clone(signKey)}, nil
}

// Put writes the file under a temporary name in the same directory and
// renames it over key, so readers see the old file or the new one, never
// a part.
func (s *Store) Put(ctx context.Context, key string, data []byte, contentType string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := checkContentType(contentType); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	root, err := os.OpenRoot(s.dir)
	if err != nil {
		return fmt.Errorf("opening blob directory: %w", err)
	}
	defer root.Close()
	dir := path.Dir(key)
	if err := root.MkdirAll(dir, dirPerm); err != nil {
		return fmt.Errorf("creating directory for %s: %w", key, err)
	}
	// The leading dot keeps temporary files out of reach: no key has a
	// segment starting with one.
	tmp := path.Join(dir, tempPrefix+rand.Text())
	if err := writeFile(root, tmp, contentType, data); err != nil {
		root.Remove(tmp)
		return fmt.Errorf("writing %s: %w", key, err)
	}
	if err := root.Rename(tmp, key); err != nil {
		root.Remove(tmp)
		return fmt.Errorf("renaming %s: %w", key, err)
	}
	// The service records the key once Put returns: make the rename durable.
	if err := syncDir(root, dir); err != nil {
		return fmt.Errorf("syncing directory of %s: %w", key, err)
	}
	return nil
}

func writeFile(root *os.Root, name, contentType string, data []byte) error {
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return err
	}
	_, err = f.Write(append([]byte(magic+contentType+"\n"), data...))
	if err == nil {
		// The data must be on disk before the rename makes it visible.
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDir(root *os.Root, dir string) error {
	d, err := root.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Open returns the file's bytes and the content type Put was given.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	b, err := s.open(key)
	if err != nil {
		return nil, "", err
	}
	return b, b.contentType, nil
}

// blob is an open file positioned after its header.
type blob struct {
	*io.SectionReader
	f           *os.File
	contentType string
	modTime     time.Time
}

func (b *blob) Close() error { return b.f.Close() }

func (s *Store) open(key string) (*blob, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(s.dir)
	if err != nil {
		return nil, fmt.Errorf("opening blob directory: %w", err)
	}
	defer root.Close()
	f, err := root.Open(key)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, identity.ErrBlobNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", key, err)
	}
	b, err := readHeader(f)
	if err != nil {
		f.Close()
		if errors.Is(err, identity.ErrBlobNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	return b, nil
}

func readHeader(f *os.File) (*blob, error) {
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		// A key that names a directory ("public/avatars") is not a blob.
		return nil, identity.ErrBlobNotFound
	}
	buf := make([]byte, maxHeaderLen)
	n, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	line, _, found := bytes.Cut(buf[:n], []byte("\n"))
	contentType, ok := bytes.CutPrefix(line, []byte(magic))
	if !found || !ok {
		return nil, errors.New("not a localfs blob: missing header")
	}
	off := int64(len(line) + 1)
	return &blob{
		SectionReader: io.NewSectionReader(f, off, info.Size()-off),
		f:             f,
		contentType:   string(contentType),
		modTime:       info.ModTime(),
	}, nil
}

// URL is baseURL/files/key, plus an expiry and its signature for private
// keys. An empty baseURL gives a URL relative to the service's host.
func (s *Store) URL(_ context.Context, baseURL, key string, expires time.Time) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	// Safe keys need no escaping.
	u := strings.TrimRight(baseURL, "/") + filesPath + key
	if isPublic(key) {
		return u, nil
	}
	if expires.IsZero() {
		return "", fmt.Errorf("localfs: private key %s needs an expiry", key)
	}
	exp := strconv.FormatInt(expires.Unix(), 10)
	q := url.Values{expiresParameter: {exp}, sigParameter: {hex.EncodeToString(s.sign(key, exp))}}
	return u + "?" + q.Encode(), nil
}

// KeyFromURL takes the key from the path after "/files/", from an absolute
// or a relative URL. The query is ignored; the caller checks ownership.
func (s *Store) KeyFromURL(rawURL string) (string, bool) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", false
	}
	_, key, ok := strings.Cut(u.Path, filesPath)
	if !ok || checkKey(key) != nil {
		return "", false
	}
	return key, true
}

// sign is the MAC of a key with the expiry (decimal Unix seconds) its URL
// carries. The newline keeps the two fields apart.
func (s *Store) sign(key, expires string) []byte {
	mac := hmac.New(sha256.New, s.signKey)
	mac.Write([]byte(key + "\n" + expires))
	return mac.Sum(nil)
}

// Ping checks that the directory exists and is writable.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	root, err := os.OpenRoot(s.dir)
	if err != nil {
		return fmt.Errorf("opening blob directory: %w", err)
	}
	defer root.Close()
	name := tempPrefix + "ping-" + rand.Text()
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return fmt.Errorf("blob directory is not writable: %w", err)
	}
	f.Close()
	if err := root.Remove(name); err != nil {
		return fmt.Errorf("removing ping file: %w", err)
	}
	return nil
}

func isPublic(key string) bool { return strings.HasPrefix(key, publicPrefix) }

// checkKey accepts relative slash-separated paths of [A-Za-z0-9_.-] names.
// No segment may be empty or start with a dot, which rules out "." and ".."
// and keeps temporary files unreachable.
func checkKey(key string) error {
	if key == "" || len(key) > maxKeyLen {
		return fmt.Errorf("localfs: unsafe key %q", key)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '/' || c == '_' || c == '.' || c == '-') {
			return fmt.Errorf("localfs: unsafe key %q", key)
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" || seg[0] == '.' {
			return fmt.Errorf("localfs: unsafe key %q", key)
		}
	}
	return nil
}

// checkContentType keeps the header to one short printable line.
func checkContentType(contentType string) error {
	if len(contentType) > maxContentType {
		return fmt.Errorf("localfs: content type longer than %d bytes", maxContentType)
	}
	for i := 0; i < len(contentType); i++ {
		if c := contentType[i]; c < ' ' || c > '~' {
			return fmt.Errorf("localfs: content type %q has control or non-ASCII characters", contentType)
		}
	}
	return nil
}
