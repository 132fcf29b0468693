package graph

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/carcity/identity/ent/schema/enum"
	"github.com/carcity/identity/graph/generated"
	"github.com/carcity/identity/identity"
)

// Options bound what one request may cost.
type Options struct {
	MaxUploadBytes int64 // multipart request size (file + fields)
	Complexity     int   // query complexity limit (default 2000)
	Introspection  bool  // off in production unless the playground is on
	Logger         *slog.Logger
}

// NewHandler is the GraphQL endpoint.
func NewHandler(svc *identity.Service, opts Options) http.Handler {
	if opts.Complexity == 0 {
		// An admin page of 50 users with certifications and reviews fits.
		opts.Complexity = 2000
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	srv := handler.New(generated.NewExecutableSchema(generated.Config{Resolvers: &Resolver{svc: svc}, Complexity: complexity()}))
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.AddTransport(transport.MultipartForm{MaxUploadSize: opts.MaxUploadBytes, MaxMemory: 1 << 20})
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		return next(withPrefetch(ctx))
	})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](100)})
	srv.Use(extension.FixedComplexityLimit(opts.Complexity))
	srv.Use(depthLimit{max: 12})
	if opts.Introspection {
		srv.Use(extension.Introspection{})
	}
	log := opts.Logger
	srv.SetErrorPresenter(func(ctx context.Context, err error) *gqlerror.Error {
		return present(ctx, log, err)
	})
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "graphql resolver panic", "panic", p)
		return identity.E(identity.CodeInternal)
	})
	return srv
}

// present puts the catalogue code in extensions.code (and the legacy
// errCode); internal causes are logged, never shown.
func present(ctx context.Context, log *slog.Logger, err error) *gqlerror.Error {
	gqlErr := graphql.DefaultErrorPresenter(ctx, err)
	var domainErr *identity.Error
	var badNumber *strconv.NumError
	if !errors.As(err, &domainErr) {
		var parsed *gqlerror.Error
		clientFault := errors.Is(err, enum.ErrInvalidValue) || errors.As(err, &badNumber)
		if errors.As(err, &parsed) && (parsed.Err == nil || clientFault) {
			// gqlgen's own errors (parse, validation, variable coercion) and
			// undecodable arguments (ids, enums) are the client's: keep their
			// message, give them a stable code.
			if gqlErr.Extensions == nil {
				gqlErr.Extensions = map[string]any{}
			}
			gqlErr.Extensions["code"] = identity.CodeValidation
			gqlErr.Extensions["errCode"] = identity.CodeValidation.LegacyCode()
			return gqlErr
		}
		domainErr = identity.Public(err) // anything else is internal: logged, not shown
	}
	if domainErr.Code == identity.CodeInternal || domainErr.Code == identity.CodeUnavailable {
		log.ErrorContext(ctx, "request failed", "code", domainErr.Code, "err", domainErr)
	}
	gqlErr.Message = domainErr.Message
	gqlErr.Extensions = map[string]any{
		"code":    domainErr.Code,
		"errCode": domainErr.Code.LegacyCode(),
	}
	if domainErr.Field != "" {
		gqlErr.Extensions["field"] = domainErr.Field
	}
	if domainErr.RetryAfter > 0 {
		gqlErr.Extensions["retryAfter"] = int(domainErr.RetryAfter.Round(time.Second) / time.Second)
	}
	return gqlErr
}
