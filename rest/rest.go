// Package rest keeps the legacy /user/... paths of legacy-api.md alive: each
// path decodes its documented parameters, makes one call to the identity
// service (the same calls the GraphQL resolvers make) and answers in the
// legacy envelope {"errCode","msg","data"}.
package rest

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/carcity/identity/identity"
)

// Options configure the shim.
type Options struct {
	// Legacy trusts the account named in the body without a token
	// (REST_AUTH=legacy), as the old clients expect.
	Legacy bool
	// NumericErrCode renders errCode as a JSON number (REST_ERRCODE=number).
	NumericErrCode bool
	MaxUploadBytes int64
	Logger         *slog.Logger
}

// maxBody bounds JSON and form bodies.
const maxBody = 1 << 20

// Handler serves /user/....
type Handler struct {
	svc    *identity.Service
	opts   Options
	routes map[string]route
}

// call is one path's work: parameters in, documented data out.
type call func(ctx context.Context, p params) (data, error)

type route struct {
	call call
	// methods allowed besides POST (the document leaves the edit* methods open).
	allowGET bool
	// upload routes accept multipart bodies up to the upload limit; the
	// others get maxBody whatever the encoding.
	upload bool
}

// New returns the shim.
func New(svc *identity.Service, opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxUploadBytes == 0 {
		opts.MaxUploadBytes = 5 << 20
	}
	h := &Handler{svc: svc, opts: opts}
	h.routes = h.table()
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, ok := h.routes[r.URL.Path]
	if !ok {
		h.writeError(w, r, identity.Ef(identity.CodeNotFound, "接口不存在"), http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPost && !(rt.allowGET && r.Method == http.MethodGet) {
		w.Header().Set("Allow", allowed(rt))
		h.writeError(w, r, identity.E(identity.CodeMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	limit := int64(maxBody)
	if rt.upload {
		limit = h.opts.MaxUploadBytes + 64<<10 // the image and the form fields
	}
	p, err := decode(r, maxBody, limit)
	defer p.close()
	if err != nil {
		h.writeError(w, r, err, statusOf(err))
		return
	}
	ctx := r.Context()
	if h.opts.Legacy {
		req := identity.RequestFrom(ctx)
		req.Legacy = true
		ctx = identity.WithRequest(ctx, req)
	}
	d, err := rt.call(ctx, p)
	if err != nil {
		h.writeError(w, r, err, statusOf(err))
		return
	}
	h.writeOK(w, d)
}

func allowed(rt route) string {
	if rt.allowGET {
		return "GET, POST"
	}
	return "POST"
}

// statusOf is HTTP 200 for every business outcome (old clients read only
// errCode) and 413 for bodies over their limit, wherever that was noticed.
func statusOf(err error) int {
	if identity.CodeOf(err) == identity.CodePayloadTooLarge {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusOK
}
