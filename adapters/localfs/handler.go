package localfs

import (
	"crypto/hmac"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/carcity/identity/identity"
)

// servedTypes are the content types sent as stored; anything else goes out
// as application/octet-stream so a stored file can never run as a page.
var servedTypes = map[string]bool{
	"image/jpeg": true,
	"image/png":  true,
	"image/webp": true,
}

// Handler serves GET and HEAD /files/<key>: public keys to anyone, private
// keys only with an unexpired signature from URL. now is the clock that
// decides expiry; nil is time.Now. Mount it at "/files/".
func (s *Store) Handler(now func() time.Time) http.Handler {
	if now == nil {
		now = time.Now
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, now)
	})
}

func (s *Store) serve(w http.ResponseWriter, r *http.Request, now func() time.Time) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, identity.CodeMethodNotAllowed)
		return
	}
	// r.URL.Path is decoded, so "%2e%2e%2f" arrives as "../" and fails
	// checkKey like the plain form; os.Root is the second line.
	key, ok := strings.CutPrefix(r.URL.Path, filesPath)
	if !ok || checkKey(key) != nil {
		writeError(w, identity.CodeNotFound)
		return
	}
	private := !isPublic(key)
	// Checked before the file is looked up, so an unsigned request cannot
	// learn which private keys exist.
	if private && !s.verify(key, r, now()) {
		writeError(w, identity.CodeForbidden)
		return
	}
	b, err := s.open(key)
	if errors.Is(err, identity.ErrBlobNotFound) {
		writeError(w, identity.CodeNotFound)
		return
	}
	if err != nil {
		slog.ErrorContext(r.Context(), "serving file", "key", key, "err", err)
		writeError(w, identity.CodeInternal)
		return
	}
	defer b.Close()

	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	contentType := servedType(b.contentType)
	h.Set("Content-Type", contentType)
	if strings.HasPrefix(contentType, "image/") {
		h.Set("Content-Disposition", "inline")
	} else {
		h.Set("Content-Disposition", "attachment")
	}
	if private {
		h.Set("Cache-Control", "private, no-store")
	} else {
		// Public keys are random per upload, so their bytes never change.
		h.Set("Cache-Control", "public, max-age=86400")
	}
	http.ServeContent(w, r, "", b.modTime, b)
}

// verify checks the expires and sig parameters that URL adds.
func (s *Store) verify(key string, r *http.Request, now time.Time) bool {
	q := r.URL.Query()
	exp := q.Get(expiresParameter)
	sig, err := hex.DecodeString(q.Get(sigParameter))
	if exp == "" || err != nil || !hmac.Equal(sig, s.sign(key, exp)) {
		return false
	}
	unix, err := strconv.ParseInt(exp, 10, 64)
	return err == nil && now.Before(time.Unix(unix, 0))
}

// servedType maps a stored content type onto the allow-list.
func servedType(stored string) string {
	mediaType, _, err := mime.ParseMediaType(stored)
	if err == nil && servedTypes[mediaType] {
		return mediaType
	}
	return "application/octet-stream"
}

// writeError writes the legacy envelope ({"errCode":"2004","msg":"…"}) for
// a catalogue code.
func writeError(w http.ResponseWriter, code identity.Code) {
	body, _ := json.Marshal(struct {
		ErrCode string `json:"errCode"`
		Msg     string `json:"msg"`
	}{strconv.Itoa(code.LegacyCode()), code.Message()})
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code.HTTPStatus())
	w.Write(body)
}
