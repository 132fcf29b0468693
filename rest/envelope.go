package rest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/carcity/identity/identity"
)

// envelope is the legacy response. Do not rename the JSON tags: old clients
// read them.
type envelope struct {
	ErrCode json.RawMessage `json:"errCode"`
	Msg     string          `json:"msg"`
	Data    any             `json:"data,omitempty"`
}

// data is the success payload; its keys are the documented field names.
type data map[string]any

const successMsg = "success"

// errCode renders a legacy code as the document's string ("200") or, with
// REST_ERRCODE=number, as a number.
func (h *Handler) errCode(code int) json.RawMessage {
	n := strconv.Itoa(code)
	if h.opts.NumericErrCode {
		return json.RawMessage(n)
	}
	return json.RawMessage(`"` + n + `"`)
}

func (h *Handler) writeOK(w http.ResponseWriter, d data) {
	if d == nil {
		d = data{}
	}
	h.write(w, http.StatusOK, envelope{ErrCode: h.errCode(200), Msg: successMsg, Data: d})
}

// writeError renders every failure. Business outcomes answer HTTP 200 (old
// clients only read errCode); transport failures keep their HTTP status.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error, status int) {
	e := identity.Public(err)
	if e.Code == identity.CodeInternal || e.Code == identity.CodeUnavailable {
		h.opts.Logger.ErrorContext(r.Context(), "request failed", "path", r.URL.Path, "code", e.Code, "err", err)
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	h.write(w, status, envelope{ErrCode: h.errCode(e.Code.LegacyCode()), Msg: e.Message})
}

// Shared header values, set without Header.Set's per-call allocation
// (nothing appends to them: Add would copy).
var (
	jsonContentType = []string{"application/json; charset=utf-8"}
	noStore         = []string{"no-store"}
)

func (h *Handler) write(w http.ResponseWriter, status int, env envelope) {
	hdr := w.Header()
	hdr["Content-Type"] = jsonContentType
	hdr["Cache-Control"] = noStore
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(env)
}
