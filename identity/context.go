package identity

import (
	"context"
	"time"

	"github.com/carcity/identity/ent/user"
)

// Actor is the authenticated caller.
type Actor struct {
	UserID    int
	Kind      user.Kind
	Telephone string
	OpenID    string

	tokenHash []byte    // names the session
	expires   time.Time // of the session
}

// Request is what the transport knows about the HTTP request.
type Request struct {
	IP      string
	BaseURL string // scheme://host of the request, for URLs when PublicURL is unset
	// Legacy marks calls of the REST shim in REST_AUTH=legacy mode: the
	// account named in the body is trusted without a token.
	Legacy bool
}

type actorKey struct{}
type requestKey struct{}

// WithActor returns ctx carrying the authenticated caller.
func WithActor(ctx context.Context, a *Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the authenticated caller, or nil.
func ActorFrom(ctx context.Context) *Actor {
	a, _ := ctx.Value(actorKey{}).(*Actor)
	return a
}

// WithRequest returns ctx carrying request facts.
func WithRequest(ctx context.Context, r Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

// RequestFrom returns the request facts (zero when unset).
func RequestFrom(ctx context.Context) Request {
	r, _ := ctx.Value(requestKey{}).(Request)
	return r
}
